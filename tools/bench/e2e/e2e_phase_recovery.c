/*
 * e2e_phase_recovery.c — kill -9 and restart through the front door: R
 * flows of K test.echo steps, 1 s apart (so that they are still in flight
 * when the node is killed even when starts are slow), are started (batch starts when the settled
 * under test has them, else single starts), settled is killed with SIGKILL
 * shortly after, and the same node (`--node NAME`, the same identity) is
 * started again at once.
 *
 * Prints the flows still in flight at the kill, the time from the restart
 * (just before exec) to the first instance row changed after it (a step
 * committed) and to every flow ended, and duplicate effects as the store
 * records them: re-runs of a test.echo task (same idempotency key, which a
 * remote service absorbs) and logical calls made twice under different keys
 * (the same flow's test.echo for the same i in two task rows: a duplicate no
 * key absorbs; must be 0). Re-runs are counted from attempt records
 * (task_attempts.attempt > 1): a run cut off by the kill before its record
 * committed leaves none, so this is a lower bound of the calls made twice.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_bench.h"
#include "e2e_http.h"
#include "e2e_starts.h"

static int body_rec(size_t i, char *buf, size_t cap, void *ctx)
{
    const size_t *k = ctx;
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e_paced\",\"inputs\":{\"n\":%zu},\"business_key\":\"r%zu\"}", *k,
                    i);
}

static const char ENDED[] = "SELECT count(*) FROM instances WHERE flow = 'e2e_paced' "
                            "AND status NOT IN ('running', 'waiting')";

/* Re-runs and unabsorbed duplicates of test.echo calls, counted from the
 * task rows and attempt records the store keeps; says so when it keeps
 * fewer task rows than steps were taken. */
static void duplicates(e2e_stack_t *st, size_t want_tasks, double *reruns, double *dups)
{
    double tasks = e2e_scalar(st, "SELECT count(*) FROM tasks WHERE activity = 'test.echo'");
    if (tasks < (double)want_tasks) {
        printf("recovery: %.0f test.echo task rows for %zu steps: duplicates counted from "
               "those only\n",
               tasks, want_tasks);
    }
    *reruns = e2e_scalar(st, "SELECT count(*) FROM task_attempts a JOIN tasks t "
                             "ON t.id = a.task_id WHERE t.activity = 'test.echo' "
                             "AND a.attempt > 1");
    *dups = e2e_scalar(st, "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c "
                           "FROM tasks WHERE activity = 'test.echo' "
                           "GROUP BY instance_id, args->>'i' HAVING count(*) > 1) d");
}

void e2e_phase_recovery(e2e_stack_t *st, const e2e_opts_t *o)
{
    size_t r = o->in_flight, k = o->steps;
    e2e_stack_fresh(st, "settle_e2e_rec");
    e2e_stack_deploy(st, "e2e_paced.flow", E2E_FLOW_PACED);
    e2e_stack_run(st);
    int batch = e2e_batch_supported(st->port);
    e2e_starts_t s = {.body = body_rec,
                      .ctx = &k,
                      .clients = batch ? o->batch_clients : o->clients,
                      .per_batch = batch ? o->per_batch : 0};
    double start_s = e2e_starts_run(st->port, r, &s);
    usleep(o->kill_after_ms * 1000);
    e2e_stack_kill(st, SIGKILL);
    double ended_before = e2e_scalar(st, ENDED);
    size_t in_flight = r - (size_t)ended_before;
    if (in_flight == 0)
        e2e_die("recovery", "every flow ended before the kill; give more --in-flight or "
                            "--steps, or a smaller --kill-after");
    int64_t restart = e2e_wall_us();
    double t0 = e2e_mono_s();
    e2e_stack_run(st);
    double ready = e2e_mono_s() - t0;
    char moved[256];
    snprintf(moved, sizeof moved,
             "SELECT count(*) FROM (SELECT 1 FROM instances WHERE flow = 'e2e_paced' "
             "AND updated_at > to_timestamp(%lld / 1e6) LIMIT 1) m",
             (long long)restart);
    e2e_wait_count(st, moved, 1, 300, "the first step after the restart");
    double first = e2e_mono_s() - t0;
    e2e_wait_count(st, ENDED, (double)r, 600 + (double)(r * k) / 200,
                   "every flow's end after the restart");
    double all = e2e_mono_s() - t0;
    if (e2e_scalar(st, "SELECT count(*) FROM instances WHERE flow = 'e2e_paced' "
                       "AND status <> 'completed'") > 0)
        e2e_die("recovery", "some flows did not complete after the restart");
    double reruns, dups;
    duplicates(st, r * k, &reruns, &dups);
    printf("recovery: %zu flows x %zu steps started (%s, %.2f s), %zu in flight at SIGKILL; "
           "same node restarted: ready after %.0f ms, first step after %.0f ms, all done "
           "after %.0f ms; %.0f task re-runs (same idempotency key), %.0f duplicate effects "
           "beyond the keys\n",
           r, k, batch ? "batch" : "single", start_s, in_flight, ready * 1e3, first * 1e3,
           all * 1e3, reruns, dups);
    e2e_figure("recovery_in_flight", (double)in_flight);
    e2e_figure("recovery_first_step_ms", first * 1e3);
    e2e_figure("recovery_all_done_ms", all * 1e3);
    e2e_figure("recovery_task_reruns", reruns);
    e2e_figure("recovery_duplicates", dups);
    e2e_stack_close(st);
}
