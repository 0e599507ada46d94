/*
 * st_store_query.c — reads for operators: counts by flow and status, an
 * instance's timeline, instance listings.
 *
 * Layer: store. Depends on st_store_conn, st_store_util, st_store_instances
 * (row decoding). Read-only: nothing here changes stored data.
 * Invariant: listings are keyset-paginated, so a page costs the same at any
 * depth and never needs OFFSET or COUNT(*).
 */
#include "store/st_store_admin.h"
#include "store/st_store_int.h"

#include <stdlib.h>
#include <string.h>

static int count_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_counts_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        st_store_count_t *c = &out->v[out->n++];
        c->flow = st_store_get_str(r, i, 0);
        if (!c->flow || st_store_status_parse(PQgetvalue(r, i, 1), &c->status) < 0)
            return st_err_set(err, ST_PARSE, "cannot decode flow_counts row %d", i);
        c->n = st_store_get_i64(r, i, 2);
    }
    return 0;
}

void st_store_counts_free(st_store_counts_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i].flow);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int st_store_flow_counts(st_store_conn_t *c, st_store_counts_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    int rc = st_store_exec1(c, ST_STORE_Q_FLOW_COUNTS_ALL, &p, count_rows, out, err);
    if (rc < 0)
        st_store_counts_free(out);
    return rc;
}

static int hist_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_hist_rows_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        st_store_hist_row_t *h = &out->v[out->n++];
        h->seq = st_store_get_i64(r, i, 0);
        h->at_us = st_store_get_time(r, i, 1);
        h->kind = st_store_get_str(r, i, 2);
        h->from_state = st_store_get_str(r, i, 3);
        h->to_state = st_store_get_str(r, i, 4);
        h->actor = st_store_get_str(r, i, 5);
        h->detail_json = st_store_get_str(r, i, 6);
        if (!h->kind)
            return st_err_set(err, ST_NOMEM, "out of memory");
    }
    return 0;
}

void st_store_hist_rows_free(st_store_hist_rows_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].kind);
        free(list->v[i].from_state);
        free(list->v[i].to_state);
        free(list->v[i].actor);
        free(list->v[i].detail_json);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int st_store_history_list(st_store_conn_t *c, const st_store_uuid_t *instance, int64_t after_seq,
                          int64_t after_at_us, unsigned limit, st_store_hist_rows_t *out,
                          st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    st_store_p_i64(&p, after_seq);
    st_store_p_i64(&p, after_seq < 0 ? 0 : after_at_us);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_HISTORY_LIST, &p, hist_rows, out, err);
    if (rc < 0)
        st_store_hist_rows_free(out);
    return rc;
}

/* One listing statement for every caller: the operator filter with only
 * flow and status set. */
int st_store_instances_list(st_store_conn_t *c, const char *flow, int status,
                            const st_store_uuid_t *after, unsigned limit, st_store_instances_t *out,
                            st_err_t *err)
{
    st_store_filter_t f;
    st_store_filter_init(&f);
    f.flow = flow;
    f.status = status;
    return st_store_instances_find(c, &f, after, limit, out, err);
}
