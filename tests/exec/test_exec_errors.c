/*
 * test_exec_errors.c — a failed statement is never silent: when a
 * checkpoint batch fails (here a lock_timeout provoked on purpose by
 * holding the instance's row), the executor's log line names the
 * statement and carries PostgreSQL's message and SQLSTATE; once the row
 * is free again the instance re-reads its row and goes on.
 */
#include <stdio.h>
#include <string.h>

#include "exec_harness.h"

static const char GREETER[] = "flow greeter\n"
                              "var got: string = \"\"\n"
                              "state wait {\n"
                              "  await timeout 3d\n"
                              "  on signal hello -> done save got = name\n"
                              "  on timeout -> late\n"
                              "}\n"
                              "final done\n"
                              "final late\n";

static harness_t h;

/* Turn the executor's loop until a log line holds every part. */
static int until_logged(const char *const *parts, double timeout_s)
{
    ev_tstamp end = ev_time() + timeout_s;
    while (ev_time() < end) {
        if (h_logged(&h, parts))
            return 1;
        ev_run(h.loop, EVRUN_ONCE);
    }
    return h_logged(&h, parts);
}

START_TEST(a_failed_checkpoint_batch_is_logged_with_postgres_message)
{
    h_init(&h);
    h_deploy(&h, "greeter.flow", GREETER);
    char sql[512];
    snprintf(sql, sizeof sql, "ALTER DATABASE \"%s\" SET lock_timeout = '300ms'", h.db);
    PQclear(st_test_exec(h.pg, sql));
    h_exec_start(&h, 0, NULL);
    const char *id = h_start(&h, "greeter", "{}", NULL);
    char idc[40];
    snprintf(idc, sizeof idc, "%s", id);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND status = 'waiting'", idc);
    ck_assert(h_until(&h, sql, 1, 10.0));
    /* hold the row as a checkpoint would: the signal's step waits for it */
    PQclear(st_test_exec(h.pg, "BEGIN"));
    snprintf(sql, sizeof sql, "SELECT 1 FROM instances WHERE id = '%s' FOR NO KEY UPDATE", idc);
    PQclear(st_test_exec(h.pg, sql));
    h_signal(&h, idc, "hello", "{\"name\": \"ada\"}");
    const char *parts[] = {"checkpoint batch of 1 failed", "statement st_CHECKPOINT failed",
                           "canceling statement due to lock timeout", "(SQLSTATE 55P03)", NULL};
    int seen = until_logged(parts, 10.0);
    PQclear(st_test_exec(h.pg, "ROLLBACK"));
    ck_assert_msg(seen, "no such log line; the log:\n%s", h.log);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND status = 'completed'", idc);
    ck_assert_msg(h_until(&h, sql, 1, 10.0), "the instance did not go on; the log:\n%s", h.log);
    h_exec_stop(&h, 1);
    h_fini(&h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exec_errors");
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_failed_checkpoint_batch_is_logged_with_postgres_message);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
