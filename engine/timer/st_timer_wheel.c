/*
 * st_timer_wheel.c — hierarchical timing wheel: placement, cancel, advance.
 *
 * Layer: engine/timer, pure data structure (see st_timer_wheel.h for the
 * guarantees and timer_int.h for the invariants). Depends on libc only.
 *
 * Advancing works in "events": a tick where a level-0 slot fires, where a
 * higher slot must be split into lower levels, or where an overflow epoch
 * starts. The next event comes from the lowest non-empty level's lowest
 * occupied slot, so empty stretches of time cost nothing.
 */
#include "timer/timer_int.h"

#include <stdlib.h>
#include <string.h>

static void list_init(st_timer_entry_t *h)
{
    h->next = h;
    h->prev = h;
}

static int list_empty(const st_timer_entry_t *h)
{
    return h->next == h;
}

static void list_append(st_timer_entry_t *h, st_timer_entry_t *e)
{
    e->prev = h->prev;
    e->next = h;
    h->prev->next = e;
    h->prev = e;
}

static void occ_set(st_timer_wheel_t *w, unsigned slot)
{
    unsigned k = slot < TW_L0_SLOTS ? 0 : 1 + (slot - TW_L0_SLOTS) / TW_LN_SLOTS;
    unsigned idx = slot - tw_base(k);
    w->occ[k][idx >> 6] |= (uint64_t)1 << (idx & 63);
}

static void occ_clear(st_timer_wheel_t *w, unsigned slot)
{
    unsigned k = slot < TW_L0_SLOTS ? 0 : 1 + (slot - TW_L0_SLOTS) / TW_LN_SLOTS;
    unsigned idx = slot - tw_base(k);
    w->occ[k][idx >> 6] &= ~((uint64_t)1 << (idx & 63));
}

/* Which list an entry due at tick t belongs in, given the current tick. */
static unsigned place_slot(const st_timer_wheel_t *w, int64_t t)
{
    if (t <= w->cur)
        return TW_READY;
    uint64_t diff = (uint64_t)t ^ (uint64_t)w->cur;
    unsigned bit = 63u - (unsigned)__builtin_clzll(diff);
    unsigned k = bit < TW_L0_BITS ? 0 : 1 + (bit - TW_L0_BITS) / TW_LN_BITS;
    if (k >= TW_LEVELS)
        return TW_OVERFLOW;
    return tw_base(k) + tw_digit(t, k);
}

/* Link e (not pending) into the list its due time calls for. */
static void place(st_timer_wheel_t *w, st_timer_entry_t *e)
{
    unsigned slot = place_slot(w, tw_due_tick(w, e->due_us));
    e->slot = slot;
    list_append(&w->heads[slot], e);
    if (slot < TW_NSLOTS)
        occ_set(w, slot);
    else if (slot == TW_OVERFLOW)
        w->ovf_count++;
}

/* Unlink a pending e, keeping occupancy and counts; does not touch pending. */
static void unlink_entry(st_timer_wheel_t *w, st_timer_entry_t *e)
{
    e->prev->next = e->next;
    e->next->prev = e->prev;
    unsigned slot = e->slot;
    if (slot < TW_NSLOTS) {
        if (list_empty(&w->heads[slot]))
            occ_clear(w, slot);
    } else if (slot == TW_OVERFLOW) {
        w->ovf_count--;
        if (w->ovf_left > w->ovf_count)
            w->ovf_left = w->ovf_count;
    }
    e->next = NULL;
    e->prev = NULL;
}

void st_timer_entry_init(st_timer_entry_t *e)
{
    memset(e, 0, sizeof *e);
}

int st_timer_wheel_new(const st_timer_wheel_opts_t *opts, st_timer_wheel_t **out, st_err_t *err)
{
    st_timer_wheel_opts_t o = {0};
    if (opts)
        o = *opts;
    if (o.tick_us == 0)
        o.tick_us = 1000;
    if (o.tick_us < 0 || o.start_us < 0)
        return st_err_set(err, ST_INVAL,
                          "timer wheel: tick (%lld µs) and start (%lld µs) must be "
                          "non-negative",
                          (long long)o.tick_us, (long long)o.start_us);
    st_timer_wheel_t *w = calloc(1, sizeof *w);
    if (!w)
        return st_err_set(err, ST_NOMEM, "timer wheel: cannot allocate %zu bytes", sizeof *w);
    w->tick_us = o.tick_us;
    w->cur = o.start_us / o.tick_us;
    for (unsigned i = 0; i < TW_NHEADS; i++)
        list_init(&w->heads[i]);
    *out = w;
    return 0;
}

void st_timer_wheel_free(st_timer_wheel_t *w)
{
    if (!w)
        return;
    for (unsigned i = 0; i < TW_NHEADS; i++) {
        st_timer_entry_t *h = &w->heads[i];
        while (!list_empty(h)) {
            st_timer_entry_t *e = h->next;
            h->next = e->next;
            e->next = NULL;
            e->prev = NULL;
        }
    }
    free(w);
}

int st_timer_wheel_insert(st_timer_wheel_t *w, st_timer_entry_t *e, int64_t due_us)
{
    if (e->next)
        return ST_STATE;
    e->due_us = due_us < 0 ? 0 : due_us;
    place(w, e);
    w->pending++;
    return 0;
}

void st_timer_wheel_rearm(st_timer_wheel_t *w, st_timer_entry_t *e, int64_t due_us)
{
    st_timer_wheel_cancel(w, e);
    st_timer_wheel_insert(w, e, due_us);
}

int st_timer_wheel_cancel(st_timer_wheel_t *w, st_timer_entry_t *e)
{
    if (!e->next)
        return 0;
    unlink_entry(w, e);
    w->pending--;
    return 1;
}

/* Lowest occupied slot index of level k, or -1. */
static int lowest_slot(const st_timer_wheel_t *w, unsigned k)
{
    unsigned words = k == 0 ? TW_OCC_WORDS : 1;
    for (unsigned i = 0; i < words; i++) {
        if (w->occ[k][i])
            return (int)(i * 64 + (unsigned)__builtin_ctzll(w->occ[k][i]));
    }
    return -1;
}

/* The first tick >= cur at which something happens, or -1 if nothing. */
static int64_t next_event_tick(const st_timer_wheel_t *w)
{
    for (unsigned k = 0; k < TW_LEVELS; k++) {
        int idx = lowest_slot(w, k);
        if (idx < 0)
            continue;
        unsigned up = tw_shift(k) + tw_bits(k);
        uint64_t hi = ((uint64_t)w->cur >> up) << up;
        return (int64_t)(hi | ((uint64_t)idx << tw_shift(k)));
    }
    if (w->ovf_count) {
        uint64_t epoch = (((uint64_t)w->cur >> TW_TOTAL_BITS) + 1) << TW_TOTAL_BITS;
        return epoch > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)epoch;
    }
    return -1;
}

/* Non-zero when work is waiting at the current tick itself. */
static int work_at_cur(const st_timer_wheel_t *w)
{
    if (!list_empty(&w->heads[TW_READY]) || w->ovf_left)
        return 1;
    for (unsigned k = 0; k < TW_LEVELS; k++) {
        if (tw_occupied(w, k, tw_digit(w->cur, k)))
            return 1;
    }
    return 0;
}

/* Pop the head of a list (non-empty) into the not-pending state. */
static st_timer_entry_t *pop(st_timer_wheel_t *w, unsigned slot)
{
    st_timer_entry_t *e = w->heads[slot].next;
    unlink_entry(w, e);
    return e;
}

struct run {
    size_t work;   /* units spent */
    size_t budget; /* units allowed */
    size_t fired;  /* entries fired */
};

/* Split every slot that is due at cur into lower levels. ST_AGAIN on budget. */
static int cascade_at_cur(st_timer_wheel_t *w, struct run *r)
{
    for (unsigned k = TW_LEVELS - 1; k >= 1; k--) {
        unsigned slot = tw_base(k) + tw_digit(w->cur, k);
        while (!list_empty(&w->heads[slot])) {
            if (r->work >= r->budget)
                return ST_AGAIN;
            place(w, pop(w, slot));
            r->work++;
        }
    }
    while (w->ovf_left) {
        if (r->work >= r->budget)
            return ST_AGAIN;
        w->ovf_left--;
        place(w, pop(w, TW_OVERFLOW));
        r->work++;
    }
    return 0;
}

/* Fire the current level-0 slot, then READY. ST_AGAIN on budget. */
static int fire_at_cur(st_timer_wheel_t *w, struct run *r, st_timer_fire_fn fn, void *arg)
{
    for (;;) {
        unsigned slot = tw_digit(w->cur, 0);
        if (list_empty(&w->heads[slot])) {
            slot = TW_READY;
            if (list_empty(&w->heads[slot]))
                return 0;
        }
        if (r->work >= r->budget)
            return ST_AGAIN;
        st_timer_entry_t *e = pop(w, slot);
        w->pending--;
        r->work++;
        r->fired++;
        fn(e, arg);
    }
}

static int run_until(st_timer_wheel_t *w, int64_t target, struct run *r, st_timer_fire_fn fn,
                     void *arg)
{
    for (;;) {
        int rc = cascade_at_cur(w, r);
        if (rc == 0)
            rc = fire_at_cur(w, r, fn, arg);
        if (rc != 0)
            return rc;
        /* A callback may have inserted work at cur (READY); loop for it. */
        if (work_at_cur(w))
            continue;
        if (w->cur >= target)
            return 0;
        int64_t next = next_event_tick(w);
        if (next < 0 || next > target) {
            w->cur = target;
            return 0;
        }
        w->cur = next;
        if (((uint64_t)next & (((uint64_t)1 << TW_TOTAL_BITS) - 1)) == 0)
            w->ovf_left = w->ovf_count;
    }
}

int st_timer_wheel_advance(st_timer_wheel_t *w, int64_t now_us, size_t budget, st_timer_fire_fn fn,
                           void *arg, size_t *fired)
{
    if (fired)
        *fired = 0;
    if (w->in_advance)
        return ST_STATE;
    if (budget == 0)
        return ST_INVAL;
    int64_t target = now_us <= 0 ? 0 : now_us / w->tick_us;
    if (target < w->cur)
        target = w->cur;
    struct run r = {0, budget, 0};
    w->in_advance = 1;
    int rc = run_until(w, target, &r, fn, arg);
    w->in_advance = 0;
    if (fired)
        *fired = r.fired;
    return rc;
}

int64_t st_timer_wheel_next_due(const st_timer_wheel_t *w)
{
    if (w->pending == 0)
        return ST_TIMER_NEVER;
    if (work_at_cur(w))
        return w->cur * w->tick_us;
    int64_t t = next_event_tick(w);
    if (t < 0)
        return ST_TIMER_NEVER;
    if (t > INT64_MAX / w->tick_us)
        return INT64_MAX - 1;
    return t * w->tick_us;
}

size_t st_timer_wheel_pending(const st_timer_wheel_t *w)
{
    return w->pending;
}

int64_t st_timer_wheel_now(const st_timer_wheel_t *w)
{
    return w->cur * w->tick_us;
}

int64_t st_timer_wheel_tick(const st_timer_wheel_t *w)
{
    return w->tick_us;
}

size_t st_timer_wheel_footprint(const st_timer_wheel_t *w)
{
    return sizeof *w;
}
