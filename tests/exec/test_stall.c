/*
 * test_stall.c — the executor's loop keeps turning while PostgreSQL stalls.
 *
 * A second connection holds ACCESS EXCLUSIVE on `instances` inside an open
 * transaction for a few seconds (pg_sleep, so it lets go by itself): every claim, row read and
 * checkpoint waits server-side. Meanwhile instances already in memory must keep running what needs
 * no database: their sleep timers fire from the wheel and their retry attempts start, and a plain
 * libev timer on the same loop fires on time. Once the lock goes, everything that waited commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec_harness.h"

static const char NAPS[] = "flow naps\n"
                           "input d: duration\n"
                           "state nap {\n"
                           "  sleep d max 1d\n"
                           "  on wake -> done\n"
                           "}\n"
                           "final done\n";

static const char RETRIES[] = "flow retries\n"
                              "input failures: int\n"
                              "state call {\n"
                              "  do test.fail_then_succeed(failures: failures)\n"
                              "  retry 8 times backoff 400ms..500ms\n"
                              "  on ok -> done\n"
                              "  on failed -> gave_up\n"
                              "}\n"
                              "final done\n"
                              "fail gave_up \"the activity kept failing\"\n";

#define NAPPERS   16
#define STALL_S   3.5
#define STALL_SQL "4.0" /* the lock is held a little longer than measured */
#define PROBE_S   0.01

static harness_t h;

typedef struct probe {
    ev_timer w;
    double last, max_gap;
} probe_t;

static void on_probe(struct ev_loop *loop, ev_timer *w, int revents)
{
    probe_t *p = (probe_t *)w;
    (void)revents;
    (void)loop;
    double now = ev_time();
    if (now - p->last > p->max_gap)
        p->max_gap = now - p->last;
    p->last = now;
}

static void setup(void)
{
    h_init(&h);
    h_deploy(&h, "naps.flow", NAPS);
    h_deploy(&h, "retries.flow", RETRIES);
}

static void teardown(void)
{
    h_fini(&h);
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

START_TEST(the_loop_turns_while_postgresql_stalls)
{
    h_exec_start(&h, 0, NULL);
    /* Sleeps that end inside the stall, staggered over it. */
    for (int i = 0; i < NAPPERS; i++) {
        char in[64];
        snprintf(in, sizeof in, "{\"d\": %lld}", 1200000LL + i * 120000LL);
        h_start(&h, "naps", in, NULL);
    }
    h_start(&h, "retries", "{\"failures\": 5}", NULL);
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'waiting'", NAPPERS, 10));
    ck_assert(h_until(&h, "SELECT least(count(*), 1) FROM task_attempts", 1, 10));

    /* The lock holder lets go by itself, server-side: on a loop that
     * waits for PostgreSQL the test would otherwise never get to COMMIT. */
    PGconn *lock = st_test_connect(h.dsn);
    ck_assert(PQsendQuery(lock, "BEGIN; LOCK TABLE instances IN ACCESS EXCLUSIVE MODE;"
                                " SELECT pg_sleep(" STALL_SQL "); COMMIT") == 1);
    const char *held = "SELECT count(*) FROM pg_locks WHERE granted AND"
                       " mode = 'AccessExclusiveLock' AND relation = 'instances'::regclass";
    double w0 = mono();
    while (h_scalar(&h, held) != 1 && mono() - w0 < 5)
        ;
    ck_assert_int_eq(h_scalar(&h, held), 1);

    st_exec_stats_t before, after;
    st_exec_get_stats(h.x, &before);
    probe_t p = {.last = ev_time(), .max_gap = 0};
    ev_timer_init(&p.w, on_probe, PROBE_S, PROBE_S);
    ev_timer_start(h.loop, &p.w);
    double t0 = mono();
    while (mono() - t0 < STALL_S)
        ev_run(h.loop, EVRUN_ONCE);
    ev_timer_stop(h.loop, &p.w);
    on_probe(h.loop, &p.w, 0); /* the stretch since its last turn counts too */
    st_exec_get_stats(h.x, &after);
    /* The stall lasted the whole window. (Step counts cannot show it: a
     * commit that finished before the lock may be read during the window.) */
    ck_assert_int_eq(h_scalar(&h, held), 1);

    PGresult *r;
    while ((r = PQgetResult(lock)) != NULL) {
        ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
                      "lock holder: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(lock);

    fprintf(stderr, "stall %.1f s: probe max gap %.3f s, wheel fired %llu, attempts started %llu\n",
            STALL_S, p.max_gap, (unsigned long long)(after.timers_fired - before.timers_fired),
            (unsigned long long)(after.dispatched - before.dispatched));
    /* The loop turned: a 10 ms timer never waited for the database. */
    ck_assert_msg(p.max_gap < 0.5, "the loop stood still for %.3f s during the stall", p.max_gap);
    /* In-memory work went on: the sleeps due in the stall fired from the
     * wheel, and the retry timer started attempts. */
    ck_assert_uint_ge(after.timers_fired - before.timers_fired, NAPPERS / 2);
    ck_assert_uint_ge(after.dispatched - before.dispatched, 2);

    /* And what waited for the lock commits once it is gone. */
    ck_assert(
        h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", NAPPERS + 1, 30));
    h_assert_gapless(&h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stall");
    TCase *tc = tcase_create("stall");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, the_loop_turns_while_postgresql_stalls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
