/*
 * st_store_signals.c — the durable inbox of signals and correlation keys.
 *
 * Layer: store. Depends on st_store_conn, st_store_util.
 *
 * A signal is stored before anyone acts on it and stays unconsumed until a
 * checkpoint of its instance consumes it (st_store_ckpt_t.consume_signal_id),
 * which the checkpoint statement allows once: a consumed signal makes a
 * second checkpoint naming it fail with ST_CONFLICT. A signal addressed by
 * correlation key is resolved to one row per correlated instance when sent;
 * when no instance has that key yet it is parked, and the transaction that
 * gives an instance the key (checkpoint, start, st_store_correlate) takes
 * it over. Both sides lock the (key, value) pair first (CORR_LOCK), so a
 * signal is never parked after its instance learnt the key.
 */
#include "store/st_store_int.h"

#include <stdlib.h>
#include <string.h>

/* SIGNAL_SEND's row: (status, id or NULL); no row: no such instance. */
typedef struct send_out {
    int found, stored;
    st_store_status_t status;
    int64_t id;
} send_out_t;

static int send_row(const PGresult *r, void *ctx, st_err_t *err)
{
    send_out_t *o = ctx;
    if (PQntuples(r) == 0)
        return 0;
    o->found = 1;
    if (st_store_status_parse(PQgetvalue(r, 0, 0), &o->status) < 0)
        return st_err_set(err, ST_PARSE, "unknown instance status '%.40s'", PQgetvalue(r, 0, 0));
    o->stored = !PQgetisnull(r, 0, 1);
    o->id = st_store_get_i64(r, 0, 1);
    return 0;
}

int st_store_signal_discard(st_store_conn_t *c, int64_t signal_id, const st_store_uuid_t *instance,
                            int64_t seq, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, signal_id);
    st_store_p_uuid(&p, instance);
    st_store_p_i64(&p, seq);
    return st_store_exec1(c, ST_STORE_Q_SIGNAL_DISCARD, &p, NULL, NULL, err);
}

int st_store_signal_send_live(st_store_conn_t *c, const st_store_uuid_t *instance, const char *name,
                              const char *payload_json, const char *source, int64_t *signal_id,
                              st_store_status_t *status, st_err_t *err)
{
    if (!instance || !name || !source)
        return st_err_set(err, ST_INVAL, "signal needs an instance, a name and a source");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    st_store_p_text(&p, name);
    st_store_p_text(&p, payload_json);
    st_store_p_text(&p, source);
    send_out_t o = {0};
    int rc = st_store_exec1(c, ST_STORE_Q_SIGNAL_SEND, &p, send_row, &o, err);
    if (rc < 0)
        return rc;
    char text[37];
    st_store_uuid_format(instance, text);
    if (!o.found)
        return st_err_set(err, ST_NOTFOUND, "no instance %s", text);
    if (status)
        *status = o.status;
    if (!o.stored) {
        st_err_set(err, ST_CONFLICT, "instance %s is already %s", text,
                   st_store_status_name(o.status));
        st_err_hint(err, "a finished instance takes no more signals; start a new one");
        return ST_CONFLICT;
    }
    if (signal_id)
        *signal_id = o.id;
    return 0;
}

int st_store_signal_send(st_store_conn_t *c, const st_store_uuid_t *instance, const char *name,
                         const char *payload_json, const char *source, int64_t *signal_id,
                         st_err_t *err)
{
    return st_store_signal_send_live(c, instance, name, payload_json, source, signal_id, NULL, err);
}

/* Rows are (id, parked): count those delivered to an instance. */
static int delivered_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    size_t n = 0;
    for (int i = 0; i < PQntuples(r); i++)
        n += PQgetvalue(r, i, 1)[0] == 'f';
    *(size_t *)ctx = n;
    return 0;
}

int st_store_signal_send_correlated(st_store_conn_t *c, const char *key, const char *value,
                                    const char *name, const char *payload_json, const char *source,
                                    size_t *count, st_err_t *err)
{
    if (!key || !value || !name || !source)
        return st_err_set(err, ST_INVAL, "signal needs a key, a value, a name and a source");
    st_store_kv_t kv = {key, value};
    st_store_arr_t keys = {0}, vals = {0};
    st_store_params_t p[2];
    int rc = st_store_corr_lock_params(&p[0], &keys, &vals, &kv, 1);
    if (rc == 0) {
        st_store_p_init(&p[1]);
        st_store_p_text(&p[1], key);
        st_store_p_text(&p[1], value);
        st_store_p_text(&p[1], name);
        st_store_p_text(&p[1], payload_json);
        st_store_p_text(&p[1], source);
        static const st_store_q_t qs[] = {ST_STORE_Q_CORR_LOCK, ST_STORE_Q_SIGNAL_SEND_CORRELATED};
        size_t n = 0;
        rc = st_store_exec_seq(c, qs, p, 2, delivered_rows, &n, err);
        if (rc == 0 && count)
            *count = n;
    } else {
        st_err_set(err, ST_NOMEM, "out of memory");
    }
    st_store_arr_release(&keys);
    st_store_arr_release(&vals);
    return rc;
}

static int signal_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_signals_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        st_store_signal_t *s = &out->v[out->n++];
        s->id = st_store_get_i64(r, i, 0);
        st_store_get_uuid(r, i, 1, &s->instance);
        s->name = st_store_get_str(r, i, 2);
        s->payload_json = st_store_get_str(r, i, 3);
        s->source = st_store_get_str(r, i, 4);
        s->created_us = st_store_get_time(r, i, 5);
        if (!s->name || !s->payload_json || !s->source)
            return st_err_set(err, ST_NOMEM, "out of memory");
    }
    return 0;
}

int st_store_signals_pending(st_store_conn_t *c, const st_store_uuid_t *instance,
                             st_store_signals_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    int rc = st_store_exec1(c, ST_STORE_Q_SIGNALS_PENDING, &p, signal_rows, out, err);
    if (rc < 0)
        st_store_signals_free(out);
    return rc;
}

static void signals_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_signals_cb)cb)(rc, err, ctx, ud);
}

static void signals_release(void *ctx)
{
    st_store_signals_free(ctx);
}

static const st_store_read_spec_t signals_spec = {sizeof(st_store_signals_t), signal_rows,
                                                  signals_deliver, signals_release};

int st_store_signals_pending_async(st_store_conn_t *c, const st_store_uuid_t *instance,
                                   st_store_signals_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    return st_store_exec1_read_async(c, ST_STORE_Q_SIGNALS_PENDING, &p, &signals_spec,
                                     (st_store_any_cb)cb, ud, err);
}

void st_store_signals_free(st_store_signals_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].name);
        free(list->v[i].payload_json);
        free(list->v[i].source);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int st_store_correlate(st_store_conn_t *c, const st_store_uuid_t *instance, const char *key,
                       const char *value, st_err_t *err)
{
    if (!instance || !key || !value)
        return st_err_set(err, ST_INVAL, "correlation needs an instance, a key and a value");
    st_store_kv_t kv = {key, value};
    st_store_arr_t keys = {0}, vals = {0};
    st_store_params_t p[2];
    int rc = st_store_corr_lock_params(&p[0], &keys, &vals, &kv, 1);
    if (rc == 0) {
        st_store_p_init(&p[1]);
        st_store_p_uuid(&p[1], instance);
        st_store_p_text(&p[1], key);
        st_store_p_text(&p[1], value);
        static const st_store_q_t qs[] = {ST_STORE_Q_CORR_LOCK, ST_STORE_Q_CORRELATE};
        rc = st_store_exec_seq(c, qs, p, 2, NULL, NULL, err);
    } else {
        st_err_set(err, ST_NOMEM, "out of memory");
    }
    st_store_arr_release(&keys);
    st_store_arr_release(&vals);
    return rc;
}

/* ---- the engine loop's writes ------------------------------------------------------ */

int st_store_signal_discard_async(st_store_conn_t *c, int64_t signal_id,
                                  const st_store_uuid_t *instance, int64_t seq, st_store_done_cb cb,
                                  void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, signal_id);
    st_store_p_uuid(&p, instance);
    st_store_p_i64(&p, seq);
    return st_store_exec1_async(c, ST_STORE_Q_SIGNAL_DISCARD, &p, 0, NULL, cb, ud, err);
}

int st_store_signal_refuse_async(st_store_conn_t *c, int64_t signal_id,
                                 const st_store_uuid_t *instance, int64_t seq, int64_t at_us,
                                 const char *reason, st_store_done_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, signal_id);
    st_store_p_uuid(&p, instance);
    st_store_p_i64(&p, seq);
    st_store_p_time(&p, at_us);
    st_store_p_text(&p, reason ? reason : "refused by the flow");
    return st_store_exec1_async(c, ST_STORE_Q_SIGNAL_REFUSE, &p, 0, NULL, cb, ud, err);
}
