/*
 * test_store_deadlock.c — claim rounds, task recovery and checkpoint
 * batches run concurrently on separate connections (real statements
 * through the store API, one thread and one loop each) for a few seconds,
 * and PostgreSQL reports no deadlock: pg_stat_database.deadlocks of the
 * test database does not move and no statement fails (in particular none
 * with SQLSTATE 40P01).
 *
 * The checkpoint batches finish task rows out of id order (the tasks of
 * the upper half of a batch's instances were created before those of the
 * lower half, and a batch writes in instance order), and recovery names
 * the very instances being checkpointed: the worst case for the lock
 * order. A node-wide recovery that locks task rows without their
 * instances deadlocks here within a second or two.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_fixture.h"

#define CK_THREADS 2
#define CK_PER     24 /* instances per checkpoint thread */
#define RUN_S      3

typedef struct shared {
    const fx_t *f;
    atomic_int stop;
    pthread_mutex_t mu;
    int failures;
    char first_failure[1024];
    st_store_uuid_t ids[CK_THREADS * CK_PER]; /* the checkpointed instances */
    atomic_long ck_batches, recoveries, claims;
} shared_t;

static void failed(shared_t *s, const char *who, const st_err_t *err)
{
    pthread_mutex_lock(&s->mu);
    if (s->failures++ == 0)
        snprintf(s->first_failure, sizeof s->first_failure, "%s: %s (%s)", who, err->msg,
                 err->detail);
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->stop, 1);
}

static st_store_conn_t *thread_conn(shared_t *s, struct ev_loop **loop)
{
    st_err_t err;
    *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = s->f->dsn, .backoff_min_ms = 10, .backoff_max_ms = 200};
    st_store_conn_t *c = st_store_conn_new(*loop, &cfg, &err);
    if (c == NULL)
        failed(s, "connect", &err);
    return c;
}

/* ---- checkpoints ------------------------------------------------------------ */

typedef struct ck_inst {
    st_store_uuid_t id;
    int64_t epoch, seq, task;
    char key[64];
    st_store_ckpt_t k;
    st_store_task_new_t t;
    st_store_task_done_t d;
    int pending, rc;
    st_err_t err;
} ck_inst_t;

typedef struct ck_thread {
    shared_t *s;
    int no;
    ck_inst_t in[CK_PER]; /* in instance id order */
} ck_thread_t;

static void ck_done(st_store_ckpt_t *k, int rc, const st_err_t *err, void *ud)
{
    ck_inst_t *in = ud;
    in->pending = 0;
    in->rc = rc;
    if (rc == 0) {
        in->seq++;
        in->task = k->task_id;
    } else if (err) {
        in->err = *err;
    }
}

/* Finish each instance's open task and write its next one, for the
 * instances [lo, hi), in one batch. */
static int ck_batch(ck_thread_t *t, st_store_batch_t *b, struct ev_loop *loop, int lo, int hi)
{
    st_err_t err;
    for (int i = lo; i < hi; i++) {
        ck_inst_t *in = &t->in[i];
        fx_ckpt(&in->k, t->s->f, &in->id, in->epoch, in->seq, ST_STORE_RUNNING);
        snprintf(in->key, sizeof in->key, "dl_%d_%d_%lld", t->no, i, (long long)in->seq + 1);
        in->t = (st_store_task_new_t){"test.echo", "{}", in->key, 5, 1000, fx_now_us()};
        in->k.task = &in->t;
        if (in->task != 0) {
            in->d = (st_store_task_done_t){in->task, ST_STORE_TASK_DONE, "ok", "{}", 1, NULL};
            in->k.task_done = &in->d;
        }
        in->pending = 1;
        if (st_store_batch_submit(b, &in->k, ck_done, in, &err) != 0) {
            failed(t->s, "checkpoint submit", &err);
            return -1;
        }
    }
    st_store_batch_flush(b);
    for (int i = lo; i < hi; i++) {
        while (t->in[i].pending)
            ev_run(loop, EVRUN_ONCE);
        if (t->in[i].rc != 0) {
            failed(t->s, "checkpoint batch", &t->in[i].err);
            return -1;
        }
    }
    atomic_fetch_add(&t->s->ck_batches, 1);
    return 0;
}

static void *ck_main(void *arg)
{
    ck_thread_t *t = arg;
    struct ev_loop *loop;
    st_store_conn_t *c = thread_conn(t->s, &loop);
    st_err_t err;
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = c ? st_store_batch_new(c, &cfg, &err) : NULL;
    if (c && !b)
        failed(t->s, "batcher", &err);
    for (int cycle = 0; b && !atomic_load(&t->s->stop); cycle++) {
        int rc;
        if (cycle % 2 == 0) /* upper half's new tasks first: lower ids */
            rc = ck_batch(t, b, loop, CK_PER / 2, CK_PER) || ck_batch(t, b, loop, 0, CK_PER / 2);
        else /* then all in one batch: task rows written out of id order */
            rc = ck_batch(t, b, loop, 0, CK_PER);
        if (rc)
            break;
    }
    st_store_batch_free(b);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return NULL;
}

/* ---- recovery of the checkpointed instances --------------------------------- */

static void *recover_main(void *arg)
{
    shared_t *s = arg;
    struct ev_loop *loop;
    st_store_conn_t *c = thread_conn(s, &loop);
    st_err_t err;
    while (c && !atomic_load(&s->stop)) {
        st_store_tasks_t due;
        if (st_store_tasks_recover(c, s->f->node, s->ids, CK_THREADS * CK_PER, &due, &err) != 0) {
            failed(s, "task recovery", &err);
            break;
        }
        st_store_tasks_free(&due);
        atomic_fetch_add(&s->recoveries, 1);
    }
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return NULL;
}

/* ---- claim rounds: new flows arrive, are claimed and recovered ------------- */

static void *claim_main(void *arg)
{
    shared_t *s = arg;
    struct ev_loop *loop;
    st_store_conn_t *c = thread_conn(s, &loop);
    st_err_t err;
    while (c && !atomic_load(&s->stop)) {
        for (int i = 0; i < 5; i++) {
            st_store_start_t st = fx_start_spec(s->f, NULL);
            st.owner_node = 0; /* unowned: the claim takes it */
            st_store_started_t out;
            if (st_store_start(c, &st, &out, &err) != 0) {
                failed(s, "start", &err);
                goto out;
            }
        }
        st_store_instances_t got;
        if (st_store_lease_claim(c, s->f->node, 100, &got, &err) != 0) {
            failed(s, "claim", &err);
            break;
        }
        st_store_uuid_t ids[100];
        for (size_t i = 0; i < got.n; i++)
            ids[i] = got.v[i].id;
        st_store_tasks_t due;
        int rc = st_store_tasks_recover(c, s->f->node, ids, got.n, &due, &err);
        st_store_instances_free(&got);
        if (rc != 0) {
            failed(s, "task recovery after a claim", &err);
            break;
        }
        st_store_tasks_free(&due);
        atomic_fetch_add(&s->claims, 1);
    }
out:
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    return NULL;
}

static long long deadlocks(fx_t *f)
{
    return fx_int(f, "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
}

START_TEST(claims_recovery_and_checkpoints_never_deadlock)
{
    fx_t f;
    fx_open(&f);
    /* detect a deadlock within the run (the default is 1 s) */
    char sql[256];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET deadlock_timeout = '100ms'", f.db);
    PQclear(st_test_exec(f.pg, sql));
    long long before = deadlocks(&f);

    static shared_t s;
    static ck_thread_t ck[CK_THREADS];
    memset(&s, 0, sizeof s);
    s.f = &f;
    pthread_mutex_init(&s.mu, NULL);
    for (int t = 0; t < CK_THREADS; t++) {
        memset(&ck[t], 0, sizeof ck[t]);
        ck[t].s = &s;
        ck[t].no = t;
        st_store_uuid_t ids[CK_PER];
        int64_t ep[CK_PER];
        for (int i = 0; i < CK_PER; i++)
            ids[i] = fx_start(&f, NULL, &ep[i]);
        /* the thread works in instance id order, as a batch locks them */
        for (int i = 0; i < CK_PER; i++) {
            int rank = 0;
            for (int j = 0; j < CK_PER; j++)
                rank += memcmp(ids[j].b, ids[i].b, 16) < 0;
            ck[t].in[rank].id = ids[i];
            ck[t].in[rank].epoch = ep[i];
        }
        for (int i = 0; i < CK_PER; i++)
            s.ids[t * CK_PER + i] = ck[t].in[i].id;
    }

    pthread_t th[CK_THREADS + 2];
    for (int t = 0; t < CK_THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, ck_main, &ck[t]), 0);
    ck_assert_int_eq(pthread_create(&th[CK_THREADS], NULL, recover_main, &s), 0);
    ck_assert_int_eq(pthread_create(&th[CK_THREADS + 1], NULL, claim_main, &s), 0);
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += RUN_S;
    do {
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!atomic_load(&s.stop) &&
             (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec)));
    atomic_store(&s.stop, 1);
    for (int t = 0; t < CK_THREADS + 2; t++)
        pthread_join(th[t], NULL);

    ck_assert_msg(s.failures == 0, "%d statements failed; first: %s", s.failures, s.first_failure);
    ck_assert_msg(strstr(s.first_failure, "40P01") == NULL, "%s", s.first_failure);
    /* the three kinds really overlapped */
    ck_assert_int_ge(atomic_load(&s.ck_batches), 20);
    ck_assert_int_ge(atomic_load(&s.recoveries), 20);
    ck_assert_int_ge(atomic_load(&s.claims), 5);
    /* a deadlock is counted by the backend that detected it, flushed to
     * the statistics when it ends: every connection above is closed, so
     * wait until no other backend of this database is left */
    for (int i = 0; i < 200; i++) {
        if (fx_int(&f, "SELECT count(*) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()") == 0)
            break;
        usleep(10000);
    }
    PQclear(st_test_exec(f.pg, "SELECT pg_stat_clear_snapshot()"));
    ck_assert_int_eq(deadlocks(&f), before);
    pthread_mutex_destroy(&s.mu);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_deadlock");
    TCase *tc = tcase_create("deadlock");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, claims_recovery_and_checkpoints_never_deadlock);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
