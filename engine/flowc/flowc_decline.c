/*
 * flowc_decline.c — lookups in the embedded Stripe decline-code table.
 *
 * Layer: engine/flowc (public through st_flowc.h).
 * The table is engine/flowc/data/decline_codes.tsv, embedded at build time
 * by decline_embed.cmake with every tab and newline turned into NUL, so the
 * blob is a run of NUL-terminated fields, four per row, header row first.
 * Invariants: no global mutable state; every returned string points into
 * the static blob.
 */
#include "flowc/flowc_int.h"

#include <string.h>

extern const char st_flowc_decline_tsv[];
extern const unsigned long st_flowc_decline_tsv_len;

#define FC_DECLINE_COLS 4

/* Walk rows: calls fn(fields, ctx) for each data row; stops when fn returns 1. */
static void fc_decline_each(int (*fn)(const char *const *f, void *ctx), void *ctx)
{
    const char *p = st_flowc_decline_tsv, *end = p + st_flowc_decline_tsv_len;
    const char *f[FC_DECLINE_COLS];
    int col = 0;
    bool header = true;
    while (p < end) {
        if (*p == '\0') { /* blank line or \r\n pair */
            p++;
            continue;
        }
        f[col++] = p;
        p += strlen(p) + 1;
        if (col < FC_DECLINE_COLS)
            continue;
        col = 0;
        if (header) {
            header = false;
            continue;
        }
        if (fn(f, ctx))
            return;
    }
}

typedef struct {
    const char *code;
    st_flowc_decline_t *out;
    bool found;
} fc_find_ctx_t;

static int fc_find_row(const char *const *f, void *vctx)
{
    fc_find_ctx_t *c = vctx;
    if (strcmp(f[0], c->code) != 0)
        return 0;
    c->out->code = f[0];
    c->out->category = f[1];
    c->out->retry = f[2];
    c->found = true;
    return 1;
}

int st_flowc_decline_find(const char *code, st_flowc_decline_t *out)
{
    st_flowc_decline_t tmp;
    fc_find_ctx_t c = {code, out ? out : &tmp, false};
    if (code == NULL)
        return ST_INVAL;
    fc_decline_each(fc_find_row, &c);
    return c.found ? 0 : ST_NOTFOUND;
}

typedef struct {
    const char *code;
    const char *best;
    unsigned best_d, cap;
} fc_near_ctx_t;

static int fc_near_row(const char *const *f, void *vctx)
{
    fc_near_ctx_t *c = vctx;
    unsigned d = fc_edit_distance(c->code, f[0], c->cap);
    if (d < c->best_d) {
        c->best_d = d;
        c->best = f[0];
    }
    return 0;
}

const char *st_flowc_decline_nearest(const char *code)
{
    if (code == NULL)
        return NULL;
    size_t n = strlen(code);
    fc_near_ctx_t c = {code, NULL, 0, n < 6 ? 2 : (unsigned)(n / 3 + 1)};
    c.best_d = c.cap + 1;
    fc_decline_each(fc_near_row, &c);
    return c.best;
}
