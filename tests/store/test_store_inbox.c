/*
 * test_store_inbox.c — signals, tasks (the outbox), recovery and wake pages.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

START_TEST(signal_kept_until_consumed_once)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    /* arrives while the instance waits for something else: kept */
    int64_t s1, s2;
    ck_assert_int_eq(
        st_store_signal_send(f.c, &id, "approved", "{\"by\": \"ops\"}", "api", &s1, &err), 0);
    ck_assert_int_eq(st_store_signal_send(f.c, &id, "other", NULL, "settlectl", &s2, &err), 0);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING); /* a transition not consuming it */
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_signals_t pend;
    ck_assert_int_eq(st_store_signals_pending(f.c, &id, &pend, &err), 0);
    ck_assert_uint_eq(pend.n, 2);
    ck_assert_int_eq(pend.v[0].id, s1);
    ck_assert_str_eq(pend.v[0].name, "approved");
    ck_assert(strstr(pend.v[0].payload_json, "ops") != NULL);
    ck_assert_str_eq(pend.v[1].payload_json, "{}");
    st_store_signals_free(&pend);
    /* now it waits for it: consumed by the checkpoint, exactly once */
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_RUNNING);
    k.consume_signal_id = s1;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    fx_ckpt(&k, &f, &id, ep, 2, ST_STORE_RUNNING);
    k.consume_signal_id = s1;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_CONFLICT);
    ck_assert_int_eq(st_store_signals_pending(f.c, &id, &pend, &err), 0);
    ck_assert_uint_eq(pend.n, 1);
    ck_assert_int_eq(pend.v[0].id, s2);
    st_store_signals_free(&pend);
    /* a signal of another instance cannot be consumed here */
    st_store_uuid_t other = fx_start(&f, NULL, NULL);
    int64_t s3;
    ck_assert_int_eq(st_store_signal_send(f.c, &other, "approved", NULL, "api", &s3, &err), 0);
    fx_ckpt(&k, &f, &id, ep, 2, ST_STORE_RUNNING);
    k.consume_signal_id = s3;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_CONFLICT);
    /* unknown instance */
    st_store_uuid_t ghost;
    st_store_uuid_v7(&ghost, 1, &err);
    ck_assert_int_eq(st_store_signal_send(f.c, &ghost, "x", NULL, "api", NULL, &err), ST_NOTFOUND);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(signal_by_correlation)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_uuid_t a = fx_start(&f, NULL, NULL), b = fx_start(&f, NULL, NULL);
    ck_assert_int_eq(st_store_correlate(f.c, &a, "payment_intent", "pi_1", &err), 0);
    ck_assert_int_eq(st_store_correlate(f.c, &a, "payment_intent", "pi_1", &err), 0);
    ck_assert_int_eq(st_store_correlate(f.c, &b, "payment_intent", "pi_1", &err), 0);
    size_t n = 0;
    ck_assert_int_eq(st_store_signal_send_correlated(f.c, "payment_intent", "pi_1",
                                                     "payment_intent.succeeded", "{}",
                                                     "webhook:evt_1", &n, &err),
                     0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(st_store_signal_send_correlated(f.c, "payment_intent", "pi_2", "x", "{}",
                                                     "webhook:evt_2", &n, &err),
                     0);
    ck_assert_uint_eq(n, 0);
    st_store_signals_t pend;
    ck_assert_int_eq(st_store_signals_pending(f.c, &b, &pend, &err), 0);
    ck_assert_uint_eq(pend.n, 1);
    ck_assert_str_eq(pend.v[0].source, "webhook:evt_1");
    st_store_signals_free(&pend);
    /* a checkpoint learns a key atomically with its transition; a rejected
     * checkpoint learns nothing */
    int64_t ep;
    st_store_uuid_t c = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *bt = st_store_batch_new(f.c, &cfg, &err);
    st_store_kv_t learnt[] = {{"payment_intent", "pi_3"}, {"customer", "cus_1"}};
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &c, ep, 5, ST_STORE_WAITING); /* stale */
    k.correlations = learnt;
    k.ncorrelations = 2;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), ST_CONFLICT);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM correlations WHERE value = 'pi_3'"), 0);
    fx_ckpt(&k, &f, &c, ep, 0, ST_STORE_WAITING);
    k.correlations = learnt;
    k.ncorrelations = 2;
    ck_assert_int_eq(fx_ckpt_run(&f, bt, &k), 0);
    ck_assert_int_eq(st_store_signal_send_correlated(f.c, "payment_intent", "pi_3", "succeeded",
                                                     "{}", "webhook:evt_3", &n, &err),
                     0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(st_store_signals_pending(f.c, &c, &pend, &err), 0);
    ck_assert_uint_eq(pend.n, 1);
    st_store_signals_free(&pend);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM correlations WHERE value = 'cus_1'"), 1);
    st_store_batch_free(bt);
    fx_close(&f);
}
END_TEST

START_TEST(task_lifecycle_and_recovery)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    int64_t t0 = fx_now_us();
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING);
    st_store_task_new_t t = {"email.send", "{\"to\": \"a@b\"}", "settle_i_1", 3, 2000, t0 + 1000};
    k.task = &t;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_tasks_t due;
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, f.node, t0, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 0); /* not yet */
    st_store_tasks_free(&due);
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, f.node, t0 + 1000, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1);
    ck_assert_str_eq(due.v[0].idempotency_key, "settle_i_1");
    ck_assert_int_eq(due.v[0].attempt, 1);
    ck_assert_int_eq(due.v[0].status, ST_STORE_TASK_RUNNING);
    ck_assert_int_eq(due.v[0].seq, 1);
    int64_t task = due.v[0].id;
    st_store_tasks_free(&due);
    /* claimed tasks are not handed out twice */
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, f.node, t0 + 5000, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 0);
    st_store_tasks_free(&due);
    st_store_attempt_t a = {
        task, 1, t0, t0 + 250, "transient", "rate_limit", "429",
    };
    ck_assert_int_eq(st_store_task_attempt_record(f.c, &a, &err), 0);
    ck_assert_int_eq(st_store_task_attempt_record(f.c, &a, &err), 0); /* idempotent */
    ck_assert_int_eq(fx_int(&f, "SELECT latency_us FROM task_attempts"), 250);
    ck_assert_int_eq(st_store_task_reschedule(f.c, task, t0 + 9000, "429", &err), 0);
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, f.node, t0 + 9000, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1);
    ck_assert_int_eq(due.v[0].attempt, 2);
    st_store_tasks_free(&due);
    /* the node dies while the task runs; recovery hands it back, same key */
    ck_assert_int_eq(st_store_tasks_recover(f.c, f.node, &id, 1, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1);
    ck_assert_int_eq(due.v[0].status, ST_STORE_TASK_PENDING);
    ck_assert_str_eq(due.v[0].idempotency_key, "settle_i_1");
    st_store_tasks_free(&due);
    st_store_task_done_t d = {task, ST_STORE_TASK_FAILED, "failed", NULL, 0, NULL};
    ck_assert_int_eq(st_store_task_finish(f.c, &d, &err), 0);
    ck_assert_int_eq(st_store_task_finish(f.c, &d, &err), ST_CONFLICT);
    ck_assert_int_eq(st_store_task_reschedule(f.c, task, t0, "x", &err), ST_CONFLICT);
    ck_assert_int_eq(st_store_tasks_recover(f.c, f.node, &id, 1, &due, &err), 0);
    ck_assert_uint_eq(due.n, 0);
    st_store_tasks_free(&due);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(wake_pages_in_order)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    enum { M = 7 };
    int64_t base = fx_now_us();
    st_store_start_t s[M];
    st_store_started_t out[M];
    for (int i = 0; i < M; i++) {
        s[i] = fx_start_spec(&f, NULL);
        s[i].status = ST_STORE_WAITING;
        /* two share a wake time: the id breaks the tie */
        s[i].wake_at_us = base + (int64_t)((i * 3) % M) * 1000 + (i == 6 ? -3000 : 0);
    }
    ck_assert_int_eq(st_store_start_many(f.c, s, M, out, &err), 0);
    st_store_wake_t page[3];
    size_t n, total = 0;
    int64_t after = ST_STORE_NO_TIME, prev = 0;
    st_store_uuid_t after_id;
    memset(&after_id, 0, sizeof after_id);
    int64_t horizon = base + 5500; /* wake offsets 0..6 ms: 0,1,2,3,4,5,(3) → 7 below */
    do {
        ck_assert_int_eq(
            st_store_wakes_page(f.c, f.node, horizon, after, &after_id, page, 3, &n, &err), 0);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_ge(page[i].wake_at_us, prev);
            ck_assert_int_lt(page[i].wake_at_us, horizon);
            prev = page[i].wake_at_us;
        }
        if (n) {
            after = page[n - 1].wake_at_us;
            after_id = page[n - 1].instance;
        }
        total += n;
    } while (n == 3);
    ck_assert_uint_eq(total, (size_t)fx_int(&f, "SELECT count(*) FROM instances WHERE "
                                                "wake_at IS NOT NULL AND status = 'waiting' "
                                                "AND wake_at < (SELECT max(wake_at) FROM "
                                                "instances)"));
    fx_close(&f);
}
END_TEST

typedef struct done_rec {
    int fired, rc;
} done_rec_t;

static void done_cb(int rc, const st_err_t *err, void *ud)
{
    done_rec_t *d = ud;
    d->fired++;
    d->rc = rc;
}

static void wait_done(fx_t *f, done_rec_t *d)
{
    while (!d->fired)
        ev_run(f->loop, EVRUN_ONCE);
    ck_assert_int_eq(d->fired, 1);
}

START_TEST(async_writes)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    int64_t t0 = fx_now_us();
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_WAITING);
    st_store_task_new_t t = {"erp.post", "{}", "settle_a_1", 3, 1000, t0};
    k.task = &t;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    long long task = fx_int(&f, "SELECT id FROM tasks");
    /* arguments are copied: the buffer is scribbled over right after */
    char outcome[32] = "transient", error[32] = "503 from erp";
    st_store_attempt_t a = {task, 1, t0, t0 + 40, outcome, NULL, error};
    done_rec_t d1 = {0, 0}, d2 = {0, 0}, d3 = {0, 0}, d4 = {0, 0};
    ck_assert_int_eq(st_store_task_attempt_record_async(f.c, &a, done_cb, &d1, &err), 0);
    memset(outcome, 'x', sizeof outcome - 1);
    memset(error, 'y', sizeof error - 1);
    ck_assert_int_eq(
        st_store_task_reschedule_async(f.c, task, t0 + 5000, "503", done_cb, &d2, &err), 0);
    ck_assert_int_eq(st_store_node_renew_async(f.c, f.node, 60000, done_cb, &d3, &err), 0);
    ck_assert_int_eq(st_store_task_attempt_record_async(f.c, &a, NULL, NULL, &err), 0);
    wait_done(&f, &d1);
    wait_done(&f, &d2);
    wait_done(&f, &d3);
    ck_assert_int_eq(d1.rc, 0);
    ck_assert_int_eq(d2.rc, 0);
    ck_assert_int_eq(d3.rc, 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts WHERE outcome = 'transient' "
                                "AND error = '503 from erp'"),
                     1);
    ck_assert_int_eq(fx_int(&f, "SELECT settle_us(not_before) - " /* rescheduled */
                                "(SELECT settle_us(created_at) FROM tasks) FROM tasks"),
                     t0 + 5000 - k.at_us);
    st_store_task_done_t done = {task, ST_STORE_TASK_DONE, "succeeded", "{}", 0, NULL};
    ck_assert_int_eq(st_store_task_finish_async(f.c, &done, done_cb, &d4, &err), 0);
    wait_done(&f, &d4);
    ck_assert_int_eq(d4.rc, 0);
    d4.fired = 0;
    ck_assert_int_eq(st_store_task_finish_async(f.c, &done, done_cb, &d4, &err), 0);
    wait_done(&f, &d4);
    ck_assert_int_eq(d4.rc, ST_CONFLICT);
    d2.fired = 0;
    ck_assert_int_eq(st_store_task_reschedule_async(f.c, task, t0, "x", done_cb, &d2, &err), 0);
    wait_done(&f, &d2);
    ck_assert_int_eq(d2.rc, ST_CONFLICT);
    /* a lapsed lease is reported, an invalid call never calls back */
    PQclear(st_test_exec(f.pg, "UPDATE nodes SET lease_until = now() - interval '1 s'"));
    d3.fired = 0;
    ck_assert_int_eq(st_store_node_renew_async(f.c, f.node, 60000, done_cb, &d3, &err), 0);
    wait_done(&f, &d3);
    ck_assert_int_eq(d3.rc, ST_CONFLICT);
    done.status = ST_STORE_TASK_PENDING;
    d4.fired = 0;
    ck_assert_int_eq(st_store_task_finish_async(f.c, &done, done_cb, &d4, &err), ST_INVAL);
    ev_run(f.loop, EVRUN_NOWAIT);
    ck_assert_int_eq(d4.fired, 0);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_inbox");
    TCase *tc = tcase_create("inbox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, signal_kept_until_consumed_once);
    tcase_add_test(tc, signal_by_correlation);
    tcase_add_test(tc, task_lifecycle_and_recovery);
    tcase_add_test(tc, wake_pages_in_order);
    tcase_add_test(tc, async_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
