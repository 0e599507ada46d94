/*
 * st_timer_driver.h — drives a timing wheel from a libev loop.
 *
 * Layer: engine/timer. Depends on libev, st_timer_wheel.h, st_clock.h and
 * common/st_err.h. Knows nothing of PostgreSQL: the store plugs in through
 * the horizon loader hook below.
 *
 * Real clock: a libev timer is armed at the wheel's next due time; due
 * entries fire in batches of `batch`, and between batches the driver
 * yields to the loop (a zero-delay timer), so I/O is never starved.
 *
 * Virtual clock: time moves only through st_timer_driver_advance[_to].
 * The driver then steps the clock to each next due time in turn and fires
 * what is due there, so entries fire in due-tick order, the clock reads
 * their due tick while their callback runs, and whatever those callbacks
 * schedule inside the advanced span fires in order too. Work is done in
 * batches on the loop; when the target is reached `reached` is called and
 * the driver holds no active watcher (ev_run returns if nothing else is
 * active). Move virtual time through the driver: a clock moved behind its
 * back with st_clock_set is only noticed at the next wake-up, and what is
 * due then fires at the new time rather than at each due tick.
 *
 * Horizon: only wake times before `loaded_until` live in the wheel. When
 * now + horizon reaches it, the driver calls `load(from, to)`: insert every
 * stored wake time in [from, to) with st_timer_driver_insert (or
 * st_timer_wheel_rearm), and set *covered_until to the time up to which
 * that is now true:
 *   - leave it at `to` when the whole window was loaded;
 *   - lower it (> from) when a page limit stopped early: the driver asks
 *     again from there;
 *   - raise it to the next stored wake time at or after `to` when known:
 *     the driver then skips the empty stretch (virtual advances rely on
 *     this to cross quiet days without a query per step).
 * The first window starts at ST_TIMER_PAST, so wake times missed while the
 * engine was down fire at once. The loader returns 0 when done, a negative
 * code on failure (the driver retries the same window after `retry_us`),
 * or ST_AGAIN when it finishes asynchronously; it must then call
 * st_timer_driver_load_done exactly once. One load is in flight at a time.
 * A wake time may arrive twice (once through st_timer_driver_insert while
 * its window is loading, once from the loader); callers keep one entry per
 * flow and rearm it, which makes the second arrival harmless.
 *
 * Ownership: the driver borrows the loop, wheel and clock (they must
 * outlive it) and owns its watchers. st_timer_driver_free stops it and
 * accepts NULL. Callbacks run on the loop, never from inside another call
 * to the driver except fire/load/reached from its own watchers.
 */
#ifndef ST_TIMER_DRIVER_H
#define ST_TIMER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/st_err.h"
#include "timer/st_clock.h"
#include "timer/st_timer_wheel.h"

/* `from` of the first window: everything stored before `to`. */
#define ST_TIMER_PAST INT64_MIN

typedef struct st_timer_driver st_timer_driver_t;

typedef int (*st_timer_load_fn)(void *arg, int64_t from_us, int64_t to_us, int64_t *covered_until,
                                st_err_t *err);

typedef struct st_timer_driver_opts {
    struct ev_loop *loop;    /* borrowed */
    st_timer_wheel_t *wheel; /* borrowed */
    st_clock_t *clock;       /* borrowed; real or virtual */
    st_timer_fire_fn fire;   /* called for each due entry (required) */
    void *fire_arg;
    st_timer_load_fn load; /* optional: without it every timer is in memory */
    void *load_arg;
    void (*reached)(void *arg); /* optional, virtual: an advance reached its target */
    void *reached_arg;
    size_t batch;         /* work units per loop iteration; 0: 1024 */
    int64_t horizon_us;   /* how far ahead wake times are kept in memory; 0: 5 min */
    int64_t load_step_us; /* how far past the horizon each window reaches; 0: horizon / 10 */
    int64_t retry_us;     /* real time before retrying a failed load; 0: 1 s */
} st_timer_driver_opts_t;

typedef struct st_timer_driver_stats {
    uint64_t fired;         /* entries fired */
    uint64_t batches;       /* wheel advances that fired or moved something */
    uint64_t loads;         /* loader calls */
    uint64_t load_failures; /* loader calls that failed */
    int64_t loaded_until;   /* every stored wake time before this is in memory */
} st_timer_driver_stats_t;

int st_timer_driver_new(const st_timer_driver_opts_t *opts, st_timer_driver_t **out, st_err_t *err);

/* Stop watchers and free. Accepts NULL. Pending entries stay in the wheel. */
void st_timer_driver_free(st_timer_driver_t *d);

/*
 * Start working on the loop (first load, first arm). On a started driver
 * it re-evaluates the next wake-up on the next loop iteration, which is
 * what a caller needs after changing the wheel directly.
 */
void st_timer_driver_start(st_timer_driver_t *d);

/*
 * Stop every watcher; st_timer_driver_start resumes. Called from a fire
 * callback it takes effect after the current batch. Never free the driver
 * from inside its own callbacks.
 */
void st_timer_driver_stop(st_timer_driver_t *d);

/*
 * Schedule `e` at due_us: if the due time lies inside the loaded horizon
 * (or the window being loaded), (re)arm it in the wheel and return 1;
 * otherwise cancel it if pending, leave it out of memory and return 0 (its
 * stored wake time will be loaded when the horizon reaches it).
 */
int st_timer_driver_insert(st_timer_driver_t *d, st_timer_entry_t *e, int64_t due_us);

/*
 * (Re)arm `e` at due_us in memory whatever the horizon (for timers that are
 * not stored, e.g. the retry of a running flow) and wake the loop earlier
 * if it is now the first due.
 */
void st_timer_driver_rearm(st_timer_driver_t *d, st_timer_entry_t *e, int64_t due_us);

/* Cancel `e` if pending. Returns 1 if it was. */
int st_timer_driver_cancel(st_timer_driver_t *d, st_timer_entry_t *e);

/*
 * Virtual clock only: move time forward by delta_us (>= 0) / to now_us,
 * firing everything due in order as described above. Advances queue up: a
 * second call extends the target. ST_STATE on a real clock, ST_INVAL for
 * time going backwards.
 */
int st_timer_driver_advance(st_timer_driver_t *d, int64_t delta_us, st_err_t *err);
int st_timer_driver_advance_to(st_timer_driver_t *d, int64_t now_us, st_err_t *err);

/* Virtual: non-zero while an advance has not reached its target. */
int st_timer_driver_busy(const st_timer_driver_t *d);

/* Completion of a load that returned ST_AGAIN. ST_STATE if none in flight. */
int st_timer_driver_load_done(st_timer_driver_t *d, int rc, int64_t covered_until,
                              const st_err_t *err);

void st_timer_driver_stats(const st_timer_driver_t *d, st_timer_driver_stats_t *out);

/* The last load failure (code 0 if none). */
const st_err_t *st_timer_driver_last_error(const st_timer_driver_t *d);

#endif
