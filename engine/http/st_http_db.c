/*
 * st_http_db.c — the pool of store connections the handler threads borrow
 * for their blocking work.
 *
 * Layer: http (internal). Depends on the store's public header (every
 * statement and every connection is the store's) and libev (one private
 * loop per slot).
 *
 * Model: one slot per handler thread, so a request never waits for a slot
 * in practice; a slot holds an st_store_conn_t on a private libev loop,
 * made on first use, and the handler calls the store's blocking helpers on
 * it (they run that loop nested). The store connection reconnects by
 * itself; one found down when it is lent is replaced by a fresh one, so a
 * request after an outage does not fail on a stale connection.
 *
 * Connections of a node (settled with --http). The database sees at most:
 *   http:     `threads` slots (ST_HTTP_THREADS_DEFAULT 4, at most
 *             ST_HTTP_THREADS_MAX), one webhook committer, and for a
 *             moment one more: the start-up check, and /readyz probing a
 *             database whose schema a store connection cannot use;
 *   executor: its background, hot and auxiliary store connections, its
 *             checkpoint connections beyond the first (batch_conns - 1, at
 *             most 7), LISTEN, and the virtual clock's when that clock is on
 *             (see engine/exec/st_exec.c).
 * With the defaults: 4 + 1 + 5 = 10 (11 with the virtual clock); the bound
 * is threads + 2 + 3 + 7 + 2 = threads + 14. docs/http-api.md says the same.
 *
 * Invariants: a slot is lent to one request at a time and its loop is run
 * only by the thread that borrowed it; the pool never logs the DSN (it may
 * hold a password).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>

int st_http_pool_init(st_http_pool_t *p, const char *dsn, unsigned n, st_err_t *err)
{
    memset(p, 0, sizeof *p);
    if (n == 0 || n > ST_HTTP_THREADS_MAX)
        return st_err_set(err, ST_INVAL, "%u handler threads: the pool allows 1 to %u", n,
                          (unsigned)ST_HTTP_THREADS_MAX);
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
    }
    free(p->slots);
    free(p->dsn);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    memset(p, 0, sizeof *p);
}

/* Make the slot's store connection, or replace one that is down. */
static int slot_ready(st_http_pool_t *p, st_http_db_t *d, st_err_t *err)
{
    if (d->store != NULL && st_store_conn_is_up(d->store))
        return 0;
    /* The store reconnects by itself on its loop, but only while that loop
     * runs; a blocking helper fails at once while it is down. Start over
     * with a fresh connection instead. */
    st_store_conn_free(d->store);
    d->store = NULL;
    if (d->loop == NULL && (d->loop = ev_loop_new(0)) == NULL)
        return st_err_set(err, ST_NOMEM, "cannot create an event loop");
    st_store_conn_cfg_t cfg = {.dsn = p->dsn};
    d->store = st_store_conn_new(d->loop, &cfg, err);
    if (d->store == NULL)
        return err && err->code ? err->code : ST_IO;
    return 0;
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
    int rc = slot_ready(p, db, err);
    if (rc == 0)
        *out = db->store;
    return rc;
}
