/*
 * st_store_api.c — the flow API's reads (an instance with its open task, a
 * filtered listing) and the schema check of /readyz.
 *
 * Layer: store. Depends on st_store_conn (blocking helpers), st_store_util
 * and st_store_instances (row decoding), st_migrate (the version rule).
 * Statements VIEW_GET, VIEWS_LIST and SCHEMA_VERSION in st_store_sql.c.
 *
 * Invariants: read-only; a view row is ST_STORE_INSTANCE_COLS followed by
 * VIEW_TASK_NCOLS columns of the open task (NULL activity: none); listings
 * are keyset-paginated on id, never OFFSET.
 */
#include "store/st_store_api.h"

#include <stdlib.h>
#include <string.h>

#include "store/st_migrate.h"
#include "store/st_store_int.h"

#define VIEW_TASK_COL0 ST_STORE_INSTANCE_NCOLS

void st_store_view_release(st_store_view_t *v)
{
    if (!v)
        return;
    st_store_instance_release(&v->inst);
    free(v->task.activity);
    free(v->task.last_error);
    memset(v, 0, sizeof *v);
}

void st_store_views_free(st_store_views_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        st_store_view_release(&list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

/* One view row: the instance, then its open task. */
static int view_from_row(const PGresult *r, int row, st_store_view_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = st_store_instance_from_row(r, row, 0, &out->inst);
    if (rc < 0)
        return st_err_set(err, rc, "cannot decode instance row %d", row);
    int k = VIEW_TASK_COL0;
    st_store_open_task_t *t = &out->task;
    if (PQgetisnull(r, row, k))
        return 0;
    t->present = true;
    t->activity = st_store_get_str(r, row, k++);
    if (st_store_task_status_parse(PQgetvalue(r, row, k++), &t->status) < 0)
        return st_err_set(err, ST_PARSE, "cannot decode the task status of row %d", row);
    t->attempt = (int32_t)st_store_get_i64(r, row, k++);
    t->max_attempts = (int32_t)st_store_get_i64(r, row, k++);
    t->not_before_us = st_store_get_time(r, row, k++);
    t->last_error = st_store_get_str(r, row, k++);
    if (!t->activity || (!t->last_error && !PQgetisnull(r, row, k - 1)))
        return st_err_set(err, ST_NOMEM, "out of memory");
    return 0;
}

static int one_view(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) == 0)
        return ST_NOTFOUND;
    return view_from_row(r, 0, ctx, err);
}

int st_store_view_get(st_store_conn_t *c, const st_store_uuid_t *id, st_store_view_t *out,
                      st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, id);
    int rc = st_store_exec1(c, ST_STORE_Q_VIEW_GET, &p, one_view, out, err);
    if (rc == ST_NOTFOUND) {
        char text[37];
        st_store_uuid_format(id, text);
        st_err_set(err, ST_NOTFOUND, "no instance %s", text);
    }
    if (rc < 0)
        st_store_view_release(out);
    return rc;
}

static int view_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_views_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        int rc = view_from_row(r, i, &out->v[out->n++], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int st_store_views_list(st_store_conn_t *c, const st_store_view_filter_t *f, unsigned limit,
                        st_store_views_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (f->status >= ST_STORE_STATUS_COUNT || f->status < -1)
        return st_err_set(err, ST_INVAL, "unknown status %d", f->status);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_text(&p, f->flow);
    st_store_p_text(&p, f->status < 0 ? NULL : st_store_status_name((st_store_status_t)f->status));
    st_store_p_text(&p, f->state_name);
    st_store_p_text(&p, f->business_key);
    st_store_p_uuid(&p, f->before);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_VIEWS_LIST, &p, view_rows, out, err);
    if (rc < 0)
        st_store_views_free(out);
    return rc;
}

/* ---- schema --------------------------------------------------------------------- */

int st_store_schema_version(void)
{
    return st_migrate_latest();
}

static int version_row(const PGresult *r, void *ctx, st_err_t *err)
{
    if (PQntuples(r) != 1)
        return st_err_set(err, ST_DB, "cannot read the schema version");
    *(int *)ctx = (int)st_store_get_i64(r, 0, 0);
    return 0;
}

int st_store_schema_check(st_store_conn_t *c, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    int v = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_SCHEMA_VERSION, &p, version_row, &v, err);
    return rc < 0 ? rc : st_migrate_check_version(v, err);
}

int st_store_schema_probe(const char *dsn, st_err_t *err)
{
    PGconn *pg = PQconnectdb(dsn ? dsn : "");
    int rc;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message names host and user, never the password */
        rc = st_err_set(err, ST_DB, "cannot connect to the database");
        if (pg != NULL)
            st_err_detail(err, "%s", PQerrorMessage(pg));
        st_err_hint(err, "check that PostgreSQL is running and the DSN is right");
    } else {
        rc = st_migrate_check(pg, err);
    }
    PQfinish(pg);
    return rc;
}
