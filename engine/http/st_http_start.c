/*
 * st_http_start.c — start a flow instance for POST /v1/instances.
 *
 * Layer: http (internal). Depends on the pure core (inputs are judged by
 * st_core_inputs_check, the check START itself runs, so the API and
 * settled start agree to the message) and the store
 * (st_store_start writes the instance, its history row and the counts; the
 * database NOTIFYs settle_work and any settled node picks it up).
 *
 * Why not st_ops_start itself: engine/ops sits above libsettle (it needs
 * the compiler), and this module is inside libsettle. The logic here is
 * the same few calls into the core and the store.
 *
 * Programs are immutable, so loaded ones are cached by hash for the life
 * of the server (the core only reads a program; sharing it across threads
 * is safe).
 *
 * Invariants: inputs that do not fit, or are implausible (a negative
 * amount, an unknown currency, a duration of centuries:
 * st_core_inputs_plausible), store nothing; a business key that
 * already names an instance returns that instance when the inputs are the
 * same and ST_CONFLICT when they differ (the Idempotency-Key contract).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/st_core.h"
#include "common/st_input.h"

typedef struct st_http_prog {
    char hash[65];
    st_core_program_t *prog;
    struct st_http_prog *next;
} st_http_prog_t;

void st_http_progs_free(st_http_server_t *s)
{
    st_http_prog_t *p = s->progs;
    while (p != NULL) {
        st_http_prog_t *next = p->next;
        st_core_program_free(p->prog);
        free(p);
        p = next;
    }
    s->progs = NULL;
}

static const st_core_program_t *cached(st_http_server_t *s, const char *hash)
{
    pthread_mutex_lock(&s->prog_mu);
    st_http_prog_t *p = s->progs;
    while (p != NULL && strcmp(p->hash, hash) != 0)
        p = p->next;
    pthread_mutex_unlock(&s->prog_mu);
    return p ? p->prog : NULL;
}

static int program(st_http_server_t *s, st_store_conn_t *c, const char *hash,
                   const st_core_program_t **out, st_err_t *err)
{
    if ((*out = cached(s, hash)) != NULL)
        return 0;
    st_store_program_rec_t rec;
    int rc = st_store_program_load(c, hash, &rec, err);
    if (rc != 0)
        return rc;
    st_core_program_t *prog = NULL;
    rc = st_core_program_load(rec.bytes, rec.len, &prog, err);
    st_store_program_rec_release(&rec);
    if (rc != 0)
        return rc;
    st_http_prog_t *p = calloc(1, sizeof *p);
    if (p == NULL) {
        st_core_program_free(prog);
        return st_err_set(err, ST_NOMEM, "no memory for a program");
    }
    snprintf(p->hash, sizeof p->hash, "%s", hash);
    p->prog = prog;
    pthread_mutex_lock(&s->prog_mu);
    const st_core_program_t *raced = NULL;
    for (st_http_prog_t *q = s->progs; q != NULL && raced == NULL; q = q->next)
        if (strcmp(q->hash, hash) == 0)
            raced = q->prog;
    if (raced == NULL) {
        p->next = s->progs;
        s->progs = p;
    }
    pthread_mutex_unlock(&s->prog_mu);
    if (raced != NULL) {
        st_core_program_free(prog);
        free(p);
    }
    *out = raced ? raced : prog;
    return 0;
}

/* The core judges the inputs (st_core_inputs_check is what START runs);
 * a fresh instance tells the state a start begins in. */
static int check_inputs(const st_core_program_t *prog, const json_t *inputs, uint32_t *initial,
                        st_err_t *err)
{
    int rc = st_core_inputs_check(prog, inputs, err);
    if (rc == 0)
        rc = st_core_inputs_plausible(prog, inputs, err);
    if (rc != 0)
        return rc;
    uint8_t id[16] = {0};
    st_core_instance_t *inst = NULL;
    rc = st_core_instance_new(prog, id, &inst, err);
    if (rc == 0)
        *initial = inst->state;
    st_core_instance_free(inst);
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

/* ST_CONFLICT when the existing instance was started with other inputs. */
static int compare_inputs(st_store_conn_t *c, const st_core_program_t *prog,
                          const st_store_uuid_t *id, const json_t *inputs, st_err_t *err)
{
    st_store_instance_t in;
    int rc = st_store_instance_load(c, id, &in, err);
    if (rc != 0)
        return rc;
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
        st_err_hint(err, "use a new Idempotency-Key / business_key for a different request, or "
                         "send the same inputs to get the existing instance");
        rc = ST_CONFLICT;
    }
    json_decref(vars);
    st_store_instance_release(&in);
    return rc;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int store_start(st_store_conn_t *c, const st_core_program_t *prog, uint32_t init,
                       const char *hash, const char *flow, const json_t *inputs, const char *key,
                       int64_t now, st_store_started_t *started, st_err_t *err)
{
    char *vars = json_dumps(inputs, JSON_COMPACT | JSON_SORT_KEYS);
    if (vars == NULL)
        return st_err_set(err, ST_NOMEM, "no memory");
    st_store_start_t s = {
        .flow = flow,
        .program_hash = hash,
        .business_key = key,
        .state = (int32_t)init,
        .state_name = st_core_program_state_name(prog, init),
        .status = ST_STORE_RUNNING,
        .vars_json = vars,
        .wake_at_us = ST_STORE_NO_TIME,
        .now_us = now,
        .actor = "api",
    };
    int rc = st_store_start(c, &s, started, err);
    free(vars);
    return rc;
}

int st_http_start(st_http_server_t *s, st_http_db_t *db, const char *flow, json_t *inputs,
                  const char *business_key, st_http_started_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_conn_t *c = NULL;
    char hash[65];
    int rc = st_http_db_store(&s->pool, db, &c, err);
    if (rc == 0 && (rc = st_store_flow_current(c, flow, hash, err)) == ST_NOTFOUND) {
        st_err_set(err, ST_NOTFOUND, "no flow named '%.100s' is deployed", flow);
        st_err_hint(err, "deploy it first (settled deploy FILE.flow) or check the name");
        return rc;
    }
    const st_core_program_t *prog = NULL;
    if (rc == 0)
        rc = program(s, c, hash, &prog, err);
    if (rc != 0)
        return rc == ST_NOMEM ? rc : ST_DB;
    int64_t now = now_us();
    uint32_t init = 0;
    rc = check_inputs(prog, inputs, &init, err);
    if (rc != 0) {
        st_err_prefix(err, "inputs of %s", flow);
        return ST_INVAL;
    }
    st_store_started_t started;
    rc = store_start(c, prog, init, hash, flow, inputs, business_key, now, &started, err);
    if (rc != 0)
        return rc == ST_NOMEM ? rc : ST_DB;
    st_store_uuid_format(&started.id, out->id);
    out->existing = started.existing;
    if (started.existing)
        rc = compare_inputs(c, prog, &started.id, inputs, err);
    return rc;
}
