/*
 * bench_timers.h — shared declarations of the bench_timers program: the
 * run parameters, helpers and one function per section.
 *
 * Layer: tool (tools/bench/timers). Uses only engine/timer's public API.
 */
#ifndef BENCH_TIMERS_H
#define BENCH_TIMERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench {
    size_t n;        /* timers asleep */
    double rate;     /* fires per second in the lateness section */
    double seconds;  /* length of the lateness section */
    int64_t tick_us; /* wheel tick */
    uint64_t rng;    /* xorshift state */
} bench_t;

uint64_t bench_rnd(bench_t *b);
int64_t bench_mono_ns(void);
long bench_rss_kib(void); /* VmRSS in KiB, -1 if unknown */

int bench_wheel_horizon(bench_t *b);
int bench_wheel_spread(bench_t *b);
int bench_lateness(bench_t *b);
int bench_store_sim(bench_t *b); /* 10 x n flows in a synthetic store */

#endif
