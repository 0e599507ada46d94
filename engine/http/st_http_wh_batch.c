/*
 * st_http_wh_batch.c — group commit for webhook deliveries: events that
 * arrive on several handler threads at once share one statement and one
 * transaction.
 *
 * Layer: http (internal). Depends on libpq, pthreads, st_http_int.h.
 *
 * Model: handlers queue jobs and return at once (their connection is
 * suspended); one committer thread takes everything queued (up to `max`),
 * runs the one statement below on its own connection and reports each job
 * through its callback (which resumes the connection). Jobs queued while a
 * commit runs go in the next one, so batches grow with load and a lone
 * event commits at once. Handler threads never block on the database.
 *
 * The statement (one implicit transaction): insert each new event id into
 * webhook_events (ON CONFLICT DO NOTHING decides "new" vs "redelivery";
 * within one batch the first occurrence wins), and for every new event one
 * signal per instance correlated with any of its (key, value) pairs —
 * named after the event type, payload = data.object, source =
 * webhook:<id>. processed_at is set when at least one signal was stored;
 * an event no flow was waiting for stays unprocessed (visible, replayable).
 * With schema support (webhook_refs) the event's objects are recorded too,
 * so a correlation registered after the event still gets its signal.
 *
 * Invariants: a job's result is written before `done` is set and its
 * callback runs exactly once, after the commit; a statement failure fails only the batch, which is
 * then retried one job at a time so one bad event cannot fail its neighbours; the committing thread
 * never holds the mutex while talking to PostgreSQL.
 */
#include "http/st_http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/st_buf.h"

#define WH_STMT "settle_http_webhooks"

/* $1 event ids, $2 types, $3 payloads (jsonb text), $4 pair → event index
 * (1-based), $5 keys, $6 values. Returns (index, signals) per new event. */
#define WH_HEAD                                                                   \
    "WITH inp AS ("                                                               \
    "  SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])"                 \
    "    WITH ORDINALITY AS t(event_id, type, payload, ord)),"                    \
    " firsts AS (SELECT DISTINCT ON (event_id) event_id, type, payload, ord"      \
    "              FROM inp ORDER BY event_id, ord),"                             \
    " pairs AS (SELECT * FROM unnest($4::bigint[], $5::text[], $6::text[])"       \
    "    WITH ORDINALITY AS p(ord, key, value, pord)),"                           \
    " targets AS (SELECT DISTINCT p.ord, c.instance_id FROM pairs p"              \
    "    JOIN correlations c ON c.key = p.key AND c.value = p.value),"            \
    " tcount AS (SELECT ord, count(*) AS n FROM targets GROUP BY ord),"           \
    " ev AS (INSERT INTO webhook_events (event_id, type, payload, processed_at)"  \
    "    SELECT f.event_id, f.type, f.payload, CASE WHEN tc.n > 0 THEN now() END" \
    "      FROM firsts f LEFT JOIN tcount tc USING (ord) ORDER BY f.ord"          \
    "    ON CONFLICT (event_id) DO NOTHING RETURNING event_id),"

/* When the schema has webhook_refs (the objects each stored event is
 * about), record them: a correlation added later receives the event too
 * (out-of-order delivery; the database backfills on insert into
 * correlations). */
#define WH_REFS                                                                             \
    " refs AS (INSERT INTO webhook_refs (key, value, event_id)"                             \
    "    SELECT DISTINCT p.key, p.value, f.event_id FROM ev JOIN firsts f USING (event_id)" \
    "      JOIN pairs p USING (ord) ON CONFLICT DO NOTHING),"

/* When the schema parks signals (0004: signals.corr_key/corr_value), a new
 * event that reached no instance is parked under its first pair — the
 * object's own (type, id) — and the transaction that later gives an
 * instance that key takes it over (out-of-order delivery). One parked row
 * per event, so an instance never adopts the same event twice. */
#define WH_PARK                                                                                \
    " park AS (INSERT INTO signals (instance_id, corr_key, corr_value, name, payload, source)" \
    "    SELECT DISTINCT ON (f.ord) NULL::uuid, p.key, p.value, f.type,"                       \
    "           COALESCE(f.payload->'data'->'object', '{}'::jsonb), 'webhook:' || f.event_id"  \
    "      FROM ev JOIN firsts f USING (event_id) JOIN pairs p USING (ord)"                    \
    "      LEFT JOIN tcount tc USING (ord) WHERE tc.n IS NULL ORDER BY f.ord, p.pord),"

#define WH_TAIL                                                                             \
    " sig AS (INSERT INTO signals (instance_id, name, payload, source)"                     \
    "    SELECT t.instance_id, f.type, COALESCE(f.payload->'data'->'object', '{}'::jsonb)," \
    "           'webhook:' || f.event_id"                                                   \
    "      FROM ev JOIN firsts f USING (event_id) JOIN targets t USING (ord)"               \
    "     ORDER BY t.ord, t.instance_id RETURNING 1)"                                       \
    " SELECT f.ord, COALESCE(tc.n, 0)"                                                      \
    "   FROM ev JOIN firsts f USING (event_id) LEFT JOIN tcount tc USING (ord) ORDER BY f.ord"

/* Variants by schema feature: [refs][park]. */
static const char *const wh_sqls[4] = {
    WH_HEAD WH_TAIL,
    WH_HEAD WH_REFS WH_TAIL,
    WH_HEAD WH_PARK WH_TAIL,
    WH_HEAD WH_REFS WH_PARK WH_TAIL,
};

/* Lock the batch's (key, value) pairs in a statement of its own, in the
 * batch's transaction, before the batch: a concurrent start or checkpoint that
 * gives an instance one of these keys then either committed before (we see
 * its correlation) or waits for us (it sees our parked signal). */
#define WH_LOCK_STMT "settle_http_webhooks_lock"
static const char wh_lock_sql[] = "SELECT settle_corr_lock($1::text[], $2::text[])";

/* A growing PostgreSQL array literal: {"a","b"}, on the common buffer
 * (an allocation failure is sticky in a->oom). */
typedef st_buf_t arr_t;

static void arr_put(arr_t *a, const char *s, size_t n)
{
    st_buf_add(a, s, n);
}

/* Append one quoted element; " and \ are backslash-escaped. */
static void arr_add(arr_t *a, const char *s)
{
    arr_put(a, a->len > 1 ? ",\"" : "\"", a->len > 1 ? 2 : 1);
    const char *run = s;
    for (; *s; s++) {
        if (*s != '"' && *s != '\\')
            continue;
        arr_put(a, run, (size_t)(s - run));
        arr_put(a, "\\", 1);
        run = s;
    }
    arr_put(a, run, (size_t)(s - run));
    arr_put(a, "\"", 1);
}

static void arr_num(arr_t *a, unsigned long v)
{
    char t[24];
    snprintf(t, sizeof t, "%lu", v);
    arr_add(a, t);
}

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
    if (b->pg != NULL)
        PQfinish(b->pg);
    free(b->dsn);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    memset(b, 0, sizeof *b);
}

static int ensure_conn(st_http_wh_batch_t *b, st_err_t *err)
{
    if (b->pg != NULL && PQstatus(b->pg) == CONNECTION_OK)
        return 0;
    if (b->pg != NULL)
        PQfinish(b->pg);
    if ((b->pg = st_http_db_connect(b->dsn, err)) == NULL)
        return ST_DB;
    PGresult *r = PQexec(b->pg, "SELECT to_regclass('webhook_refs') IS NOT NULL,"
                                " to_regprocedure('settle_corr_lock(text[],text[])') IS NOT NULL");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    int refs = ok && PQgetvalue(r, 0, 0)[0] == 't';
    b->parking = ok && PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    r = PQprepare(b->pg, WH_STMT, wh_sqls[refs + 2 * b->parking], 6, NULL);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok && b->parking) {
        PQclear(r);
        r = PQprepare(b->pg, WH_LOCK_STMT, wh_lock_sql, 2, NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    }
    if (!ok) {
        st_err_set(err, ST_DB, "cannot prepare the webhook statement");
        st_err_detail(err, "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    if (!ok) {
        PQfinish(b->pg);
        b->pg = NULL;
    }
    return ok ? 0 : ST_DB;
}

/* Send the pair lock and the batch in one pipeline segment: two statements
 * (the batch takes its snapshot after the lock is granted) in one implicit
 * transaction that commits at the Sync, in a single round trip. Returns
 * the batch's result (NULL and err set on failure). */
static PGresult *run_locked(st_http_wh_batch_t *b, const char *const *params, st_err_t *err)
{
    const char *lock[] = {params[4], params[5]};
    PGresult *out = NULL;
    int sent = PQenterPipelineMode(b->pg) &&
               PQsendQueryPrepared(b->pg, WH_LOCK_STMT, 2, lock, NULL, NULL, 0) &&
               PQsendQueryPrepared(b->pg, WH_STMT, 6, params, NULL, NULL, 0) &&
               PQpipelineSync(b->pg);
    int failed = !sent, step = 0;
    while (sent) {
        PGresult *r = PQgetResult(b->pg);
        if (r == NULL && PQstatus(b->pg) != CONNECTION_OK) {
            if (!failed) {
                failed = 1;
                st_err_set(err, ST_DB, "the database connection was lost");
                st_err_detail(err, "%s", PQerrorMessage(b->pg));
            }
            break; /* no Sync will come; the outcome is unknown */
        }
        if (r == NULL) {
            /* End of one statement's results. Two were sent: a third end
             * means the pipeline broke and no Sync is coming (seen after
             * an immediate PostgreSQL shutdown: NULL for ever, status OK). */
            if (++step > 2) {
                if (!failed) {
                    failed = 1;
                    st_err_set(err, ST_DB, "the database connection was lost");
                    st_err_detail(err, "%s", PQerrorMessage(b->pg));
                }
                break;
            }
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st != PGRES_TUPLES_OK && !failed) {
            failed = 1;
            st_err_set(err, ST_DB, "storing webhook events failed");
            st_err_detail(err, "%s", PQresultErrorMessage(r));
        }
        if (step == 1 && st == PGRES_TUPLES_OK)
            out = r;
        else
            PQclear(r);
    }
    if (!sent) {
        st_err_set(err, ST_DB, "sending webhook events failed");
        st_err_detail(err, "%s", PQerrorMessage(b->pg));
    }
    PQexitPipelineMode(b->pg);
    if (failed) {
        PQclear(out);
        return NULL;
    }
    return out;
}

int st_http_wh_batch_params(const st_http_wh_job_t *first, unsigned n, char *params[6],
                            st_err_t *err)
{
    arr_t a[6] = {{0}};
    for (int k = 0; k < 6; k++)
        arr_put(&a[k], "{", 1);
    unsigned idx = 0;
    for (const st_http_wh_job_t *j = first; j != NULL && idx < n; j = j->next) {
        idx++;
        arr_add(&a[0], j->event_id);
        arr_add(&a[1], j->type);
        arr_add(&a[2], j->payload);
        for (unsigned c = 0; c < j->ncorr; c++) {
            arr_num(&a[3], idx);
            arr_add(&a[4], j->keys[c]);
            arr_add(&a[5], j->values[c]);
        }
    }
    int oom = 0;
    for (int k = 0; k < 6; k++) {
        arr_put(&a[k], "}", 1);
        oom |= a[k].oom;
    }
    for (int k = 0; k < 6; k++) {
        if (oom) {
            free(a[k].p);
            a[k].p = NULL;
        }
        params[k] = a[k].p;
    }
    return oom ? st_err_set(err, ST_NOMEM, "no memory for a webhook batch") : 0;
}

/* Run the statement for the jobs [first, first+n) of the list. */
static int run_batch(st_http_wh_batch_t *b, st_http_wh_job_t *first, unsigned n, st_err_t *err)
{
    char *params[6];
    unsigned idx = 0;
    for (st_http_wh_job_t *j = first; j != NULL && idx < n; j = j->next, idx++) {
        j->is_new = 0;
        j->signals = 0;
        j->parked = 0;
    }
    int rc = st_http_wh_batch_params(first, n, params, err);
    PGresult *r = NULL;
    if (rc == 0 && b->parking) {
        if ((r = run_locked(b, (const char *const *)params, err)) == NULL)
            rc = ST_DB;
    } else if (rc == 0) {
        r = PQexecPrepared(b->pg, WH_STMT, 6, (const char *const *)params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            rc = st_err_set(err, ST_DB, "storing webhook events failed");
            st_err_detail(err, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(b->pg));
        }
    }
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        unsigned long ord = strtoul(PQgetvalue(r, i, 0), NULL, 10);
        long sig = strtol(PQgetvalue(r, i, 1), NULL, 10);
        idx = 0;
        for (st_http_wh_job_t *j = first; j != NULL && idx < n; j = j->next)
            if (++idx == ord) {
                j->is_new = 1;
                j->signals = sig;
                j->parked = b->parking && sig == 0 && j->ncorr > 0;
            }
    }
    PQclear(r);
    for (int k = 0; k < 6; k++)
        free(params[k]); /* NULL after a failure to build them */
    atomic_fetch_add(&b->commits, 1);
    return rc;
}

/* Commit the taken jobs; on failure retry them one at a time. */
static void commit_jobs(st_http_wh_batch_t *b, st_http_wh_job_t *first, unsigned n)
{
    st_err_t err;
    st_metrics_observe(b->batch_size, NULL, (double)n);
    int rc = ensure_conn(b, &err);
    if (rc == 0)
        rc = run_batch(b, first, n, &err);
    if (rc != 0 && n > 1 && b->pg != NULL && PQstatus(b->pg) == CONNECTION_OK) {
        unsigned i = 0;
        for (st_http_wh_job_t *j = first; j != NULL && i < n; j = j->next, i++)
            j->rc = run_batch(b, j, 1, &err);
        return;
    }
    unsigned i = 0;
    for (st_http_wh_job_t *j = first; j != NULL && i < n; j = j->next, i++)
        j->rc = rc;
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
