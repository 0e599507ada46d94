/*
 * test_timer_wheel_ref.c — the timing wheel against a brute-force model.
 *
 * Seeded random runs of inserts, cancels, re-arms and advances (with
 * random budgets) over thousands of timers whose due times span every
 * level and the overflow list; callbacks cancel and re-insert at random.
 * The model is a plain array. After every step: invariants hold, the
 * pending count matches, nothing fired early or twice, each entry fired at
 * exactly its effective tick (its due tick, or the wheel's tick when it was
 * inserted already due), fires came in non-decreasing effective tick, and
 * once an advance returns 0 nothing due at or before `now` is left.
 */
#include <check.h>
#include <stdlib.h>

#include "st_test.h"
#include "timer/st_timer_wheel.h"

enum { N = 3000 };

/* Check's ck_assert reports every passing check to the runner; these hot
 * loops run millions of checks, so only failures go through Check. */
#define REQUIRE(cond)                                                                 \
    do {                                                                              \
        if (!(cond))                                                                  \
            ck_abort_msg("%s:%d: requirement failed: %s", __FILE__, __LINE__, #cond); \
    } while (0)

typedef struct item {
    st_timer_entry_t e;
    int pending;  /* model: scheduled */
    int64_t eff;  /* model: tick at which it must fire */
    int64_t tick; /* copy of the wheel's tick for callbacks */
} item_t;

typedef struct world {
    st_timer_wheel_t *w;
    item_t *it;
    uint64_t rng;
    int64_t tick_us;
    int64_t last_eff; /* effective tick of the last fire */
    long fires;
} world_t;

static uint64_t rnd(world_t *x)
{
    /* xorshift64*: deterministic per seed */
    x->rng ^= x->rng >> 12;
    x->rng ^= x->rng << 25;
    x->rng ^= x->rng >> 27;
    return x->rng * UINT64_C(2685821657736338717);
}

static int64_t due_tick(const world_t *x, int64_t due_us)
{
    return due_us <= 0 ? 0 : due_us / x->tick_us + (due_us % x->tick_us != 0);
}

static int64_t random_due(world_t *x)
{
    int64_t now = st_timer_wheel_now(x->w);
    static const int64_t ranges[] = {1, 300, 20000, 2000000, INT64_C(1) << 30, INT64_C(1) << 45};
    int64_t r = ranges[rnd(x) % 6] * x->tick_us;
    int64_t d = (int64_t)(rnd(x) % (uint64_t)r);
    if (rnd(x) % 10 == 0)
        return now - d / 16; /* already due */
    return now + d;
}

static void model_insert(world_t *x, item_t *it, int64_t due_us)
{
    int64_t cur = st_timer_wheel_now(x->w) / x->tick_us;
    int64_t t = due_tick(x, due_us);
    if (it->pending)
        REQUIRE((st_timer_wheel_cancel(x->w, &it->e)) == (1));
    REQUIRE((st_timer_wheel_insert(x->w, &it->e, due_us)) == (0));
    it->pending = 1;
    it->eff = t > cur ? t : cur;
}

static void model_cancel(world_t *x, item_t *it)
{
    REQUIRE((st_timer_wheel_cancel(x->w, &it->e)) == (it->pending));
    it->pending = 0;
}

static void on_fire(st_timer_entry_t *e, void *arg)
{
    world_t *x = arg;
    item_t *it = (item_t *)e;
    int64_t cur = st_timer_wheel_now(x->w) / x->tick_us;
    REQUIRE(it->pending);
    REQUIRE((cur) == (it->eff)); /* never early, never late */
    REQUIRE((it->eff) >= (x->last_eff));
    x->last_eff = it->eff;
    it->pending = 0;
    x->fires++;
    uint64_t r = rnd(x) % 8;
    if (r == 0)
        model_cancel(x, &x->it[rnd(x) % N]);
    else if (r == 1)
        model_insert(x, it, random_due(x));
    else if (r == 2)
        model_insert(x, &x->it[rnd(x) % N], random_due(x));
}

static void verify(world_t *x, int caught_up)
{
    st_err_t err;
    st_err_clear(&err);
    ck_assert_msg(st_timer_wheel_check(x->w, &err) == 0, "invariant: %s", err.msg);
    size_t n = 0;
    int64_t min_eff = INT64_MAX;
    int64_t cur = st_timer_wheel_now(x->w) / x->tick_us;
    for (int i = 0; i < N; i++) {
        item_t *it = &x->it[i];
        REQUIRE((st_timer_entry_pending(&it->e) != 0) == (it->pending));
        if (!it->pending)
            continue;
        n++;
        if (it->eff < min_eff)
            min_eff = it->eff;
        if (caught_up)
            REQUIRE((it->eff) > (cur));
    }
    REQUIRE((st_timer_wheel_pending(x->w)) == (n));
    int64_t nd = st_timer_wheel_next_due(x->w);
    if (n == 0) {
        REQUIRE((nd) == (ST_TIMER_NEVER));
    } else {
        REQUIRE((nd / x->tick_us) <= (min_eff));
        REQUIRE((nd / x->tick_us) >= (cur));
    }
}

static void advance(world_t *x)
{
    int64_t now = st_timer_wheel_now(x->w);
    uint64_t k = rnd(x) % 4;
    int64_t step =
        k == 0 ? (int64_t)(rnd(x) % 3) : (int64_t)(rnd(x) % ((uint64_t)x->tick_us << (k * 9)));
    if (rnd(x) % 50 == 0) /* jump to the next due time */
        step = st_timer_wheel_next_due(x->w) == ST_TIMER_NEVER
                   ? 0
                   : st_timer_wheel_next_due(x->w) - now;
    size_t budget = rnd(x) % 3 == 0 ? 1 + rnd(x) % 40 : SIZE_MAX;
    int rc = st_timer_wheel_advance(x->w, now + step, budget, on_fire, x, NULL);
    REQUIRE(rc == 0 || rc == ST_AGAIN);
    verify(x, rc == 0);
    if (rc == 0)
        x->last_eff = st_timer_wheel_now(x->w) / x->tick_us;
}

static void run(uint64_t seed, int64_t tick_us, int steps)
{
    world_t x = {.rng = seed * 0x9E3779B97F4A7C15u + 1, .tick_us = tick_us};
    st_timer_wheel_opts_t o = {.tick_us = tick_us, .start_us = (int64_t)(seed % 1000) * 997};
    REQUIRE((st_timer_wheel_new(&o, &x.w, NULL)) == (0));
    x.it = calloc(N, sizeof *x.it);
    x.last_eff = st_timer_wheel_now(x.w) / tick_us;
    for (int s = 0; s < steps; s++) {
        uint64_t op = rnd(&x) % 10;
        item_t *it = &x.it[rnd(&x) % N];
        if (op < 5) {
            model_insert(&x, it, random_due(&x));
        } else if (op < 7) {
            model_cancel(&x, it);
        } else {
            advance(&x);
        }
        if (s % 64 == 0 || op >= 7)
            verify(&x, 0);
    }
    /* drain: everything left fires at its tick */
    int64_t far = st_timer_wheel_now(x.w) + (INT64_C(1) << 46) * tick_us;
    REQUIRE((st_timer_wheel_advance(x.w, far, SIZE_MAX, on_fire, &x, NULL)) == (0));
    verify(&x, 1);
    REQUIRE((x.fires) > (100));
    st_timer_wheel_free(x.w);
    free(x.it);
}

START_TEST(random_1ms)
{
    run((uint64_t)_i + 1, 1000, 60000);
}
END_TEST

START_TEST(random_1us)
{
    run((uint64_t)_i + 100, 1, 60000);
}
END_TEST

START_TEST(random_odd_tick)
{
    run((uint64_t)_i + 200, 7, 60000);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("timer_wheel_ref");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, random_1ms, 0, 4);
    tcase_add_loop_test(tc, random_1us, 0, 4);
    tcase_add_loop_test(tc, random_odd_tick, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
