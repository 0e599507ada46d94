/*
 * flowc_diag.c — the diagnostic sink, name suggestions and rendering.
 *
 * Layer: engine/flowc internals (libc only).
 * Invariants: the sink owns a malloc'd array of records whose strings live
 * in the compile arena; errors and warnings are counted even past the
 * recording limit; with werror a warning is recorded as an error.
 */
#include "flowc/flowc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fc_vreport(fc_sink_t *s, st_flowc_severity_t sev, fc_pos_t at, const char *hint,
                       const char *fmt, va_list ap)
{
    if (sev == ST_FLOWC_WARNING && s->werror)
        sev = ST_FLOWC_ERROR;
    if (sev == ST_FLOWC_ERROR)
        s->errors++;
    else
        s->warnings++;
    if (s->n >= s->max)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        st_flowc_diag_t *d = realloc(s->diags, cap * sizeof *d);
        if (d == NULL) {
            s->oom = true;
            return;
        }
        s->diags = d;
        s->cap = cap;
    }
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    st_flowc_diag_t *d = &s->diags[s->n];
    d->severity = sev;
    d->file = s->file;
    d->line = at.line;
    d->col = at.col;
    d->len = at.len ? at.len : 1;
    d->message = fc_strdup(s->arena, buf);
    d->hint = fc_strdup(s->arena, hint ? hint : "");
    if (d->message == NULL || d->hint == NULL) {
        s->oom = true;
        return;
    }
    s->n++;
}

void fc_error(fc_sink_t *s, fc_pos_t at, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fc_vreport(s, ST_FLOWC_ERROR, at, hint, fmt, ap);
    va_end(ap);
}

void fc_warn(fc_sink_t *s, fc_pos_t at, const char *hint, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fc_vreport(s, ST_FLOWC_WARNING, at, hint, fmt, ap);
    va_end(ap);
}

unsigned fc_edit_distance(const char *a, const char *b, unsigned cap)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned row[65];
    if (lb > 64 || la > 64)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0], best = (unsigned)i;
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
            unsigned v = diag + cost;
            if (up + 1 < v)
                v = up + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            diag = up;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
    }
    return row[lb] > cap ? cap + 1 : row[lb];
}

const char *fc_suggest(fc_arena_t *a, const char *name, const char *const *names, size_t n)
{
    size_t len = strlen(name);
    unsigned cap = len < 4 ? 1 : (len < 8 ? 2 : 3);
    const char *best = NULL;
    unsigned best_d = cap + 1;
    for (size_t i = 0; i < n; i++) {
        if (names[i] == NULL)
            continue;
        unsigned d = fc_edit_distance(name, names[i], cap);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best ? fc_printf(a, "did you mean '%s'?", best) : NULL;
}

/* ---- rendering ---- */

static const char *fc_sev_name(st_flowc_severity_t s)
{
    return s == ST_FLOWC_ERROR ? "error" : "warning";
}

int st_flowc_diag_headline(const st_flowc_diag_t *d, char **out, st_err_t *err)
{
    if (d == NULL || out == NULL)
        return st_err_set(err, ST_INVAL, "st_flowc_diag_headline: NULL argument");
    int n;
    if (d->line > 0)
        n = asprintf(out, "%s:%u:%u: %s: %s", d->file, d->line, d->col, fc_sev_name(d->severity),
                     d->message);
    else
        n = asprintf(out, "%s: %s: %s", d->file, fc_sev_name(d->severity), d->message);
    if (n < 0) {
        *out = NULL;
        return st_err_set(err, ST_NOMEM, "cannot format diagnostic");
    }
    return 0;
}

/* Find line `line` (1-based) in src; returns its start and sets *n. */
static const char *fc_find_line(const char *src, size_t len, uint32_t line, size_t *n)
{
    const char *p = src, *end = src + len;
    for (uint32_t l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return NULL;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *n = (size_t)((nl ? nl : end) - p);
    return p;
}

int st_flowc_diag_render(const st_flowc_diag_t *d, const char *src, size_t len, char **out,
                         st_err_t *err)
{
    char *head = NULL;
    int rc = st_flowc_diag_headline(d, &head, err);
    if (rc < 0)
        return rc;
    size_t n = 0;
    const char *ln = (src && d->line) ? fc_find_line(src, len, d->line, &n) : NULL;
    size_t cap = strlen(head) + 2 * n + strlen(d->hint) + d->len + 64;
    char *buf = malloc(cap);
    if (buf == NULL) {
        free(head);
        return st_err_set(err, ST_NOMEM, "cannot format diagnostic");
    }
    size_t k = (size_t)snprintf(buf, cap, "%s\n", head);
    free(head);
    if (ln != NULL) {
        k += (size_t)snprintf(buf + k, cap - k, "%5u | %.*s\n      | ", d->line, (int)n, ln);
        for (uint32_t i = 1; i < d->col && i <= n; i++)
            buf[k++] = ln[i - 1] == '\t' ? '\t' : ' ';
        buf[k++] = '^';
        for (uint32_t i = 1; i < d->len && d->col + i <= n; i++)
            buf[k++] = '~';
        buf[k++] = '\n';
        buf[k] = '\0';
    }
    if (d->hint[0])
        snprintf(buf + k, cap - k, "hint: %s\n", d->hint);
    *out = buf;
    return 0;
}
