/*
 * st_ops.c — deploy, and the commands' clock helpers (see st_ops.h).
 */
#include "ops/st_ops.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/st_buf.h"
#include "core/st_core.h"
#include "flowc/st_flowc.h"

/* Render every diagnostic, separated by newlines, into one malloc'd text;
 * NULL when there is none or memory ran out. */
static char *render_all(const st_flowc_result_t *r, const char *src, size_t len)
{
    st_buf_t all = {0};
    for (size_t i = 0; i < st_flowc_result_diag_count(r); i++) {
        char *one = NULL;
        if (st_flowc_diag_render(st_flowc_result_diag(r, i), src, len, &one, NULL) != 0)
            continue;
        size_t n = strlen(one);
        st_buf_add(&all, one, n);
        if (n > 0 && one[n - 1] != '\n')
            st_buf_add(&all, "\n", 1);
        free(one);
    }
    if (all.len == 0) {
        st_buf_release(&all);
        return NULL;
    }
    return st_buf_detach(&all);
}

static int do_register(st_store_conn_t *c, const Settle__V1__Program *p, const char *path,
                       const char *src, st_ops_deployed_t *out, st_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t blen = 0;
    int rc = st_flowc_program_pack(p, &bytes, &blen, err);
    if (rc == 0)
        rc = st_flowc_hash_hex(bytes, blen, out->hash, err);
    if (rc == 0) {
        st_store_program_t sp = {
            .hash = out->hash,
            .name = p->name,
            .format_version = (int)p->format_version,
            .source_name = path,
            .source = src,
            .bytes = bytes,
            .len = blen,
        };
        rc = st_store_program_register(c, &sp, &out->created, err);
    }
    if (rc == 0)
        rc = st_store_flow_set_current(c, p->name, out->hash, err);
    free(bytes);
    return rc;
}

int st_ops_deploy(st_store_conn_t *c, const char *path, const char *src, size_t len,
                  st_ops_deployed_t *out, char **diags, st_err_t *err)
{
    st_flowc_result_t *r = NULL;
    st_flowc_opts_t opts = {0};
    memset(out, 0, sizeof *out);
    *diags = NULL;
    int rc = st_flowc_compile(path, src, len, &opts, &r, err);
    if (rc != 0)
        return rc;
    *diags = render_all(r, src, len);
    const Settle__V1__Program *p = st_flowc_result_program(r);
    if (p == NULL || st_flowc_result_errors(r) > 0) {
        rc = st_err_set(err, ST_CHECK, "%s has %u error%s; nothing was deployed", path,
                        st_flowc_result_errors(r), st_flowc_result_errors(r) == 1 ? "" : "s");
        st_err_hint(err, "fix the errors shown above and deploy again");
    } else {
        out->warnings = st_flowc_result_warnings(r);
        snprintf(out->name, sizeof out->name, "%s", p->name);
        rc = do_register(c, p, path, src, out, err);
    }
    st_flowc_result_free(r);
    return rc;
}

int st_ops_duration_parse(const char *text, int64_t *us, st_err_t *err)
{
    static const struct {
        const char *unit;
        int64_t us;
    } units[] = {{"ms", 1000},
                 {"d", 86400000000LL},
                 {"h", 3600000000LL},
                 {"m", 60000000LL},
                 {"s", 1000000LL}};
    const char *p = text;
    int64_t total = 0;
    if (p == NULL || *p == '\0')
        goto bad;
    while (*p != '\0') {
        if (*p < '0' || *p > '9')
            goto bad;
        int64_t n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n > INT64_MAX / 10 - 9)
                goto bad;
            n = n * 10 + (*p++ - '0');
        }
        size_t u = 0;
        while (u < sizeof units / sizeof units[0] &&
               strncmp(p, units[u].unit, strlen(units[u].unit)) != 0)
            u++;
        if (u == sizeof units / sizeof units[0])
            goto bad;
        if (__builtin_mul_overflow(n, units[u].us, &n) || __builtin_add_overflow(total, n, &total))
            goto bad;
        p += strlen(units[u].unit);
    }
    *us = total;
    return 0;
bad:
    st_err_set(err, ST_INVAL, "'%s' is not a duration", text ? text : "");
    st_err_hint(err, "write it like 3d, 12h, 30m, 45s, 250ms or 1d12h");
    return ST_INVAL;
}
