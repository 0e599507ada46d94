/*
 * bench_timers.c — benchmark of the timer module (issue 5).
 *
 * Layer: tool; uses only the public headers of engine/timer.
 *
 * Sections, run in order (a table, so new ones slot in):
 *   wheel-horizon  N timers due within 5 minutes (what the engine holds in
 *                  memory): insert, cancel and fire cost per timer (ns),
 *                  memory per timer, RSS;
 *   wheel-spread   N timers spread over 30 days, all in memory (no
 *                  horizon): the same figures, with deep cascades;
 *   lateness       the libev driver on the real clock, timers due at
 *                  RATE/s for SECONDS with N timers asleep behind them:
 *                  wake-up lateness p50/p99/max against CLOCK_REALTIME;
 *   store-sim      10 x N flows asleep over 30 days in a synthetic store
 *                  (arithmetic, no PostgreSQL) behind the horizon loader
 *                  hook; a 30-day virtual advance fires all in order;
 *                  timers in memory at most, loader calls, RSS;
 *   store-rss      engine RSS with 10M sleeping flows in PostgreSQL; needs
 *                  the store's horizon loader, reported as not run until
 *                  engine/store provides it.
 *
 * Usage: bench_timers [-n timers] [-r fires_per_s] [-s seconds] [-t tick_us]
 *                     [section ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_timers.h"

uint64_t bench_rnd(bench_t *b)
{
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * UINT64_C(2685821657736338717);
}

int64_t bench_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long bench_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

static int sec_store_rss(bench_t *b)
{
    printf("store-rss      not run: needs the PostgreSQL horizon loader from engine/store\n"
           "               (10M rows in instances.wake_at, RSS with the 5-minute horizon)\n");
    return 0;
}

typedef struct section {
    const char *name;
    int (*run)(bench_t *b);
} section_t;

static const section_t sections[] = {
    {"wheel-horizon", bench_wheel_horizon}, {"wheel-spread", bench_wheel_spread},
    {"lateness", bench_lateness},           {"store-sim", bench_store_sim},
    {"store-rss", sec_store_rss},
};

static int usage(void)
{
    fprintf(stderr, "usage: bench_timers [-n timers] [-r fires_per_s] [-s seconds] [-t tick_us] "
                    "[wheel-horizon|wheel-spread|lateness|store-sim|store-rss ...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    bench_t b = {
        .n = 1000000, .rate = 10000, .seconds = 5, .tick_us = 1000, .rng = 88172645463325252u};
    int first = 1;
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (first + 1 >= argc)
            return usage();
        const char *v = argv[first + 1];
        switch (argv[first][1]) {
        case 'n':
            b.n = strtoul(v, NULL, 10);
            break;
        case 'r':
            b.rate = strtod(v, NULL);
            break;
        case 's':
            b.seconds = strtod(v, NULL);
            break;
        case 't':
            b.tick_us = strtoll(v, NULL, 10);
            break;
        default:
            return usage();
        }
    }
    if (b.n == 0 || b.rate <= 0 || b.seconds <= 0 || b.tick_us <= 0)
        return usage();
    int rc = 0;
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++) {
        int wanted = first == argc;
        for (int a = first; a < argc; a++)
            wanted |= strcmp(argv[a], sections[i].name) == 0;
        if (wanted)
            rc |= sections[i].run(&b);
        fflush(stdout);
    }
    return rc;
}
