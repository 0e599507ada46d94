/*
 * st_store_partitions.c — history partitions, retention and archiving.
 *
 * Layer: store. Depends on st_store_conn and the SQL functions of migration
 * 0002_store (settle_history_ensure, settle_history_drop_before,
 * settle_archive_instances), which do the DDL inside the database.
 *
 * Invariants: history is only ever removed a whole daily partition at a
 * time; rows that landed in history_default (outside every created range)
 * are moved into the partition created for their day.
 */
#include "store/st_store_int.h"

static int int_row(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int *)ctx = PQntuples(r) ? (int)st_store_get_i64(r, 0, 0) : 0;
    return 0;
}

int st_store_history_ensure(st_store_conn_t *c, int64_t from_us, int days, int *created,
                            st_err_t *err)
{
    if (days < 1 || days > 366)
        return st_err_set(err, ST_INVAL, "create between 1 and 366 daily partitions");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, from_us);
    st_store_p_i64(&p, days);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_HISTORY_ENSURE, &p, int_row, &n, err);
    if (rc == 0 && created)
        *created = n;
    return rc;
}

int st_store_history_retain(st_store_conn_t *c, int64_t cutoff_us, int *dropped, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, cutoff_us);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_HISTORY_RETAIN, &p, int_row, &n, err);
    if (rc == 0 && dropped)
        *dropped = n;
    return rc;
}

int st_store_archive(st_store_conn_t *c, int64_t before_us, unsigned limit, int *moved,
                     st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, before_us);
    st_store_p_i64(&p, limit);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_ARCHIVE, &p, int_row, &n, err);
    if (rc == 0 && moved)
        *moved = n;
    return rc;
}

/* ---- asynchronous upkeep (the engine loop) -------------------------------------- */

static void count_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    if (cb)
        ((st_store_count_cb)cb)(rc, err, *(int *)ctx, ud);
}

static void count_release(void *ctx)
{
    (void)ctx;
}

static const st_store_read_spec_t count_spec = {sizeof(int), int_row, count_deliver, count_release};

int st_store_history_ensure_async(st_store_conn_t *c, int64_t from_us, int days,
                                  st_store_count_cb cb, void *ud, st_err_t *err)
{
    if (days < 1 || days > 366)
        return st_err_set(err, ST_INVAL, "create between 1 and 366 daily partitions");
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, from_us);
    st_store_p_i64(&p, days);
    return st_store_exec1_read_async(c, ST_STORE_Q_HISTORY_ENSURE, &p, &count_spec,
                                     (st_store_any_cb)cb, ud, err);
}

int st_store_history_retain_async(st_store_conn_t *c, int64_t cutoff_us, st_store_count_cb cb,
                                  void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, cutoff_us);
    return st_store_exec1_read_async(c, ST_STORE_Q_HISTORY_RETAIN, &p, &count_spec,
                                     (st_store_any_cb)cb, ud, err);
}
