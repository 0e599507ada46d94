/*
 * st_http_db.c — the pool of database connections the handler threads
 * borrow for their blocking work.
 *
 * Layer: http (internal). Depends on libpq, libev (private loops of the
 * store connections), the store's public header.
 *
 * Model: one slot per handler thread, so a request never waits for a slot
 * in practice; a slot holds a plain PGconn (the HTTP statements) and, made
 * on first use, an st_store_conn_t on a private libev loop (starts go
 * through the store so that instance rows, history and counts are written
 * exactly as everywhere else). A connection found broken is reset before
 * it is lent again.
 *
 * Invariants: a slot is lent to one request at a time; the pool never
 * logs the DSN (it may hold a password).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>

int st_http_pool_init(st_http_pool_t *p, const char *dsn, unsigned n, st_err_t *err)
{
    memset(p, 0, sizeof *p);
    p->slots = calloc(n, sizeof *p->slots);
    p->dsn = strdup(dsn);
    if (p->slots == NULL || p->dsn == NULL) {
        free(p->slots);
        free(p->dsn);
        return st_err_set(err, ST_NOMEM, "no memory for the connection pool");
    }
    p->n = n;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    return 0;
}

void st_http_pool_release(st_http_pool_t *p)
{
    for (unsigned i = 0; i < p->n; i++) {
        st_http_db_t *d = &p->slots[i];
        st_store_conn_free(d->store);
        if (d->loop != NULL)
            ev_loop_destroy(d->loop);
        if (d->pg != NULL)
            PQfinish(d->pg);
    }
    free(p->slots);
    free(p->dsn);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    memset(p, 0, sizeof *p);
}

PGconn *st_http_db_connect(const char *dsn, st_err_t *err)
{
    PGconn *pg = PQconnectdb(dsn);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        st_err_set(err, ST_DB, "cannot connect to the database");
        if (pg != NULL)
            st_err_detail(err, "%s", PQerrorMessage(pg));
        st_err_hint(err, "check that PostgreSQL is running and the DSN is right");
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* Connect or repair the slot's plain connection. */
static int slot_ready(st_http_pool_t *p, st_http_db_t *d, st_err_t *err)
{
    if (d->pg != NULL && PQstatus(d->pg) == CONNECTION_OK)
        return 0;
    if (d->pg != NULL) {
        PQreset(d->pg);
        if (PQstatus(d->pg) == CONNECTION_OK)
            return 0;
        PQfinish(d->pg);
        d->pg = NULL;
    }
    d->pg = st_http_db_connect(p->dsn, err);
    return d->pg ? 0 : ST_DB;
}

int st_http_pool_get(st_http_pool_t *p, st_http_db_t **out, st_err_t *err)
{
    st_http_db_t *d = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (unsigned i = 0; i < p->n && d == NULL; i++)
            if (!p->slots[i].busy)
                d = &p->slots[i];
        if (d != NULL)
            break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    d->busy = 1;
    pthread_mutex_unlock(&p->mu);
    int rc = slot_ready(p, d, err);
    if (rc != 0) {
        st_http_pool_put(p, d);
        return rc;
    }
    *out = d;
    return 0;
}

void st_http_pool_put(st_http_pool_t *p, st_http_db_t *db)
{
    if (db == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    db->busy = 0;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int st_http_db_store(st_http_pool_t *p, st_http_db_t *db, st_store_conn_t **out, st_err_t *err)
{
    if (db->store != NULL && !st_store_conn_is_up(db->store)) {
        /* The store reconnects by itself on its loop; a blocking helper
         * fails at once while it is down, so start over cleanly. */
        st_store_conn_free(db->store);
        db->store = NULL;
    }
    if (db->store == NULL) {
        if (db->loop == NULL && (db->loop = ev_loop_new(0)) == NULL)
            return st_err_set(err, ST_NOMEM, "cannot create an event loop");
        st_store_conn_cfg_t cfg = {.dsn = p->dsn};
        db->store = st_store_conn_new(db->loop, &cfg, err);
        if (db->store == NULL)
            return err && err->code ? err->code : ST_DB;
    }
    *out = db->store;
    return 0;
}

PGresult *st_http_db_exec(st_http_db_t *db, const char *sql, int n, const char *const *params,
                          st_err_t *err)
{
    PGresult *r = PQexecParams(db->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    st_err_set(err, ST_DB, "a database statement failed");
    st_err_detail(err, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(db->pg));
    PQclear(r);
    return NULL;
}
