/*
 * st_timer_wheel.h — hierarchical timing wheel of intrusive timer entries.
 *
 * Layer: engine/timer, pure data structure. Depends on libc and
 * common/st_err.h only: no I/O, no clock reads, no allocation per timer.
 * The caller passes "now" (microseconds) to every call that moves time.
 *
 * Shape: time is cut into ticks of `tick_us` (default 1 ms). Six levels of
 * slots (256 at level 0, then 64 per level) cover 2^38 ticks (8.7 years at
 * 1 ms); due times further out wait in an overflow list and are re-placed
 * when the wheel enters their 2^38-tick epoch. An entry lives in the level
 * named by the highest base-256/64 digit in which its due tick differs from
 * the wheel's current tick, so every entry of level k is due before every
 * entry of level k+1, and the next event is found from occupancy bitmaps
 * without walking lists. Ticks with nothing to do are skipped.
 *
 * Guarantees:
 *   - insert and cancel are O(1) (doubly linked slot lists);
 *   - an entry never fires before its due time: it fires in the first
 *     advance whose `now` reaches ceil(due / tick) * tick, i.e. within one
 *     tick after its due time once the wheel is advanced past it;
 *   - fires are in due-tick order; entries due in the same tick fire in
 *     insertion order (a cascade keeps list order);
 *   - advance does bounded work: every fired entry and every entry moved
 *     down a level costs one unit of the caller's budget; when the budget
 *     runs out with work left it returns ST_AGAIN and the next call resumes;
 *   - the callback may insert, re-insert or cancel any entry, including
 *     entries due in the same tick that have not fired yet;
 *   - the wheel allocates once, in st_timer_wheel_new, and never again.
 *
 * Ownership: the caller owns every st_timer_entry_t (usually embedded in a
 * larger struct, recovered with offsetof) and must keep it alive and
 * unmoved while it is pending. The wheel owns only its slot array.
 * st_timer_wheel_free unlinks pending entries (they become not pending)
 * and frees the wheel; it accepts NULL.
 */
#ifndef ST_TIMER_WHEEL_H
#define ST_TIMER_WHEEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

/* Returned by st_timer_wheel_next_due when nothing is pending. */
#define ST_TIMER_NEVER INT64_MAX

/* One timer. Initialise with st_timer_entry_init (or zero it) before use. */
typedef struct st_timer_entry {
    struct st_timer_entry *next; /* list link; NULL iff not pending */
    struct st_timer_entry *prev; /* list link */
    int64_t due_us;              /* requested due time (read-only for the caller) */
    uint32_t slot;               /* which list holds it (wheel-private) */
    uint32_t spare;              /* unused by the wheel; free for the caller */
} st_timer_entry_t;

typedef struct st_timer_wheel st_timer_wheel_t;

typedef struct st_timer_wheel_opts {
    int64_t tick_us;  /* tick length in µs, >= 1; 0 means 1000 (1 ms) */
    int64_t start_us; /* the wheel's initial "now", >= 0 */
} st_timer_wheel_opts_t;

/* Called once per fired entry, after it has been unlinked (not pending). */
typedef void (*st_timer_fire_fn)(st_timer_entry_t *e, void *arg);

void st_timer_entry_init(st_timer_entry_t *e);

/* Non-zero while the entry is in a wheel. */
static inline int st_timer_entry_pending(const st_timer_entry_t *e)
{
    return e->next != NULL;
}

/* Create a wheel. opts may be NULL (1 ms tick, start at 0). */
int st_timer_wheel_new(const st_timer_wheel_opts_t *opts, st_timer_wheel_t **out, st_err_t *err);
void st_timer_wheel_free(st_timer_wheel_t *w);

/*
 * Schedule `e` at `due_us` (negative is treated as 0). A due time at or
 * before the wheel's current time fires on the next advance. Returns 0, or
 * ST_STATE if `e` is already pending (use st_timer_wheel_rearm).
 */
int st_timer_wheel_insert(st_timer_wheel_t *w, st_timer_entry_t *e, int64_t due_us);

/* Cancel if pending, then insert at `due_us`. Always succeeds. */
void st_timer_wheel_rearm(st_timer_wheel_t *w, st_timer_entry_t *e, int64_t due_us);

/* Remove `e` if pending. Returns 1 if it was pending, 0 if not. */
int st_timer_wheel_cancel(st_timer_wheel_t *w, st_timer_entry_t *e);

/*
 * Move the wheel to `now_us`, firing every entry due at or before it, in
 * due-tick order, through `fn`, doing at most `budget` units of work
 * (budget >= 1). Stores the number fired in *fired (may be NULL).
 * Returns 0 when nothing due at or before now_us remains, ST_AGAIN when the
 * budget ran out first, ST_STATE if called from inside `fn`, ST_INVAL for a
 * zero budget. Time never moves backwards: an earlier now_us only fires
 * what is already due.
 */
int st_timer_wheel_advance(st_timer_wheel_t *w, int64_t now_us, size_t budget, st_timer_fire_fn fn,
                           void *arg, size_t *fired);

/*
 * A time, in µs, no later than the earliest pending due time, at which
 * advancing the wheel makes progress; ST_TIMER_NEVER when nothing is
 * pending. O(levels). Exact (the due tick's start) when the earliest entry
 * is within 256 ticks of the wheel's time or work is waiting; otherwise the
 * start of the slot that must be split next. Arming a timer at this value
 * is always safe: a wake-up there either fires or moves entries closer.
 */
int64_t st_timer_wheel_next_due(const st_timer_wheel_t *w);

/* Number of pending entries. */
size_t st_timer_wheel_pending(const st_timer_wheel_t *w);

/* The wheel's current time (start of its current tick), in µs. */
int64_t st_timer_wheel_now(const st_timer_wheel_t *w);

/* Tick length in µs. */
int64_t st_timer_wheel_tick(const st_timer_wheel_t *w);

/* Bytes the wheel itself owns (fixed at creation; entries are the caller's). */
size_t st_timer_wheel_footprint(const st_timer_wheel_t *w);

/*
 * Verify every internal invariant (links, slot placement, occupancy bits,
 * pending count). O(pending). For tests and debugging. Returns 0 or
 * ST_INTERNAL with the first violation in err.
 */
int st_timer_wheel_check(const st_timer_wheel_t *w, st_err_t *err);

#endif
