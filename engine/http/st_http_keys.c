/*
 * st_http_keys.c — webhook secrets and API tokens from the environment or
 * from files (see st_http.h).
 *
 * Layer: http (configuration). Depends on libc and common/st_err.
 *
 * Invariants: no secret or token text ever reaches an error message (errors
 * name the variable, the file and the entry's position instead); entries
 * are trimmed of surrounding blanks; empty entries and # comments are
 * skipped; a keys value owns every string it holds.
 */
#include "http/st_http.h"

#include "common/st_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy of text[0..n) without surrounding blanks, or NULL when empty. */
static char *trimmed(const char *text, size_t n, int *oom)
{
    while (n > 0 && (text[0] == ' ' || text[0] == '\t' || text[0] == '\r')) {
        text++;
        n--;
    }
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r'))
        n--;
    if (n == 0 || text[0] == '#')
        return NULL;
    char *s = strndup(text, n);
    if (s == NULL)
        *oom = 1;
    return s;
}

typedef int (*entry_fn)(st_http_keys_t *keys, char *entry, unsigned pos, st_err_t *err);

/* Split text by sep and hand every non-empty entry to fn (which owns it). */
static int each_entry(st_http_keys_t *keys, const char *text, char sep, entry_fn fn, st_err_t *err)
{
    unsigned pos = 0;
    while (text != NULL && *text != '\0') {
        const char *end = strchr(text, sep);
        size_t n = end ? (size_t)(end - text) : strlen(text);
        int oom = 0;
        char *entry = trimmed(text, n, &oom);
        if (oom)
            return st_err_set(err, ST_NOMEM, "no memory for keys");
        pos++;
        if (entry != NULL) {
            int rc = fn(keys, entry, pos, err);
            if (rc != 0)
                return rc;
        }
        text = end ? end + 1 : text + n;
    }
    return 0;
}

static int add_secret(st_http_keys_t *keys, char *entry, unsigned pos, st_err_t *err)
{
    char **v = realloc(keys->secrets, (keys->n_secrets + 1) * sizeof *v);
    if (v == NULL) {
        free(entry);
        return st_err_set(err, ST_NOMEM, "no memory for webhook secrets");
    }
    keys->secrets = v;
    v[keys->n_secrets++] = entry;
    return 0;
}

static int add_token(st_http_keys_t *keys, char *entry, unsigned pos, st_err_t *err)
{
    st_http_role_t role = ST_HTTP_ROLE_WRITE;
    char *colon = strrchr(entry, ':');
    if (colon != NULL) {
        if (strcmp(colon + 1, "read") == 0)
            role = ST_HTTP_ROLE_READ;
        else if (strcmp(colon + 1, "write") != 0) {
            free(entry);
            st_err_set(err, ST_INVAL, "API token %u has an unknown role", pos);
            st_err_hint(err, "write each token as TOKEN, TOKEN:read or TOKEN:write");
            return ST_INVAL;
        }
        *colon = '\0';
    }
    if (entry[0] == '\0') {
        free(entry);
        return st_err_set(err, ST_INVAL, "API token %u is empty", pos);
    }
    st_http_token_t *v = realloc(keys->tokens, (keys->n_tokens + 1) * sizeof *v);
    if (v == NULL) {
        free(entry);
        return st_err_set(err, ST_NOMEM, "no memory for API tokens");
    }
    keys->tokens = v;
    v[keys->n_tokens].token = entry;
    v[keys->n_tokens++].role = role;
    return 0;
}

int st_http_keys_add_secrets(st_http_keys_t *keys, const char *text, char sep, st_err_t *err)
{
    return each_entry(keys, text, sep, add_secret, err);
}

int st_http_keys_add_tokens(st_http_keys_t *keys, const char *text, char sep, st_err_t *err)
{
    return each_entry(keys, text, sep, add_token, err);
}

/* Whole file into a malloc'd string (at most 1 MiB). Errors name the
 * variable and the path, never the text. */
static int read_file(const char *var, const char *path, char **out, st_err_t *err)
{
    int rc = st_file_read(path, 1u << 20, out, NULL, err);
    if (rc != 0) {
        st_err_prefix(err, "%s", var);
        st_err_hint(err, "point %s at a readable file with one entry per line", var);
    }
    return rc;
}

static int from_var_or_file(st_http_keys_t *keys, const char *var, const char *file_var,
                            int (*add)(st_http_keys_t *, const char *, char, st_err_t *),
                            st_err_t *err)
{
    const char *list = getenv(var);
    const char *path = getenv(file_var);
    int rc = 0;
    if (list != NULL && *list != '\0')
        rc = add(keys, list, ',', err);
    if (rc == 0 && path != NULL && *path != '\0') {
        char *text = NULL;
        rc = read_file(file_var, path, &text, err);
        if (rc == 0)
            rc = add(keys, text, '\n', err);
        free(text);
    }
    return rc;
}

int st_http_keys_from_env(st_http_keys_t *keys, st_err_t *err)
{
    memset(keys, 0, sizeof *keys);
    int rc = from_var_or_file(keys, "SETTLE_WEBHOOK_SECRETS", "SETTLE_WEBHOOK_SECRETS_FILE",
                              st_http_keys_add_secrets, err);
    if (rc == 0)
        rc = from_var_or_file(keys, "SETTLE_API_TOKENS", "SETTLE_API_TOKENS_FILE",
                              st_http_keys_add_tokens, err);
    if (rc != 0)
        st_http_keys_release(keys);
    return rc;
}

void st_http_keys_release(st_http_keys_t *keys)
{
    if (keys == NULL)
        return;
    for (unsigned i = 0; i < keys->n_secrets; i++)
        free(keys->secrets[i]);
    for (unsigned i = 0; i < keys->n_tokens; i++)
        free((char *)keys->tokens[i].token);
    free(keys->secrets);
    free(keys->tokens);
    memset(keys, 0, sizeof *keys);
}
