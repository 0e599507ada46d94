/*
 * bench_e2e.c — settle measured as a user measures it: through the HTTP
 * API of a real `settled run --http`, from another process.
 *
 * Three phases, each on a fresh database of the benchmark cluster:
 *   throughput  N flows of K `test.echo` steps started by C keep-alive
 *               clients with POST /v1/instances; prints starts/s, durable
 *               steps/s from the first start to the last completion, and
 *               flow latency p50/p99 (created_at to completion);
 *   wake        M flows that `sleep until` a due time 1–10 s after their
 *               start was sent, then make an http.call to this program;
 *               prints p50/p99/max of arrival minus due time, an upper
 *               bound of "due to the committed next step";
 *   recovery    R flows stepping without end; settled is killed with
 *               SIGKILL and started again at once; prints the time from
 *               the restart to the first step and to every flow stepping.
 *
 * Only the binary under test (--settled) changes between runs, so two builds
 * compare side by side with tools/bench/alternate.py. The database is read
 * to observe, never written.
 *
 * Usage: bench_e2e [--settled PATH] [--dsn ADMIN_DSN] [--phase NAME]...
 *                  [--flows N] [--steps K] [--clients C] [--sleepers M]
 *                  [--in-flight R] [--run-arg ARG]... [--seed S]
 * ADMIN_DSN defaults to $SETTLE_BENCH_DSN, then $SETTLE_TEST_DSN.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_http.h"
#include "e2e_stack.h"

static const char FLOW_STEPS[] = "flow e2e\n"
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

static const char FLOW_WAKE[] = "flow e2e_wake\n"
                                "input due: time\n"
                                "input url: string\n"
                                "state nap {\n"
                                "  sleep until due max 1h\n"
                                "  on wake -> ping\n"
                                "}\n"
                                "state ping {\n"
                                "  do http.call(url: url)\n"
                                "  on ok -> done\n"
                                "  on rejected -> broken\n"
                                "  on failed -> broken\n"
                                "}\n"
                                "final done\n"
                                "fail broken \"ping failed\"\n";

typedef struct opts {
    const char *settled, *dsn;
    int phases; /* bit per phase */
    size_t flows, steps, sleepers, in_flight;
    unsigned clients;
    const char *run_args[32];
    unsigned seed;
} opts_t;

enum { PH_THROUGHPUT = 1, PH_WAKE = 2, PH_RECOVERY = 4 };

/* ---- starts through the API ------------------------------------------------------ */

typedef struct starts {
    const char *prefix; /* business key prefix */
    int (*body)(size_t i, char *buf, size_t cap, void *ctx);
    void *ctx;
    int64_t *answered_us; /* optional: when each start was answered */
    size_t ok, bad;
    int bad_status;
    char bad_body[256];
} starts_t;

static size_t make_start(size_t i, char *buf, size_t cap, void *ud)
{
    starts_t *s = ud;
    char body[1024];
    int blen = s->body(i, body, sizeof body, s->ctx);
    int n = snprintf(buf, cap,
                     "POST /v1/instances HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer " E2E_TOKEN "\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     blen, body);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void on_start(size_t i, int status, const char *body, size_t len, void *ud)
{
    starts_t *s = ud;
    if (s->answered_us != NULL)
        s->answered_us[i] = e2e_wall_us();
    if (status == 200 || status == 201) {
        s->ok++;
        return;
    }
    if (s->bad++ == 0) {
        s->bad_status = status;
        snprintf(s->bad_body, sizeof s->bad_body, "%.*s", (int)(len < 200 ? len : 200), body);
    }
}

/* Send n starts; dies when any is refused. Returns the seconds taken. */
static double send_starts(e2e_stack_t *st, const opts_t *o, size_t n, starts_t *s)
{
    e2e_http_stats_t hs;
    if (e2e_http_run(st->port, o->clients, n, make_start, on_start, s, &hs) != 0)
        e2e_die("starts", "no connection to settled");
    if (s->bad > 0) {
        char why[512];
        snprintf(why, sizeof why, "%zu of %zu refused; first: status %d %s", s->bad, n,
                 s->bad_status, s->bad_body);
        e2e_die("starts", why);
    }
    return hs.seconds;
}

/* Wait until `sql` counts at least want; dies after limit_s. */
static void wait_count(e2e_stack_t *st, const char *sql, double want, double limit_s,
                       const char *what)
{
    for (double t0 = e2e_mono_s(); e2e_scalar(st, sql) < want; usleep(10000))
        if (e2e_mono_s() - t0 > limit_s)
            e2e_die(what, "did not happen in time (is settled running? see its log)");
}

/* ---- phases ----------------------------------------------------------------------- */

static int body_steps(size_t i, char *buf, size_t cap, void *ctx)
{
    const size_t *k = ctx;
    return snprintf(buf, cap, "{\"flow\":\"e2e\",\"inputs\":{\"n\":%zu},\"business_key\":\"t%zu\"}",
                    *k, i);
}

static void phase_throughput(e2e_stack_t *st, const opts_t *o)
{
    e2e_stack_fresh(st, "settle_e2e_tp");
    e2e_stack_deploy(st, "e2e.flow", FLOW_STEPS);
    e2e_stack_run(st);
    size_t k = o->steps;
    starts_t s = {.body = body_steps, .ctx = &k};
    double t0 = e2e_mono_s();
    double start_s = send_starts(st, o, o->flows, &s);
    wait_count(st,
               "SELECT count(*) FROM instances WHERE status <> 'running' AND status <> 'waiting'",
               (double)o->flows, 600, "completion of every flow");
    double all_s = e2e_mono_s() - t0;
    double failed = e2e_scalar(st, "SELECT count(*) FROM instances WHERE status <> 'completed'");
    double p50 = e2e_scalar(st, "SELECT 1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY "
                                "extract(epoch FROM updated_at - created_at)) FROM instances");
    double p99 = e2e_scalar(st, "SELECT 1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY "
                                "extract(epoch FROM updated_at - created_at)) FROM instances");
    printf("throughput: %zu flows x %zu steps, %u clients: %.0f starts/s (%.2f s), "
           "%.0f durable steps/s end to end (%.2f s), flow latency p50 %.1f ms p99 %.1f ms\n",
           o->flows, k, o->clients, (double)o->flows / start_s, start_s,
           (double)(o->flows * k) / all_s, all_s, p50, p99);
    if (failed > 0)
        e2e_die("throughput", "some flows did not complete (see the database's instances)");
    e2e_stack_close(st);
}

typedef struct wake {
    int port;
    unsigned seed;
    int64_t *due, *sent;
} wake_t;

static int body_wake(size_t i, char *buf, size_t cap, void *ctx)
{
    wake_t *w = ctx;
    unsigned r = (unsigned)(i * 2654435761u) ^ w->seed;
    w->sent[i] = e2e_wall_us();
    w->due[i] = w->sent[i] + 1000000 + (int64_t)(r % 9000000u);
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e_wake\",\"inputs\":{\"due\":%lld,"
                    "\"url\":\"http://127.0.0.1:%d/w/%zu\"},\"business_key\":\"w%zu\"}",
                    (long long)w->due[i], w->port, i, i);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void phase_wake(e2e_stack_t *st, const opts_t *o)
{
    size_t m = o->sleepers;
    e2e_stack_fresh(st, "settle_e2e_wake");
    e2e_stack_deploy(st, "e2e_wake.flow", FLOW_WAKE);
    e2e_stack_run(st);
    e2e_recv_t *r = e2e_recv_start(m);
    wake_t w = {.port = e2e_recv_port(r), .seed = o->seed};
    w.due = calloc(m, sizeof *w.due);
    w.sent = calloc(m, sizeof *w.sent);
    int64_t *late = calloc(m, sizeof *late), *answered = calloc(m, sizeof *answered);
    if (w.due == NULL || w.sent == NULL || late == NULL || answered == NULL)
        e2e_die("wake", "out of memory");
    starts_t s = {.body = body_wake, .ctx = &w, .answered_us = answered};
    send_starts(st, o, m, &s);
    for (double t0 = e2e_mono_s(); e2e_recv_count(r) < m; usleep(20000))
        if (e2e_mono_s() - t0 > 60)
            e2e_die("wake", "not every flow called back within 60 s of its start");
    size_t n = 0, early_due = 0;
    for (size_t i = 0; i < m; i++) {
        if (answered[i] >= w.due[i]) {
            early_due++; /* due before its start was answered: not a wake figure */
            continue;
        }
        late[n++] = e2e_recv_first_us(r, i) - w.due[i];
    }
    qsort(late, n, sizeof *late, cmp_i64);
    if (n == 0)
        e2e_die("wake", "every flow was due before the starts were answered; use fewer");
    printf("wake: %zu flows asleep 1-10 s (%zu due before their start was answered, left out): "
           "wake lateness p50 %.1f ms p99 %.1f ms max %.1f ms (due to the next step's call)\n",
           m, early_due, (double)late[n / 2] / 1e3, (double)late[(n * 99) / 100] / 1e3,
           (double)late[n - 1] / 1e3);
    e2e_recv_stop(r);
    free(w.due);
    free(w.sent);
    free(late);
    free(answered);
    e2e_stack_close(st);
}

static int body_forever(size_t i, char *buf, size_t cap, void *ctx)
{
    return snprintf(
        buf, cap, "{\"flow\":\"e2e\",\"inputs\":{\"n\":1000000000},\"business_key\":\"r%zu\"}", i);
}

static void phase_recovery(e2e_stack_t *st, const opts_t *o)
{
    e2e_stack_fresh(st, "settle_e2e_rec");
    e2e_stack_deploy(st, "e2e.flow", FLOW_STEPS);
    e2e_stack_run(st);
    starts_t s = {.body = body_forever};
    send_starts(st, o, o->in_flight, &s);
    sleep(2);
    e2e_stack_kill(st, SIGKILL);
    int64_t restart = e2e_wall_us();
    double t0 = e2e_mono_s();
    e2e_stack_run(st);
    char moved[256];
    snprintf(moved, sizeof moved,
             "SELECT count(*) FROM instances WHERE updated_at > to_timestamp(%lld / 1e6)",
             (long long)restart);
    wait_count(st, moved, 1, 120, "the first step after the restart");
    double first = e2e_mono_s() - t0;
    /* Said before the long wait, so a run that never gets every flow
     * stepping still reports its first step. */
    printf("recovery: first step %.0f ms after the restart\n", first * 1e3);
    fflush(stdout);
    wait_count(st, moved, (double)o->in_flight, 120, "every flow stepping after the restart");
    double all = e2e_mono_s() - t0;
    printf("recovery: %zu flows in flight, SIGKILL and restart: first step after %.0f ms, "
           "all %zu stepping after %.0f ms\n",
           o->in_flight, first * 1e3, o->in_flight, all * 1e3);
    e2e_stack_close(st);
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_e2e [--settled PATH] [--dsn ADMIN_DSN] "
            "[--phase throughput|wake|recovery]...\n"
            "                 [--flows N] [--steps K] [--clients C] [--sleepers M] "
            "[--in-flight R]\n"
            "                 [--run-arg ARG]... [--seed S]\n"
            "ADMIN_DSN defaults to $SETTLE_BENCH_DSN, then $SETTLE_TEST_DSN; the bench makes "
            "and drops databases there.\n");
    exit(2);
}

static size_t count_arg(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > 100000000ULL)
        usage();
    return (size_t)v;
}

static void parse(int argc, char **argv, opts_t *o)
{
    static const struct option longs[] = {
        {"settled", 1, 0, 'b'},  {"dsn", 1, 0, 'd'},       {"phase", 1, 0, 'p'},
        {"flows", 1, 0, 'n'},    {"steps", 1, 0, 'k'},     {"clients", 1, 0, 'c'},
        {"sleepers", 1, 0, 'm'}, {"in-flight", 1, 0, 'r'}, {"run-arg", 1, 0, 'a'},
        {"seed", 1, 0, 's'},     {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    unsigned nargs = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->settled = optarg;
            break;
        case 'd':
            o->dsn = optarg;
            break;
        case 'p':
            o->phases |= strcmp(optarg, "throughput") == 0 ? PH_THROUGHPUT
                         : strcmp(optarg, "wake") == 0     ? PH_WAKE
                         : strcmp(optarg, "recovery") == 0 ? PH_RECOVERY
                                                           : (usage(), 0);
            break;
        case 'n':
            o->flows = count_arg(optarg);
            break;
        case 'k':
            o->steps = count_arg(optarg);
            break;
        case 'c':
            o->clients = (unsigned)count_arg(optarg);
            break;
        case 'm':
            o->sleepers = count_arg(optarg);
            break;
        case 'r':
            o->in_flight = count_arg(optarg);
            break;
        case 's':
            o->seed = (unsigned)count_arg(optarg);
            break;
        case 'a':
            if (nargs + 1 >= sizeof o->run_args / sizeof o->run_args[0])
                usage();
            o->run_args[nargs++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
}

int main(int argc, char **argv)
{
    opts_t o = {.settled = "build/engine/daemon/settled",
                .flows = 20000,
                .steps = 5,
                .clients = 50,
                .sleepers = 5000,
                .in_flight = 500,
                .seed = 1};
    parse(argc, argv, &o);
    if (o.dsn == NULL)
        o.dsn = getenv("SETTLE_BENCH_DSN");
    if (o.dsn == NULL)
        o.dsn = getenv("SETTLE_TEST_DSN");
    if (o.dsn == NULL)
        e2e_die("no cluster", "give --dsn or set SETTLE_BENCH_DSN (e.g. from tools/pgdev start)");
    if (access(o.settled, X_OK) != 0)
        e2e_die(o.settled, "not an executable settled; give --settled PATH");
    if (o.phases == 0)
        o.phases = PH_THROUGHPUT | PH_WAKE | PH_RECOVERY;
    signal(SIGPIPE, SIG_IGN);
    e2e_stack_t st = {.settled = o.settled, .admin_dsn = o.dsn, .run_args = o.run_args};
    if (o.phases & PH_THROUGHPUT)
        phase_throughput(&st, &o);
    if (o.phases & PH_WAKE)
        phase_wake(&st, &o);
    if (o.phases & PH_RECOVERY)
        phase_recovery(&st, &o);
    return 0;
}
