/*
 * st_exec_metrics.c — what the executor tells /metrics.
 *
 * Everything here runs on the engine's loop and only touches the registry's
 * lock-free series: transitions per flow and checkpoint latency on every
 * commit, activity calls by driver and outcome with their latency on every
 * attempt, and once a second the timers pending in the wheel. The batcher
 * reports totals only, so batch sizes are recovered after each loop turn
 * from the change in batches and checkpoints (exact when one batch
 * completes per turn, the average of the turn's batches otherwise).
 */
#include <string.h>

#include "exec/exec_int.h"

static void on_sample(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    (void)loop;
    (void)revents;
    if (x->wheel != NULL)
        st_metrics_set(x->m.timers_pending, NULL, (double)st_timer_wheel_pending(x->wheel));
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents)
{
    st_exec_t *x = w->data;
    st_store_batch_stats_t st;
    (void)loop;
    (void)revents;
    if (x->batch == NULL)
        return;
    st_store_batch_get_stats(x->batch, &st);
    uint64_t b = st.batches - x->seen_batches, c = st.checkpoints - x->seen_ckpts;
    if (b == 0)
        return;
    for (uint64_t i = 0; i < b; i++)
        st_metrics_observe(x->m.ckpt_batch_size, NULL, (double)c / (double)b);
    x->seen_batches = st.batches;
    x->seen_ckpts = st.checkpoints;
}

int exec_metrics_init(st_exec_t *x, st_err_t *err)
{
    if (x->cfg.metrics == NULL)
        return 0;
    int rc = st_metrics_std_init(x->cfg.metrics, &x->m, err);
    if (rc != 0)
        return rc;
    ev_timer_init(&x->metrics_w, on_sample, 0.0, 1.0);
    x->metrics_w.data = x;
    ev_timer_start(x->loop, &x->metrics_w);
    ev_check_init(&x->batch_w, on_check);
    x->batch_w.data = x;
    ev_check_start(x->loop, &x->batch_w);
    return 0;
}

void exec_metrics_stop(st_exec_t *x)
{
    if (x->cfg.metrics == NULL || x->loop == NULL)
        return;
    ev_timer_stop(x->loop, &x->metrics_w);
    ev_check_stop(x->loop, &x->batch_w);
}

void exec_metrics_step(st_exec_t *x, const exec_inst_t *in, int64_t submitted_us)
{
    if (x->cfg.metrics == NULL)
        return;
    const char *flow[1] = {st_core_program_name(in->prog->p)};
    st_metrics_inc(x->m.transitions, flow, 1);
    double secs = (double)(exec_now(x) - submitted_us) / 1e6;
    st_metrics_observe(x->m.ckpt_commit, NULL, secs < 0 ? 0 : secs);
}

void exec_metrics_attempt(st_exec_t *x, const char *activity, const char *outcome,
                          int64_t latency_us)
{
    if (x->cfg.metrics == NULL)
        return;
    const char *calls[2] = {activity, outcome};
    const char *driver[1] = {activity};
    st_metrics_inc(x->m.activity_calls, calls, 1);
    st_metrics_observe(x->m.activity_time, driver, (double)latency_us / 1e6);
}
