/*
 * bench_store_sim.c — bench_timers section: the horizon machinery with a
 * synthetic store of many sleeping flows (no PostgreSQL).
 *
 * Layer: tool. Uses engine/timer's public API and libev.
 *
 * The "store" is arithmetic: flow i wakes at start + i*gap + jitter(i),
 * jitter < gap, so the rows of a window are an index range and 10M flows
 * cost no memory. A paged loader (at most `page` rows a call, skip hint to
 * the next row) fills entries from a fixed pool; fired entries go back to
 * the pool. The driver runs on a virtual clock through a 30-day advance:
 * every flow must fire once, in order, at its due tick. Reports timers in
 * memory at most, loader calls, RSS and virtual fires per second. The real
 * store-rss figure needs engine/store's loader instead of this one.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_timers.h"
#include "timer/st_timer_driver.h"

#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)

typedef struct sim {
    st_timer_driver_t *drv;
    st_timer_wheel_t *wheel;
    st_clock_t clock;
    int64_t start, gap, tick; /* store layout; wheel tick */
    size_t nflows;            /* rows in the store */
    size_t page;              /* rows per loader call at most */
    st_timer_entry_t *pool;   /* entries; spare = flow id */
    uint32_t *free_ix;        /* free pool slots */
    size_t nfree, npool;
    size_t fired, bad, max_pending;
    int64_t last_at;
    uint64_t loads;
} sim_t;

static int64_t wake_of(const sim_t *s, size_t i)
{
    uint64_t h = (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 29;
    return s->start + (int64_t)i * s->gap + (int64_t)(h % (uint64_t)s->gap);
}

/* First flow waking at or after t. */
static size_t first_at(const sim_t *s, int64_t t)
{
    if (t <= s->start)
        return 0;
    size_t i = (size_t)((t - s->start) / s->gap);
    if (i > s->nflows)
        return s->nflows;
    while (i < s->nflows && wake_of(s, i) < t)
        i++;
    return i;
}

static int load(void *arg, int64_t from, int64_t to, int64_t *covered, st_err_t *err)
{
    sim_t *s = arg;
    s->loads++;
    size_t i = first_at(s, from);
    size_t n = 0;
    for (; i < s->nflows && wake_of(s, i) < to; i++) {
        if (n == s->page || s->nfree == 0) {
            *covered = wake_of(s, i); /* page full: complete up to this row */
            return 0;
        }
        st_timer_entry_t *e = &s->pool[s->free_ix[--s->nfree]];
        e->spare = (uint32_t)i;
        st_timer_driver_insert(s->drv, e, wake_of(s, i));
        n++;
    }
    *covered = i < s->nflows ? wake_of(s, i) : ST_TIMER_NEVER;
    return 0;
}

static void on_fire(st_timer_entry_t *e, void *arg)
{
    sim_t *s = arg;
    int64_t now = st_clock_now_us(&s->clock);
    int64_t due = wake_of(s, e->spare);
    if (now != (due + s->tick - 1) / s->tick * s->tick || now < s->last_at)
        s->bad++;
    s->last_at = now;
    s->fired++;
    size_t p = st_timer_wheel_pending(s->wheel);
    s->max_pending = p > s->max_pending ? p : s->max_pending;
    s->free_ix[s->nfree++] = (uint32_t)(e - s->pool);
}

static int run(bench_t *b, sim_t *s, struct ev_loop *loop)
{
    st_timer_driver_opts_t o = {.loop = loop,
                                .wheel = s->wheel,
                                .clock = &s->clock,
                                .fire = on_fire,
                                .fire_arg = s,
                                .load = load,
                                .load_arg = s,
                                .batch = 4096};
    st_err_t err;
    if (st_timer_driver_new(&o, &s->drv, &err) != 0)
        return fprintf(stderr, "bench_timers: %s\n", err.msg), 1;
    st_timer_driver_start(s->drv);
    long rss0 = bench_rss_kib();
    int64_t t0 = bench_mono_ns();
    st_timer_driver_advance(s->drv, 30 * DAY, NULL);
    ev_run(loop, 0);
    double secs = (double)(bench_mono_ns() - t0) / 1e9;
    printf("store-sim      %zu flows asleep over 30 days in a synthetic store; virtual clock, "
           "horizon 5 min, page %zu\n",
           s->nflows, s->page);
    printf("  fired %zu (order/time violations %zu) in %.2f s: %.0f fires/s virtual\n", s->fired,
           s->bad, secs, (double)s->fired / secs);
    printf("  timers in memory at most %zu; loader calls %llu; RSS %.1f MiB (+%.1f MiB during "
           "the run)\n",
           s->max_pending, (unsigned long long)s->loads, (double)bench_rss_kib() / 1024.0,
           (double)(bench_rss_kib() - rss0) / 1024.0);
    st_timer_driver_free(s->drv);
    return s->fired == s->nflows && s->bad == 0 ? 0 : 1;
}

int bench_store_sim(bench_t *b)
{
    sim_t s = {.nflows = b->n * 10, .page = 10000, .npool = 65536, .tick = b->tick_us};
    st_clock_init_virtual(&s.clock, INT64_C(1767225600) * SEC);
    s.start = st_clock_now_us(&s.clock) + 1;
    s.gap = 30 * DAY / (int64_t)s.nflows;
    s.last_at = INT64_MIN;
    s.pool = calloc(s.npool, sizeof *s.pool);
    s.free_ix = malloc(s.npool * sizeof *s.free_ix);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_timer_wheel_opts_t wo = {.tick_us = b->tick_us, .start_us = st_clock_now_us(&s.clock)};
    int rc = 1;
    if (s.gap < 1 || !s.pool || !s.free_ix || !loop || st_timer_wheel_new(&wo, &s.wheel, NULL)) {
        fprintf(stderr, "bench_timers: cannot set up the store simulation\n");
    } else {
        for (size_t i = 0; i < s.npool; i++)
            s.free_ix[s.nfree++] = (uint32_t)i;
        rc = run(b, &s, loop);
    }
    st_timer_wheel_free(s.wheel);
    free(s.pool);
    free(s.free_ix);
    if (loop)
        ev_loop_destroy(loop);
    return rc;
}
