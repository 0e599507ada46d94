/*
 * st_exec_clock.c — the virtual clock's durable control channel.
 *
 * With --clock virtual, time moves only when an operator or a test says so:
 * `settled clock advance 3d` (or settlectl) raises settle_clock.target_us and
 * NOTIFYs settle_clock; every virtual node then advances its timer driver to
 * the target, firing everything due in order, and writes the time it reached
 * back to settle_clock.now_us. Virtual time is durable: a node that restarts
 * resumes at now_us instead of jumping back to its start time.
 *
 * Through the store's clock calls: blocking on the boot connection at
 * start-up, asynchronous on the control connection afterwards. One read of
 * the target is out at a time; a notification meanwhile reads once more.
 */
#include "exec/exec_int.h"

int exec_clock_init(st_exec_t *x, st_store_conn_t *boot, st_err_t *err)
{
    if (x->clock.kind != ST_CLOCK_VIRTUAL)
        return 0;
    st_store_clock_t clk;
    int rc = st_store_clock_open(boot, st_clock_now_us(&x->clock), &clk, err);
    if (rc != 0) {
        st_err_prefix(err, "virtual clock");
        return rc;
    }
    if (clk.now_us > st_clock_now_us(&x->clock))
        st_clock_set(&x->clock, clk.now_us, NULL); /* resume durable virtual time */
    return 0;
}

static void on_reached(int rc, const st_err_t *err, void *ud)
{
    st_exec_t *x = ud;
    if (rc != 0 && !x->freeing)
        exec_log(x, "virtual clock: %s", err->msg);
}

/* An advance reached its target: publish the time for `clock show`. */
void exec_clock_reached(void *arg)
{
    st_exec_t *x = arg;
    st_err_t err;
    if (st_store_clock_reached_async(x->ctl, st_clock_now_us(&x->clock), on_reached, x, &err) != 0)
        exec_log(x, "virtual clock: %s", err.msg);
}

static void on_target(int rc, const st_err_t *err, const st_store_clock_t *clk, void *ud)
{
    st_exec_t *x = ud;
    st_err_t e;
    if (x->freeing)
        return;
    x->clock_polling = 0;
    if (rc != 0)
        exec_log(x, "virtual clock: %s", err->msg);
    else if (!x->shutting_down && clk->target_us > st_clock_now_us(&x->clock) &&
             st_timer_driver_advance_to(x->driver, clk->target_us, &e) != 0)
        exec_log(x, "advancing the virtual clock failed: %s", e.msg);
    if (x->clock_again) {
        x->clock_again = 0;
        exec_clock_poll(x);
    }
}

/* settle_clock was notified: advance to its target if it is ahead of us. */
void exec_clock_poll(st_exec_t *x)
{
    st_err_t err;
    if (x->clock.kind != ST_CLOCK_VIRTUAL)
        return;
    if (x->clock_polling) {
        x->clock_again = 1;
        return;
    }
    if (st_store_clock_read_async(x->ctl, on_target, x, &err) != 0) {
        exec_log(x, "virtual clock: %s", err.msg);
        return;
    }
    x->clock_polling = 1;
}
