/*
 * st_ops.c — deploy and start (see st_ops.h).
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

/* Run START on a scratch instance: the core is the judge of the inputs.
 * *first gets the state the flow's first step would stop in. */
static int check_inputs(const st_core_program_t *prog, const json_t *inputs, int64_t now_us,
                        uint32_t *first, st_err_t *err)
{
    uint8_t id[16] = {0};
    st_core_instance_t *inst = NULL;
    int rc = st_core_instance_new(prog, id, &inst, err);
    if (rc != 0)
        return rc;
    st_core_event_t ev = {.kind = ST_CORE_EV_START, .now_us = now_us, .inputs = inputs};
    st_core_output_t out;
    st_core_output_init(&out);
    rc = st_core_step(prog, inst, &ev, &out, err);
    *first = inst->state;
    st_core_output_release(&out);
    st_core_instance_free(inst);
    return rc;
}

static int load_current(st_store_conn_t *c, const char *flow, char hash[65],
                        st_core_program_t **prog, st_err_t *err)
{
    int rc = st_store_flow_current(c, flow, hash, err);
    if (rc == ST_NOTFOUND) {
        st_err_set(err, ST_NOTFOUND, "no flow named '%s' is deployed", flow);
        st_err_hint(err, "deploy it first: settled deploy FILE.flow");
        return rc;
    }
    if (rc != 0)
        return rc;
    st_store_program_rec_t rec;
    rc = st_store_program_load(c, hash, &rec, err);
    if (rc != 0)
        return rc;
    rc = st_core_program_load(rec.bytes, rec.len, prog, err);
    st_store_program_rec_release(&rec);
    return rc;
}

int st_ops_start(st_store_conn_t *c, const char *flow, const char *inputs_json,
                 const char *business_key, int64_t now_us, st_ops_started_t *out, st_err_t *err)
{
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    json_t *inputs = json_loads(inputs_json ? inputs_json : "{}", 0, &jerr);
    if (inputs == NULL || !json_is_object(inputs)) {
        json_decref(inputs);
        st_err_set(err, ST_INVAL, "inputs are not a JSON object%s%s", inputs ? "" : ": ",
                   inputs ? "" : jerr.text);
        st_err_hint(err, "pass --input '{\"name\": value, ...}'");
        return ST_INVAL;
    }
    st_core_program_t *prog = NULL;
    uint32_t init = 0;
    int rc = load_current(c, flow, out->hash, &prog, err);
    if (rc == 0) {
        rc = check_inputs(prog, inputs, now_us, &init, err);
        if (rc != 0)
            st_err_prefix(err, "inputs of %s", flow);
    }
    if (rc == 0) {
        char *vars = json_dumps(inputs, JSON_COMPACT | JSON_SORT_KEYS);
        st_store_start_t s = {
            .flow = flow,
            .program_hash = out->hash,
            .business_key = business_key,
            .state = (int32_t)init,
            .state_name = st_core_program_state_name(prog, init),
            .status = ST_STORE_RUNNING,
            .vars_json = vars,
            .wake_at_us = ST_STORE_NO_TIME,
            .now_us = now_us,
            .actor = "api",
        };
        st_store_started_t started;
        rc = vars ? st_store_start(c, &s, &started, err) : st_err_set(err, ST_NOMEM, "no memory");
        if (rc == 0) {
            st_store_uuid_format(&started.id, out->id);
            out->existing = started.existing;
        }
        free(vars);
    }
    st_core_program_free(prog);
    json_decref(inputs);
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

static int clock_query(PGconn *c, const char *sql, int n, const char *const *params,
                       st_ops_clock_t *out, st_err_t *err)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "reading the virtual clock failed");
        st_err_detail(err, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return ST_DB;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        st_err_set(err, ST_NOTFOUND,
                   "no virtual clock: no settled has run with --clock virtual "
                   "on this database");
        st_err_hint(err, "start the daemon with `settled run --clock virtual`");
        return ST_NOTFOUND;
    }
    out->now_us = atoll(PQgetvalue(r, 0, 0));
    out->target_us = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    return 0;
}

int st_ops_clock_show(PGconn *c, st_ops_clock_t *out, st_err_t *err)
{
    return clock_query(c, "SELECT now_us, target_us FROM settle_clock", 0, NULL, out, err);
}

int st_ops_clock_advance(PGconn *c, int64_t delta_us, st_ops_clock_t *out, st_err_t *err)
{
    char d[32];
    if (delta_us <= 0)
        return st_err_set(err, ST_INVAL, "the clock only moves forward");
    snprintf(d, sizeof d, "%lld", (long long)delta_us);
    const char *p[1] = {d};
    return clock_query(c,
                       "UPDATE settle_clock SET target_us = greatest(target_us, now_us) + "
                       "$1::bigint, updated_at = now() RETURNING now_us, target_us",
                       1, p, out, err);
}
