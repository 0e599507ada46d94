/*
 * st_store_vclock.c — read and advance the durable virtual clock (see
 * st_store_vclock.h). Both statements are single-row and idempotent in
 * effect for a retry of a read; an advance is not retried by the store.
 */
#include "store/st_store_vclock.h"

#include <string.h>

#include "store/st_store_int.h"
#include "store/st_store_sql.h"

static int clock_row(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_vclock_t *out = ctx;
    (void)err;
    if (PQntuples(r) == 0)
        return ST_NOTFOUND;
    out->now_us = st_store_get_i64(r, 0, 0);
    out->target_us = st_store_get_i64(r, 0, 1);
    return 0;
}

static int no_clock(st_err_t *err)
{
    st_err_set(err, ST_NOTFOUND,
               "no virtual clock: no settled has run with --clock virtual on this database");
    st_err_hint(err, "start the daemon with `settled run --clock virtual`");
    return ST_NOTFOUND;
}

int st_store_clock_read(st_store_conn_t *c, st_store_vclock_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t ps;
    st_store_p_init(&ps);
    int rc = st_store_exec1(c, ST_STORE_Q_CLOCK_READ, &ps, clock_row, out, err);
    return rc == ST_NOTFOUND ? no_clock(err) : rc;
}

int st_store_clock_advance(st_store_conn_t *c, int64_t delta_us, st_store_vclock_t *out,
                           st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (delta_us <= 0)
        return st_err_set(err, ST_INVAL, "the clock only moves forward");
    st_store_params_t ps;
    st_store_p_init(&ps);
    st_store_p_i64(&ps, delta_us);
    int rc = st_store_exec1(c, ST_STORE_Q_CLOCK_ADVANCE, &ps, clock_row, out, err);
    return rc == ST_NOTFOUND ? no_clock(err) : rc;
}
