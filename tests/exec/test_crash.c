/*
 * test_crash.c — kill settled at every named crash point, several times,
 * restart it, and prove nothing was lost or done twice.
 *
 * The workload: flows whose every step is an http.call to a sink in this
 * process. The sink records each request in a side table keyed by its
 * Idempotency-Key (distinct effects) and counts every request including
 * duplicates. settled runs as a real child process and dies by abort() at
 * SETTLE_CRASH_AT=point:N, as it would under kill -9.
 *
 * Asserts: every flow completes; every history is gapless; every task's key
 * reached the sink; the sink saw no key that is not a task's; each task is
 * one distinct effect however many times it was sent.
 */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec_harness.h"

#define FLOWS 16
#define STEPS 6

static const char FLOW[] = "flow effects\n"
                           "input url: string\n"
                           "input n: int\n"
                           "var i: int = 0\n"
                           "state work {\n"
                           "  do http.call(url: url, method: \"POST\", body: \"effect\")\n"
                           "  retry 5 times backoff 10ms..100ms\n"
                           "  on ok -> next\n"
                           "  on rejected -> broken\n"
                           "  on failed -> broken\n"
                           "}\n"
                           "state next {\n"
                           "  set i = i + 1\n"
                           "  if i >= n -> done\n"
                           "  else -> work\n"
                           "}\n"
                           "final done\n"
                           "fail broken \"the sink refused\"\n";

static harness_t h;
static PGconn *sink_pg;
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;
static long sink_requests;

static enum MHD_Result sink(void *cls, struct MHD_Connection *conn, const char *url,
                            const char *method, const char *version, const char *data, size_t *size,
                            void **state)
{
    static int marker;
    if (*state == NULL) {
        *state = &marker;
        return MHD_YES;
    }
    if (*size != 0) {
        *size = 0; /* body consumed */
        return MHD_YES;
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    pthread_mutex_lock(&sink_mu);
    sink_requests++;
    const char *params[1] = {key ? key : "(none)"};
    PQclear(PQexecParams(sink_pg,
                         "INSERT INTO test_effects (key, n) VALUES ($1, 1) ON CONFLICT (key) "
                         "DO UPDATE SET n = test_effects.n + 1",
                         1, NULL, params, NULL, NULL, 0));
    pthread_mutex_unlock(&sink_mu);
    static const char body[] = "{\"ok\":true}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    (void)cls, (void)url, (void)method, (void)version, (void)data;
    return ret;
}

static pid_t spawn_settled(const char *crash_at, int n)
{
    char bin[1024], node[32];
    snprintf(bin, sizeof bin, "%s/engine/daemon/settled", getenv("SETTLE_BINARY_DIR"));
    snprintf(node, sizeof node, "crash-%d", n);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (crash_at != NULL)
            setenv("SETTLE_CRASH_AT", crash_at, 1);
        else
            unsetenv("SETTLE_CRASH_AT");
        freopen("/dev/null", "w", stdout);
        execl(bin, bin, "run", "--dsn", h.dsn, "--lease-ttl-ms", "600", "--node", node,
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait for the child; returns its wait status, or -1 after the timeout. */
static int wait_child(pid_t pid, double timeout_s)
{
    for (int i = 0; i < (int)(timeout_s * 100); i++) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(10000);
    }
    return -1;
}

START_TEST(crash_at_every_point_loses_and_repeats_nothing)
{
    h_init(&h);
    h_deploy(&h, "effects.flow", FLOW);
    PQclear(st_test_exec(h.pg, "CREATE TABLE test_effects (key text PRIMARY KEY, n int)"));
    sink_pg = st_test_connect(h.dsn);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, sink,
                                            NULL, MHD_OPTION_END);
    ck_assert_ptr_nonnull(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char inputs[256];
    snprintf(inputs, sizeof inputs, "{\"url\": \"http://127.0.0.1:%u/effect\", \"n\": %d}",
             (unsigned)info->port, STEPS);
    for (int i = 0; i < FLOWS; i++)
        h_start(&h, "effects", inputs, NULL);

    const char *points[] = {"before_checkpoint", "after_commit", "after_dispatch", "after_result"};
    const int at[] = {3, 11, 17};
    int crashes = 0, run = 0;
    for (size_t p = 0; p < 4; p++) {
        for (size_t k = 0; k < 3; k++) {
            char spec[64];
            snprintf(spec, sizeof spec, "%s:%d", points[p], at[k]);
            pid_t pid = spawn_settled(spec, run++);
            int st = wait_child(pid, 30);
            if (st == -1) { /* the point was never reached: workload done */
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
            } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
                crashes++;
            }
            /* The dead node's lease must lapse before another takes over. */
            usleep(700000);
        }
    }
    ck_assert_msg(crashes >= 8, "only %d of 12 runs reached their crash point", crashes);

    char up[128];
    snprintf(up, sizeof up, "SELECT count(*) FROM nodes WHERE name = 'crash-%d'", run);
    pid_t pid = spawn_settled(NULL, run++);
    /* Running, not just forked: the crashed runs may have finished the
     * workload, and a SIGTERM before settled is up is no shutdown test. */
    ck_assert(h_until(&h, up, 1, 60));
    ck_assert(h_until(&h, "SELECT count(*) FROM instances WHERE status = 'completed'", FLOWS, 120));
    kill(pid, SIGTERM);
    int st = wait_child(pid, 20);
    ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "settled did not exit cleanly on SIGTERM (status %d)", st);
    MHD_stop_daemon(d);

    h_assert_gapless(&h);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks"), FLOWS * STEPS);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks WHERE status <> 'done'"), 0);
    /* Every task's effect arrived, under its own key, and nothing else did. */
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM tasks t WHERE NOT EXISTS "
                                  "(SELECT 1 FROM test_effects e WHERE e.key = t.idempotency_key)"),
                     0);
    ck_assert_int_eq(h_scalar(&h, "SELECT count(*) FROM test_effects e WHERE NOT EXISTS "
                                  "(SELECT 1 FROM tasks t WHERE t.idempotency_key = e.key)"),
                     0);
    long long distinct = h_scalar(&h, "SELECT count(*) FROM test_effects");
    long long total = h_scalar(&h, "SELECT sum(n) FROM test_effects");
    ck_assert_int_eq(distinct, FLOWS * STEPS);
    ck_assert_int_eq(total, sink_requests);
    fprintf(stderr, "crash test: %d crashes, %lld effects, %lld requests (%lld repeats)\n", crashes,
            distinct, total, total - distinct);
    PQfinish(sink_pg);
    h_fini(&h);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("crash");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, crash_at_every_point_loses_and_repeats_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
