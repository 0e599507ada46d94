/*
 * fuzz_http_util.c — checks shared by the engine/http fuzz targets (see
 * fuzz_http_util.h). The array literal decoder is written from
 * PostgreSQL's documented syntax for quoted elements, independently of
 * the encoder it checks.
 */
#include "fuzz_http_util.h"

#include <string.h>

char *fz_cstr(const uint8_t *d, size_t n)
{
    char *s = malloc(n + 1);
    FZ_CHECK(s != NULL);
    if (n > 0)
        memcpy(s, d, n);
    s[n] = '\0';
    return s;
}

void fz_check_error(const st_http_resp_t *resp, unsigned status)
{
    /* Show the answer first: a failed check below needs it to be read. */
    if (resp->status != status && (status != 0 || resp->status / 100 != 4))
        fprintf(stderr, "fuzz: got status %u (want %u), body %.400s\n", resp->status, status,
                resp->body ? resp->body : "(none)");
    if (status != 0)
        FZ_CHECK(resp->status == status);
    else
        FZ_CHECK(resp->status >= 400 && resp->status < 500);
    FZ_CHECK(resp->body != NULL && resp->len == strlen(resp->body));
    FZ_CHECK(resp->ctype != NULL && strcmp(resp->ctype, "application/json") == 0);
    json_t *j = json_loadb(resp->body, resp->len, 0, NULL);
    FZ_CHECK(j != NULL);
    json_t *e = json_object_get(j, "error");
    const char *fields[] = {"type", "message", "hint"};
    for (int i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(e, fields[i]));
        FZ_CHECK(v != NULL && v[0] != '\0');
    }
    json_decref(j);
}

/* Decode a literal of quoted elements {"a","b\"c"}; NULL when malformed.
 * *count gets the number of elements; the strings are malloc'd. */
static char **decode_array(const char *s, size_t *count)
{
    size_t cap = strlen(s) + 1, n = 0;
    char **out = calloc(cap, sizeof *out);
    FZ_CHECK(out != NULL);
    if (*s++ != '{')
        goto bad;
    if (*s == '}' && s[1] == '\0') {
        *count = 0;
        return out;
    }
    for (;;) {
        if (*s >= '0' && *s <= '9') { /* an unquoted number (the index array) */
            size_t len = strspn(s, "0123456789");
            char *e = strndup(s, len);
            FZ_CHECK(e != NULL);
            out[n++] = e;
            s += len;
            if (*s == ',') {
                s++;
                continue;
            }
            if (*s == '}' && s[1] == '\0')
                break;
            goto bad;
        }
        if (*s++ != '"')
            goto bad;
        char *e = malloc(strlen(s) + 1);
        FZ_CHECK(e != NULL);
        size_t k = 0;
        while (*s != '"') {
            if (*s == '\0') {
                free(e);
                goto bad;
            }
            if (*s == '\\')
                s++;
            if (*s == '\0') {
                free(e);
                goto bad;
            }
            e[k++] = *s++;
        }
        e[k] = '\0';
        out[n++] = e;
        s++;
        if (*s == ',') {
            s++;
            continue;
        }
        if (*s == '}' && s[1] == '\0')
            break;
        goto bad;
    }
    *count = n;
    return out;
bad:
    for (size_t i = 0; i < n; i++)
        free(out[i]);
    free(out);
    return NULL;
}

static void free_array(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void fz_check_batch(const st_http_wh_job_t *first, unsigned n)
{
    char *params[6];
    st_err_t err;
    st_store_wh_event_t ev[8];
    FZ_CHECK(n <= 8);
    st_http_wh_batch_events(first, n, ev);
    FZ_CHECK(st_store_webhooks_params(ev, n, params, &err) == 0);
    char **a[6];
    size_t cnt[6];
    for (int k = 0; k < 6; k++)
        FZ_CHECK((a[k] = decode_array(params[k], &cnt[k])) != NULL);
    FZ_CHECK(cnt[0] == n && cnt[1] == n && cnt[2] == n);
    FZ_CHECK(cnt[3] == cnt[4] && cnt[4] == cnt[5]);
    size_t idx = 0, pair = 0;
    for (const st_http_wh_job_t *j = first; j != NULL && idx < n; j = j->next, idx++) {
        FZ_CHECK(strcmp(a[0][idx], j->event_id) == 0);
        FZ_CHECK(strcmp(a[1][idx], j->type) == 0);
        FZ_CHECK(strcmp(a[2][idx], j->payload) == 0);
        for (unsigned c = 0; c < j->ncorr; c++, pair++) {
            FZ_CHECK(pair < cnt[3]);
            FZ_CHECK(strtoul(a[3][pair], NULL, 10) == idx + 1);
            FZ_CHECK(ev[idx].keys[c] == j->keys[c] && ev[idx].values[c] == j->values[c]);
            FZ_CHECK(strcmp(a[4][pair], j->keys[c]) == 0);
            FZ_CHECK(strcmp(a[5][pair], j->values[c]) == 0);
        }
    }
    FZ_CHECK(idx == n && pair == cnt[3]);
    for (int k = 0; k < 6; k++) {
        free_array(a[k], cnt[k]);
        free(params[k]);
    }
}
