/*
 * test_exec_defects.c — regressions of the executor: a task whose stored
 * arguments cannot be read fails visibly instead of running with {}, and a
 * stored signal the flow refuses is set aside (with a history note) instead
 * of blocking the signals behind it for ever; adopted waiting instances
 * read their stored signals only when their row says some wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_harness.h"

static const char SLOW[] = "flow slow\n"
                           "state call {\n"
                           "  do test.sleep(ms: 60000)\n"
                           "  on ok -> done\n"
                           "  on failed -> broken\n"
                           "}\n"
                           "final done\n"
                           "fail broken \"the call failed\"\n";

static const char GREETER[] = "flow greeter\n"
                              "var got: string = \"\"\n"
                              "state wait {\n"
                              "  await timeout 3d\n"
                              "  on signal hello -> done save got = name\n"
                              "  on timeout -> late\n"
                              "}\n"
                              "final done\n"
                              "final late\n";

static const char DOZER[] = "flow dozer\n"
                            "state nap {\n"
                            "  sleep 3d\n"
                            "  on wake -> done\n"
                            "}\n"
                            "final done\n";

static harness_t h;

static void setup(void)
{
    h_init(&h);
    h_deploy(&h, "slow.flow", SLOW);
    h_deploy(&h, "greeter.flow", GREETER);
    h_deploy(&h, "dozer.flow", DOZER);
}

static void teardown(void)
{
    h_fini(&h);
}

START_TEST(a_task_whose_stored_args_cannot_be_read_fails_visibly)
{
    h_exec_start(&h, 0, NULL);
    h_start(&h, "slow", "{}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM tasks", 1, 10));
    st_exec_stats_t st;
    for (int i = 0; i < 1000; i++) {
        st_exec_get_stats(h.x, &st);
        if (st.dispatched > 0)
            break;
        ev_run(h.loop, EVRUN_ONCE);
    }
    ck_assert_uint_eq(st.dispatched, 1);
    /* The node dies with the task running; its arguments are now something
     * PostgreSQL stores but jansson cannot read (an integer beyond int64). */
    h_exec_stop(&h, 0);
    PQclear(st_test_exec(h.pg, "UPDATE tasks SET args = "
                               "'{\"ms\": 123456789012345678901234567890}'"));
    PQclear(st_test_exec(h.pg, "UPDATE nodes SET lease_until = now() - interval '1 s'"));
    h_exec_start(&h, 0, NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'failed'", 1, 20));
    ck_assert_str_eq(h_text(&h, "SELECT state_name FROM instances"), "broken");
    ck_assert_str_eq(h_text(&h, "SELECT status FROM tasks"), "failed");
    /* The attempt says why; no attempt ran the activity after the restart. */
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempts WHERE outcome = 'failed'"
                                  " AND error LIKE '%stored arguments%cannot be read%'"),
                     1);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'"),
                     0);
    st_exec_get_stats(h.x, &st);
    ck_assert_uint_eq(st.dispatched, 0);
    h_assert_gapless(&h);
}
END_TEST

START_TEST(a_refused_signal_does_not_block_the_ones_behind_it)
{
    h_exec_start(&h, 0, NULL);
    char id[37];
    snprintf(id, sizeof id, "%s", h_start(&h, "greeter", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE state_name = 'wait'", 1, 10));
    h_signal(&h, id, "hello", "[\"not\", \"an\", \"object\"]");
    h_signal(&h, id, "hello", "{\"name\": \"bob\"}");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", 1, 10));
    ck_assert_str_eq(h_text(&h, "SELECT vars->>'got' FROM instances"), "bob");
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM signals WHERE consumed_at IS NULL"), 0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM history WHERE kind = 'signal_refused'"
                                  " AND detail->>'signal' = 'hello'"
                                  " AND detail->>'reason' LIKE '%object%'"),
                     1);
    h_assert_gapless(&h);
}
END_TEST

static uint64_t signal_reads(void)
{
    st_exec_stats_t st;
    st_exec_get_stats(h.x, &st);
    return st.signal_reads;
}

START_TEST(adopted_waiting_instances_read_signals_only_when_some_wait)
{
    h_exec_start(&h, 1, NULL);
    char id[37];
    for (int i = 0; i < 20; i++)
        snprintf(id, sizeof id, "%s", h_start(&h, "dozer", "{}", NULL));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", 20, 10));
    /* Another node takes them over: their rows say no signal waits. */
    h_exec_stop(&h, 0);
    PQclear(st_test_exec(h.pg, "UPDATE nodes SET lease_until = now() - interval '1 s'"));
    h_exec_start(&h, 1, NULL);
    ck_assert(h_until(&h,
                      "SELECT count(*) FROM instances i JOIN nodes n ON n.id = i.owner_node"
                      " WHERE n.stopped_at IS NULL AND n.lease_until > now()"
                      "   AND n.id = (SELECT max(id) FROM nodes)",
                      20, 10));
    for (int i = 0; i < 200; i++)
        ev_run(h.loop, EVRUN_ONCE);
    ck_assert_uint_eq(signal_reads(), 0);
    /* A signal stored for one of them is read (once its NOTIFY arrives). */
    h_signal(&h, id, "settle.cancel", "{}");
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'cancelled'", 1, 10));
    ck_assert_uint_ge(signal_reads(), 1);
    ck_assert_uint_le(signal_reads(), 2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("exec_defects");
    TCase *tc = tcase_create("exec_defects");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_task_whose_stored_args_cannot_be_read_fails_visibly);
    tcase_add_test(tc, a_refused_signal_does_not_block_the_ones_behind_it);
    tcase_add_test(tc, adopted_waiting_instances_read_signals_only_when_some_wait);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
