/*
 * bench_lateness.c — bench_timers section: wake-up lateness of the libev
 * driver on the real clock, timers due at a steady rate while many others
 * sleep behind them in the same wheel.
 *
 * Layer: tool. Uses engine/timer's public API and libev.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench_timers.h"
#include "timer/st_timer_driver.h"

#define SEC INT64_C(1000000)

typedef struct lat {
    struct ev_loop *loop;
    st_clock_t clock;
    st_timer_entry_t *probe; /* timers due at the steady rate */
    size_t nprobe;
    int64_t *late; /* lateness per probe, µs */
    size_t nlate;
    size_t stray; /* sleepers that fired (should be none) */
} lat_t;

static void on_fire(st_timer_entry_t *e, void *arg)
{
    lat_t *l = arg;
    int64_t now = st_clock_now_us(&l->clock);
    if (e < l->probe || e >= l->probe + l->nprobe) {
        l->stray++;
        return;
    }
    l->late[l->nlate++] = now - e->due_us;
    if (l->nlate == l->nprobe)
        ev_break(l->loop, EVBREAK_ALL);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void report(const bench_t *b, lat_t *l, double cpu, double wall)
{
    qsort(l->late, l->nlate, sizeof *l->late, cmp_i64);
    int64_t p50 = l->late[l->nlate / 2];
    int64_t p99 = l->late[(l->nlate * 99) / 100];
    int64_t max = l->late[l->nlate - 1];
    printf("lateness       %zu fires at %.0f/s over %.1fs, %zu timers asleep, tick=%lldus\n",
           l->nlate, b->rate, b->seconds, b->n, (long long)b->tick_us);
    printf("  lateness p50 %.3f ms  p99 %.3f ms  max %.3f ms  (min %.3f ms; target p99 < 10 ms)\n",
           (double)p50 / 1e3, (double)p99 / 1e3, (double)max / 1e3, (double)l->late[0] / 1e3);
    printf("  loop CPU %.1f%% of one core; RSS %.1f MiB; stray fires %zu\n", 100.0 * cpu / wall,
           (double)bench_rss_kib() / 1024.0, l->stray);
}

static int run(bench_t *b, lat_t *l, st_timer_wheel_t *w, st_timer_entry_t *sleepers)
{
    st_timer_driver_opts_t o = {
        .loop = l->loop, .wheel = w, .clock = &l->clock, .fire = on_fire, .fire_arg = l};
    st_timer_driver_t *d = NULL;
    st_err_t err;
    if (st_timer_driver_new(&o, &d, &err) != 0)
        return fprintf(stderr, "bench_timers: %s\n", err.msg), 1;
    int64_t now = st_clock_now_us(&l->clock);
    int64_t end = now + (int64_t)(b->seconds * 1e6) + SEC;
    for (size_t i = 0; i < b->n; i++) /* asleep past the end of the run */
        st_timer_driver_insert(d, &sleepers[i],
                               end + 60 * SEC + (int64_t)(bench_rnd(b) % 3600000000u));
    int64_t t0 = st_clock_now_us(&l->clock) + 500000;
    for (size_t i = 0; i < l->nprobe; i++)
        st_timer_driver_insert(d, &l->probe[i], t0 + (int64_t)((double)i * 1e6 / b->rate));
    st_timer_driver_start(d);
    double c0 = cpu_s();
    int64_t w0 = st_clock_mono_us(&l->clock);
    ev_run(l->loop, 0);
    double wall = (double)(st_clock_mono_us(&l->clock) - w0) / 1e6;
    double cpu = cpu_s() - c0;
    st_timer_driver_free(d);
    if (l->nlate != l->nprobe)
        return fprintf(stderr, "bench_timers: only %zu of %zu fired\n", l->nlate, l->nprobe), 1;
    report(b, l, cpu, wall);
    return 0;
}

int bench_lateness(bench_t *b)
{
    lat_t l = {0};
    st_clock_init_real(&l.clock);
    l.loop = ev_loop_new(EVFLAG_AUTO);
    l.nprobe = (size_t)(b->rate * b->seconds);
    l.probe = calloc(l.nprobe, sizeof *l.probe);
    l.late = calloc(l.nprobe, sizeof *l.late);
    st_timer_entry_t *sleepers = calloc(b->n, sizeof *sleepers);
    st_timer_wheel_opts_t wo = {.tick_us = b->tick_us, .start_us = st_clock_now_us(&l.clock)};
    st_timer_wheel_t *w = NULL;
    int rc = 1;
    if (l.loop && l.probe && l.late && sleepers && l.nprobe &&
        st_timer_wheel_new(&wo, &w, NULL) == 0)
        rc = run(b, &l, w, sleepers);
    else
        fprintf(stderr, "bench_timers: cannot set up the lateness run\n");
    st_timer_wheel_free(w);
    free(sleepers);
    free(l.probe);
    free(l.late);
    if (l.loop)
        ev_loop_destroy(l.loop);
    return rc;
}
