/*
 * test_store_batch.c — checkpoints through the group-commit batcher.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

#define N 10

typedef struct rec {
    int fired;
    int rc;
} rec_t;

static void rec_cb(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    rec_t *r = ud;
    r->fired++;
    r->rc = rc;
}

static void wait_all(fx_t *f, rec_t *r, int n)
{
    for (;;) {
        int done = 1;
        for (int i = 0; i < n; i++)
            done &= r[i].fired > 0;
        if (done)
            break;
        ev_run(f->loop, EVRUN_ONCE);
    }
}

START_TEST(conflict_fails_only_its_instance)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id[N];
    int64_t ep[N];
    for (int i = 0; i < N; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {.linger_us = 20000, .max_size = 64};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    ck_assert_ptr_nonnull(b);
    st_store_ckpt_t k[N];
    st_store_hist_t h = {"transition", "init", "s1", "{\"why\": \"test\"}"};
    rec_t r[N];
    memset(r, 0, sizeof r);
    st_store_task_new_t t[N];
    char keys[N][16];
    for (int i = 0; i < N; i++) {
        fx_ckpt(&k[i], &f, &id[i], ep[i], 0, ST_STORE_WAITING);
        k[i].hist = &h;
        k[i].nhist = 1;
        snprintf(keys[i], sizeof keys[i], "key_%d", i);
        t[i] = (st_store_task_new_t){"stripe.charge", "{}", keys[i], 3, 1000, k[i].at_us};
        k[i].task = &t[i];
        if (i == 3)
            k[i].expected_seq = 7; /* stale seq */
        if (i == 6)
            k[i].lease_epoch = ep[i] + 1; /* wrong epoch */
        ck_assert_int_eq(st_store_batch_submit(b, &k[i], rec_cb, &r[i], &err), 0);
    }
    wait_all(&f, r, N);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(r[i].fired, 1);
        ck_assert_int_eq(r[i].rc, (i == 3 || i == 6) ? ST_CONFLICT : 0);
        if (r[i].rc == 0) { /* each checkpoint gets the id of its own task */
            char sql[128];
            snprintf(sql, sizeof sql, "SELECT id FROM tasks WHERE idempotency_key = '%s'", keys[i]);
            ck_assert_int_eq(k[i].task_id, fx_int(&f, sql));
        }
    }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM tasks"), N - 2);
    st_store_batch_stats_t st;
    st_store_batch_get_stats(b, &st);
    ck_assert_uint_eq(st.batches, 1);
    ck_assert_uint_eq(st.committed, N - 2);
    ck_assert_uint_eq(st.conflicts, 2);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE seq = 1 AND "
                                "state_name = 's1' AND status = 'waiting'"),
                     N - 2);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE seq = 1 AND kind = "
                                "'transition' AND detail->>'why' = 'test'"),
                     N - 2);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE flow='demo' AND "
                                "status='waiting'"),
                     N - 2);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE flow='demo' AND "
                                "status='running'"),
                     2);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(bad_value_fails_only_its_checkpoint)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id[4];
    int64_t ep[4];
    for (int i = 0; i < 4; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {.linger_us = 20000};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k[4];
    rec_t r[4];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 4; i++) {
        fx_ckpt(&k[i], &f, &id[i], ep[i], 0, ST_STORE_RUNNING);
        if (i == 2)
            k[i].vars_json = "{not json";
        ck_assert_int_eq(st_store_batch_submit(b, &k[i], rec_cb, &r[i], &err), 0);
    }
    wait_all(&f, r, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(r[i].rc, i == 2 ? ST_DB : 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE seq = 1"), 3);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(same_instance_twice_goes_in_order)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {.linger_us = 1000};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k[3];
    rec_t r[3];
    memset(r, 0, sizeof r);
    for (int i = 0; i < 3; i++) {
        fx_ckpt(&k[i], &f, &id, ep, i, ST_STORE_RUNNING);
        ck_assert_int_eq(st_store_batch_submit(b, &k[i], rec_cb, &r[i], &err), 0);
    }
    wait_all(&f, r, 3);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r[i].rc, 0);
    st_store_batch_stats_t st;
    st_store_batch_get_stats(b, &st);
    ck_assert_uint_eq(st.batches, 3);
    ck_assert_int_eq(fx_int(&f, "SELECT seq FROM instances"), 3);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(checkpoint_writes_task_signal_and_done)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_err_t err;
    int64_t sig;
    ck_assert_int_eq(st_store_signal_send(f.c, &id, "paid", "{\"amount\": 100}", "api", &sig, &err),
                     0);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    /* step 1: consume the signal, ask for a task, sleep until a wake time */
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING);
    k.consume_signal_id = sig;
    st_store_task_new_t t = {"stripe.charge", "{\"amount\": 100}", "settle_x_1", 3, 5000, k.at_us};
    k.task = &t;
    k.wake_at_us = k.at_us + 3600000000LL;
    k.wait_reason = "activity stripe.charge";
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_instance_t in;
    ck_assert_int_eq(st_store_instance_load(f.c, &id, &in, &err), 0);
    ck_assert_int_eq(in.seq, 1);
    ck_assert_int_eq(in.status, ST_STORE_WAITING);
    ck_assert_int_eq(in.wake_at_us, k.wake_at_us);
    ck_assert_str_eq(in.wait_reason, "activity stripe.charge");
    st_store_instance_release(&in);
    ck_assert_int_eq(fx_int(&f, "SELECT consumed_seq FROM signals"), 1);
    long long task = fx_int(&f, "SELECT id FROM tasks WHERE status = 'pending' AND seq = 1");
    ck_assert_int_gt(task, 0);
    ck_assert_int_eq(k.task_id, task); /* handed back for dispatch */
    /* step 2: consuming the same signal again is rejected as a whole */
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_RUNNING);
    k.consume_signal_id = sig;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_CONFLICT);
    ck_assert_int_eq(fx_int(&f, "SELECT seq FROM instances"), 1);
    /* step 3: complete the task and finish the flow */
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_COMPLETED);
    st_store_task_done_t d = {task, ST_STORE_TASK_DONE, "succeeded", "{\"id\": \"pi_1\"}", 1, NULL};
    k.task_done = &d;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    ck_assert_int_eq(k.task_id, 0); /* this step inserted no task */
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM tasks WHERE status = 'done' AND "
                                "result->>'id' = 'pi_1' AND outcome = 'succeeded'"),
                     1);
    /* completing it again is a conflict */
    fx_ckpt(&k, &f, &id, ep, 2, ST_STORE_COMPLETED);
    k.task_done = &d;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_CONFLICT);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status='completed'"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status='running'"), 0);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

/* Random walk of statuses over many instances; flow_counts must equal a scan. */
START_TEST(flow_counts_match_a_scan)
{
    fx_t f;
    fx_open(&f);
    enum { M = 40, STEPS = 6 };
    st_store_uuid_t id[M];
    int64_t ep[M];
    for (int i = 0; i < M; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {.linger_us = 500, .max_size = 16};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    static const st_store_status_t walk[] = {ST_STORE_WAITING,   ST_STORE_RUNNING,
                                             ST_STORE_SUSPENDED, ST_STORE_FAILED,
                                             ST_STORE_COMPLETED, ST_STORE_CANCELLED};
    for (int s = 0; s < STEPS; s++) {
        st_store_ckpt_t k[M];
        rec_t r[M];
        memset(r, 0, sizeof r);
        for (int i = 0; i < M; i++) {
            fx_ckpt(&k[i], &f, &id[i], ep[i], s, walk[(i * 7 + s * 3) % 6]);
            if ((i + s) % 11 == 0)
                k[i].expected_seq = 99; /* a few conflicts keep their old status */
            ck_assert_int_eq(st_store_batch_submit(b, &k[i], rec_cb, &r[i], &err), 0);
        }
        wait_all(&f, r, M);
        for (int i = 0; i < M; i++)
            if (r[i].rc == ST_CONFLICT) { /* re-run it correctly so seq stays s+1 */
                k[i].expected_seq = s;
                ck_assert_int_eq(fx_ckpt_run(&f, b, &k[i]), 0);
            } else {
                ck_assert_int_eq(r[i].rc, 0);
            }
    }
    ck_assert_int_eq(
        fx_int(&f, "SELECT count(*) FROM (SELECT flow, status, count(*) AS n "
                   "FROM instances GROUP BY 1, 2) s FULL JOIN (SELECT flow, status, sum(n) AS n"
                   " FROM flow_counts GROUP BY 1, 2) c "
                   "USING (flow, status) WHERE coalesce(s.n, 0) <> coalesce(c.n, 0)"),
        0);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts"), M);
    int64_t n = -1;
    ck_assert_int_eq(st_store_flow_count(f.c, "demo", ST_STORE_COMPLETED, &n, &err), 0);
    ck_assert_int_eq(n, fx_int(&f, "SELECT count(*) FROM instances WHERE status='completed'"));
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(disabled_mode_one_transaction_each)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id[N];
    int64_t ep[N];
    for (int i = 0; i < N; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {.disabled = 1};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k[N];
    rec_t r[N];
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        fx_ckpt(&k[i], &f, &id[i], ep[i], 0, ST_STORE_RUNNING);
        if (i == 5)
            k[i].expected_seq = 3;
        ck_assert_int_eq(st_store_batch_submit(b, &k[i], rec_cb, &r[i], &err), 0);
    }
    wait_all(&f, r, N);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(r[i].rc, i == 5 ? ST_CONFLICT : 0);
    st_store_batch_stats_t st;
    st_store_batch_get_stats(b, &st);
    ck_assert_uint_eq(st.batches, N);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(free_completes_queued_checkpoints)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {.linger_us = 10000000};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    rec_t r = {0, 0};
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_RUNNING);
    ck_assert_int_eq(st_store_batch_submit(b, &k, rec_cb, &r, &err), 0);
    st_store_batch_free(b);
    ck_assert_int_eq(r.fired, 1);
    ck_assert_int_eq(r.rc, ST_STATE);
    ck_assert_int_eq(fx_int(&f, "SELECT seq FROM instances"), 0);
    /* an invalid checkpoint is refused at submit and its callback never runs */
    b = st_store_batch_new(f.c, &cfg, &err);
    k.state_name = NULL;
    r.fired = 0;
    ck_assert_int_eq(st_store_batch_submit(b, &k, rec_cb, &r, &err), ST_INVAL);
    st_store_batch_free(b);
    ck_assert_int_eq(r.fired, 0);
    /* a batch queued on a connection that is down is cancelled by free */
    b = st_store_batch_new(f.c, &cfg, &err);
    st_store_conn_break(f.c);
    while (st_store_conn_is_up(f.c))
        ev_run(f.loop, EVRUN_ONCE);
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_RUNNING);
    r.fired = 0;
    ck_assert_int_eq(st_store_batch_submit(b, &k, rec_cb, &r, &err), 0);
    st_store_batch_flush(b); /* queued on the connection, not sent */
    st_store_batch_free(b);
    ck_assert_int_eq(r.fired, 1);
    ck_assert_int_eq(r.rc, ST_STATE);
    fx_close(&f);
}
END_TEST

/* Callbacks that submit the next step (as the engine does) while the batch
 * that completed them is still being delivered. */
typedef struct chain {
    fx_t *f;
    st_store_batch_t *b;
    st_store_uuid_t id;
    int64_t epoch, seq;
    int fired, bad;
    st_store_ckpt_t k;
} chain_t;

enum { CHAIN_STEPS = 4 };

static void chain_cb(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    chain_t *c = ud;
    c->fired++;
    if (rc != 0 || ck != &c->k || ck->expected_seq != c->seq) {
        c->bad++;
        return;
    }
    c->seq++;
    if (c->seq < CHAIN_STEPS) {
        fx_ckpt(&c->k, c->f, &c->id, c->epoch, c->seq, ST_STORE_RUNNING);
        st_err_t e;
        if (st_store_batch_submit(c->b, &c->k, chain_cb, c, &e) < 0)
            c->bad++;
    }
}

START_TEST(callbacks_that_resubmit)
{
    fx_t f;
    fx_open(&f);
    enum { M = 50 };
    st_store_batch_cfg_t cfg = {.linger_us = 200, .max_size = 8, .disabled = _i};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    static chain_t ch[M];
    for (int i = 0; i < M; i++) {
        ch[i] = (chain_t){.f = &f, .b = b};
        ch[i].id = fx_start(&f, NULL, &ch[i].epoch);
    }
    for (int i = 0; i < M; i++) {
        fx_ckpt(&ch[i].k, &f, &ch[i].id, ch[i].epoch, 0, ST_STORE_RUNNING);
        ck_assert_int_eq(st_store_batch_submit(b, &ch[i].k, chain_cb, &ch[i], &err), 0);
    }
    for (;;) {
        int done = 1;
        for (int i = 0; i < M; i++)
            done &= ch[i].seq == CHAIN_STEPS || ch[i].bad;
        if (done)
            break;
        ev_run(f.loop, EVRUN_ONCE);
    }
    for (int i = 0; i < M; i++) {
        ck_assert_int_eq(ch[i].bad, 0);
        ck_assert_int_eq(ch[i].fired, CHAIN_STEPS);
    }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE seq = 4"), M);
    st_store_batch_stats_t st;
    st_store_batch_get_stats(b, &st);
    ck_assert_uint_eq(st.committed, M * CHAIN_STEPS);
    ck_assert_uint_eq(st.conflicts, 0);
    ck_assert_uint_le(st.batches, st.checkpoints); /* no empty transactions */
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

/* Batches in parallel on two connections: an instance's steps still commit
 * in submit order, and each callback fires once. */
START_TEST(parallel_connections_keep_order)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = f.dsn};
    st_store_conn_t *second = st_store_conn_new(f.loop, &cc, &err);
    ck_assert_ptr_nonnull(second);
    st_store_conn_t *more[] = {second};
    st_store_batch_cfg_t cfg = {.linger_us = 100, .max_size = 4, .more_conns = more, .n_more = 1};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    enum { M = 12, S = 5 };
    st_store_uuid_t id[M];
    int64_t ep[M];
    static st_store_ckpt_t k[M][S];
    static rec_t r[M][S];
    memset(r, 0, sizeof r);
    for (int i = 0; i < M; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    for (int s = 0; s < S; s++) /* every step of every instance up front */
        for (int i = 0; i < M; i++) {
            fx_ckpt(&k[i][s], &f, &id[i], ep[i], s, ST_STORE_RUNNING);
            ck_assert_int_eq(st_store_batch_submit(b, &k[i][s], rec_cb, &r[i][s], &err), 0);
        }
    wait_all(&f, &r[0][0], M * S);
    for (int i = 0; i < M; i++)
        for (int s = 0; s < S; s++) {
            ck_assert_int_eq(r[i][s].fired, 1);
            ck_assert_int_eq(r[i][s].rc, 0);
        }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances WHERE seq = 5"), M);
    st_store_batch_free(b);
    st_store_conn_free(second);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, conflict_fails_only_its_instance);
    tcase_add_test(tc, bad_value_fails_only_its_checkpoint);
    tcase_add_test(tc, same_instance_twice_goes_in_order);
    tcase_add_test(tc, checkpoint_writes_task_signal_and_done);
    tcase_add_test(tc, flow_counts_match_a_scan);
    tcase_add_test(tc, disabled_mode_one_transaction_each);
    tcase_add_test(tc, free_completes_queued_checkpoints);
    tcase_add_loop_test(tc, callbacks_that_resubmit, 0, 2); /* batched, disabled */
    tcase_add_test(tc, parallel_connections_keep_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
