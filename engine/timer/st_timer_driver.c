/*
 * st_timer_driver.c — libev glue for the timing wheel (see st_timer_driver.h).
 *
 * Layer: engine/timer. Depends on libev, st_timer_wheel, st_clock and
 * common/st_err. Reads time only through the st_clock_t it was given.
 *
 * Invariants:
 *   - loaded_until <= requested_until; every stored wake time before
 *     loaded_until is in the wheel; inserts before requested_until go to
 *     the wheel (the window in flight may or may not see them);
 *   - one `process` pass does at most `batch` units of wheel work per
 *     advance and at most `batch` virtual steps, then yields to the loop;
 *   - the virtual clock is only ever set to a time before loaded_until, so
 *     nothing stored can be due earlier than what fires.
 */
#include "timer/st_timer_driver.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SLEEP_S 60.0 /* re-check at least this often (wall clock jumps) */

struct st_timer_driver {
    st_timer_driver_opts_t o;   /* options, defaults filled in */
    ev_timer wake;              /* real: next due; both: zero-delay "more work" */
    ev_timer retry;             /* back-off after a failed load */
    int64_t requested_until;    /* end of the last window asked for */
    int64_t loaded_until;       /* every stored wake time before this is loaded */
    int64_t load_from;          /* start of the window in flight */
    int64_t target;             /* virtual: end of the current advance */
    int advancing;              /* virtual: target not reached yet */
    int load_inflight;          /* a load returned ST_AGAIN and has not finished */
    int in_process;             /* inside process(): kicks are folded into its end */
    int started;                /* start() called and not stopped */
    st_err_t last_err;          /* last load failure */
    st_timer_driver_stats_t st; /* counters */
};

static void process(st_timer_driver_t *d);

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    return a + b;
}

static void wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    process(w->data);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    process(w->data);
}

/* Run process() on the next loop iteration (after polling I/O). */
static void kick(st_timer_driver_t *d)
{
    if (d->in_process || !d->started)
        return;
    ev_timer_stop(d->o.loop, &d->wake);
    ev_timer_set(&d->wake, 0., 0.);
    ev_timer_start(d->o.loop, &d->wake);
}

int st_timer_driver_new(const st_timer_driver_opts_t *opts, st_timer_driver_t **out, st_err_t *err)
{
    if (!opts || !opts->loop || !opts->wheel || !opts->clock || !opts->fire)
        return st_err_set(err, ST_INVAL, "timer driver: loop, wheel, clock and fire are required");
    if (opts->horizon_us < 0 || opts->load_step_us < 0 || opts->retry_us < 0)
        return st_err_set(err, ST_INVAL, "timer driver: negative horizon, step or retry");
    st_timer_driver_t *d = calloc(1, sizeof *d);
    if (!d)
        return st_err_set(err, ST_NOMEM, "timer driver: out of memory");
    d->o = *opts;
    if (!d->o.batch)
        d->o.batch = 1024;
    if (!d->o.horizon_us)
        d->o.horizon_us = 5 * 60 * INT64_C(1000000);
    if (!d->o.load_step_us)
        d->o.load_step_us = d->o.horizon_us / 10 > 0 ? d->o.horizon_us / 10 : 1;
    if (!d->o.retry_us)
        d->o.retry_us = 1000000;
    d->requested_until = d->o.load ? ST_TIMER_PAST : ST_TIMER_NEVER;
    d->loaded_until = d->requested_until;
    ev_timer_init(&d->wake, wake_cb, 0., 0.);
    d->wake.data = d;
    ev_timer_init(&d->retry, retry_cb, 0., 0.);
    d->retry.data = d;
    *out = d;
    return 0;
}

void st_timer_driver_stop(st_timer_driver_t *d)
{
    ev_timer_stop(d->o.loop, &d->wake);
    ev_timer_stop(d->o.loop, &d->retry);
    d->started = 0;
}

void st_timer_driver_free(st_timer_driver_t *d)
{
    if (!d)
        return;
    st_timer_driver_stop(d);
    free(d);
}

void st_timer_driver_start(st_timer_driver_t *d)
{
    d->started = 1;
    kick(d);
}

/* A load finished (synchronously or through load_done). */
static void load_finished(st_timer_driver_t *d, int rc, int64_t covered, const st_err_t *err)
{
    d->load_inflight = 0;
    if (rc == 0 && covered <= d->load_from) {
        rc = st_err_set(&d->last_err, ST_INTERNAL,
                        "timer loader made no progress (covered until %lld, window from %lld)",
                        (long long)covered, (long long)d->load_from);
    } else if (rc < 0 && err && err->code) {
        d->last_err = *err;
    } else if (rc < 0) {
        st_err_set(&d->last_err, rc, "timer loader failed: %s", st_code_message(rc));
    }
    if (rc < 0) {
        d->st.load_failures++;
        d->requested_until = d->loaded_until;
        ev_timer_set(&d->retry, (double)d->o.retry_us / 1e6, 0.);
        ev_timer_start(d->o.loop, &d->retry);
        return;
    }
    d->loaded_until = covered;
    d->requested_until = covered;
    d->st.loaded_until = covered;
}

/* Ask the loader for the next window if the horizon has reached it. */
static void maybe_load(st_timer_driver_t *d, int64_t now)
{
    if (!d->o.load || d->load_inflight || ev_is_active(&d->retry))
        return;
    int64_t want = sat_add(now, d->o.horizon_us);
    if (d->requested_until != ST_TIMER_PAST && want < d->requested_until)
        return;
    int64_t to = sat_add(want, d->o.load_step_us);
    int64_t covered = to;
    st_err_t err;
    st_err_clear(&err);
    d->load_from = d->requested_until;
    d->requested_until = to;
    d->load_inflight = 1;
    d->st.loads++;
    int rc = d->o.load(d->o.load_arg, d->load_from, to, &covered, &err);
    if (rc == ST_AGAIN)
        return; /* load_done comes later (or already came) */
    if (d->load_inflight)
        load_finished(d, rc, covered, &err);
}

int st_timer_driver_load_done(st_timer_driver_t *d, int rc, int64_t covered_until,
                              const st_err_t *err)
{
    if (!d->load_inflight)
        return ST_STATE;
    load_finished(d, rc == ST_AGAIN ? ST_INTERNAL : rc, covered_until, err);
    kick(d);
    return 0;
}

/* Fire what is due at now. Returns ST_AGAIN if the batch ran out. */
static int fire_due(st_timer_driver_t *d, int64_t now)
{
    size_t fired = 0;
    int rc = st_timer_wheel_advance(d->o.wheel, now, d->o.batch, d->o.fire, d->o.fire_arg, &fired);
    d->st.fired += fired;
    if (fired)
        d->st.batches++;
    return rc;
}

/* Real clock: fire a batch, then arm for the next due time or next load. */
static void process_real(st_timer_driver_t *d)
{
    int64_t now = st_clock_now_us(d->o.clock);
    maybe_load(d, now);
    ev_timer_stop(d->o.loop, &d->wake);
    if (fire_due(d, now) == ST_AGAIN) {
        ev_timer_set(&d->wake, 0., 0.);
        ev_timer_start(d->o.loop, &d->wake);
        return;
    }
    int64_t next = st_timer_wheel_next_due(d->o.wheel);
    if (d->o.load && !d->load_inflight && !ev_is_active(&d->retry) &&
        d->requested_until != ST_TIMER_PAST) {
        int64_t at = d->requested_until - d->o.horizon_us;
        next = at < next ? at : next;
    }
    ev_now_update(d->o.loop);
    now = st_clock_now_us(d->o.clock);
    double delay = next <= now ? 0. : (double)(next - now) / 1e6;
    ev_timer_set(&d->wake, delay < MAX_SLEEP_S ? delay : MAX_SLEEP_S, 0.);
    ev_timer_start(d->o.loop, &d->wake);
}

/* A load is in flight or backing off: its completion calls process. */
static int load_waiting(const st_timer_driver_t *d)
{
    return d->load_inflight || ev_is_active(&d->retry);
}

/* Continue on the next loop iteration; returns 0 to end the current pass. */
static int again(st_timer_driver_t *d)
{
    ev_timer_set(&d->wake, 0., 0.);
    ev_timer_start(d->o.loop, &d->wake);
    return 0;
}

/*
 * Virtual clock, one step: load if needed, fire what is due now, then move
 * the clock to the next thing to do. Returns 1 to keep stepping, 0 when
 * the pass should end (more work later through the wake timer, a load in
 * flight, or the target reached).
 */
static int step_virtual(st_timer_driver_t *d)
{
    int64_t now = st_clock_now_us(d->o.clock);
    maybe_load(d, now);
    if (now >= d->loaded_until)
        return !load_waiting(d); /* wait for load_done / retry, or load the next page */
    if (fire_due(d, now) == ST_AGAIN)
        return again(d);
    if (d->advancing && now >= d->target) {
        d->advancing = 0;
        if (d->o.reached)
            d->o.reached(d->o.reached_arg);
        /* reached may have scheduled or advanced again */
        if (d->advancing || st_timer_wheel_next_due(d->o.wheel) <= now)
            return again(d);
    }
    if (!d->advancing)
        return 0;
    int64_t next = st_timer_wheel_next_due(d->o.wheel);
    next = d->target < next ? d->target : next;
    if (d->o.load) {
        int64_t lim = d->loaded_until - d->o.horizon_us;
        if (lim <= now)
            lim = d->loaded_until - 1;
        next = lim < next ? lim : next;
    }
    if (next <= now)
        return !load_waiting(d); /* only a load can make progress */
    st_clock_set(d->o.clock, next, NULL);
    return 1;
}

static void process_virtual(st_timer_driver_t *d)
{
    ev_timer_stop(d->o.loop, &d->wake);
    for (size_t steps = 0; steps < d->o.batch; steps++) {
        if (!step_virtual(d))
            return;
    }
    ev_timer_set(&d->wake, 0., 0.);
    ev_timer_start(d->o.loop, &d->wake);
}

static void process(st_timer_driver_t *d)
{
    if (!d->started)
        return;
    d->in_process = 1;
    if (st_clock_is_virtual(d->o.clock))
        process_virtual(d);
    else
        process_real(d);
    d->in_process = 0;
    if (!d->started) /* a callback stopped us: re-arming above is undone */
        st_timer_driver_stop(d);
}

void st_timer_driver_rearm(st_timer_driver_t *d, st_timer_entry_t *e, int64_t due_us)
{
    int64_t before = st_timer_wheel_next_due(d->o.wheel);
    st_timer_wheel_rearm(d->o.wheel, e, due_us);
    if (st_clock_is_virtual(d->o.clock)) {
        if (due_us <= st_clock_now_us(d->o.clock))
            kick(d);
    } else if (due_us < before) {
        kick(d);
    }
}

int st_timer_driver_insert(st_timer_driver_t *d, st_timer_entry_t *e, int64_t due_us)
{
    if (due_us >= d->requested_until) {
        st_timer_wheel_cancel(d->o.wheel, e);
        return 0;
    }
    st_timer_driver_rearm(d, e, due_us);
    return 1;
}

int st_timer_driver_cancel(st_timer_driver_t *d, st_timer_entry_t *e)
{
    return st_timer_wheel_cancel(d->o.wheel, e);
}

int st_timer_driver_advance_to(st_timer_driver_t *d, int64_t now_us, st_err_t *err)
{
    if (!st_clock_is_virtual(d->o.clock))
        return st_err_set(err, ST_STATE, "time can only be advanced on a virtual clock");
    int64_t from = d->advancing ? d->target : st_clock_now_us(d->o.clock);
    if (now_us < from)
        return st_err_set(err, ST_INVAL, "cannot advance to %lld µs: time is already at %lld µs",
                          (long long)now_us, (long long)from);
    d->target = now_us;
    d->advancing = 1;
    kick(d);
    return 0;
}

int st_timer_driver_advance(st_timer_driver_t *d, int64_t delta_us, st_err_t *err)
{
    if (!st_clock_is_virtual(d->o.clock))
        return st_err_set(err, ST_STATE, "time can only be advanced on a virtual clock");
    if (delta_us < 0)
        return st_err_set(err, ST_INVAL, "cannot advance by a negative delta (%lld µs)",
                          (long long)delta_us);
    int64_t from = d->advancing ? d->target : st_clock_now_us(d->o.clock);
    return st_timer_driver_advance_to(d, sat_add(from, delta_us), err);
}

int st_timer_driver_busy(const st_timer_driver_t *d)
{
    return d->advancing;
}

void st_timer_driver_stats(const st_timer_driver_t *d, st_timer_driver_stats_t *out)
{
    *out = d->st;
    out->loaded_until = d->loaded_until;
}

const st_err_t *st_timer_driver_last_error(const st_timer_driver_t *d)
{
    return &d->last_err;
}
