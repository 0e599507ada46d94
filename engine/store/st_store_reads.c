/*
 * st_store_reads.c — operator reads: filtered instance listings, Program
 * lookup by hash prefix, node and task reads, and the reports settlectl
 * prints (timeline, tasks, stuck, live states, throughput, oldest wait,
 * live nodes, versions).
 *
 * Layer: store. Depends on st_store_conn, st_store_util, st_store_admin.
 * Read-only: nothing here changes stored data. Listings are keyset-paged.
 */
#include "store/st_store_admin_int.h"

#include <stdlib.h>
#include <string.h>

void st_store_filter_init(st_store_filter_t *f)
{
    memset(f, 0, sizeof *f);
    f->status = -1;
    f->older_than_us = ST_STORE_NO_TIME;
}

static int instance_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    return st_store_instances_from_result(r, ctx, err);
}

int st_store_instances_find(st_store_conn_t *c, const st_store_filter_t *f,
                            const st_store_uuid_t *after, unsigned limit, st_store_instances_t *out,
                            st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (f->status >= ST_STORE_STATUS_COUNT || f->status < -1)
        return st_err_set(err, ST_INVAL, "unknown status %d", f->status);
    st_store_arr_t pairs = {0};
    const char *lit = NULL;
    if (f->by_waiting_state) {
        st_store_arr_begin(&pairs);
        for (size_t i = 0; i < f->nwaiting; i++)
            st_store_arr_text(&pairs, f->waiting[i]);
        lit = st_store_arr_end(&pairs);
        if (lit == NULL) {
            st_store_arr_release(&pairs);
            return st_err_set(err, ST_NOMEM, "out of memory");
        }
    }
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, f->flow);
    st_store_p_text(&p, f->version);
    st_store_p_text(&p, f->state);
    st_store_p_text(&p, f->status < 0 ? NULL : st_store_status_name((st_store_status_t)f->status));
    st_store_p_time(&p, f->older_than_us);
    st_store_p_text(&p, f->business_key);
    st_store_p_text(&p, lit);
    st_store_p_uuid(&p, after);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_ADMIN_FIND, &p, instance_rows, out, err);
    st_store_arr_release(&pairs);
    if (rc < 0)
        st_store_instances_free(out);
    return rc;
}

int st_store_waiting_programs(st_store_conn_t *c, const char *flow, st_store_rows_t *out,
                              st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, flow);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_WAITING_PROGRAMS, &p, out, err);
}

int st_store_program_resolve(st_store_conn_t *c, const char *prefix, char hash[65], char name[256],
                             st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, prefix);
    st_store_rows_t r;
    int rc = st_store_admin_rows(c, ST_STORE_Q_ADMIN_PROGRAM_RESOLVE, &p, &r, err);
    if (rc < 0)
        return rc;
    if (r.n == 1) {
        snprintf(hash, 65, "%s", st_store_rows_get(&r, 0, 0));
        snprintf(name, 256, "%s", st_store_rows_get(&r, 0, 1));
    } else if (r.n == 0) {
        rc = st_err_set(err, ST_NOTFOUND, "no Program version %s", prefix);
    } else {
        rc = st_err_set(err, ST_INVAL, "version prefix %s names more than one Program", prefix);
        st_err_hint(err, "give more hex digits");
    }
    st_store_rows_free(&r);
    return rc;
}

int st_store_node_info(st_store_conn_t *c, int64_t node_id, st_store_node_info_t *out,
                       st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_rows_t r;
    int rc = st_store_admin_rows(c, ST_STORE_Q_ADMIN_NODE_INFO, &p, &r, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    if (r.n == 0) {
        rc = st_err_set(err, ST_NOTFOUND, "no node %lld", (long long)node_id);
    } else {
        snprintf(out->name, sizeof out->name, "%s", st_store_rows_get(&r, 0, 0));
        const char *alive = st_store_rows_get(&r, 0, 1);
        out->alive = alive != NULL && alive[0] == 't';
    }
    st_store_rows_free(&r);
    return rc;
}

int st_store_db_now(st_store_conn_t *c, int64_t *us, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_rows_t r;
    int rc = st_store_admin_rows(c, ST_STORE_Q_ADMIN_DB_NOW, &p, &r, err);
    if (rc < 0)
        return rc;
    const char *v = st_store_rows_get(&r, 0, 0);
    *us = v ? strtoll(v, NULL, 10) : 0;
    st_store_rows_free(&r);
    return v ? 0 : st_err_set(err, ST_DB, "the database returned no clock");
}

/* ---- reports ----------------------------------------------------------------- */

int st_store_report_timeline(st_store_conn_t *c, const st_store_uuid_t *instance,
                             st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_TIMELINE, &p, out, err);
}

int st_store_report_tasks(st_store_conn_t *c, const st_store_uuid_t *instance, st_store_rows_t *out,
                          st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_TASK_REPORT, &p, out, err);
}

int st_store_report_stuck(st_store_conn_t *c, int64_t retrying_us, int64_t late_us,
                          const char *flow, unsigned limit, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, retrying_us);
    st_store_p_i64(&p, late_us);
    st_store_p_text(&p, flow);
    st_store_p_i64(&p, limit);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_STUCK, &p, out, err);
}

int st_store_report_live_states(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_LIVE_STATES, &p, out, err);
}

int st_store_report_throughput(st_store_conn_t *c, int minutes, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, minutes);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_THROUGHPUT, &p, out, err);
}

int st_store_report_oldest_waiting(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_OLDEST_WAITING, &p, out, err);
}

int st_store_report_live_nodes(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_LIVE_NODES, &p, out, err);
}

int st_store_report_versions(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    return st_store_admin_rows(c, ST_STORE_Q_ADMIN_VERSIONS, &p, out, err);
}
