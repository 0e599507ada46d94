/*
 * st_start.c — start a flow instance (see st_start.h).
 *
 * Invariants: nothing is written for an item before its inputs passed every
 * check; the node's clock is read in exactly one place (start_time), once
 * per call; the instance rows, their history rows, counts and correlations
 * of all the items of a call are written by one store call
 * (st_store_start_many: one transaction), so a start is either all there
 * or not at all; an item is only written with the version it was checked
 * against (check_hash): when the flow was redeployed meanwhile, the item is
 * checked again against the new version (at most STALE_ROUNDS times).
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

/* One item of st_start_many while it is being started. */
typedef struct item {
    const st_start_prog_t *prog;
    uint32_t init;     /* its initial state */
    char *vars;        /* the inputs as stored */
    st_store_kv_t *kv; /* correlations its inputs name */
    unsigned nkv;
    st_store_started_t started;
} item_t;

static void item_release(item_t *it)
{
    free(it->vars);
    free(it->kv);
    memset(it, 0, sizeof *it);
}

/* Checks 1..3 of st_start.h for one item against the flow's current
 * version (read now); fills the item. */
static int item_prepare(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *req,
                        const st_start_prog_t *known, item_t *it, st_start_out_t *out,
                        st_err_t *err)
{
    item_release(it);
    if (!json_is_object(req->inputs)) {
        st_err_set(err, ST_INVAL, "inputs of %s are not a JSON object", req->flow);
        st_err_hint(err, "send the flow's inputs as {\"name\": value, ...}");
        return ST_INVAL;
    }
    if (req->business_key != NULL && st_input_key_check(req->business_key, err) != 0)
        return ST_INVAL;
    int rc = 0;
    if (known != NULL) { /* an earlier item of this round read the flow's version */
        it->prog = known;
        memcpy(out->hash, known->hash, sizeof out->hash);
    } else {
        rc = current_program(c, progs, req->flow, out->hash, &it->prog, err);
    }
    if (rc == 0)
        rc = check_inputs(it->prog->p, req, &it->init, err);
    if (rc != 0)
        return rc;
    size_t ncorr = st_core_program_correlation_count(it->prog->p);
    it->kv = calloc(ncorr ? ncorr : 1, sizeof *it->kv);
    json_t *stored = st_core_inputs_stored(it->prog->p, req->inputs); /* times as µs */
    it->vars = stored ? json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(stored);
    if (!it->kv || !it->vars)
        return st_err_set(err, ST_NOMEM, "out of memory starting %s", req->flow);
    it->nkv = input_correlations(it->prog->p, req->inputs, it->kv);
    return 0;
}

static st_store_start_t item_row(const item_t *it, const st_start_req_t *req,
                                 const st_start_out_t *out)
{
    return (st_store_start_t){
        .flow = req->flow,
        .program_hash = out->hash,
        .business_key = req->business_key,
        .state = (int32_t)it->init,
        .state_name = st_core_program_state_name(it->prog->p, it->init),
        .status = ST_STORE_RUNNING,
        .vars_json = it->vars,
        .wake_at_us = ST_STORE_NO_TIME,
        .now_us = out->at_us,
        .owner_node = req->owner_node,
        .actor = "api",
        .correlations = it->kv,
        .ncorrelations = it->nkv,
        .id_time_us = wall_us(), /* ids in arrival order, whatever the clock */
        .check_hash = 1,
    };
}

/* Write every item still pending (rc[i] == 1) in one store call. Items
 * whose version was replaced meanwhile stay pending (prepared again by the
 * caller); the others get their final code. */
static int write_pending(st_store_conn_t *c, const st_start_req_t *reqs, size_t n, item_t *items,
                         st_start_out_t *outs, int *rc, st_err_t *errs, st_err_t *err)
{
    st_store_start_t *rows = calloc(n, sizeof *rows);
    st_store_started_t *got = calloc(n, sizeof *got);
    size_t *idx = calloc(n, sizeof *idx);
    size_t m = 0;
    int r = rows && got && idx ? 0 : st_err_set(err, ST_NOMEM, "out of memory starting flows");
    for (size_t i = 0; r == 0 && i < n; i++)
        if (rc[i] == 1) {
            idx[m] = i;
            rows[m++] = item_row(&items[i], &reqs[i], &outs[i]);
        }
    if (r == 0 && m > 0)
        r = st_store_start_many(c, rows, m, got, err);
    for (size_t k = 0; r == 0 && k < m; k++) {
        size_t i = idx[k];
        if (got[k].stale)
            continue; /* stays 1: prepared again against the new version */
        st_store_uuid_format(&got[k].id, outs[i].id);
        outs[i].existing = got[k].existing;
        outs[i].owned = !got[k].existing && reqs[i].owner_node != 0;
        outs[i].state = st_core_program_state_name(items[i].prog->p, items[i].init);
        rc[i] = got[k].existing
                    ? compare_inputs(c, items[i].prog->p, &got[k].id, reqs[i].inputs, &errs[i])
                    : 0;
    }
    free(rows);
    free(got);
    free(idx);
    return r == 0 ? 0 : db_failed(r);
}

#define STALE_ROUNDS 3

/* Prepare every pending item (rc 1) against the current versions, read
 * once per flow and round. */
static void prepare_pending(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *reqs,
                            size_t n, item_t *items, st_start_out_t *outs, int *rc, st_err_t *errs,
                            int64_t at)
{
    for (size_t i = 0; i < n; i++) {
        if (rc[i] != 1)
            continue;
        const item_t *same = NULL;
        for (size_t k = 0; k < i && !same; k++)
            if (rc[k] == 1 && items[k].prog && strcmp(reqs[k].flow, reqs[i].flow) == 0)
                same = &items[k];
        int r = item_prepare(c, progs, &reqs[i], same ? same->prog : NULL, &items[i], &outs[i],
                             &errs[i]);
        rc[i] = r == 0 ? 1 : r;
        outs[i].at_us = reqs[i].at == ST_START_AT_GIVEN ? reqs[i].at_us : at;
    }
}

static int any_pending(const int *rc, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rc[i] == 1)
            return 1;
    return 0;
}

static int start_items(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *reqs,
                       size_t n, item_t *items, st_start_out_t *outs, int *rc, st_err_t *errs,
                       st_err_t *err)
{
    st_start_req_t clock = {.at = ST_START_AT_WALL};
    for (size_t i = 0; i < n; i++)
        if (reqs[i].at == ST_START_AT_NODES)
            clock.at = ST_START_AT_NODES; /* one read of the nodes' clock for all */
    int64_t at = 0;
    int r = start_time(c, &clock, &at, err);
    for (int round = 0; r == 0 && round < STALE_ROUNDS && any_pending(rc, n); round++) {
        prepare_pending(c, progs, reqs, n, items, outs, rc, errs, at);
        r = write_pending(c, reqs, n, items, outs, rc, errs, err);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc[i] == 1 && r != 0) {
            rc[i] = r;
            errs[i] = *err;
        } else if (rc[i] == 1) {
            rc[i] = st_err_set(&errs[i], ST_CONFLICT,
                               "flow %s was redeployed %d times while starting it", reqs[i].flow,
                               STALE_ROUNDS);
            st_err_hint(&errs[i], "retry the start");
        }
        item_release(&items[i]);
    }
    return r;
}

int st_start_many(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *reqs, size_t n,
                  st_start_out_t *outs, int *rc, st_err_t *errs, st_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        memset(&outs[i], 0, sizeof outs[i]);
        st_err_clear(&errs[i]);
        rc[i] = 1; /* pending */
    }
    if (n == 0)
        return 0;
    st_start_progs_t *own = progs ? NULL : st_start_progs_new();
    item_t *items = calloc(n, sizeof *items);
    int r = (progs || own) && items ? 0 : st_err_set(err, ST_NOMEM, "out of memory starting flows");
    if (r == 0)
        r = start_items(c, progs ? progs : own, reqs, n, items, outs, rc, errs, err);
    else
        for (size_t i = 0; i < n; i++) {
            rc[i] = r;
            errs[i] = *err;
        }
    for (size_t i = 0; own != NULL && i < n; i++)
        outs[i].state = NULL; /* the Programs go with the cache */
    free(items);
    st_start_progs_free(own);
    return r;
}

int st_start(st_store_conn_t *c, st_start_progs_t *progs, const st_start_req_t *req,
             st_start_out_t *out, st_err_t *err)
{
    int rc = 0;
    st_err_t whole;
    st_err_clear(&whole);
    st_start_many(c, progs, req, 1, out, &rc, err, &whole);
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
