/*
 * st_ops_clock.c — the operator's view of the virtual clock (settled clock,
 * settlectl clock): show it, move it forward.
 *
 * Layer: ops. Blocking calls on a store connection (st_store_clock_*);
 * never prints.
 */
#include "ops/st_ops.h"

static void from_store(const st_store_clock_t *k, st_ops_clock_t *out)
{
    out->now_us = k->now_us;
    out->target_us = k->target_us;
}

int st_ops_clock_show(st_store_conn_t *c, st_ops_clock_t *out, st_err_t *err)
{
    st_store_clock_t k;
    int rc = st_store_clock_read(c, &k, err);
    if (rc == 0)
        from_store(&k, out);
    return rc;
}

int st_ops_clock_advance(st_store_conn_t *c, int64_t delta_us, st_ops_clock_t *out, st_err_t *err)
{
    st_store_clock_t k;
    int rc = st_store_clock_advance(c, delta_us, &k, err);
    if (rc == 0)
        from_store(&k, out);
    return rc;
}
