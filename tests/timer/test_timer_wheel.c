/*
 * test_timer_wheel.c — behaviour of the hierarchical timing wheel.
 *
 * Covers: firing on time and never early, wrap-around of every level,
 * many timers in one slot, cancellation (also from inside the expiry
 * callback), bounded work per advance, far-future (overflow) timers,
 * next_due, re-arming and the nested-advance guard. The randomised
 * comparison against a brute-force reference is in test_timer_wheel_ref.c.
 */
#include <check.h>
#include <stdlib.h>

#include "st_test.h"
#include "timer/st_timer_wheel.h"

#define MS INT64_C(1000)

typedef struct rec {
    st_timer_entry_t e;
    int id;
    int fired;
    int64_t fired_at; /* wheel time when it fired */
} rec_t;

typedef struct log {
    st_timer_wheel_t *w;
    int order[4096];
    int n;
    rec_t *recs;  /* for callbacks that cancel others */
    int cancel_a; /* on firing cancel_a, cancel cancel_b */
    int cancel_b;
} log_t;

static void on_fire(st_timer_entry_t *e, void *arg)
{
    log_t *l = arg;
    rec_t *r = (rec_t *)e;
    ck_assert(!st_timer_entry_pending(e));
    r->fired++;
    r->fired_at = st_timer_wheel_now(l->w);
    if (l->n < 4096)
        l->order[l->n] = r->id;
    l->n++;
    if (l->recs && r->id == l->cancel_a)
        st_timer_wheel_cancel(l->w, &l->recs[l->cancel_b].e);
}

static st_timer_wheel_t *mk(int64_t tick, int64_t start)
{
    st_timer_wheel_opts_t o = {.tick_us = tick, .start_us = start};
    st_timer_wheel_t *w = NULL;
    st_err_t err;
    ck_assert_int_eq(st_timer_wheel_new(&o, &w, &err), 0);
    return w;
}

static void check_ok(st_timer_wheel_t *w)
{
    st_err_t err;
    st_err_clear(&err);
    int rc = st_timer_wheel_check(w, &err);
    ck_assert_msg(rc == 0, "invariant: %s", err.msg);
}

static int advance_all(st_timer_wheel_t *w, int64_t now, log_t *l)
{
    size_t fired = 0;
    ck_assert_int_eq(st_timer_wheel_advance(w, now, SIZE_MAX, on_fire, l, &fired), 0);
    check_ok(w);
    return (int)fired;
}

START_TEST(fires_on_time_never_early)
{
    st_timer_wheel_t *w = mk(MS, 0);
    log_t l = {.w = w};
    rec_t r = {.id = 1};
    st_timer_entry_init(&r.e);
    ck_assert_int_eq(st_timer_wheel_insert(w, &r.e, 10500), 0); /* 10.5 ms */
    ck_assert(st_timer_entry_pending(&r.e));
    ck_assert_int_eq(st_timer_wheel_pending(w), 1);
    ck_assert_int_eq(st_timer_wheel_next_due(w), 11 * MS);
    ck_assert_int_eq(advance_all(w, 10 * MS, &l), 0);
    ck_assert_int_eq(advance_all(w, 10999, &l), 0);
    ck_assert_int_eq(advance_all(w, 11 * MS, &l), 1);
    ck_assert_int_eq(r.fired, 1);
    ck_assert_int_eq(st_timer_wheel_pending(w), 0);
    ck_assert_int_eq(st_timer_wheel_next_due(w), ST_TIMER_NEVER);
    ck_assert_int_eq(st_timer_wheel_insert(w, &r.e, 0), 0); /* in the past */
    ck_assert_int_eq(st_timer_wheel_next_due(w), 11 * MS);
    ck_assert_int_eq(advance_all(w, 11 * MS, &l), 1);
    ck_assert_int_eq(r.fired, 2);
    st_timer_wheel_free(w);
}
END_TEST

/* One timer just past each level's span fires exactly at its tick. */
START_TEST(wraps_every_level)
{
    static const int64_t spans[] = {256,     1 << 14,          1 << 20,
                                    1 << 26, INT64_C(1) << 32, INT64_C(1) << 38};
    for (unsigned i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        for (int64_t start = 0; start < 3; start++) {
            int64_t origin = spans[i] - 1 - start; /* just below a wrap */
            if (origin < 0)
                origin = 0;
            st_timer_wheel_t *w = mk(1, origin);
            log_t l = {.w = w};
            rec_t r[4] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}};
            int64_t due[4] = {origin + 1, origin + 2, origin + spans[i] + 1, origin + 3 * spans[i]};
            for (int k = 0; k < 4; k++) {
                st_timer_entry_init(&r[k].e);
                st_timer_wheel_insert(w, &r[k].e, due[k]);
            }
            check_ok(w);
            for (int k = 0; k < 4; k++) {
                ck_assert_int_eq(advance_all(w, due[k] - 1, &l), 0);
                ck_assert_int_eq(r[k].fired, 0);
                ck_assert_int_le(st_timer_wheel_next_due(w), due[k]);
                ck_assert_int_eq(advance_all(w, due[k], &l), 1);
                ck_assert_int_eq(r[k].fired, 1);
                ck_assert_int_eq(r[k].fired_at, due[k]);
            }
            st_timer_wheel_free(w);
        }
    }
}
END_TEST

START_TEST(many_in_one_slot_fifo)
{
    enum { N = 3000 };
    st_timer_wheel_t *w = mk(MS, 0);
    log_t l = {.w = w};
    rec_t *r = calloc(N, sizeof *r);
    for (int i = 0; i < N; i++) {
        r[i].id = i;
        /* all in the same 1 ms tick, far enough to sit in level 2 first */
        st_timer_wheel_insert(w, &r[i].e, 5 * 60 * 1000 * MS - (i % 1000));
    }
    check_ok(w);
    ck_assert_int_eq(st_timer_wheel_next_due(w),
                     (300000 >> 14 << 14) * MS); /* level-2 slot start */
    ck_assert_int_eq(advance_all(w, 5 * 60 * 1000 * MS - MS, &l), 0);
    ck_assert_int_eq(st_timer_wheel_next_due(w), 5 * 60 * 1000 * MS);
    ck_assert_int_eq(advance_all(w, 5 * 60 * 1000 * MS, &l), N);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(l.order[i], i); /* same tick: insertion order */
    free(r);
    st_timer_wheel_free(w);
}
END_TEST

START_TEST(cancel_before_and_during_expiry)
{
    st_timer_wheel_t *w = mk(MS, 0);
    rec_t r[6] = {0};
    log_t l = {.w = w, .recs = r, .cancel_a = 1, .cancel_b = 2};
    for (int i = 0; i < 6; i++) {
        r[i].id = i;
        st_timer_wheel_insert(w, &r[i].e, i < 4 ? 7 * MS : 90 * 1000 * MS);
    }
    ck_assert_int_eq(st_timer_wheel_cancel(w, &r[0].e), 1); /* before expiry */
    ck_assert_int_eq(st_timer_wheel_cancel(w, &r[0].e), 0); /* twice is harmless */
    ck_assert_int_eq(st_timer_wheel_cancel(w, &r[5].e), 1); /* from level 3 */
    ck_assert_int_eq(st_timer_wheel_pending(w), 4);
    check_ok(w);
    /* r1 fires first and cancels r2, due in the same tick, not yet fired */
    ck_assert_int_eq(advance_all(w, 7 * MS, &l), 2);
    ck_assert_int_eq(r[1].fired, 1);
    ck_assert_int_eq(r[2].fired, 0);
    ck_assert(!st_timer_entry_pending(&r[2].e));
    ck_assert_int_eq(r[3].fired, 1);
    ck_assert_int_eq(st_timer_wheel_pending(w), 1);
    ck_assert_int_eq(advance_all(w, 100 * 1000 * MS, &l), 1);
    ck_assert_int_eq(r[4].fired, 1);
    ck_assert_int_eq(r[0].fired + r[5].fired, 0);
    st_timer_wheel_free(w);
}
END_TEST

typedef struct rearm_ctx {
    st_timer_wheel_t *w;
    int count;
} rearm_ctx_t;

static void on_fire_rearm(st_timer_entry_t *e, void *arg)
{
    rearm_ctx_t *c = arg;
    c->count++;
    if (c->count < 5)
        st_timer_wheel_insert(c->w, e, e->due_us + 3 * MS);
    ck_assert_int_eq(st_timer_wheel_advance(c->w, 0, 1, on_fire_rearm, c, NULL), ST_STATE);
}

START_TEST(rearm_inside_callback)
{
    st_timer_wheel_t *w = mk(MS, 0);
    rearm_ctx_t c = {.w = w};
    st_timer_entry_t e;
    st_timer_entry_init(&e);
    st_timer_wheel_insert(w, &e, 2 * MS);
    ck_assert_int_eq(st_timer_wheel_insert(w, &e, 2 * MS), ST_STATE);
    ck_assert_int_eq(st_timer_wheel_advance(w, 100 * MS, 100, on_fire_rearm, &c, NULL), 0);
    ck_assert_int_eq(c.count, 5);
    st_timer_wheel_rearm(w, &e, 500 * MS);
    st_timer_wheel_rearm(w, &e, 200 * MS);
    ck_assert_int_eq(st_timer_wheel_pending(w), 1);
    ck_assert_int_eq(st_timer_wheel_next_due(w), 200 * MS);
    st_timer_wheel_free(w);
    ck_assert(!st_timer_entry_pending(&e)); /* free unlinks */
}
END_TEST

START_TEST(bounded_work_per_advance)
{
    enum { N = 4000, BUDGET = 64 };
    st_timer_wheel_t *w = mk(MS, 0);
    log_t l = {.w = w};
    rec_t *r = calloc(N, sizeof *r);
    for (int i = 0; i < N; i++) {
        r[i].id = i;
        st_timer_wheel_insert(w, &r[i].e, 3600 * 1000 * MS + (i % 7) * 20 * 1000 * MS);
    }
    int calls = 0;
    size_t total = 0;
    for (;;) {
        size_t fired = 0;
        int rc = st_timer_wheel_advance(w, 4 * 3600 * 1000 * MS, BUDGET, on_fire, &l, &fired);
        check_ok(w);
        ck_assert_int_le(fired, BUDGET);
        total += fired;
        calls++;
        if (rc == 0)
            break;
        ck_assert_int_eq(rc, ST_AGAIN);
        ck_assert_int_le(st_timer_wheel_next_due(w), 4 * 3600 * 1000 * MS);
    }
    ck_assert_int_eq(total, N);
    ck_assert_int_ge(calls, N / BUDGET);
    /* due-time order survived the interruptions */
    for (int i = 1; i < N; i++)
        ck_assert_int_le(r[l.order[i - 1]].e.due_us, r[l.order[i]].e.due_us);
    ck_assert_int_eq(st_timer_wheel_advance(w, 0, 0, on_fire, &l, NULL), ST_INVAL);
    free(r);
    st_timer_wheel_free(w);
}
END_TEST

START_TEST(far_future_overflow)
{
    /* 1 µs ticks: the levels cover 2^38 µs (~76 h); beyond is overflow */
    st_timer_wheel_t *w = mk(1, 5);
    log_t l = {.w = w};
    int64_t due[] = {INT64_C(1) << 40, (INT64_C(1) << 40) + 1, INT64_C(3) << 45, INT64_MAX / 2,
                     INT64_C(1) << 39};
    rec_t r[5] = {0};
    for (int i = 0; i < 5; i++) {
        r[i].id = i;
        st_timer_wheel_insert(w, &r[i].e, due[i]);
    }
    check_ok(w);
    int64_t nd = st_timer_wheel_next_due(w);
    ck_assert_int_le(nd, due[4]);
    ck_assert_int_gt(nd, 5);
    int order[] = {4, 0, 1, 2, 3};
    for (int k = 0; k < 5; k++) {
        int i = order[k];
        ck_assert_int_eq(advance_all(w, due[i] - 1, &l), 0);
        ck_assert_int_eq(r[i].fired, 0);
        ck_assert_int_eq(advance_all(w, due[i], &l), 1);
        ck_assert_int_eq(r[i].fired_at, due[i]);
    }
    /* cancel from overflow */
    rec_t x = {0};
    st_timer_wheel_insert(w, &x.e, INT64_MAX);
    ck_assert_int_eq(st_timer_wheel_cancel(w, &x.e), 1);
    check_ok(w);
    ck_assert_int_eq(st_timer_wheel_next_due(w), ST_TIMER_NEVER);
    st_timer_wheel_free(w);
}
END_TEST

/* Advancing to next_due repeatedly reaches each timer at its due tick. */
START_TEST(next_due_walk)
{
    st_timer_wheel_t *w = mk(MS, 0);
    log_t l = {.w = w};
    int64_t due[] = {3 * MS, 300 * MS, 20 * 1000 * MS, 40 * 60 * 1000 * MS, 86400 * 1000 * MS * 3};
    rec_t r[5] = {0};
    for (int i = 0; i < 5; i++) {
        r[i].id = i;
        st_timer_wheel_insert(w, &r[i].e, due[i]);
    }
    int hops = 0;
    int64_t t;
    while ((t = st_timer_wheel_next_due(w)) != ST_TIMER_NEVER) {
        int64_t min_due = INT64_MAX;
        for (int i = 0; i < 5; i++)
            if (st_timer_entry_pending(&r[i].e) && due[i] < min_due)
                min_due = due[i];
        ck_assert_int_le(t, min_due);
        ck_assert_int_ge(t, st_timer_wheel_now(w));
        advance_all(w, t, &l);
        ck_assert_int_lt(++hops, 100);
    }
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(r[i].fired, 1);
        ck_assert_int_eq(r[i].fired_at, due[i]);
        ck_assert_int_eq(l.order[i], i);
    }
    st_timer_wheel_free(w);
}
END_TEST

START_TEST(bad_options)
{
    st_timer_wheel_opts_t o = {.tick_us = -1};
    st_timer_wheel_t *w = NULL;
    st_err_t err;
    ck_assert_int_eq(st_timer_wheel_new(&o, &w, &err), ST_INVAL);
    ck_assert_int_eq(err.code, ST_INVAL);
    ck_assert_int_eq(st_timer_wheel_new(NULL, &w, &err), 0);
    ck_assert_int_eq(st_timer_wheel_tick(w), 1000);
    st_timer_wheel_free(w);
    st_timer_wheel_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("timer_wheel");
    TCase *tc = tcase_create("wheel");
    tcase_add_test(tc, fires_on_time_never_early);
    tcase_add_test(tc, wraps_every_level);
    tcase_add_test(tc, many_in_one_slot_fifo);
    tcase_add_test(tc, cancel_before_and_during_expiry);
    tcase_add_test(tc, rearm_inside_callback);
    tcase_add_test(tc, bounded_work_per_advance);
    tcase_add_test(tc, far_future_overflow);
    tcase_add_test(tc, next_due_walk);
    tcase_add_test(tc, bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
