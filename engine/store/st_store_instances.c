/*
 * st_store_instances.c — starting instances and reading instance rows.
 *
 * Layer: store. Depends on st_store_conn, st_store_util, libpq.
 *
 * Invariants:
 *   * starts write their instances (seq 0), "start" history rows,
 *     correlations and flow_counts increments (the session's shard) in one
 *     statement (START over parallel arrays), after one CORR_LOCK of all
 *     their correlation pairs, in one transaction;
 *   * a start with check_hash writes nothing unless its program hash is
 *     still the flow's current one (stale = 1 then);
 *   * start is idempotent by (flow, business_key): the unique index decides,
 *     and a start that lost the race to a concurrent one (so its snapshot
 *     cannot see the winner yet) is re-run alone until it sees it.
 */
#include "store/st_store_int.h"

#include <stdlib.h>
#include <string.h>

#define START_RETRIES 5

/* The parallel arrays of START ($1..$13) and of its correlations ($14..$16). */
enum {
    A_ID,
    A_FLOW,
    A_HASH,
    A_STATE,
    A_SNAME,
    A_STATUS,
    A_VARS,
    A_KEY,
    A_OWNER,
    A_WAKE,
    A_NOW,
    A_ACTOR,
    A_CHECKED,
    A_CORD,
    A_CKEY,
    A_CVAL,
    A_COUNT
};

typedef struct start_op {
    const st_store_start_t *in;
    const st_store_uuid_t *ids;
    st_store_started_t *out;
    unsigned char *again; /* 1: no row came back yet, (re-)run it */
    size_t *order;        /* order[k]: the start sent as ordinal k + 1 this round */
    size_t n, nsent;
    int locked; /* a CORR_LOCK result comes first this round */
} start_op_t;

static void add_start(st_store_arr_t *a, const st_store_start_t *s, const st_store_uuid_t *id,
                      size_t ord)
{
    st_store_arr_uuid(&a[A_ID], id);
    st_store_arr_text(&a[A_FLOW], s->flow);
    st_store_arr_text(&a[A_HASH], s->program_hash);
    st_store_arr_i64(&a[A_STATE], s->state);
    st_store_arr_text(&a[A_SNAME], s->state_name);
    st_store_arr_text(&a[A_STATUS], st_store_status_name(s->status));
    st_store_arr_text(&a[A_VARS], s->vars_json);
    st_store_arr_text(&a[A_KEY], s->business_key);
    if (s->owner_node)
        st_store_arr_i64(&a[A_OWNER], s->owner_node);
    else
        st_store_arr_text(&a[A_OWNER], NULL);
    st_store_arr_time(&a[A_WAKE], s->wake_at_us);
    st_store_arr_i64(&a[A_NOW], s->now_us);
    st_store_arr_text(&a[A_ACTOR], s->actor);
    st_store_arr_text(&a[A_CHECKED], s->check_hash && s->program_hash ? "t" : "f");
    for (unsigned k = 0; k < s->ncorrelations; k++) {
        st_store_arr_i64(&a[A_CORD], (int64_t)ord);
        st_store_arr_text(&a[A_CKEY], s->correlations[k].key);
        st_store_arr_text(&a[A_CVAL], s->correlations[k].value);
    }
}

/* CORR_LOCK on every correlation pair sent (it may take over parked
 * signals; sent first, as a statement of its own), then one START. */
static int send_starts(PGconn *pg, start_op_t *x, st_store_arr_t *a, st_err_t *err)
{
    st_store_params_t p;
    int pairs = a[A_CKEY].count > 0;
    st_store_p_init(&p);
    for (int i = 0; i < A_COUNT; i++) {
        const char *lit = st_store_arr_end(&a[i]);
        if (lit == NULL)
            return st_err_set(err, ST_NOMEM, "out of memory");
        st_store_p_text(&p, lit);
    }
    if (pairs) {
        st_store_params_t lock;
        st_store_p_init(&lock);
        st_store_p_text(&lock, p.v[A_CKEY]);
        st_store_p_text(&lock, p.v[A_CVAL]);
        int rc = st_store_send(pg, ST_STORE_Q_CORR_LOCK, &lock, err);
        if (rc != 0)
            return rc;
        x->locked = 1;
    }
    return st_store_send(pg, ST_STORE_Q_START, &p, err);
}

static int start_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    start_op_t *x = op->ud;
    st_store_arr_t a[A_COUNT];
    memset(a, 0, sizeof a);
    for (int i = 0; i < A_COUNT; i++)
        st_store_arr_begin(&a[i]);
    x->nsent = 0;
    x->locked = 0;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->again[i])
            continue;
        x->order[x->nsent++] = i;
        add_start(a, &x->in[i], &x->ids[i], x->nsent);
    }
    int rc = send_starts(pg, x, a, err);
    for (int i = 0; i < A_COUNT; i++)
        st_store_arr_release(&a[i]);
    return rc;
}

static int start_result(st_store_op_t *op, const PGresult *r, unsigned index, st_err_t *err)
{
    start_op_t *x = op->ud;
    if (index != (x->locked ? 1u : 0u))
        return index == 0 ? 0 : st_err_set(err, ST_INTERNAL, "unexpected start result %u", index);
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t ord = st_store_get_i64(r, row, 0);
        if (ord < 1 || (size_t)ord > x->nsent)
            return st_err_set(err, ST_INTERNAL, "start answered for item %lld", (long long)ord);
        size_t i = x->order[ord - 1];
        st_store_started_t *o = &x->out[i];
        x->again[i] = 0;
        o->stale = PQgetvalue(r, row, 4)[0] == 't';
        if (o->stale)
            continue;
        st_store_get_uuid(r, row, 1, &o->id);
        o->existing = PQgetvalue(r, row, 2)[0] == 't';
        o->lease_epoch = st_store_get_i64(r, row, 3);
    }
    return 0; /* items without a row stay marked: re-run */
}

static int start_check(const st_store_start_t *s, st_err_t *err)
{
    if (!s->flow || !s->state_name || (unsigned)s->status >= ST_STORE_STATUS_COUNT)
        return st_err_set(err, ST_INVAL, "start needs a flow, a state name and a status");
    return 0;
}

int st_store_start_many(st_store_conn_t *c, const st_store_start_t *in, size_t n,
                        st_store_started_t *out, st_err_t *err)
{
    if (n == 0)
        return 0;
    st_store_uuid_t *ids = calloc(n, sizeof *ids);
    unsigned char *again = calloc(n, 1);
    size_t *order = calloc(n, sizeof *order);
    int rc = (ids && again && order) ? 0 : st_err_set(err, ST_NOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        rc = start_check(&in[i], err);
        if (rc == 0)
            rc = st_store_uuid_v7(&ids[i],
                                  (in[i].id_time_us ? in[i].id_time_us : in[i].now_us) / 1000, err);
        again[i] = 1;
    }
    start_op_t x = {in, ids, out, again, order, n, 0, 0};
    for (int round = 0; rc == 0 && round < START_RETRIES; round++) {
        st_store_op_t op = {.send = start_send, .result = start_result, .ud = &x};
        rc = st_store_conn_run(c, &op, err);
        if (rc == 0 && !memchr(again, 1, n))
            break;
    }
    if (rc == 0 && memchr(again, 1, n))
        rc = st_err_set(err, ST_CONFLICT, "start kept racing a concurrent start with the same key");
    if (rc < 0)
        st_err_prefix(err, "start");
    free(ids);
    free(again);
    free(order);
    return rc;
}

int st_store_start(st_store_conn_t *c, const st_store_start_t *in, st_store_started_t *out,
                   st_err_t *err)
{
    return st_store_start_many(c, in, 1, out, err);
}

/* ---- reading rows ---------------------------------------------------------------- */

int st_store_instance_from_row(const PGresult *r, int row, int col0, st_store_instance_t *out)
{
    memset(out, 0, sizeof *out);
    int k = col0;
    if (st_store_get_uuid(r, row, k++, &out->id) < 0)
        return ST_PARSE;
    out->flow = st_store_get_str(r, row, k++);
    out->program_hash = st_store_get_str(r, row, k++);
    out->state = (int32_t)st_store_get_i64(r, row, k++);
    out->state_name = st_store_get_str(r, row, k++);
    if (st_store_status_parse(PQgetvalue(r, row, k++), &out->status) < 0)
        return ST_PARSE;
    out->vars_json = st_store_get_str(r, row, k++);
    out->seq = st_store_get_i64(r, row, k++);
    out->wake_at_us = st_store_get_time(r, row, k++);
    out->wait_reason = st_store_get_str(r, row, k++);
    out->business_key = st_store_get_str(r, row, k++);
    out->owner_node = st_store_get_i64(r, row, k++);
    out->lease_epoch = st_store_get_i64(r, row, k++);
    out->created_us = st_store_get_time(r, row, k++);
    out->updated_us = st_store_get_time(r, row, k++);
    out->cancel_requested = PQgetvalue(r, row, k++)[0] == 't';
    out->signals_pending = PQgetvalue(r, row, k++)[0] == 't';
    if (!out->flow || !out->program_hash || !out->state_name || !out->vars_json)
        return ST_NOMEM;
    return 0;
}

void st_store_instance_release(st_store_instance_t *in)
{
    if (!in)
        return;
    free(in->flow);
    free(in->program_hash);
    free(in->state_name);
    free(in->vars_json);
    free(in->wait_reason);
    free(in->business_key);
    memset(in, 0, sizeof *in);
}

void st_store_instances_free(st_store_instances_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        st_store_instance_release(&list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int st_store_instances_from_result(const PGresult *r, st_store_instances_t *out, st_err_t *err)
{
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    out->n = 0;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        int rc = st_store_instance_from_row(r, i, 0, &out->v[out->n++]);
        if (rc < 0)
            return st_err_set(err, rc, "cannot decode instance row %d", i);
    }
    return 0;
}

static int one_instance(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) == 0)
        return ST_NOTFOUND;
    int rc = st_store_instance_from_row(r, 0, 0, ctx);
    return rc < 0 ? st_err_set(err, rc, "cannot decode instance row") : 0;
}

int st_store_instance_load(st_store_conn_t *c, const st_store_uuid_t *id, st_store_instance_t *out,
                           st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, id);
    int rc = st_store_exec1(c, ST_STORE_Q_INSTANCE_LOAD, &p, one_instance, out, err);
    if (rc == ST_NOTFOUND) {
        char text[37];
        st_store_uuid_format(id, text);
        st_err_set(err, ST_NOTFOUND, "no instance %s", text);
    }
    if (rc < 0)
        st_store_instance_release(out);
    return rc;
}

static int count_value(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int64_t *)ctx = PQntuples(r) ? st_store_get_i64(r, 0, 0) : 0;
    return 0;
}

int st_store_flow_count(st_store_conn_t *c, const char *flow, st_store_status_t s, int64_t *n,
                        st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, flow);
    st_store_p_text(&p, st_store_status_name(s));
    *n = 0;
    return st_store_exec1(c, ST_STORE_Q_FLOW_COUNT, &p, count_value, n, err);
}

/* ---- asynchronous load (the engine loop) ---------------------------------------- */

static int load_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    return st_store_instances_from_result(r, ctx, err);
}

static void load_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_instances_cb)cb)(rc, err, ctx, ud);
}

static void load_release(void *ctx)
{
    st_store_instances_free(ctx);
}

static const st_store_read_spec_t load_spec = {sizeof(st_store_instances_t), load_rows,
                                               load_deliver, load_release};

int st_store_instance_load_async(st_store_conn_t *c, const st_store_uuid_t *id,
                                 st_store_instances_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, id);
    return st_store_exec1_read_async(c, ST_STORE_Q_INSTANCE_LOAD, &p, &load_spec,
                                     (st_store_any_cb)cb, ud, err);
}
