/*
 * test_exec.c — the executor end to end: real PostgreSQL, real activity
 * runner (test.* activities), real timer wheel, flows compiled by settlec.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_harness.h"

static const char STEPS[] = "flow steps\n"
                            "input n: int\n"
                            "var i: int = 0\n"
                            "state work {\n"
                            "  do test.echo(i: i)\n"
                            "  on ok -> next\n"
                            "  on failed -> broken\n"
                            "}\n"
                            "state next {\n"
                            "  set i = i + 1\n"
                            "  if i >= n -> done\n"
                            "  else -> work\n"
                            "}\n"
                            "final done\n"
                            "fail broken \"echo failed\"\n";

static const char FLAKY[] = "flow flaky\n"
                            "input failures: int\n"
                            "state call {\n"
                            "  do test.fail_then_succeed(failures: failures)\n"
                            "  retry 3 times backoff 1ms..4ms\n"
                            "  on ok -> done\n"
                            "  on failed -> gave_up\n"
                            "}\n"
                            "final done\n"
                            "fail gave_up \"the activity kept failing\"\n";

static const char NAPPER[] = "flow napper\n"
                             "state nap {\n"
                             "  sleep 3d\n"
                             "  on wake -> done\n"
                             "}\n"
                             "final done\n";

static const char CAPPED[] = "flow capped\n"
                             "input d: duration\n"
                             "state nap {\n"
                             "  sleep d max 1d\n"
                             "  on wake -> done\n"
                             "}\n"
                             "final done\n";

static const char WAITER[] = "flow waiter\n"
                             "input ms: int\n"
                             "var got: string = \"\"\n"
                             "on cancel -> cleanup\n"
                             "state busy {\n"
                             "  do test.sleep(ms: ms)\n"
                             "  on ok -> wait\n"
                             "  on failed -> wait\n"
                             "}\n"
                             "state wait {\n"
                             "  await timeout 3d\n"
                             "  on signal hello -> greet save got = name\n"
                             "  on timeout -> late\n"
                             "}\n"
                             "state greet {\n"
                             "  do test.echo(got: got)\n"
                             "  on ok -> done\n"
                             "  on failed -> done\n"
                             "}\n"
                             "state cleanup {\n"
                             "  do test.echo(cleanup: 1)\n"
                             "  on ok -> cancelled_cleanly\n"
                             "  on failed -> cancelled_cleanly\n"
                             "}\n"
                             "final done\n"
                             "final late\n"
                             "final cancelled_cleanly\n";

static harness_t h;

static void setup(void)
{
    h_init(&h);
    h_deploy(&h, "steps.flow", STEPS);
    h_deploy(&h, "flaky.flow", FLAKY);
    h_deploy(&h, "napper.flow", NAPPER);
    h_deploy(&h, "waiter.flow", WAITER);
    h_deploy(&h, "capped.flow", CAPPED);
}

static void teardown(void)
{
    h_fini(&h);
}

/* The line of a rendered metric, for a failure message that fits Check's
 * limit (the whole text does not). */
static const char *metric_line(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    return p != NULL ? p : "(metric missing)";
}

START_TEST(flows_run_to_completion_with_gapless_history)
{
    h_exec_start(&h, 0, NULL);
    for (int i = 0; i < 20; i++)
        h_start(&h, "steps", "{\"n\": 5}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 20, 30));
    h_assert_gapless(&h);
    /* One task per step, each finished, each with its own key. */
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE status = 'done'"), 100);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(DISTINCT idempotency_key) FROM tasks"), 100);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE idempotency_key <> "
                                  "'settle_' || instance_id || '_' || seq"),
                     0);
    /* Attempt records go out asynchronously on their own connection. */
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 100, 10));
    /* A first attempt that succeeded is kept on its task row by the
     * checkpoint that took its result: no write of its own. */
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempt_log"), 0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE final_outcome = 'ok'"
                                  " AND attempt = 1 AND final_finished_at >= final_started_at"),
                     100);
    ck_assert_int_eq(h_scalar(&h, "SELECT sum(n) FROM flow_counts WHERE flow = 'steps' "
                                  "AND status = 'completed'"),
                     20);
    ck_assert_int_eq(h_scalar(&h, "SELECT coalesce(sum(n), 0) FROM flow_counts WHERE flow = "
                                  "'steps' AND status <> 'completed'"),
                     0);
    ck_assert_str_eq(h_text(&h, "SELECT vars->>'i' FROM instances LIMIT 1"), "5");
    /* History went into daily partitions made ahead of time, not the default. */
    ck_assert_int_ge(h_scalar(&h, "SELECT count(*) FROM pg_inherits "
                                  "WHERE inhparent = 'history'::regclass"),
                     4);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history_default"), 0);
    /* /metrics sees the same work: 20 starts + 100 results, 100 echo calls. */
    /* The rows are visible to this connection a moment before the
     * executor's loop has taken the last commits' results (and counted
     * them): turn the loop until the counts show, for up to 5 s. */
    char *text = NULL;
    for (int i = 0; i < 100; i++) {
        free(text);
        text = st_metrics_render(h.metrics, NULL);
        ck_assert_ptr_nonnull(text);
        if (strstr(text, "settle_transitions_total{flow=\"steps\"} 120\n") &&
            strstr(text, "settle_activity_calls_total{driver=\"test.echo\",outcome=\"ok\"} 100\n"))
            break;
        h_until(&h, "SELECT 0", 1, 0.05); /* turns the loop for 50 ms */
    }
    ck_assert_msg(strstr(text, "settle_transitions_total{flow=\"steps\"} 120\n") != NULL, "%.300s",
                  metric_line(text, "settle_transitions_total{flow=\"steps\"}"));
    ck_assert_msg(strstr(text, "settle_activity_calls_total{driver=\"test.echo\",outcome=\"ok\"} "
                               "100\n") != NULL,
                  "%.300s", metric_line(text, "settle_activity_calls_total{driver=\"test.echo\""));
    ck_assert_ptr_nonnull(strstr(text, "settle_checkpoint_batch_size_count"));
    free(text);
}
END_TEST

START_TEST(start_is_idempotent_by_business_key)
{
    char first[37];
    snprintf(first, sizeof first, "%s", h_start(&h, "steps", "{\"n\": 1}", "in_123"));
    const char *second = h_start(&h, "steps", "{\"n\": 1}", "in_123");
    ck_assert_str_eq(first, second);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances"), 1);
}
END_TEST

START_TEST(transient_failures_retry_with_the_same_key)
{
    h_exec_start(&h, 0, NULL);
    h_start(&h, "flaky", "{\"failures\": 2}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 20));
    /* Attempt records go out asynchronously on their own connection. */
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 3, 10));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempts WHERE outcome = 'transient'"),
                     2);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks"), 1);
    /* the retried ones are logged, the one that finished the task is on it */
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempt_log"), 2);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempts a JOIN tasks t"
                                  " ON t.id = a.task_id WHERE a.attempt = 3 AND t.attempt = 3"
                                  " AND a.outcome = t.final_outcome"),
                     1);
    h_assert_gapless(&h);
}
END_TEST

START_TEST(exhausted_retries_take_the_failed_arm)
{
    h_exec_start(&h, 0, NULL);
    h_start(&h, "flaky", "{\"failures\": 9}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'failed'", 1, 20));
    ck_assert_str_eq(h_text(&h, "SELECT state_name FROM instances"), "gave_up");
    ck_assert_str_eq(h_text(&h, "SELECT wait_reason FROM instances"), "the activity kept failing");
    /* `retry 3 times`: the first attempt and three retries. */
    /* Attempt records go out asynchronously on their own connection. */
    ck_assert(h_until(&h, "SELECT count(*) FROM task_attempts", 4, 10));
    ck_assert_str_eq(h_text(&h, "SELECT status::text FROM tasks"), "failed");
}
END_TEST

START_TEST(virtual_clock_fires_sleeps_when_advanced)
{
    st_err_t err;
    h_exec_start(&h, 1, NULL);
    h_start(&h, "napper", "{}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 1, 10));
    ck_assert_int_eq(st_exec_advance(h.x, 2LL * 86400 * 1000000, &err), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 1, 1));
    ck_assert_int_eq(st_exec_advance(h.x, 86400LL * 1000000 + 1000, &err), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
    h_assert_gapless(&h);
}
END_TEST

START_TEST(sleep_max_bounds_a_computed_duration)
{
    st_err_t err;
    h_exec_start(&h, 1, NULL);
    h_start(&h, "capped", "{\"d\": 432000000000}", NULL); /* 5 days, capped at 1 */
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 1, 10));
    ck_assert_int_eq(h_scalar(&h, "SELECT (settle_us(wake_at) - (SELECT now_us FROM "
                                  "settle_clock)) / 3600000000 FROM instances"),
                     24);
    ck_assert_int_eq(st_exec_advance(h.x, 86400LL * 1000000 + 1000, &err), 0);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
}
END_TEST

START_TEST(signal_sent_early_is_kept_until_awaited)
{
    h_exec_start(&h, 0, NULL);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "waiter", "{\"ms\": 300}", NULL));
    /* The flow is busy in test.sleep; the signal must wait for it. */
    ck_assert(h_until(&h, "SELECT count(*) FROM tasks", 1, 10));
    h_signal(&h, id, "hello", "{\"name\": \"ada\"}");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
    ck_assert_str_eq(h_text(&h, "SELECT state_name FROM instances"), "done");
    ck_assert_str_eq(h_text(&h, "SELECT vars->>'got' FROM instances"), "ada");
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM signals WHERE consumed_at IS NULL"), 0);
    h_assert_gapless(&h);
}
END_TEST

START_TEST(signal_not_awaited_is_never_consumed)
{
    h_exec_start(&h, 0, NULL);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "waiter", "{\"ms\": 1}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'wait'", 1, 10));
    h_signal(&h, id, "unrelated", "{}");
    h_signal(&h, id, "hello", "{\"name\": \"bob\"}");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM signals WHERE consumed_at IS NULL "
                                  "AND name = 'unrelated'"),
                     1);
}
END_TEST

START_TEST(cancel_runs_the_cancel_path)
{
    h_exec_start(&h, 0, NULL);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "waiter", "{\"ms\": 1}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'wait'", 1, 10));
    h_signal(&h, id, "settle.cancel", "{}");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
    ck_assert_str_eq(h_text(&h, "SELECT state_name FROM instances"), "cancelled_cleanly");
    h_assert_gapless(&h);
}
END_TEST

/* The cancel path's mark survives a restart: a second cancel, to another
 * executor, must not enter the path again (its steps would repeat their
 * side effects under new idempotency keys). */
static const char LINGERER[] = "flow lingerer\n"
                               "on cancel -> cleanup\n"
                               "state nap {\n"
                               "  sleep 3d\n"
                               "  on wake -> done\n"
                               "}\n"
                               "state cleanup {\n"
                               "  sleep 1h\n"
                               "  on wake -> cancelled_cleanly\n"
                               "}\n"
                               "final done\n"
                               "final cancelled_cleanly\n";

START_TEST(second_cancel_after_restart_keeps_the_path)
{
    h_deploy(&h, "lingerer.flow", LINGERER);
    h_exec_start(&h, 0, NULL);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "lingerer", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'nap'", 1, 10));
    h_signal(&h, id, "settle.cancel", "{}");
    ck_assert_msg(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'cleanup'", 1, 10),
                  "after cancel: %s",
                  h_text(&h, "SELECT state_name || ' ' || status || ' seq ' || seq || ' signals ' "
                             "|| (SELECT string_agg(name || ':' || coalesce(consumed_seq::text, "
                             "'-'), ',') FROM signals) FROM instances"));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE cancel_requested"), 1);
    h_exec_stop(&h, 1);
    h_exec_start(&h, 0, NULL);
    h_signal(&h, id, "settle.cancel", "{}");
    /* The second cancel has nothing to do: it is discarded (consumed
     * without a transition) so it is never offered again. */
    ck_assert(h_until(&h, "SELECT count(*) FROM signals WHERE consumed_at IS NOT NULL", 2, 10));
    ck_assert_str_eq(h_text(&h, "SELECT state_name FROM instances"), "cleanup");
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE to_state = 'cleanup'"), 1);
    h_assert_gapless(&h);
}
END_TEST

/* A cancel stored before any node owned the instance (its notification
 * reached nobody) is taken up when a node claims it, even though the
 * instance then sleeps for days with no signal arm. */
START_TEST(cancel_stored_before_the_claim_is_taken_up)
{
    h_deploy(&h, "lingerer.flow", LINGERER);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "lingerer", "{}", NULL));
    h_signal(&h, id, "settle.cancel", "{}");
    h_exec_start(&h, 0, NULL);
    ck_assert_msg(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'cleanup'", 1, 10),
                  "state %s", h_text(&h, "SELECT state_name || ' ' || status FROM instances"));
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM signals WHERE consumed_at IS NULL"), 0);
    h_assert_gapless(&h);
}
END_TEST

START_TEST(restart_resumes_everything)
{
    h_exec_start(&h, 0, NULL);
    for (int i = 0; i < 30; i++)
        h_start(&h, "steps", "{\"n\": 20}", NULL);
    ck_assert(
        h_until(&h, "SELECT CASE WHEN sum(seq) > 100 THEN 1 ELSE 0 END FROM instances", 1, 20));
    /* An abrupt stop: nothing released; a new node must wait out the
     * lease, take the instances over and finish them. */
    h_exec_stop(&h, 0);
    PQclear(st_test_exec(h.pg, "UPDATE nodes SET lease_until = now() - interval '1 s'"));
    h_exec_start(&h, 0, NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 30, 60));
    h_assert_gapless(&h);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE status <> 'done'"), 0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks"), 30 * 20);
}
END_TEST

START_TEST(a_new_epoch_under_a_live_node_is_taken_up_not_dropped)
{
    /* A node that re-claims its own instances (its lease lapsed and came
     * back) bumps their epoch while checkpoints are in flight: those
     * conflict. The node must re-read the rows it still owns and carry
     * on, re-dispatching their tasks under the same keys. */
    h_exec_start(&h, 0, NULL);
    for (int i = 0; i < 20; i++)
        h_start(&h, "steps", "{\"n\": 20}", NULL);
    ck_assert(
        h_until(&h, "SELECT CASE WHEN sum(seq) > 60 THEN 1 ELSE 0 END FROM instances", 1, 20));
    PQclear(st_test_exec(h.pg, "UPDATE instances SET lease_epoch = lease_epoch + 1 "
                               "WHERE status IN ('running', 'waiting')"));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 20, 60));
    h_assert_gapless(&h);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE status <> 'done'"), 0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks"), 20 * 20);
    st_exec_stats_t st;
    st_exec_get_stats(h.x, &st);
    ck_assert_uint_gt(st.conflicts, 0);
}
END_TEST

START_TEST(graceful_shutdown_releases_leases)
{
    h_exec_start(&h, 1, NULL);
    for (int i = 0; i < 5; i++)
        h_start(&h, "napper", "{}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 5, 10));
    h_exec_stop(&h, 1);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM instances WHERE owner_node IS NOT NULL"),
                     0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM nodes WHERE stopped_at IS NOT NULL"), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("exec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flows_run_to_completion_with_gapless_history);
    tcase_add_test(tc, start_is_idempotent_by_business_key);
    tcase_add_test(tc, transient_failures_retry_with_the_same_key);
    tcase_add_test(tc, exhausted_retries_take_the_failed_arm);
    tcase_add_test(tc, virtual_clock_fires_sleeps_when_advanced);
    tcase_add_test(tc, sleep_max_bounds_a_computed_duration);
    tcase_add_test(tc, signal_sent_early_is_kept_until_awaited);
    tcase_add_test(tc, signal_not_awaited_is_never_consumed);
    tcase_add_test(tc, cancel_runs_the_cancel_path);
    tcase_add_test(tc, second_cancel_after_restart_keeps_the_path);
    tcase_add_test(tc, cancel_stored_before_the_claim_is_taken_up);
    tcase_add_test(tc, restart_resumes_everything);
    tcase_add_test(tc, a_new_epoch_under_a_live_node_is_taken_up_not_dropped);
    tcase_add_test(tc, graceful_shutdown_releases_leases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
