/*
 * test_timer_driver.c — the libev driver with virtual and real clocks.
 *
 * Virtual: a 30-day advance over 100k timers fires them in due order with
 * the clock reading each due tick, callbacks schedule follow-ups that fire
 * in order too, and a horizon loader backed by a fake store (paged, with
 * skip hints, synchronous, asynchronous and failing) keeps memory to the
 * horizon. Real: a few timers fire within a loose tolerance (speed targets
 * live in tools/bench/timers, not here).
 */
#include <check.h>
#include <stdlib.h>

#include "st_test.h"
#include "timer/st_timer_driver.h"

#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)
#define T0  (INT64_C(1767225600) * SEC) /* 2026-01-01T00:00:00Z */

typedef struct flow {
    st_timer_entry_t e;
    int64_t wake; /* stored wake time */
    int fired;
} flow_t;

typedef struct world {
    struct ev_loop *loop;
    st_timer_wheel_t *wheel;
    st_clock_t clock;
    st_timer_driver_t *drv;
    flow_t *flows; /* sorted by wake: the fake store */
    size_t n;
    size_t fired;
    int64_t last_at; /* clock at the previous fire */
    int bad_order;
    int bad_time;
    int followups; /* virtual: fires schedule a follow-up this many times */
    flow_t extra[64];
    size_t nextra;
    int reached;
    size_t max_pending;
    /* loader */
    size_t page; /* rows per load */
    int64_t last_to;
    int gap;        /* loader saw a window not starting where the last ended */
    int fail_first; /* fail this many loads */
    int async;      /* complete loads from a zero timer */
    ev_timer async_tm;
    int64_t a_from, a_to;
    int64_t max_late;               /* real clock */
    int phase;                      /* real_clock_earlier_timer_rearms_the_loop: steps done */
    int stop_after;                 /* stop the driver from the callback after this many fires */
    unsigned first_iter, last_iter; /* loop iterations at the first and last fire */
} world_t;

static int64_t tick_ceil(int64_t t)
{
    return (t + 999) / 1000 * 1000; /* 1 ms ticks */
}

static void on_fire(st_timer_entry_t *e, void *arg)
{
    world_t *x = arg;
    flow_t *f = (flow_t *)e;
    int64_t now = st_clock_now_us(&x->clock);
    f->fired++;
    x->fired++;
    x->last_iter = ev_iteration(x->loop);
    if (x->fired == 1)
        x->first_iter = x->last_iter;
    if (st_clock_is_virtual(&x->clock)) {
        int64_t expect = tick_ceil(f->wake) > T0 ? tick_ceil(f->wake) : T0; /* overdue: at once */
        if (now != expect)
            x->bad_time++;
        if (now < x->last_at)
            x->bad_order++;
    } else {
        int64_t late = now - f->wake;
        if (late < 0)
            x->bad_time++;
        if (late > x->max_late)
            x->max_late = late;
        if (x->fired == x->n)
            ev_break(x->loop, EVBREAK_ALL);
        if (x->stop_after && x->fired == (size_t)x->stop_after)
            st_timer_driver_stop(x->drv);
    }
    x->last_at = now;
    size_t p = st_timer_wheel_pending(x->wheel);
    x->max_pending = p > x->max_pending ? p : x->max_pending;
    if (x->followups > 0 && x->nextra < 64) {
        /* a transition schedules the next step a few hours later */
        flow_t *g = &x->extra[x->nextra++];
        g->wake = now + 3 * 3600 * SEC + 17;
        x->followups--;
        ck_assert_int_eq(st_timer_driver_insert(x->drv, &g->e, g->wake), 1);
    }
}

static void on_reached(void *arg)
{
    ((world_t *)arg)->reached++;
}

/* Load rows of the fake store in [from, to), at most x->page of them. */
static int load_rows(world_t *x, int64_t from, int64_t to, int64_t *covered)
{
    size_t i = 0;
    while (i < x->n && x->flows[i].wake < from)
        i++;
    size_t loaded = 0;
    for (; i < x->n && x->flows[i].wake < to; i++) {
        if (x->page && loaded == x->page) {
            *covered = x->flows[i].wake; /* page full: complete up to here */
            return 0;
        }
        st_timer_driver_insert(x->drv, &x->flows[i].e, x->flows[i].wake);
        loaded++;
    }
    /* whole window loaded; nothing stored before the next row */
    *covered = i < x->n ? x->flows[i].wake : ST_TIMER_NEVER;
    return 0;
}

static void async_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    world_t *x = t->data;
    int64_t covered = x->a_to;
    load_rows(x, x->a_from, x->a_to, &covered);
    ck_assert_int_eq(st_timer_driver_load_done(x->drv, 0, covered, NULL), 0);
    x->last_to = covered;
}

static int loader(void *arg, int64_t from, int64_t to, int64_t *covered, st_err_t *err)
{
    world_t *x = arg;
    if (from != x->last_to)
        x->gap++;
    if (x->fail_first > 0) {
        x->fail_first--;
        return st_err_set(err, ST_DB, "store unavailable (test)");
    }
    if (x->async) {
        x->a_from = from;
        x->a_to = to;
        ev_timer_set(&x->async_tm, 0., 0.);
        ev_timer_start(x->loop, &x->async_tm);
        return ST_AGAIN;
    }
    int rc = load_rows(x, from, to, covered);
    x->last_to = *covered;
    return rc;
}

static int cmp_wake(const void *a, const void *b)
{
    const flow_t *p = a, *q = b;
    return (p->wake > q->wake) - (p->wake < q->wake);
}

static void setup(world_t *x, int virt, size_t n, int64_t span, int with_loader)
{
    x->loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(x->loop);
    if (virt)
        st_clock_init_virtual(&x->clock, T0);
    else
        st_clock_init_real(&x->clock);
    int64_t start = st_clock_now_us(&x->clock);
    st_timer_wheel_opts_t wo = {.tick_us = 1000, .start_us = start};
    ck_assert_int_eq(st_timer_wheel_new(&wo, &x->wheel, NULL), 0);
    x->flows = calloc(n, sizeof *x->flows);
    x->n = n;
    srand(42);
    for (size_t i = 0; i < n; i++)
        x->flows[i].wake =
            start + 1 + (int64_t)(((uint64_t)rand() << 31 | (uint64_t)rand()) % (uint64_t)span);
    qsort(x->flows, n, sizeof *x->flows, cmp_wake);
    x->last_to = ST_TIMER_PAST;
    x->last_at = INT64_MIN;
    ev_timer_init(&x->async_tm, async_cb, 0., 0.);
    x->async_tm.data = x;
    st_timer_driver_opts_t o = {.loop = x->loop,
                                .wheel = x->wheel,
                                .clock = &x->clock,
                                .fire = on_fire,
                                .fire_arg = x,
                                .reached = on_reached,
                                .reached_arg = x,
                                .batch = 256,
                                .retry_us = 1000};
    if (with_loader) {
        o.load = loader;
        o.load_arg = x;
    }
    st_err_t err;
    ck_assert_int_eq(st_timer_driver_new(&o, &x->drv, &err), 0);
    if (!with_loader) {
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(st_timer_driver_insert(x->drv, &x->flows[i].e, x->flows[i].wake), 1);
    }
    st_timer_driver_start(x->drv);
}

static void teardown(world_t *x)
{
    st_timer_driver_free(x->drv);
    st_timer_wheel_free(x->wheel);
    ev_loop_destroy(x->loop);
    free(x->flows);
}

static void run_30_days(world_t *x)
{
    st_err_t err;
    ck_assert_int_eq(st_timer_driver_advance(x->drv, 30 * DAY, &err), 0);
    ck_assert(st_timer_driver_busy(x->drv));
    ev_run(x->loop, 0); /* returns once the driver has no more work */
    ck_assert(!st_timer_driver_busy(x->drv));
    ck_assert_int_eq(x->reached, 1);
    ck_assert_int_eq(st_clock_now_us(&x->clock), T0 + 30 * DAY);
    ck_assert_int_eq(x->bad_order, 0);
    ck_assert_int_eq(x->bad_time, 0);
    for (size_t i = 0; i < x->n; i++)
        ck_assert_int_eq(x->flows[i].fired, 1);
}

START_TEST(virtual_30_days_in_order)
{
    world_t x = {0};
    setup(&x, 1, 100000, 30 * DAY, 0);
    x.followups = 64;
    ev_run(x.loop, 0); /* nothing due yet: returns at once, nothing fired */
    ck_assert_int_eq(x.fired, 0);
    run_30_days(&x);
    /* follow-ups scheduled inside the span fired in order as well */
    size_t extra_fired = 0;
    for (size_t i = 0; i < x.nextra; i++)
        extra_fired += (size_t)x.extra[i].fired;
    ck_assert_int_eq(x.nextra, 64);
    ck_assert_int_eq(extra_fired, 64);
    ck_assert_int_eq(x.fired, 100000 + 64);
    st_timer_driver_stats_t st;
    st_timer_driver_stats(x.drv, &st);
    ck_assert_int_eq(st.fired, 100064);
    ck_assert_int_eq(st.loads, 0);
    /* batches of 256 with a return to the loop in between */
    ck_assert_int_ge(x.last_iter - x.first_iter, 100000 / 256);
    teardown(&x);
}
END_TEST

START_TEST(virtual_with_paged_loader)
{
    world_t x = {0};
    setup(&x, 1, 20000, 30 * DAY, 1);
    x.page = 50;
    run_30_days(&x);
    ck_assert_int_eq(x.fired, 20000);
    ck_assert_int_eq(x.gap, 0); /* windows are contiguous */
    /* memory held to the horizon plus a page, not the whole store */
    ck_assert_int_lt(x.max_pending, 400);
    st_timer_driver_stats_t st;
    st_timer_driver_stats(x.drv, &st);
    ck_assert_int_gt(st.loads, 20000 / 50);
    ck_assert_int_eq(st.load_failures, 0);
    teardown(&x);
}
END_TEST

START_TEST(virtual_sparse_store_skips_quiet_days)
{
    world_t x = {0};
    setup(&x, 1, 10, 30 * DAY, 1);
    run_30_days(&x);
    st_timer_driver_stats_t st;
    st_timer_driver_stats(x.drv, &st);
    /* one window per stored row (the hint jumps the gaps), not per step */
    ck_assert_int_le(st.loads, 2 * 10 + 2);
    teardown(&x);
}
END_TEST

START_TEST(virtual_async_and_failing_loader)
{
    world_t x = {0};
    setup(&x, 1, 3000, 30 * DAY, 1);
    x.async = 1;
    x.fail_first = 3;
    x.page = 100;
    run_30_days(&x);
    st_timer_driver_stats_t st;
    st_timer_driver_stats(x.drv, &st);
    ck_assert_int_eq(st.load_failures, 3);
    ck_assert_int_eq(st_timer_driver_last_error(x.drv)->code, ST_DB);
    ck_assert_int_eq(x.gap, 0); /* failed windows are asked again, from the same start */
    ck_assert_int_gt(st.loads, 3 + 3000 / 100);
    teardown(&x);
}
END_TEST

START_TEST(virtual_overdue_rows_over_several_pages)
{
    world_t x = {0};
    setup(&x, 1, 500, DAY, 1);
    x.page = 40;
    for (size_t i = 0; i < 300; i++) /* came due while the engine was down */
        x.flows[i].wake = T0 - 3600 * SEC + (int64_t)i;
    run_30_days(&x);
    ck_assert_int_eq(x.fired, 500);
    ck_assert_int_eq(x.gap, 0);
    teardown(&x);
}
END_TEST

START_TEST(insert_outside_horizon_stays_out)
{
    world_t x = {0};
    setup(&x, 1, 100, 2 * DAY, 1);
    flow_t f = {0};
    ev_run(x.loop, 0); /* first window loaded */
    ck_assert_int_eq(st_timer_driver_insert(x.drv, &f.e, T0 + 10 * DAY), 0);
    ck_assert(!st_timer_entry_pending(&f.e));
    ck_assert_int_eq(st_timer_driver_insert(x.drv, &f.e, T0 + SEC), 1);
    ck_assert(st_timer_entry_pending(&f.e));
    ck_assert_int_eq(st_timer_driver_cancel(x.drv, &f.e), 1);
    st_err_t err;
    ck_assert_int_eq(st_timer_driver_advance(x.drv, -1, &err), ST_INVAL);
    ck_assert_int_eq(st_timer_driver_advance_to(x.drv, T0 - 1, &err), ST_INVAL);
    teardown(&x);
}
END_TEST

static void stop_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

static void run_real(world_t *x)
{
    ev_timer guard; /* never hang the test */
    ev_timer_init(&guard, stop_cb, 10., 0.);
    ev_timer_start(x->loop, &guard);
    ev_run(x->loop, 0);
    ev_timer_stop(x->loop, &guard);
    ck_assert_int_eq(x->fired, x->n);
    ck_assert_int_eq(x->bad_time, 0);      /* never early */
    ck_assert_int_lt(x->max_late, 200000); /* loose: < 200 ms */
}

START_TEST(real_clock_fires_on_time)
{
    world_t x = {0};
    setup(&x, 0, 20, 300 * 1000, 0);
    run_real(&x);
    st_err_t err;
    ck_assert_int_eq(st_timer_driver_advance(x.drv, SEC, &err), ST_STATE);
    teardown(&x);
}
END_TEST

START_TEST(real_clock_yields_between_batches)
{
    world_t x = {0};
    setup(&x, 0, 5000, 1000, 0); /* 5000 timers due within one millisecond */
    run_real(&x);
    ck_assert_int_ge(x.last_iter - x.first_iter, 5000 / 256 - 1);
    teardown(&x);
}
END_TEST

START_TEST(real_clock_stop_from_callback)
{
    world_t x = {0};
    setup(&x, 0, 10, 50 * 1000, 0);
    x.stop_after = 1;
    ev_run(x.loop, 0); /* returns: the stopped driver holds no watcher */
    ck_assert_int_ge(x.fired, 1);
    ck_assert_int_lt(x.fired, 10);
    st_timer_driver_start(x.drv); /* resumes; the rest fire */
    x.stop_after = 0;
    run_real(&x);
    teardown(&x);
}
END_TEST

static void late_insert_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    world_t *x = t->data;
    int64_t now = st_clock_now_us(&x->clock);
    if (x->fired == 0 && x->phase++ == 0) {
        /* straight into the wheel, then ask the driver to re-evaluate */
        x->flows[0].wake = now + 20 * 1000;
        st_timer_wheel_rearm(x->wheel, &x->flows[0].e, x->flows[0].wake);
        st_timer_driver_start(x->drv);
    } else if (x->fired == 1 && x->phase++ == 1) {
        /* through the driver, which wakes the loop earlier by itself */
        x->flows[1].wake = now + 20 * 1000;
        st_timer_driver_rearm(x->drv, &x->flows[1].e, x->flows[1].wake);
    }
}

START_TEST(real_clock_earlier_timer_rearms_the_loop)
{
    world_t x = {0};
    setup(&x, 0, 2, 1000, 0);
    int64_t far = st_clock_now_us(&x.clock) + 8 * SEC; /* both far: loop sleeps long */
    st_timer_driver_rearm(x.drv, &x.flows[0].e, far);
    st_timer_driver_rearm(x.drv, &x.flows[1].e, far);
    ev_timer t;
    ev_timer_init(&t, late_insert_cb, 0.05, 0.1);
    t.data = &x;
    ev_timer_start(x.loop, &t);
    run_real(&x); /* both fire within tolerance, not after 8 s */
    ev_timer_stop(x.loop, &t);
    teardown(&x);
}
END_TEST

START_TEST(real_clock_with_loader)
{
    world_t x = {0};
    x.page = 5;
    setup(&x, 0, 40, 800 * 1000, 1);
    /* a short horizon so that several windows are loaded as time passes */
    st_timer_driver_free(x.drv);
    st_timer_driver_opts_t o = {.loop = x.loop,
                                .wheel = x.wheel,
                                .clock = &x.clock,
                                .fire = on_fire,
                                .fire_arg = &x,
                                .load = loader,
                                .load_arg = &x,
                                .horizon_us = 100 * 1000,
                                .load_step_us = 20 * 1000};
    ck_assert_int_eq(st_timer_driver_new(&o, &x.drv, NULL), 0);
    st_timer_driver_start(x.drv);
    run_real(&x);
    st_timer_driver_stats_t st;
    st_timer_driver_stats(x.drv, &st);
    ck_assert_int_ge(st.loads, 8);
    ck_assert_int_eq(x.gap, 0);
    teardown(&x);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("timer_driver");
    TCase *tc = tcase_create("driver");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, virtual_30_days_in_order);
    tcase_add_test(tc, virtual_with_paged_loader);
    tcase_add_test(tc, virtual_sparse_store_skips_quiet_days);
    tcase_add_test(tc, virtual_async_and_failing_loader);
    tcase_add_test(tc, virtual_overdue_rows_over_several_pages);
    tcase_add_test(tc, insert_outside_horizon_stays_out);
    tcase_add_test(tc, real_clock_fires_on_time);
    tcase_add_test(tc, real_clock_yields_between_batches);
    tcase_add_test(tc, real_clock_stop_from_callback);
    tcase_add_test(tc, real_clock_earlier_timer_rearms_the_loop);
    tcase_add_test(tc, real_clock_with_loader);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
