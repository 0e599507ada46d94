/*
 * st_start.c — start a flow instance (see st_start.h).
 *
 * Invariants: nothing is written before the inputs passed every check; the
 * node's clock is read in exactly one place (start_time); the instance row,
 * its history row, its count and its correlations are written by one store
 * call (st_store_start), so a start is either all there or not at all.
 */
#include "start/st_start.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/st_core.h"
#include "common/st_input.h"

/* Failures of the store or of a stored Program are the database's. */
static int db_failed(int rc)
{
    return rc == ST_NOMEM ? rc : ST_DB;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The one place a start reads the clock the nodes run on. */
static int start_time(st_store_conn_t *c, const st_start_req_t *req, int64_t *at, st_err_t *err)
{
    if (req->at == ST_START_AT_GIVEN) {
        *at = req->at_us;
        return 0;
    }
    *at = wall_us();
    if (req->at == ST_START_AT_WALL)
        return 0;
    st_store_clock_t k;
    int rc = st_store_clock_read(c, &k, err);
    if (rc == ST_NOTFOUND) /* no virtual clock on this database: nodes run on wall time */
        return 0;
    if (rc != 0) {
        st_err_prefix(err, "reading the virtual clock for the start");
        return db_failed(rc);
    }
    *at = k.now_us;
    return 0;
}

static int current_program(st_store_conn_t *c, st_start_progs_t *progs, const char *flow,
                           char hash[65], const st_start_prog_t **prog, st_err_t *err)
{
    int rc = st_store_flow_current(c, flow, hash, err);
    if (rc == ST_NOTFOUND) {
        st_err_set(err, ST_NOTFOUND, "no flow named '%.100s' is deployed", flow);
        st_err_hint(err, "deploy it first (settled deploy FILE.flow) or check the name");
        return rc;
    }
    if (rc == 0)
        rc = st_start_progs_load(progs, c, hash, prog, err);
    return rc == 0 ? 0 : db_failed(rc);
}

/* The core judges the inputs (st_core_inputs_check is what START runs),
 * then their plausibility; a fresh instance tells the state a start is
 * stored in (its first step runs on a node). */
static int check_inputs(const st_core_program_t *prog, const st_start_req_t *req, uint32_t *initial,
                        st_err_t *err)
{
    int rc = st_core_inputs_check(prog, req->inputs, err);
    if (rc == 0)
        rc = st_core_inputs_plausible(prog, req->inputs, err);
    if (rc != 0) {
        st_err_prefix(err, "inputs of %s", req->flow);
        return ST_INVAL;
    }
    uint8_t id[16] = {0};
    st_core_instance_t *inst = NULL;
    rc = st_core_instance_new(prog, id, &inst, err);
    if (rc == 0)
        *initial = inst->state;
    st_core_instance_free(inst);
    return rc;
}

/* Correlation keys whose variable is an input with a non-empty string:
 * registered with the start. kv has room for every correlation. */
static unsigned input_correlations(const st_core_program_t *prog, const json_t *inputs,
                                   st_store_kv_t *kv)
{
    unsigned n = 0;
    for (size_t i = 0; i < st_core_program_correlation_count(prog); i++) {
        uint32_t var = 0;
        const char *key = st_core_program_correlation(prog, i, &var);
        if (var >= st_core_program_input_count(prog) ||
            st_core_program_var_type(prog, var) != ST_CORE_T_STRING)
            continue;
        const char *v =
            json_string_value(json_object_get(inputs, st_core_program_var_name(prog, var)));
        if (v != NULL && v[0] != '\0')
            kv[n++] = (st_store_kv_t){.key = key, .value = v};
    }
    return n;
}

static int store_start(st_store_conn_t *c, const st_core_program_t *prog, uint32_t init,
                       const st_start_req_t *req, st_start_out_t *out, st_store_started_t *started,
                       st_err_t *err)
{
    size_t ncorr = st_core_program_correlation_count(prog);
    st_store_kv_t *kv = calloc(ncorr ? ncorr : 1, sizeof *kv);
    char *vars = json_dumps(req->inputs, JSON_COMPACT | JSON_SORT_KEYS);
    int rc = kv && vars ? 0 : st_err_set(err, ST_NOMEM, "out of memory starting %s", req->flow);
    if (rc == 0) {
        st_store_start_t s = {
            .flow = req->flow,
            .program_hash = out->hash,
            .business_key = req->business_key,
            .state = (int32_t)init,
            .state_name = st_core_program_state_name(prog, init),
            .status = ST_STORE_RUNNING,
            .vars_json = vars,
            .wake_at_us = ST_STORE_NO_TIME,
            .now_us = out->at_us,
            .actor = "api",
            .correlations = kv,
            .ncorrelations = input_correlations(prog, req->inputs, kv),
            .id_time_us = wall_us(), /* ids in arrival order, whatever the clock */
        };
        rc = st_store_start(c, &s, started, err);
        if (rc != 0)
            rc = db_failed(rc);
    }
    free(vars);
    free(kv);
    return rc;
}

static int same_value(st_core_type_t t, const json_t *a, const json_t *b)
{
    st_core_value_t va = {0}, vb = {0};
    int ra = st_core_value_from_json(t, a, "a", &va, NULL);
    int rb = st_core_value_from_json(t, b, "b", &vb, NULL);
    int same = 1;
    if (ra == 0 && rb == 0)
        same = va.type == vb.type && va.i == vb.i && va.b == vb.b &&
               strcmp(va.currency, vb.currency) == 0 &&
               ((va.s == NULL && vb.s == NULL) || (va.s && vb.s && strcmp(va.s, vb.s) == 0));
    st_core_value_release(&va);
    st_core_value_release(&vb);
    return same; /* an undecodable stored value cannot prove a difference */
}

/* ST_CONFLICT when the instance the key names was started with other
 * inputs (compared as values of the input's type: 1.50 eur == 1.5 eur). */
static int compare_inputs(st_store_conn_t *c, const st_core_program_t *prog,
                          const st_store_uuid_t *id, const json_t *inputs, st_err_t *err)
{
    st_store_instance_t in;
    int rc = st_store_instance_load(c, id, &in, err);
    if (rc != 0)
        return db_failed(rc);
    json_t *vars = json_loads(in.vars_json ? in.vars_json : "{}", 0, NULL);
    const char *differs = NULL;
    for (size_t i = 0; vars != NULL && i < st_core_program_input_count(prog) && !differs; i++) {
        const char *name = st_core_program_var_name(prog, (uint32_t)i);
        if (!same_value(st_core_program_var_type(prog, (uint32_t)i), json_object_get(inputs, name),
                        json_object_get(vars, name)))
            differs = name;
    }
    if (differs != NULL) {
        st_err_set(err, ST_CONFLICT,
                   "the business key already names an instance started with another value for "
                   "input '%s'",
                   differs);
        st_err_hint(err, "use a new business key (Idempotency-Key, --key) for a different "
                         "request, or send the same inputs to get the existing instance");
        rc = ST_CONFLICT;
    }
    json_decref(vars);
    st_store_instance_release(&in);
    return rc;
}

static int start_with(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *req,
                      st_start_out_t *out, st_err_t *err)
{
    const st_start_prog_t *prog = NULL;
    uint32_t init = 0;
    int rc = current_program(c, progs, req->flow, out->hash, &prog, err);
    if (rc == 0)
        rc = check_inputs(prog->p, req, &init, err);
    if (rc == 0)
        rc = start_time(c, req, &out->at_us, err);
    st_store_started_t started;
    if (rc == 0)
        rc = store_start(c, prog->p, init, req, out, &started, err);
    if (rc != 0)
        return rc;
    st_store_uuid_format(&started.id, out->id);
    out->existing = started.existing;
    return started.existing ? compare_inputs(c, prog->p, &started.id, req->inputs, err) : 0;
}

int st_start(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *req,
             st_start_out_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(req->inputs)) {
        st_err_set(err, ST_INVAL, "inputs of %s are not a JSON object", req->flow);
        st_err_hint(err, "send the flow's inputs as {\"name\": value, ...}");
        return ST_INVAL;
    }
    if (req->business_key != NULL && st_input_key_check(req->business_key, err) != 0)
        return ST_INVAL;
    st_start_progs_t *own = progs ? NULL : st_start_progs_new();
    if (progs == NULL && own == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory starting %s", req->flow);
    int rc = start_with(c, progs ? progs : own, req, out, err);
    st_start_progs_free(own);
    return rc;
}

int st_start_inputs_parse(const char *text, json_t **out, st_err_t *err)
{
    json_error_t jerr;
    json_t *inputs = json_loads(text ? text : "{}", 0, &jerr);
    int parsed = inputs != NULL;
    if (!parsed || !json_is_object(inputs)) {
        json_decref(inputs);
        *out = NULL;
        st_err_set(err, ST_INVAL, "inputs are not a JSON object%s%s", parsed ? "" : ": ",
                   parsed ? "" : jerr.text);
        st_err_hint(err, "pass --input '{\"name\": value, ...}'");
        return ST_INVAL;
    }
    *out = inputs;
    return 0;
}
