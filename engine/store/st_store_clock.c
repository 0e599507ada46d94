/*
 * st_store_clock.c — the durable virtual clock (settle_clock, one row).
 *
 * Layer: store. Depends on st_store_conn, st_store_async and schema
 * 0005_engine (the table and its NOTIFY settle_clock trigger).
 *
 * Invariants: now_us only moves forward (nodes write greatest(now_us, x));
 * an advance adds to the larger of target and now, so advances asked for
 * while the nodes are still catching up add up instead of being lost.
 */
#include "store/st_store_int.h"

#include <string.h>

/* The row as (now_us, target_us); ST_NOTFOUND when there is none. */
static int no_clock(st_err_t *err)
{
    st_err_set(err, ST_NOTFOUND,
               "no virtual clock: no settled has run with --clock virtual on this database");
    st_err_hint(err, "start the daemon with `settled run --clock virtual`");
    return ST_NOTFOUND;
}

static int clock_row(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_clock_t *out = ctx;
    if (PQntuples(r) == 0)
        return no_clock(err);
    out->now_us = st_store_get_i64(r, 0, 0);
    out->target_us = st_store_get_i64(r, 0, 1);
    return 0;
}

int st_store_clock_open(st_store_conn_t *c, int64_t start_us, st_store_clock_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, start_us);
    memset(out, 0, sizeof *out);
    return st_store_exec1(c, ST_STORE_Q_CLOCK_OPEN, &p, clock_row, out, err);
}

int st_store_clock_read(st_store_conn_t *c, st_store_clock_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    memset(out, 0, sizeof *out);
    int rc = st_store_exec1(c, ST_STORE_Q_CLOCK_READ, &p, clock_row, out, err);
    return rc == ST_NOTFOUND ? no_clock(err) : rc;
}

int st_store_clock_advance(st_store_conn_t *c, int64_t delta_us, st_store_clock_t *out,
                           st_err_t *err)
{
    if (delta_us <= 0)
        return st_err_set(err, ST_INVAL, "the clock only moves forward");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, delta_us);
    memset(out, 0, sizeof *out);
    int rc = st_store_exec1(c, ST_STORE_Q_CLOCK_ADVANCE, &p, clock_row, out, err);
    return rc == ST_NOTFOUND ? no_clock(err) : rc;
}

static void clock_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_clock_cb)cb)(rc, err, rc == 0 ? ctx : NULL, ud);
}

static void clock_release(void *ctx)
{
    (void)ctx;
}

static const st_store_read_spec_t clock_spec = {sizeof(st_store_clock_t), clock_row, clock_deliver,
                                                clock_release};

int st_store_clock_read_async(st_store_conn_t *c, st_store_clock_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    return st_store_exec1_read_async(c, ST_STORE_Q_CLOCK_READ, &p, &clock_spec, (st_store_any_cb)cb,
                                     ud, err);
}

int st_store_clock_reached_async(st_store_conn_t *c, int64_t now_us, st_store_done_cb cb, void *ud,
                                 st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, now_us);
    return st_store_exec1_async(c, ST_STORE_Q_CLOCK_REACHED, &p, 0, NULL, cb, ud, err);
}
