/*
 * test_store_steps.c — what a step with an activity writes (0009_step_rows):
 * the attempt that finishes a task is stored on the task row by the
 * checkpoint and seen through the task_attempts view with every logged
 * attempt; the checkpoint's plan on a batch connection looks rows up by
 * key instead of scanning tasks or signals, whatever they held when it was
 * planned.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"

/* Step 0 -> 1 of id with a new task; returns the task id. */
static int64_t step_with_task(fx_t *f, st_store_batch_t *b, const st_store_uuid_t *id, int64_t ep)
{
    st_store_ckpt_t k;
    fx_ckpt(&k, f, id, ep, 0, ST_STORE_RUNNING);
    char key[96], hex[37];
    st_store_uuid_format(id, hex);
    snprintf(key, sizeof key, "settle_%s_1", hex);
    st_store_task_new_t t = {"test.echo", "{}", key, 3, 1000, k.at_us};
    k.task = &t;
    ck_assert_int_eq(fx_ckpt_run(f, b, &k), 0);
    ck_assert_int_gt(k.task_id, 0);
    return k.task_id;
}

START_TEST(finishing_attempt_is_kept_on_the_task_row)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {.max_size = 8};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    ck_assert_ptr_nonnull(b);
    int64_t task = step_with_task(&f, b, &id, ep);
    /* attempt 1 failed transiently: logged on its own, as before */
    st_store_attempt_t a1 = {task, 1, 1000000, 1000400, "transient", "timeout", "slow"};
    ck_assert_int_eq(st_store_task_attempt_record(f.c, &a1, &err), 0);
    /* attempt 2 succeeded: the checkpoint taking its result stores it */
    st_store_attempt_t a2 = {task, 2, 2000000, 2000250, "ok", NULL, NULL};
    st_store_task_done_t d = {task, ST_STORE_TASK_DONE, "ok", "{}", 2, &a2};
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_COMPLETED);
    k.task_done = &d;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempt_log"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts"), 2);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts WHERE attempt = 1 AND"
                                " outcome = 'transient' AND code = 'timeout' AND latency_us = 400"),
                     1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts WHERE attempt = 2 AND"
                                " outcome = 'ok' AND code IS NULL AND error IS NULL AND"
                                " latency_us = 250 AND settle_us(started_at) = 2000000"),
                     1);
    ck_assert_int_eq(fx_int(&f, "SELECT attempt FROM tasks"), 2);
    /* the same attempt logged as well (a checkpoint whose outcome was
     * unknown) is listed once */
    ck_assert_int_eq(st_store_task_attempt_record(f.c, &a2, &err), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts"), 2);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(finish_without_attempt_leaves_none)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_batch_cfg_t cfg = {.max_size = 8};
    st_err_t err;
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    int64_t task = step_with_task(&f, b, &id, ep);
    /* a cancel finishes the task without running it: no attempt */
    st_store_task_done_t d = {task, ST_STORE_TASK_CANCELLED, "cancelled", NULL, 0, NULL};
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_CANCELLED);
    k.task_done = &d;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM task_attempts"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM tasks WHERE status = 'cancelled'"), 1);
    /* an attempt without an outcome is refused before it is sent */
    st_store_attempt_t bad = {task, 1, 1, 2, NULL, NULL, NULL};
    st_store_task_done_t d2 = {task, ST_STORE_TASK_DONE, "ok", NULL, 1, &bad};
    fx_ckpt(&k, &f, &id, ep, 2, ST_STORE_COMPLETED);
    k.task_done = &d2;
    ck_assert_int_eq(st_store_batch_submit(b, &k, NULL, NULL, &err), ST_INVAL);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

static long long stat_of(fx_t *f, const char *col, const char *table)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM pg_stat_user_tables WHERE relname = '%s'", col,
             table);
    return fx_int(f, sql);
}

START_TEST(checkpoint_plan_scans_no_table)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    /* Small, analysed tables: the shape in which a plan made once would
     * pick sequential scans and keep them as the tables grow. */
    PQclear(st_test_exec(f.pg, "INSERT INTO tasks (instance_id, seq, state_name, activity, args,"
                               " idempotency_key, max_attempts, timeout_ms, not_before,"
                               " created_at, updated_at) SELECT gen_random_uuid(), 1, 'w',"
                               " 'test.echo', '{}', 'k' || g, 1, 1, now(), now(), now()"
                               " FROM generate_series(1, 40) g"));
    PQclear(st_test_exec(f.pg, "INSERT INTO signals (corr_key, corr_value, name, source)"
                               " SELECT 'k', 'v' || g, 'x', 'test' FROM generate_series(1, 40) g"));
    PQclear(st_test_exec(f.pg, "ANALYZE tasks; ANALYZE signals; ANALYZE instances"));
    long long seq_tasks = stat_of(&f, "seq_scan", "tasks");
    long long seq_sigs = stat_of(&f, "seq_scan", "signals");
    long long idx_tasks = stat_of(&f, "coalesce(idx_scan, 0)", "tasks");

    struct ev_loop *loop = f.loop;
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = f.dsn, .index_plans = true};
    st_store_conn_t *c = st_store_conn_new(loop, &cc, &err);
    ck_assert_ptr_nonnull(c);
    st_store_batch_cfg_t cfg = {.max_size = 8};
    st_store_batch_t *b = st_store_batch_new(c, &cfg, &err);
    int64_t task = step_with_task(&f, b, &id, ep);
    char hex[37], sql[256];
    st_store_uuid_format(&id, hex);
    snprintf(sql, sizeof sql,
             "INSERT INTO signals (instance_id, name, payload, source)"
             " VALUES ('%s', 'go', '{}', 'test') RETURNING id",
             hex);
    long long sig = fx_int(&f, sql);
    st_store_attempt_t a = {task, 1, 10, 20, "ok", NULL, NULL};
    st_store_task_done_t d = {task, ST_STORE_TASK_DONE, "ok", "{}", 1, &a};
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 1, ST_STORE_COMPLETED);
    k.task_done = &d;
    k.consume_signal_id = sig;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_batch_free(b);
    st_store_conn_free(c); /* its backend reports its statistics as it exits */
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) {
        seen = stat_of(&f, "coalesce(idx_scan, 0)", "tasks") > idx_tasks;
        if (!seen)
            usleep(50000);
    }
    ck_assert_msg(seen, "the checkpoint connection's statistics never arrived");
    ck_assert_int_eq(stat_of(&f, "seq_scan", "tasks"), seq_tasks);
    ck_assert_int_eq(stat_of(&f, "seq_scan", "signals"), seq_sigs);
    fx_close(&f);
}
END_TEST

/* The executor's control connection claims every second. With many rows
 * asleep under a live node and a stopped node on record, the claim's
 * generic plan read the whole instances table each round to find no
 * orphan; planned for index lookups it must not scan the table. */
START_TEST(claim_plan_scans_no_table)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    fx_start(&f, NULL, &ep); /* owned by the fixture's live node */
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO instances (id, flow, program_hash, state, state_name, status, vars,"
             " wake_at, owner_node, lease_epoch, created_at, updated_at)"
             " SELECT gen_random_uuid(), flow, program_hash, 0, 'init', 'waiting', '{}',"
             " now() + interval '3 days', %lld, 1, now(), now()"
             " FROM instances, generate_series(1, 5000) LIMIT 5000",
             (long long)f.node);
    PQclear(st_test_exec(f.pg, sql));
    PQclear(st_test_exec(f.pg, "INSERT INTO nodes (name, lease_until, stopped_at)"
                               " SELECT 'gone' || g, now(), now() FROM generate_series(1, 5) g"));
    PQclear(st_test_exec(f.pg, "ANALYZE instances; ANALYZE nodes"));
    long long seq_inst = stat_of(&f, "seq_scan", "instances");
    long long idx_inst = stat_of(&f, "coalesce(idx_scan, 0)", "instances");

    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = f.dsn, .index_plans = true};
    st_store_conn_t *c = st_store_conn_new(f.loop, &cc, &err);
    ck_assert_ptr_nonnull(c);
    for (int round = 0; round < 3; round++) {
        st_store_instances_t rows = {0};
        ck_assert_int_eq(st_store_lease_claim(c, f.node, 100, &rows, &err), 0);
        ck_assert_uint_eq(rows.n, 0); /* nothing unowned, nothing orphaned */
        st_store_instances_free(&rows);
    }
    st_store_conn_free(c); /* its backend reports its statistics as it exits */
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) {
        seen = stat_of(&f, "coalesce(idx_scan, 0)", "instances") > idx_inst;
        if (!seen)
            usleep(50000);
    }
    ck_assert_msg(seen, "the claiming connection's statistics never arrived");
    ck_assert_int_eq(stat_of(&f, "seq_scan", "instances"), seq_inst);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_steps");
    TCase *tc = tcase_create("steps");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, finishing_attempt_is_kept_on_the_task_row);
    tcase_add_test(tc, finish_without_attempt_leaves_none);
    tcase_add_test(tc, checkpoint_plan_scans_no_table);
    tcase_add_test(tc, claim_plan_scans_no_table);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
