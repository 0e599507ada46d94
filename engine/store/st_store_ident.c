/*
 * st_store_ident.c — registering a node under an identity whose earlier
 * processes are proven gone.
 *
 * Layer: store. Depends on st_store_conn (statements), st_store_leases
 * (the plain registration this extends).
 *
 * The caller holds an exclusive OS lock named after the identity (see
 * exec/st_exec_ident.h): no other live process runs as it. Registration
 * then stops, in the same statement that inserts the new row, every
 * earlier row of that identity still marked alive. A stopped node counts as
 * lapsed for LEASE_CLAIM at once, and the claim bumps each instance's
 * lease_epoch, so a checkpoint the dead process left in flight conflicts
 * instead of applying. The dead process's sessions, found by their
 * application_name (the tag), are ended: a statement it left executing
 * would otherwise hold its row locks until it finished. Rows registered
 * without an identity are never touched.
 */
#include "store/st_store_int.h"

#include <string.h>

typedef struct fenced_reg {
    int64_t id;
    int64_t fenced;
} fenced_reg_t;

static int fenced_row(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) != 1)
        return st_err_set(err, ST_INTERNAL, "node registration returned no id");
    fenced_reg_t *out = ctx;
    out->id = st_store_get_i64(r, 0, 0);
    out->fenced = st_store_get_i64(r, 0, 1);
    return 0;
}

static int fenced_params(st_store_params_t *p, const char *name, const char *identity,
                         const char *tag, int32_t ttl_ms, st_err_t *err)
{
    if (name == NULL || identity == NULL || identity[0] == '\0' || ttl_ms <= 0)
        return st_err_set(err, ST_INVAL, "node needs a name, an identity and a positive lease");
    st_store_p_init(p);
    st_store_p_text(p, name);
    st_store_p_i64(p, ttl_ms);
    st_store_p_text(p, identity);
    st_store_p_text(p, tag);
    return 0;
}

int st_store_node_register_fenced(st_store_conn_t *c, const char *name, const char *identity,
                                  const char *tag, int32_t ttl_ms, int64_t *node_id,
                                  int64_t *fenced, st_err_t *err)
{
    st_store_params_t p;
    fenced_reg_t out = {0, 0};
    int rc = fenced_params(&p, name, identity, tag, ttl_ms, err);
    if (rc != 0)
        return rc;
    rc = st_store_exec1(c, ST_STORE_Q_NODE_REGISTER_FENCED, &p, fenced_row, &out, err);
    if (rc == 0) {
        *node_id = out.id;
        if (fenced != NULL)
            *fenced = out.fenced;
    }
    return rc;
}

static void id_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_id_cb)cb)(rc, err, ((fenced_reg_t *)ctx)->id, ud);
}

static void nothing_to_release(void *ctx)
{
    (void)ctx;
}

static const st_store_read_spec_t fenced_spec = {sizeof(fenced_reg_t), fenced_row, id_deliver,
                                                 nothing_to_release};

int st_store_node_register_fenced_async(st_store_conn_t *c, const char *name, const char *identity,
                                        const char *tag, int32_t ttl_ms, st_store_id_cb cb,
                                        void *ud, st_err_t *err)
{
    st_store_params_t p;
    int rc = fenced_params(&p, name, identity, tag, ttl_ms, err);
    if (rc != 0)
        return rc;
    return st_store_exec1_read_async(c, ST_STORE_Q_NODE_REGISTER_FENCED, &p, &fenced_spec,
                                     (st_store_any_cb)cb, ud, err);
}
