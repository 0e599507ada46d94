/*
 * bench_e2e.c — settle measured as a user measures it: through the HTTP
 * API of a real `settled run --http`, from another process, against
 * PostgreSQL (fsync on for real figures).
 *
 * Phases (--phase, any number; default all), each on its own database of
 * the benchmark cluster:
 *   throughput  N flows x K test.echo steps started with POST /v1/instances
 *               by C keep-alive clients: starts/s, durable steps/s end to
 *               end, flow latency p50/p99 (start sent -> last step committed);
 *   batch       the same through POST /v1/instances/batch, B per request
 *               ("not supported by this settled" and on when it has none);
 *   light       one K-step flow at a time: completion latency p50/p99;
 *   wake        M flows asleep 1-10 s then one step: lateness p50/p99 from
 *               due time to the step committed, optionally with --asleep N
 *               others asleep for days (kept between runs, see
 *               e2e_phase_wake.c);
 *   recovery    R flows, kill -9, the same node restarted at once: time to
 *               the first step and to all done, duplicate effects.
 *
 * Only the binary under test (--settled) changes between runs, so two
 * builds compare side by side in alternating rounds (compare_e2e.py).
 * Every figure is also printed as "figure NAME VALUE". --smoke runs every
 * phase small (the ctest bench_e2e_smoke); a phase that measures nonsense
 * (nothing completed, a negative latency) exits 1, speed is never judged.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_bench.h"
#include "e2e_http.h"

const char E2E_FLOW_STEPS[] = "flow e2e\n"
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

const char E2E_FLOW_PACED[] = "flow e2e_paced\n"
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
                              "  else -> pause\n"
                              "}\n"
                              "state pause {\n"
                              "  sleep 1s\n"
                              "  on wake -> work\n"
                              "}\n"
                              "final done\n"
                              "fail broken \"echo failed\"\n";

const char E2E_FLOW_WAKE[] = "flow e2e_wake\n"
                             "input due: time\n"
                             "state nap {\n"
                             "  sleep until due max 1h\n"
                             "  on wake -> work\n"
                             "}\n"
                             "state work {\n"
                             "  do test.echo(i: 1)\n"
                             "  on ok -> done\n"
                             "  on failed -> broken\n"
                             "}\n"
                             "final done\n"
                             "fail broken \"echo failed\"\n";

const char E2E_FLOW_NAP[] = "flow e2e_nap\n"
                            "input due: time\n"
                            "state nap {\n"
                            "  sleep until due max 30d\n"
                            "  on wake -> done\n"
                            "}\n"
                            "final done\n";

static const struct {
    const char *name;
    int bit;
} PHASES[] = {{"throughput", PH_THROUGHPUT},
              {"batch", PH_BATCH},
              {"light", PH_LIGHT},
              {"wake", PH_WAKE},
              {"recovery", PH_RECOVERY},
              {"all", PH_THROUGHPUT | PH_BATCH | PH_LIGHT | PH_WAKE | PH_RECOVERY}};

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_e2e [--settled PATH] [--dsn ADMIN_DSN] [--smoke]\n"
            "                 [--phase throughput|batch|light|wake|recovery|all]...\n"
            "                 [--flows N] [--steps K] [--clients C] [--batch-size B]\n"
            "                 [--batch-clients C] [--light N] [--sleepers M] [--sleep-max S]\n"
            "                 [--asleep N] [--in-flight R] [--kill-after MS] [--node NAME]\n"
            "                 [--run-arg ARG]... [--seed S] [--patience SECONDS]\n"
            "defaults: 20000 flows x 5 steps, 50 clients, batches of 1000 from 4 clients,\n"
            "1000 light flows, 5000 sleepers for 1-10 s, 0 asleep, 10000 in flight killed\n"
            "200 ms after their starts, node bench-e2e-<pid>. ADMIN_DSN defaults to\n"
            "$SETTLE_BENCH_DSN, then $SETTLE_TEST_DSN; the bench makes and drops databases\n"
            "there, and keeps one per --asleep N and binary (settle_e2e_asleep<N>_<hash>).\n"
            "--patience S gives up waiting for flows after S seconds (default: by size).\n");
    exit(2);
}

static size_t count_arg(const char *s, size_t min)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < min || v > 100000000ULL)
        usage();
    return (size_t)v;
}

static int phase_bit(const char *name)
{
    for (size_t i = 0; i < sizeof PHASES / sizeof PHASES[0]; i++)
        if (strcmp(name, PHASES[i].name) == 0)
            return PHASES[i].bit;
    usage();
    return 0;
}

/* Small sizes for every phase, and a short lease so the old restart path
 * (waiting for the lease) still fits the test's time. */
static void smoke(e2e_opts_t *o, unsigned *nargs)
{
    o->flows = 200;
    o->steps = 2;
    o->clients = 8;
    o->per_batch = 50;
    o->batch_clients = 2;
    o->light = 20;
    o->sleepers = 50;
    o->sleep_max_s = 3;
    o->asleep = 1000;
    o->in_flight = 300;
    o->kill_after_ms = 0;
    o->run_args[(*nargs)++] = "--lease-ttl-ms";
    o->run_args[(*nargs)++] = "2000";
}

static void parse(int argc, char **argv, e2e_opts_t *o)
{
    static const struct option longs[] = {
        {"settled", 1, 0, 'b'},    {"dsn", 1, 0, 'd'},           {"phase", 1, 0, 'p'},
        {"flows", 1, 0, 'n'},      {"steps", 1, 0, 'k'},         {"clients", 1, 0, 'c'},
        {"batch-size", 1, 0, 'B'}, {"batch-clients", 1, 0, 'C'}, {"light", 1, 0, 'l'},
        {"sleepers", 1, 0, 'm'},   {"asleep", 1, 0, 'A'},        {"in-flight", 1, 0, 'r'},
        {"kill-after", 1, 0, 'K'}, {"node", 1, 0, 'N'},          {"run-arg", 1, 0, 'a'},
        {"seed", 1, 0, 's'},       {"smoke", 0, 0, 'S'},         {"sleep-max", 1, 0, 'M'},
        {"patience", 1, 0, 'P'},   {"help", 0, 0, 'h'},          {0, 0, 0, 0}};
    unsigned nargs = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (nargs + 3 >= sizeof o->run_args / sizeof o->run_args[0])
            usage();
        switch (c) {
        case 'b':
            o->settled = optarg;
            break;
        case 'd':
            o->dsn = optarg;
            break;
        case 'p':
            o->phases |= phase_bit(optarg);
            break;
        case 'n':
            o->flows = count_arg(optarg, 1);
            break;
        case 'k':
            o->steps = count_arg(optarg, 1);
            break;
        case 'c':
            o->clients = (unsigned)count_arg(optarg, 1);
            break;
        case 'B':
            o->per_batch = count_arg(optarg, 1);
            break;
        case 'C':
            o->batch_clients = (unsigned)count_arg(optarg, 1);
            break;
        case 'l':
            o->light = count_arg(optarg, 1);
            break;
        case 'm':
            o->sleepers = count_arg(optarg, 1);
            break;
        case 'P':
            e2e_patience_s = (double)count_arg(optarg, 1);
            break;
        case 'M':
            o->sleep_max_s = (unsigned)count_arg(optarg, 1);
            break;
        case 'A':
            o->asleep = count_arg(optarg, 0);
            break;
        case 'r':
            o->in_flight = count_arg(optarg, 1);
            break;
        case 'K':
            o->kill_after_ms = (unsigned)count_arg(optarg, 0);
            break;
        case 'N':
            o->node = optarg;
            break;
        case 's':
            o->seed = (unsigned)count_arg(optarg, 0);
            break;
        case 'S':
            smoke(o, &nargs);
            break;
        case 'a':
            o->run_args[nargs++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || o->per_batch > 1000)
        usage();
}

int main(int argc, char **argv)
{
    e2e_opts_t o = {.settled = "build/engine/daemon/settled",
                    .flows = 20000,
                    .steps = 5,
                    .clients = 50,
                    .per_batch = 1000,
                    .batch_clients = 4,
                    .light = 1000,
                    .sleepers = 5000,
                    .sleep_max_s = 10,
                    .in_flight = 10000,
                    .kill_after_ms = 200,
                    .seed = 1};
    parse(argc, argv, &o);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress shows as it comes, also in a file */
    if (o.dsn == NULL)
        o.dsn = getenv("SETTLE_BENCH_DSN");
    if (o.dsn == NULL)
        o.dsn = getenv("SETTLE_TEST_DSN");
    if (o.dsn == NULL)
        e2e_die("no cluster", "give --dsn or set SETTLE_BENCH_DSN (e.g. from tools/pgdev start)");
    if (access(o.settled, X_OK) != 0)
        e2e_die(o.settled, "not an executable settled; give --settled PATH");
    if (o.phases == 0)
        o.phases = phase_bit("all");
    signal(SIGPIPE, SIG_IGN);
    char node[64];
    if (o.node == NULL) { /* unique, so concurrent benchmarks never share an identity */
        snprintf(node, sizeof node, "bench-e2e-%d", (int)getpid());
        o.node = node;
    }
    e2e_stack_t st = {
        .settled = o.settled, .admin_dsn = o.dsn, .run_args = o.run_args, .node = o.node};
    if (o.phases & PH_THROUGHPUT)
        e2e_phase_load(&st, &o, 0);
    if (o.phases & PH_BATCH)
        e2e_phase_load(&st, &o, 1);
    if (o.phases & PH_LIGHT)
        e2e_phase_light(&st, &o);
    if (o.phases & PH_WAKE)
        e2e_phase_wake(&st, &o);
    if (o.phases & PH_RECOVERY)
        e2e_phase_recovery(&st, &o);
    return 0;
}
