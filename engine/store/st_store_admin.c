/*
 * st_store_admin.c — connections for operator tools: a store connection
 * opened after a schema check, and the text rows operator reports come
 * back in.
 *
 * Layer: store. Depends on libpq, libev, st_migrate, st_store_conn.
 * Invariants: no message built here contains the DSN (it may hold a
 * password); a schema that is not exactly this binary's is refused before
 * any statement is prepared.
 */
#include "store/st_store_admin_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/st_migrate.h"

/* A plain connection for the schema check before the store's own. */
static PGconn *admin_pg_open(const char *dsn, st_err_t *err)
{
    PGconn *pg = PQconnectdb(dsn ? dsn : "");
    if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
        return pg;
    const char *why = pg ? PQerrorMessage(pg) : "out of memory";
    st_err_set(err, ST_IO, "cannot connect to the database");
    st_err_detail(err, "%.*s", (int)strcspn(why, "\n"), why);
    st_err_hint(err, "check that PostgreSQL runs and that the DSN is right");
    PQfinish(pg);
    return NULL;
}

st_store_conn_t *st_store_admin_open(struct ev_loop *loop, const char *dsn, st_err_t *err)
{
    PGconn *pg = admin_pg_open(dsn, err);
    if (pg == NULL)
        return NULL;
    int rc = st_migrate_check(pg, err);
    PQfinish(pg);
    if (rc != 0)
        return NULL;
    st_store_conn_cfg_t cfg = {.dsn = dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, err);
    if (c == NULL)
        return NULL;
    st_store_params_t p;
    st_store_p_init(&p);
    if (st_store_exec1(c, ST_STORE_Q_ADMIN_SESSION, &p, NULL, NULL, err) < 0) {
        st_store_conn_free(c);
        return NULL;
    }
    return c;
}

/* ---- report rows ------------------------------------------------------------ */

const char *st_store_rows_get(const st_store_rows_t *r, size_t row, size_t col)
{
    if (row >= r->n || col >= r->ncols)
        return NULL;
    return r->cell[row * r->ncols + col];
}

void st_store_rows_free(st_store_rows_t *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n * r->ncols; i++)
        free(r->cell[i]);
    free(r->cell);
    memset(r, 0, sizeof *r);
}

/* Copy every cell of the result (st_store_rows_fn). */
static int copy_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_rows_t *out = ctx;
    size_t n = (size_t)PQntuples(r), nc = (size_t)PQnfields(r);
    size_t cells = n * nc;
    out->cell = cells > 0 ? calloc(cells, sizeof *out->cell) : NULL;
    if (cells > 0 && out->cell == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    out->n = n;
    out->ncols = nc;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nc; k++) {
            if (PQgetisnull(r, (int)i, (int)k))
                continue;
            char *v = strdup(PQgetvalue(r, (int)i, (int)k));
            if (v == NULL)
                return st_err_set(err, ST_NOMEM, "out of memory");
            out->cell[i * nc + k] = v;
        }
    return 0;
}

/* Run statement q and keep its rows as text (internal to the admin files). */
int st_store_admin_rows(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                        st_store_rows_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = st_store_exec1(c, q, p, copy_rows, out, err);
    if (rc < 0)
        st_store_rows_free(out);
    return rc;
}
