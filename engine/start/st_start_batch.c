/*
 * st_start_batch.c — the start committer (see st_start_batch.h).
 *
 * Invariants: a job's answer is written before `done` is set and its
 * callback runs exactly once, after its batch's transaction ended; the
 * committer never holds the mutex while talking to PostgreSQL; only the
 * committer thread uses the store connection.
 */
#include "start/st_start_batch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct st_start_batch {
    st_start_batch_cfg_t cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* wakes the committer */
    st_start_job_t *head, *tail; /* queued, not yet taken */
    pthread_t thread;
    int stopping;           /* drain the queue, then exit */
    st_store_conn_t *store; /* the committer's (lazy) */
    _Atomic uint64_t commits, starts;
};

/* Start the n jobs of the list first in one st_start_many. */
static void commit_jobs(st_start_batch_t *b, st_start_job_t *first, size_t n)
{
    st_start_req_t *reqs = calloc(n, sizeof *reqs);
    st_start_out_t *outs = calloc(n, sizeof *outs);
    st_err_t *errs = calloc(n, sizeof *errs);
    int *rc = calloc(n, sizeof *rc);
    st_err_t err;
    st_err_clear(&err);
    int whole = reqs && outs && errs && rc ? 0 : st_err_set(&err, ST_NOMEM, "out of memory");
    if (whole == 0 && b->store == NULL && (b->store = b->cfg.connect(b->cfg.ctx, &err)) == NULL)
        whole = err.code ? err.code : ST_IO;
    size_t i = 0;
    for (st_start_job_t *j = first; whole == 0 && j != NULL && i < n; j = j->next)
        reqs[i++] = j->req;
    if (whole == 0) {
        st_start_many(b->store, b->cfg.progs, reqs, n, outs, rc, errs, &err);
        atomic_fetch_add(&b->commits, 1);
        atomic_fetch_add(&b->starts, n);
    }
    i = 0;
    for (st_start_job_t *j = first; j != NULL && i < n; j = j->next, i++) {
        j->rc = whole ? whole : rc[i];
        j->err = whole ? err : errs[i];
        if (!whole)
            j->out = outs[i];
    }
    free(reqs);
    free(outs);
    free(errs);
    free(rc);
}

/* Take up to max queued jobs as a list of their own; the mutex is held. */
static st_start_job_t *take(st_start_batch_t *b, size_t *n)
{
    st_start_job_t *first = b->head, *last = b->head;
    *n = 1;
    while (*n < b->cfg.max && last->next != NULL) {
        last = last->next;
        (*n)++;
    }
    b->head = last->next;
    if (b->head == NULL)
        b->tail = NULL;
    last->next = NULL;
    return first;
}

static void *committer(void *ud)
{
    st_start_batch_t *b = ud;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (b->head == NULL && !b->stopping)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->head == NULL)
            break; /* stopping and drained */
        size_t n = 0;
        st_start_job_t *first = take(b, &n);
        pthread_mutex_unlock(&b->mu);
        commit_jobs(b, first, n);
        for (st_start_job_t *j = first, *next; j != NULL; j = next) {
            next = j->next; /* the callback may free j */
            atomic_store(&j->done, 1);
            j->cb(j, j->ud);
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

st_start_batch_t *st_start_batch_new(const st_start_batch_cfg_t *cfg, st_err_t *err)
{
    if (cfg->progs == NULL || cfg->connect == NULL || cfg->disconnect == NULL) {
        st_err_set(err, ST_INVAL, "the start batcher needs a Program cache and a connection");
        return NULL;
    }
    st_start_batch_t *b = calloc(1, sizeof *b);
    if (b == NULL) {
        st_err_set(err, ST_NOMEM, "no memory for the start batcher");
        return NULL;
    }
    b->cfg = *cfg;
    if (b->cfg.max == 0)
        b->cfg.max = 1000;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, committer, b) != 0) {
        pthread_mutex_destroy(&b->mu);
        pthread_cond_destroy(&b->cv);
        free(b);
        st_err_set(err, ST_INTERNAL, "cannot start the start commit thread");
        return NULL;
    }
    return b;
}

void st_start_batch_free(st_start_batch_t *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = 1;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    if (b->store != NULL)
        b->cfg.disconnect(b->cfg.ctx, b->store);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

void st_start_batch_enqueue(st_start_batch_t *b, st_start_job_t *job)
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

void st_start_batch_stats(st_start_batch_t *b, uint64_t *commits, uint64_t *starts)
{
    *commits = atomic_load(&b->commits);
    *starts = atomic_load(&b->starts);
}
