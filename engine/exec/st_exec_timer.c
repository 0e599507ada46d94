/*
 * st_exec_timer.c — wake-ups and retry timers on the timer wheel.
 *
 * Each in-memory instance embeds two wheel entries: its sleep/await wake and
 * the next attempt of a transient failure. Wake times beyond the horizon are
 * not kept: the instance is dropped from memory and the horizon loader pages
 * its wake time (instances.wake_at) back in from PostgreSQL when the horizon
 * reaches it, as a shell that is filled from its row when it fires. Pages
 * are read asynchronously on the control connection (the driver waits for
 * st_timer_driver_load_done; one load is out at a time).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

#define LOAD_PAGE           1024
#define LOAD_PAGES_PER_CALL 64

static exec_inst_t *inst_of(st_timer_entry_t *e)
{
    size_t off =
        e->spare == EXEC_TIMER_WAKE ? offsetof(exec_inst_t, wake) : offsetof(exec_inst_t, retry);
    return (exec_inst_t *)(void *)((char *)e - off);
}

static void on_fire(st_timer_entry_t *e, void *arg)
{
    st_exec_t *x = arg;
    exec_inst_t *in = inst_of(e);
    if (x->shutting_down || in->dead)
        return;
    if (e->spare == EXEC_TIMER_RETRY) {
        exec_retry_fired(x, in);
        return;
    }
    exec_ev_t *ev = exec_ev_new(ST_CORE_EV_TIMER_FIRED);
    if (ev == NULL)
        return;
    ev->wake_seq = in->core != NULL ? in->core->wake_seq : in->shell_seq;
    x->stats.timers_fired++;
    exec_deliver(x, in, ev);
}

/* ---- the horizon loader: pages of stored wake times, asynchronously ---- */

/* Put one page of stored wake times into the wheel. */
static int apply_page(st_exec_t *x, const st_store_wakes_t *page, st_err_t *err)
{
    for (size_t i = 0; i < page->n; i++) {
        const st_store_wake_t *w = &page->v[i];
        exec_inst_t *in = exec_inst_find(x, &w->instance);
        if (in != NULL && (in->dead || (in->core != NULL && in->core->seq != w->seq)))
            continue; /* memory is ahead of this row */
        if (in == NULL) {
            in = exec_inst_add(x, &w->instance);
            if (in == NULL)
                return st_err_set(err, ST_NOMEM, "out of memory loading wake times");
            in->shell_seq = w->seq;
        }
        in->evict = 0;
        st_timer_wheel_rearm(x->wheel, &in->wake, w->wake_at_us);
    }
    return 0;
}

static void load_finish(st_exec_t *x, int rc, int64_t covered, const st_err_t *err)
{
    st_timer_driver_load_done(x->driver, rc, covered, err);
}

/* The window up to `to` is in memory: report it covered further, up to the
 * next stored wake time (at most SKIP_MAX_US on), since nothing stored is
 * due in between and later wakes before `covered` go straight into the
 * wheel. A virtual clock jumping days then costs a query per stored wake
 * instead of one per empty window (2,880 a day), which held the loop past
 * the node's lease. On an error the plain window stands. */
#define SKIP_MAX_US (86400LL * 1000000)

static void on_skip(int rc, const st_err_t *err, st_store_wakes_t *next, void *ud)
{
    st_exec_t *x = ud;
    (void)err;
    if (x->freeing)
        return;
    int64_t to = x->wl.to;
    int64_t covered = to;
    if (rc == 0)
        covered = next->n > 0 ? next->v[0].wake_at_us : to + SKIP_MAX_US;
    if (covered < to)
        covered = to;
    load_finish(x, 0, covered, NULL);
}

static void skip_empty(st_exec_t *x)
{
    int64_t to = x->wl.to;
    st_err_t err;
    if (to == ST_TIMER_PAST || to > INT64_MAX - SKIP_MAX_US) {
        load_finish(x, 0, to, NULL);
        return;
    }
    st_store_uuid_t after_id;
    memset(after_id.b, 0xff, sizeof after_id.b);
    if (st_store_wakes_page_async(x->ctl, x->node_id, to + SKIP_MAX_US, to - 1, &after_id, 1,
                                  on_skip, x, &err) != 0)
        load_finish(x, 0, to, NULL);
}

static int load_next(st_exec_t *x, st_err_t *err);

static void on_page(int rc, const st_err_t *err, st_store_wakes_t *page, void *ud)
{
    st_exec_t *x = ud;
    st_err_t e;
    if (x->freeing)
        return;
    if (rc != 0) {
        load_finish(x, rc, 0, err);
        return;
    }
    if (apply_page(x, page, &e) != 0) {
        load_finish(x, e.code, 0, &e);
        return;
    }
    size_t n = page->n;
    if (n > 0) {
        x->wl.after_us = page->v[n - 1].wake_at_us;
        x->wl.after_id = page->v[n - 1].instance;
    }
    if (n < LOAD_PAGE) {
        skip_empty(x); /* the whole window is in memory */
        return;
    }
    if (++x->wl.pages < LOAD_PAGES_PER_CALL) {
        if (load_next(x, &e) != 0)
            load_finish(x, e.code, 0, &e);
        return;
    }
    /* Page budget spent: what is loaded covers up to the last wake seen. */
    int64_t from = x->wl.from;
    load_finish(x, 0, x->wl.after_us > from ? x->wl.after_us : from + 1, NULL);
}

static int load_next(st_exec_t *x, st_err_t *err)
{
    return st_store_wakes_page_async(x->ctl, x->node_id, x->wl.to, x->wl.after_us, &x->wl.after_id,
                                     LOAD_PAGE, on_page, x, err);
}

static int on_load(void *arg, int64_t from, int64_t to, int64_t *covered, st_err_t *err)
{
    st_exec_t *x = arg;
    (void)covered;
    memset(&x->wl, 0, sizeof x->wl);
    x->wl.from = from;
    x->wl.to = to;
    x->wl.after_us = ST_STORE_NO_TIME;
    memset(x->wl.after_id.b, 0xff, sizeof x->wl.after_id.b);
    if (from != ST_TIMER_PAST)
        x->wl.after_us = from - 1; /* (wake_at, id) > (from - 1, max id): wake_at >= from */
    int rc = load_next(x, err);
    return rc != 0 ? rc : ST_AGAIN;
}

int exec_timers_init(st_exec_t *x, st_err_t *err)
{
    st_timer_wheel_opts_t wo = {.tick_us = 1000, .start_us = st_clock_now_us(&x->clock)};
    int rc = st_timer_wheel_new(&wo, &x->wheel, err);
    if (rc != 0)
        return rc;
    st_timer_driver_opts_t o = {
        .loop = x->loop,
        .wheel = x->wheel,
        .clock = &x->clock,
        .fire = on_fire,
        .fire_arg = x,
        .load = on_load,
        .load_arg = x,
        .horizon_us = x->cfg.horizon_us,
        .reached = exec_clock_reached,
        .reached_arg = x,
    };
    return st_timer_driver_new(&o, &x->driver, err);
}

void exec_timer_set_wake(st_exec_t *x, exec_inst_t *in, int64_t at_us)
{
    if (!st_timer_driver_insert(x->driver, &in->wake, at_us))
        in->evict = 1; /* beyond the horizon: the loader brings it back */
}

void exec_timer_set_retry(st_exec_t *x, exec_inst_t *in, int64_t at_us)
{
    /* Retries stay in memory whatever their delay: the instance is running. */
    st_timer_driver_rearm(x->driver, &in->retry, at_us);
}

void exec_timer_cancel_all(st_exec_t *x, exec_inst_t *in)
{
    if (x->driver != NULL) {
        st_timer_driver_cancel(x->driver, &in->wake);
        st_timer_driver_cancel(x->driver, &in->retry);
    } else if (x->wheel != NULL) {
        st_timer_wheel_cancel(x->wheel, &in->wake);
        st_timer_wheel_cancel(x->wheel, &in->retry);
    }
}
