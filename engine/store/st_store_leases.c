/*
 * st_store_leases.c — nodes and instance leases.
 *
 * Layer: store. Depends on st_store_conn, st_store_instances (row decoding).
 *
 * A node holds one row in `nodes` whose lease_until it renews with one
 * statement per interval; instances name their owner node, so renewal never
 * touches instance rows. Claiming an instance bumps its lease_epoch, and
 * every checkpoint checks (owner_node, lease_epoch, seq), so a node that
 * paused past its lease and lost its instances cannot write to them.
 * Leases are judged by the database clock only.
 */
#include "store/st_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int id_row(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) != 1)
        return st_err_set(err, ST_INTERNAL, "node registration returned no id");
    *(int64_t *)ctx = st_store_get_i64(r, 0, 0);
    return 0;
}

int st_store_node_register(st_store_conn_t *c, const char *name, int32_t ttl_ms, int64_t *node_id,
                           st_err_t *err)
{
    if (!name || ttl_ms <= 0)
        return st_err_set(err, ST_INVAL, "node needs a name and a positive lease");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, name);
    st_store_p_i64(&p, ttl_ms);
    return st_store_exec1(c, ST_STORE_Q_NODE_REGISTER, &p, id_row, node_id, err);
}

static int rows_seen(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int *)ctx = PQntuples(r);
    return 0;
}

int st_store_node_renew(st_store_conn_t *c, int64_t node_id, int32_t ttl_ms, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, ttl_ms);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_NODE_RENEW, &p, rows_seen, &n, err);
    if (rc == 0 && n == 0)
        return st_err_set(err, ST_CONFLICT, "lease of node %lld lapsed or the node was stopped",
                          (long long)node_id);
    return rc;
}

int st_store_node_renew_async(st_store_conn_t *c, int64_t node_id, int32_t ttl_ms,
                              st_store_done_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    char msg[96];
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, ttl_ms);
    snprintf(msg, sizeof msg, "lease of node %lld lapsed or the node was stopped",
             (long long)node_id);
    return st_store_exec1_async(c, ST_STORE_Q_NODE_RENEW, &p, ST_CONFLICT, msg, cb, ud, err);
}

/* Release: un-own the node's live instances and stop it, one transaction. */
static int release_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    const st_store_params_t *p = op->ud;
    int rc = st_store_send(pg, ST_STORE_Q_NODE_DISOWN, p, err);
    return rc < 0 ? rc : st_store_send(pg, ST_STORE_Q_NODE_STOP, p, err);
}

int st_store_node_release(st_store_conn_t *c, int64_t node_id, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_op_t op = {.send = release_send, .ud = &p};
    int rc = st_store_conn_run(c, &op, err);
    if (rc < 0)
        st_err_prefix(err, "release node %lld", (long long)node_id);
    return rc;
}

static int instance_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    return st_store_instances_from_result(r, ctx, err);
}

int st_store_lease_claim(st_store_conn_t *c, int64_t node_id, unsigned limit,
                         st_store_instances_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_LEASE_CLAIM, &p, instance_rows, out, err);
    if (rc < 0)
        st_store_instances_free(out);
    return rc;
}

static void instances_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_instances_cb)cb)(rc, err, ctx, ud);
}

static void instances_release(void *ctx)
{
    st_store_instances_free(ctx);
}

static const st_store_read_spec_t instances_spec = {sizeof(st_store_instances_t), instance_rows,
                                                    instances_deliver, instances_release};

int st_store_lease_claim_async(st_store_conn_t *c, int64_t node_id, unsigned limit,
                               st_store_instances_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, limit);
    return st_store_exec1_read_async(c, ST_STORE_Q_LEASE_CLAIM, &p, &instances_spec,
                                     (st_store_any_cb)cb, ud, err);
}

int st_store_instances_owned(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *after,
                             unsigned limit, st_store_instances_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_uuid(&p, after);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_INSTANCES_OWNED, &p, instance_rows, out, err);
    if (rc < 0)
        st_store_instances_free(out);
    return rc;
}

/* ---- asynchronous registration (lease-lapse recovery on the loop) ---------------- */

static void id_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_id_cb)cb)(rc, err, *(int64_t *)ctx, ud);
}

static void id_release(void *ctx)
{
    (void)ctx;
}

static const st_store_read_spec_t id_spec = {sizeof(int64_t), id_row, id_deliver, id_release};

int st_store_node_register_async(st_store_conn_t *c, const char *name, int32_t ttl_ms,
                                 st_store_id_cb cb, void *ud, st_err_t *err)
{
    if (!name || ttl_ms <= 0)
        return st_err_set(err, ST_INVAL, "node needs a name and a positive lease");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, name);
    st_store_p_i64(&p, ttl_ms);
    return st_store_exec1_read_async(c, ST_STORE_Q_NODE_REGISTER, &p, &id_spec, (st_store_any_cb)cb,
                                     ud, err);
}
