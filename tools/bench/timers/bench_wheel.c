/*
 * bench_wheel.c — bench_timers sections on the bare wheel: insert, cancel
 * and fire cost per timer, memory per timer.
 *
 * Layer: tool. Uses engine/timer's public API only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_timers.h"
#include "timer/st_timer_wheel.h"

#define SEC INT64_C(1000000)

static void count_fire(st_timer_entry_t *e, void *arg)
{
    (*(size_t *)arg)++;
}

typedef struct costs {
    int64_t insert_ns, cancel_ns, fire_ns; /* totals */
    size_t advances, fired;
    long rss_kib; /* growth while inserting (wheel + entries) */
} costs_t;

static void measure(bench_t *b, st_timer_wheel_t *w, st_timer_entry_t *e, const int64_t *due,
                    costs_t *c)
{
    long rss0 = bench_rss_kib();
    int64_t t0 = bench_mono_ns();
    for (size_t i = 0; i < b->n; i++)
        st_timer_wheel_insert(w, &e[i], due[i]);
    int64_t t1 = bench_mono_ns();
    c->rss_kib = bench_rss_kib() - rss0;
    for (size_t i = 0; i < b->n; i++)
        st_timer_wheel_cancel(w, &e[i]);
    int64_t t2 = bench_mono_ns();
    for (size_t i = 0; i < b->n; i++)
        st_timer_wheel_insert(w, &e[i], due[i]);
    /* fire as the driver does: advance to each next due time */
    int64_t t3 = bench_mono_ns();
    int64_t next;
    while ((next = st_timer_wheel_next_due(w)) != ST_TIMER_NEVER) {
        st_timer_wheel_advance(w, next, SIZE_MAX, count_fire, &c->fired, NULL);
        c->advances++;
    }
    int64_t t4 = bench_mono_ns();
    c->insert_ns = t1 - t0;
    c->cancel_ns = t2 - t1;
    c->fire_ns = t4 - t3;
}

/* b->n timers due uniformly in (start, start + span]. */
static int wheel_costs(bench_t *b, const char *label, int64_t span_us)
{
    const int64_t start = INT64_C(1767225600) * SEC;
    int64_t *due = malloc(b->n * sizeof *due);
    if (!due)
        return fprintf(stderr, "bench_timers: out of memory\n"), 1;
    for (size_t i = 0; i < b->n; i++)
        due[i] = start + 1 + (int64_t)(bench_rnd(b) % (uint64_t)span_us);
    st_timer_wheel_opts_t o = {.tick_us = b->tick_us, .start_us = start};
    st_timer_wheel_t *w = NULL;
    st_err_t err;
    if (st_timer_wheel_new(&o, &w, &err) != 0) {
        free(due);
        return fprintf(stderr, "bench_timers: %s\n", err.msg), 1;
    }
    /* entries are caller-owned; here one array, as the engine would embed them */
    st_timer_entry_t *e = calloc(b->n, sizeof *e);
    costs_t c = {0};
    if (e)
        measure(b, w, e, due, &c);
    double n = (double)b->n;
    printf("%-14s timers=%zu span=%.0fs tick=%lldus\n", label, b->n, (double)span_us / 1e6,
           (long long)b->tick_us);
    printf("  insert  %7.1f ns/timer\n", (double)c.insert_ns / n);
    printf("  cancel  %7.1f ns/timer\n", (double)c.cancel_ns / n);
    printf("  fire    %7.1f ns/timer (cascades included; %zu advances, %zu fired)\n",
           (double)c.fire_ns / n, c.advances, c.fired);
    printf("  memory  %zu B/timer (entry, caller-owned), wheel fixed %.1f KiB, "
           "RSS growth on insert %.1f MiB\n",
           sizeof(st_timer_entry_t), (double)st_timer_wheel_footprint(w) / 1024.0,
           (double)c.rss_kib / 1024.0);
    st_timer_wheel_free(w);
    free(e);
    free(due);
    return e && c.fired == b->n ? 0 : 1;
}

int bench_wheel_horizon(bench_t *b)
{
    return wheel_costs(b, "wheel-horizon", 5 * 60 * SEC);
}

int bench_wheel_spread(bench_t *b)
{
    return wheel_costs(b, "wheel-spread", 30 * 86400 * SEC);
}
