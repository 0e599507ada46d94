/*
 * st_sim_main.c — the stripe-sim command: parse flags, start the simulator
 * and its HTTP server, print the ready line, wait for SIGINT/SIGTERM.
 *
 * The ready line "stripe-sim listening on 127.0.0.1:PORT" is an interface:
 * tests and the demo parse it. Nothing printed here contains an API key or
 * a webhook secret.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "st_sim.h"
#include "st_sim_server.h"

static void usage(FILE *out)
{
    fputs("usage: stripe-sim [options]\n"
          "  A stateful Stripe emulator on 127.0.0.1 (see docs/stripe-sim.md).\n"
          "  --port N            listen port; 0 picks a free one (default 12111)\n"
          "  --seed N            seed for ids, the issuer model and faults (default 1)\n"
          "  --threads N         HTTP worker threads (default 2)\n"
          "  --webhook URL       register an endpoint receiving every event\n"
          "  --webhook-secret S  its whsec_ secret (default: generated, see /_sim/webhooks)\n"
          "  --faults SPEC       fault rules, e.g. 'latency=1-5;/v1/payment_intents*:5xx=0.1'\n"
          "                      (also STRIPE_SIM_FAULTS)\n"
          "  --book FILE         load a customer book (TSV) at start\n"
          "  --clock-start T     sim time at start, unix seconds (default: now)\n"
          "  --frozen-clock      sim time moves only by POST /_sim/clock/advance\n"
          "  --quiet             no per-request log lines\n"
          "  --help              this text\n",
          out);
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end;
    *out = strtoull(s, &end, 10);
    return *s && !*end ? 0 : -1;
}

static int parse_args(int argc, char **argv, st_sim_config_t *cfg, unsigned long long *port,
                      unsigned long long *threads)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"webhook", required_argument, NULL, 'w'},
                                         {"webhook-secret", required_argument, NULL, 'W'},
                                         {"faults", required_argument, NULL, 'f'},
                                         {"book", required_argument, NULL, 'b'},
                                         {"clock-start", required_argument, NULL, 'c'},
                                         {"frozen-clock", no_argument, NULL, 'F'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    unsigned long long v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_u64(optarg, port) < 0 || *port > 65535)
                return -1;
            break;
        case 's':
            if (parse_u64(optarg, &v) < 0)
                return -1;
            cfg->seed = v;
            break;
        case 't':
            if (parse_u64(optarg, threads) < 0 || *threads < 1 || *threads > 64)
                return -1;
            break;
        case 'w':
            cfg->webhook_url = optarg;
            break;
        case 'W':
            cfg->webhook_secret = optarg;
            break;
        case 'f':
            cfg->faults = optarg;
            break;
        case 'b':
            cfg->book = optarg;
            break;
        case 'c':
            if (parse_u64(optarg, &v) < 0)
                return -1;
            cfg->clock_start = (int64_t)v;
            break;
        case 'F':
            cfg->clock_frozen = 1;
            break;
        case 'q':
            cfg->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

/*
 * Allocator settings for a store that only grows: one arena (per-thread
 * arenas grow a page per mprotect call: a dozen syscalls per confirm),
 * a 64 MiB top pad, transparent huge pages for the heap (a quarter of
 * the confirm path was page faults), and 256 instead of 7 freed chunks per
 * size kept in each thread's cache (a request frees a PaymentIntent tree
 * of some sixty chunks and the next one builds it again; going through the
 * arena's bins for them was a fifth of the sim's CPU). Huge pages and the
 * cache size can only be set through GLIBC_TUNABLES, read at start-up, so
 * the first run sets it and re-executes itself once; if that fails it
 * carries on with mallopt.
 */
static void tune_malloc(char **argv)
{
    static const char tunables[] = "glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:"
                                   "glibc.malloc.top_pad=67108864:glibc.malloc.tcache_count=256";
    if (!getenv("GLIBC_TUNABLES") && setenv("GLIBC_TUNABLES", tunables, 1) == 0)
        execv("/proc/self/exe", argv);
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TOP_PAD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int main(int argc, char **argv)
{
    tune_malloc(argv);
    st_sim_config_t cfg = {.seed = 1};
    unsigned long long port = 12111, threads = 2;
    cfg.faults = getenv("STRIPE_SIM_FAULTS");
    if (parse_args(argc, argv, &cfg, &port, &threads) < 0) {
        usage(stderr);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits the mask */
    signal(SIGPIPE, SIG_IGN);
    st_err_t err;
    char buf[2048];
    st_sim_t *sim = NULL;
    st_sim_server_t *srv = NULL;
    if (st_sim_new(&cfg, &sim, &err) < 0 ||
        st_sim_server_start(sim, (uint16_t)port, (unsigned)threads, cfg.quiet, &srv, &err) < 0) {
        fprintf(stderr, "stripe-sim: %s", st_err_format(&err, buf, sizeof(buf)));
        st_sim_free(sim);
        return 1;
    }
    printf("stripe-sim listening on 127.0.0.1:%u\n", (unsigned)st_sim_server_port(srv));
    fflush(stdout);
    int sig;
    sigwait(&set, &sig);
    st_sim_server_stop(srv);
    st_sim_free(sim);
    return 0;
}
