/*
 * st_start_batch.h — group commit for starts: start requests made on many
 * threads at once share one transaction (st_start_many).
 *
 * Layer: start. Depends on st_start (the rules of a start, unchanged:
 * every job gets exactly the answer st_start would give it) and pthreads.
 *
 * Model: callers queue jobs and return (or wait) at once; one committer
 * thread takes everything queued (up to `max`), starts it with one
 * st_start_many on its own store connection and reports each job through
 * its callback. Jobs queued while a commit runs go in the next one, so
 * batches grow with load and a lone start commits at once (no linger).
 *
 * Ownership: the batcher borrows the Program cache (it must outlive the
 * batcher); the store connection comes from cfg.connect, called on the
 * committer thread when first needed, and is given back to cfg.disconnect
 * when the batcher is freed. A job and everything its request points to
 * belong to the caller and must stay alive until its callback has run.
 */
#ifndef ST_START_BATCH_H
#define ST_START_BATCH_H

#include <stdatomic.h>

#include "start/st_start.h"

typedef struct st_start_job st_start_job_t;

/* Called on the committer thread once the job's answer is final. */
typedef void (*st_start_job_fn)(st_start_job_t *job, void *ud);

struct st_start_job {
    st_start_req_t req; /* as st_start's (borrowed until the callback) */
    st_start_job_fn cb; /* completion callback and its argument */
    void *ud;
    /* the answer, written by the committer before `done` */
    int rc;       /* what st_start would return */
    st_err_t err; /* its error */
    st_start_out_t out;
    _Atomic int done; /* the answer is final */
    st_start_job_t *next;
};

typedef struct st_start_batch_cfg {
    st_start_progs_t *progs; /* the node's Program cache (borrowed, required) */
    unsigned max;            /* jobs per transaction; 0: 1000 */
    /* The committer's store connection, made on its thread (NULL with err
     * set when the database cannot be reached; the jobs then fail with
     * that error and the next batch tries again). */
    st_store_conn_t *(*connect)(void *ctx, st_err_t *err);
    void (*disconnect)(void *ctx, st_store_conn_t *c); /* frees what connect made */
    void *ctx;
} st_start_batch_cfg_t;

typedef struct st_start_batch st_start_batch_t;

/* A running batcher (its committer thread started), or NULL with err. */
st_start_batch_t *st_start_batch_new(const st_start_batch_cfg_t *cfg, st_err_t *err);
/* Start what is queued, stop the committer, disconnect; NULL is a no-op. */
void st_start_batch_free(st_start_batch_t *b);
/* Queue the job; its callback fires once, on the committer thread. */
void st_start_batch_enqueue(st_start_batch_t *b, st_start_job_t *job);
/* Transactions committed so far and starts they carried (for metrics). */
void st_start_batch_stats(st_start_batch_t *b, uint64_t *commits, uint64_t *starts);

#endif
