/*
 * st_http_wh_batch.c — group commit for webhook deliveries: events that
 * arrive on several handler threads at once share one transaction.
 *
 * Layer: http (internal). Depends on pthreads, libev (the committer's
 * private loop) and the store (st_store_webhooks_store: the statement,
 * the connection, its reconnect and the resend after a broken one).
 *
 * Model: handlers queue jobs and return at once (their connection is
 * suspended); one committer thread takes everything queued (up to `max`),
 * hands it to the store as one batch on its own store connection and
 * reports each job through its callback (which resumes the connection).
 * Jobs queued while a commit runs go in the next one, so batches grow with
 * load and a lone event commits at once. Handler threads never block on
 * the database.
 *
 * Outcome unknown: when the connection breaks under a batch, the store
 * drops it, reconnects and sends the batch again (event ids de-duplicate,
 * so a batch that had committed is found stored); a job fails (503, Stripe
 * retries) only when the database stays away.
 *
 * Invariants: a job's result is written before `done` is set and its
 * callback runs exactly once, after the commit; the committer never holds
 * the mutex while talking to PostgreSQL; only the committer thread runs
 * its loop.
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>

int st_http_wh_batch_init(st_http_wh_batch_t *b, const char *dsn, unsigned max, st_err_t *err)
{
    memset(b, 0, sizeof *b);
    b->dsn = strdup(dsn);
    if (b->dsn == NULL)
        return st_err_set(err, ST_NOMEM, "no memory for the webhook batcher");
    b->max = max ? max : 256;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    return 0;
}

void st_http_wh_batch_release(st_http_wh_batch_t *b)
{
    st_http_wh_batch_stop(b);
    st_store_conn_free(b->store);
    if (b->loop != NULL)
        ev_loop_destroy(b->loop);
    free(b->dsn);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    memset(b, 0, sizeof *b);
}

void st_http_wh_batch_events(const st_http_wh_job_t *first, unsigned n, st_store_wh_event_t *ev)
{
    unsigned i = 0;
    for (const st_http_wh_job_t *j = first; j != NULL && i < n; j = j->next, i++) {
        memset(&ev[i], 0, sizeof ev[i]);
        ev[i].event_id = j->event_id;
        ev[i].type = j->type;
        ev[i].payload_json = j->payload;
        ev[i].keys = j->keys;
        ev[i].values = j->values;
        ev[i].npairs = j->ncorr;
    }
}

/* The committer's store connection, made on first use (the store
 * reconnects it by itself afterwards, on this thread's loop). */
static int ensure_conn(st_http_wh_batch_t *b, st_err_t *err)
{
    if (b->store != NULL)
        return 0;
    if (b->loop == NULL && (b->loop = ev_loop_new(0)) == NULL)
        return st_err_set(err, ST_NOMEM, "cannot create an event loop");
    st_store_conn_cfg_t cfg = {.dsn = b->dsn};
    b->store = st_store_conn_new(b->loop, &cfg, err);
    return b->store ? 0 : (err && err->code ? err->code : ST_IO);
}

/* Commit the taken jobs and write each one's result. */
static void commit_jobs(st_http_wh_batch_t *b, st_http_wh_job_t *first, unsigned n)
{
    st_err_t err;
    st_err_clear(&err);
    st_metrics_observe(b->batch_size, NULL, (double)n);
    st_store_wh_event_t *ev = calloc(n, sizeof *ev);
    int rc = ev ? ensure_conn(b, &err) : st_err_set(&err, ST_NOMEM, "out of memory");
    if (rc == 0) {
        st_store_wh_stats_t stats = {0, 0};
        st_http_wh_batch_events(first, n, ev);
        st_store_webhooks_store(b->store, ev, n, &stats, &err);
        atomic_fetch_add(&b->commits, stats.statements);
        atomic_fetch_add(&b->io_retries, stats.io_retries);
        atomic_store(&b->reconnects, st_store_conn_reconnects(b->store));
    }
    unsigned i = 0;
    for (st_http_wh_job_t *j = first; j != NULL && i < n; j = j->next, i++) {
        j->rc = rc != 0 ? rc : ev[i].rc;
        j->is_new = rc == 0 && ev[i].is_new;
        j->signals = rc == 0 ? (long)ev[i].signals : 0;
        j->parked = rc == 0 && ev[i].parked;
    }
    free(ev);
}

/* The committer thread: take what is queued, commit it, report each job. */
static void *committer(void *ud)
{
    st_http_wh_batch_t *b = ud;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->head == NULL)
            break; /* stopping and drained */
        st_http_wh_job_t *first = b->head, *last = b->head;
        unsigned n = 1;
        while (n < b->max && last->next != NULL) {
            last = last->next;
            n++;
        }
        b->head = last->next;
        if (b->head == NULL)
            b->tail = NULL;
        last->next = NULL; /* the batch is a list of its own now */
        pthread_mutex_unlock(&b->mu);
        commit_jobs(b, first, n);
        for (st_http_wh_job_t *j = first, *next; j != NULL; j = next) {
            next = j->next; /* the callback may free j */
            atomic_store(&j->done, 1);
            j->cb(j, j->ud);
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int st_http_wh_batch_start(st_http_wh_batch_t *b, st_err_t *err)
{
    if (pthread_create(&b->thread, NULL, committer, b) != 0)
        return st_err_set(err, ST_INTERNAL, "cannot start the webhook commit thread");
    b->running = 1;
    return 0;
}

void st_http_wh_batch_stop(st_http_wh_batch_t *b)
{
    if (!b->running)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    b->running = 0;
}

void st_http_wh_batch_enqueue(st_http_wh_batch_t *b, st_http_wh_job_t *job)
{
    atomic_store(&job->done, 0);
    job->rc = 0;
    job->next = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->tail != NULL)
        b->tail->next = job;
    else
        b->head = job;
    b->tail = job;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
