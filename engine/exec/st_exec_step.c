/*
 * st_exec_step.c — events in, checkpoints out.
 *
 * An event for an idle instance is applied by the pure core to a clone of
 * the committed state; if the core consumed it, the clone, the history rows,
 * the new task, the consumed signal and the finished task go to the batcher
 * as one checkpoint. Only when that checkpoint committed does the clone
 * become the committed state and its commands run (dispatch, timer, end).
 *
 * Nothing here waits for PostgreSQL: a shell is read before its events run
 * (exec_inst_load), stored signals are read asynchronously, and the
 * store's answers to events the core refused (a stale task finished, a
 * refused signal set aside) are fire-and-forget writes.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

struct exec_ckpt {
    st_store_ckpt_t ck; /* what the store writes */
    st_exec_t *x;
    exec_inst_t *in;
    exec_ev_t *ev;            /* the consumed event (owned) */
    st_core_instance_t *next; /* state after the step (owned until commit) */
    st_core_output_t out;     /* commands and history (owned) */
    char *vars_json;          /* owned strings the record points into */
    st_store_hist_t *hist;
    char **hist_detail;
    st_store_task_new_t task;
    char *task_args;
    st_store_task_done_t done;
    char *done_result;
    st_store_kv_t *corr; /* correlation keys learnt in this step */
};

exec_ev_t *exec_ev_new(st_core_event_kind_t kind)
{
    exec_ev_t *ev = calloc(1, sizeof *ev);
    if (ev != NULL)
        ev->kind = kind;
    return ev;
}

void exec_ev_free(exec_ev_t *ev)
{
    if (ev == NULL)
        return;
    json_decref(ev->inputs);
    json_decref(ev->result);
    json_decref(ev->payload);
    free(ev->outcome);
    free(ev->code);
    free(ev->signal);
    free((char *)ev->att.outcome);
    free((char *)ev->att.code);
    free((char *)ev->att.error);
    free(ev);
}

static void ckpt_free(exec_ckpt_t *c)
{
    if (c == NULL)
        return;
    exec_ev_free(c->ev);
    st_core_instance_free(c->next);
    if (c->hist_detail != NULL)
        for (size_t i = 0; i < c->out.n_history; i++)
            free(c->hist_detail[i]);
    st_core_output_release(&c->out);
    free(c->hist_detail);
    free(c->hist);
    free(c->vars_json);
    free(c->task_args);
    free(c->done_result);
    free(c->corr);
    free(c);
}

static st_store_status_t store_status(st_core_status_t s)
{
    switch (s) {
    case ST_CORE_RUNNING:
        return ST_STORE_RUNNING;
    case ST_CORE_WAITING:
        return ST_STORE_WAITING;
    case ST_CORE_COMPLETED:
        return ST_STORE_COMPLETED;
    case ST_CORE_FAILED:
        return ST_STORE_FAILED;
    case ST_CORE_CANCELLED:
        return ST_STORE_CANCELLED;
    case ST_CORE_SUSPENDED:
        return ST_STORE_SUSPENDED;
    }
    return ST_STORE_FAILED;
}

static int fill_history(exec_ckpt_t *c, const st_core_program_t *p)
{
    size_t n = c->out.n_history;
    if (n == 0)
        return 0;
    c->hist = calloc(n, sizeof *c->hist);
    c->hist_detail = calloc(n, sizeof *c->hist_detail);
    if (c->hist == NULL || c->hist_detail == NULL)
        return ST_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const st_core_history_t *h = &c->out.history[i];
        c->hist[i].kind = h->kind;
        c->hist[i].from_state =
            h->from >= 0 ? st_core_program_state_name(p, (uint32_t)h->from) : NULL;
        c->hist[i].to_state = st_core_program_state_name(p, (uint32_t)h->to);
        if (h->detail != NULL)
            c->hist_detail[i] = json_dumps(h->detail, JSON_COMPACT | JSON_SORT_KEYS);
        c->hist[i].detail_json = c->hist_detail[i];
    }
    c->ck.hist = c->hist;
    c->ck.nhist = (unsigned)n;
    return 0;
}

static int fill_task(exec_ckpt_t *c)
{
    for (size_t i = 0; i < c->out.n_cmds; i++) {
        const st_core_cmd_t *cmd = &c->out.cmds[i];
        if (cmd->kind != ST_CORE_CMD_RUN_ACTIVITY)
            continue;
        c->task_args = json_dumps(cmd->args, JSON_COMPACT | JSON_SORT_KEYS);
        if (c->task_args == NULL)
            return ST_NOMEM;
        c->task.activity = cmd->activity;
        c->task.args_json = c->task_args;
        c->task.idempotency_key = cmd->idem_key;
        c->task.max_attempts = (int32_t)cmd->max_attempts;
        int64_t ms = cmd->timeout_us / 1000;
        c->task.timeout_ms = (int32_t)(ms < 1 ? 1 : ms > INT32_MAX ? INT32_MAX : ms);
        c->task.not_before_us = c->ck.at_us;
        c->ck.task = &c->task;
    }
    return 0;
}

/* The task this step finishes: the answered one, or an abandoned one. */
static int fill_done(exec_ckpt_t *c, const exec_inst_t *in)
{
    const exec_ev_t *ev = c->ev;
    if (ev->kind == ST_CORE_EV_ACTIVITY_RESULT && ev->task_id > 0) {
        if (ev->result != NULL) {
            c->done_result = json_dumps(ev->result, JSON_COMPACT | JSON_SORT_KEYS);
            if (c->done_result == NULL)
                return ST_NOMEM;
        }
        c->done.task_id = ev->task_id;
        c->done.status = ev->task_failed ? ST_STORE_TASK_FAILED : ST_STORE_TASK_DONE;
        c->done.outcome = ev->outcome;
        c->done.result_json = c->done_result;
        c->done.attempt = in->task.id == ev->task_id ? (int32_t)in->task.attempt : 0;
        if (ev->att.outcome != NULL) { /* stored on the task row (number `attempt`) */
            c->done.final = &ev->att;
            if (ev->att.attempt > c->done.attempt)
                c->done.attempt = ev->att.attempt;
        }
        c->ck.task_done = &c->done;
    } else if (in->task.id > 0 && in->core->status == ST_CORE_RUNNING &&
               c->next->status != ST_CORE_RUNNING) {
        /* Cancelled while an activity was pending: it must never run again. */
        c->done.task_id = in->task.id;
        c->done.status = ST_STORE_TASK_CANCELLED;
        c->done.outcome = "cancelled";
        c->ck.task_done = &c->done;
    }
    return 0;
}

/* Correlated variables that got a new non-empty value in this step: the
 * checkpoint registers them, so a webhook about that object finds the
 * instance as soon as the step is visible. Strings stay owned by c->next. */
static int fill_correlations(exec_ckpt_t *c, const exec_inst_t *in)
{
    const st_core_program_t *p = in->prog->p;
    size_t n = st_core_program_correlation_count(p);
    if (n == 0)
        return 0;
    c->corr = calloc(n, sizeof *c->corr);
    if (c->corr == NULL)
        return ST_NOMEM;
    unsigned k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t var = 0;
        const char *key = st_core_program_correlation(p, i, &var);
        const st_core_value_t *now = &c->next->vars[var];
        const st_core_value_t *was = &in->core->vars[var];
        if (now->type != ST_CORE_T_STRING || now->s[0] == '\0')
            continue;
        if (in->core->seq > 0 && was->type == ST_CORE_T_STRING && strcmp(was->s, now->s) == 0)
            continue;
        c->corr[k].key = key;
        c->corr[k].value = now->s;
        k++;
    }
    c->ck.correlations = c->corr;
    c->ck.ncorrelations = k;
    return 0;
}

static int build(st_exec_t *x, exec_inst_t *in, exec_ckpt_t *c)
{
    const st_core_program_t *p = in->prog->p;
    st_store_ckpt_t *ck = &c->ck;
    json_t *vars = st_core_vars_to_json(p, c->next);
    c->vars_json = vars ? json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(vars);
    if (c->vars_json == NULL)
        return ST_NOMEM;
    ck->instance = in->id;
    ck->node_id = x->node_id;
    ck->lease_epoch = in->epoch;
    ck->expected_seq = in->core->seq;
    ck->state = (int32_t)c->next->state;
    ck->state_name = st_core_program_state_name(p, c->next->state);
    ck->status = store_status(c->next->status);
    ck->vars_json = c->vars_json;
    ck->wake_at_us = c->next->has_wake ? c->next->wake_at_us : ST_STORE_NO_TIME;
    ck->wait_reason = c->next->reason[0] ? c->next->reason : NULL;
    ck->at_us = exec_now(x);
    ck->cancel_requested = c->next->cancel_requested;
    ck->consume_signal_id = c->ev->signal_id; /* signals and stored cancels */
    int rc = fill_history(c, p);
    if (rc == 0)
        rc = fill_task(c);
    if (rc == 0)
        rc = fill_done(c, in);
    if (rc == 0)
        rc = fill_correlations(c, in);
    return rc;
}

static void core_event(const exec_ev_t *ev, int64_t now, st_core_event_t *out)
{
    memset(out, 0, sizeof *out);
    out->kind = ev->kind;
    out->now_us = now;
    out->inputs = ev->inputs;
    out->task_seq = ev->task_seq;
    out->outcome = ev->outcome;
    out->code = ev->code;
    out->result = ev->result;
    out->wake_seq = ev->wake_seq;
    out->signal = ev->signal;
    out->payload = ev->payload;
}

static void on_commit(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud);

static void on_stale_finished(int rc, const st_err_t *err, void *ud)
{
    st_exec_t *x = ud;
    if (rc != 0 && rc != ST_CONFLICT && !x->freeing)
        exec_log(x, "finishing a stale task failed: %s", err->msg);
}

static void on_signal_refused(int rc, const st_err_t *err, void *ud)
{
    st_exec_t *x = ud;
    if (rc != 0 && !x->freeing)
        exec_log(x, "setting a refused signal aside failed: %s", err->msg);
}

/* An event the core did not consume: tidy up what the event owned. A
 * stored signal the flow refuses (its payload does not fit) is set aside
 * with a history note, or it would be offered first for ever and hide the
 * signals behind it; the next one is looked at after it. */
static void not_consumed(st_exec_t *x, exec_inst_t *in, exec_ev_t *ev, const char *why)
{
    st_err_t err;
    if (ev->kind == ST_CORE_EV_ACTIVITY_RESULT && ev->task_id > 0) {
        exec_ev_log_attempt(x, ev);
        st_store_task_done_t d = {ev->task_id, ST_STORE_TASK_CANCELLED, "stale", NULL, 0, NULL};
        if (st_store_task_finish_async(x->ctl, &d, on_stale_finished, x, &err) != 0)
            exec_log(x, "finishing a stale task failed: %s", err.msg);
    }
    if ((ev->kind == ST_CORE_EV_SIGNAL || ev->kind == ST_CORE_EV_CANCEL) && ev->signal_id > 0) {
        exec_log(x, "stored signal %lld (%s) refused: %s", (long long)ev->signal_id,
                 ev->signal ? ev->signal : "?", why);
        if (st_store_signal_refuse_async(x->ctl, ev->signal_id, &in->id, in->core->seq, exec_now(x),
                                         why, on_signal_refused, x, &err) != 0)
            exec_log(x, "setting a refused signal aside failed: %s", err.msg);
        in->check_signals = 1;
    }
}

/* Apply one event; returns 1 when a checkpoint went out. */
static int step_one(st_exec_t *x, exec_inst_t *in, exec_ev_t *ev)
{
    st_err_t err;
    exec_ckpt_t *c = calloc(1, sizeof *c);
    if (c == NULL || st_core_instance_clone(in->core, &c->next, &err) != 0) {
        exec_log(x, "out of memory stepping an instance");
        free(c);
        exec_ev_log_attempt(x, ev);
        exec_ev_free(ev);
        return 0;
    }
    c->x = x;
    c->in = in;
    c->ev = ev;
    st_core_event_t cev;
    core_event(ev, exec_now(x), &cev);
    st_core_output_init(&c->out);
    int rc = st_core_step(in->prog->p, c->next, &cev, &c->out, &err);
    if (rc != 0 || !c->out.consumed) {
        if (rc != 0)
            exec_log(x, "event %s refused: %s", st_core_event_name(ev->kind), err.msg);
        not_consumed(x, in, ev, rc != 0 ? err.msg : c->out.note);
        ckpt_free(c);
        return 0;
    }
    rc = build(x, in, c);
    if (rc == 0) {
        exec_crash_point(x, "before_checkpoint");
        rc = st_store_batch_submit(x->batch, &c->ck, on_commit, c, &err);
    }
    if (rc != 0) {
        exec_log(x, "checkpoint not submitted: %s", rc == ST_NOMEM ? "out of memory" : err.msg);
        exec_ev_log_attempt(x, c->ev);
        ckpt_free(c);
        exec_reload_later(x, in);
        return 0;
    }
    in->ck = c;
    return 1;
}

static void signals_fetch(st_exec_t *x, exec_inst_t *in);

/* Feed queued events to the instance one checkpoint at a time, then look
 * for stored signals it can take. A shell (no state yet) is read first;
 * its events wait meanwhile. */
void exec_kick(st_exec_t *x, exec_inst_t *in)
{
    while (in->ck == NULL && in->qhead != NULL && !in->dead && !in->reload) {
        if (in->core == NULL) {
            exec_inst_load(x, in); /* no-op while a read is in flight */
            return;
        }
        exec_ev_t *ev = in->qhead;
        in->qhead = ev->next;
        if (in->qhead == NULL)
            in->qtail = NULL;
        ev->next = NULL;
        if (step_one(x, in, ev))
            return;
    }
    if (in->ck == NULL && in->check_signals && !in->dead && !in->reload && in->core != NULL &&
        !in->fetching) {
        in->check_signals = 0;
        signals_fetch(x, in);
    }
    if (in->evict && in->ck == NULL && in->qhead == NULL)
        exec_inst_evict(x, in); /* in is gone after this (unless a read is in flight) */
}

void exec_enqueue(exec_inst_t *in, exec_ev_t *ev)
{
    if (ev == NULL)
        return;
    if (in->qtail != NULL)
        in->qtail->next = ev;
    else
        in->qhead = ev;
    in->qtail = ev;
}

void exec_deliver(st_exec_t *x, exec_inst_t *in, exec_ev_t *ev)
{
    exec_enqueue(in, ev);
    exec_kick(x, in);
}

/* Run the commands of a committed step. */
static void apply(st_exec_t *x, exec_inst_t *in, exec_ckpt_t *c)
{
    for (size_t i = 0; i < c->out.n_cmds; i++) {
        const st_core_cmd_t *cmd = &c->out.cmds[i];
        switch (cmd->kind) {
        case ST_CORE_CMD_RUN_ACTIVITY:
            exec_task_clear(&in->task);
            in->task.id = c->ck.task_id;
            in->task.seq = cmd->task_seq;
            snprintf(in->task.idem_key, sizeof in->task.idem_key, "%s", cmd->idem_key);
            in->task.activity = strdup(cmd->activity);
            if (in->task.activity == NULL) {
                /* Its row is written: recovery dispatches it once memory allows. */
                exec_log(x, "out of memory dispatching task %lld (recovered later)",
                         (long long)in->task.id);
                exec_task_clear(&in->task);
                exec_recover_want(x, in, 0);
                break;
            }
            in->task.args = json_incref(cmd->args);
            in->task.timeout_us = cmd->timeout_us;
            in->task.policy.max_attempts = cmd->max_attempts;
            in->task.policy.backoff_min_us = cmd->backoff_min_us;
            in->task.policy.backoff_max_us = cmd->backoff_max_us;
            if (in->task.id == 0) /* its key existed: recovery attaches that row */
                exec_recover_want(x, in, 1);
            exec_task_dispatch(x, in);
            break;
        case ST_CORE_CMD_SET_WAKE:
            exec_timer_set_wake(x, in, cmd->wake_at_us);
            break;
        case ST_CORE_CMD_COMPLETE:
            x->stats.completed++;
            in->dead = 1;
            break;
        case ST_CORE_CMD_FAIL:
            x->stats.failed++;
            in->dead = 1;
            break;
        case ST_CORE_CMD_CANCELLED:
            x->stats.cancelled++;
            in->dead = 1;
            break;
        }
    }
}

static void on_commit(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    exec_ckpt_t *c = ud;
    st_exec_t *x = c->x;
    exec_inst_t *in = c->in;
    (void)ck;
    in->ck = NULL;
    if (x->freeing) {
        ckpt_free(c);
        return;
    }
    if (rc == 0) {
        exec_crash_point(x, "after_commit");
        x->stats.steps++;
        exec_metrics_step(x, in, c->ck.at_us);
        if (c->ev->kind == ST_CORE_EV_SIGNAL)
            x->stats.signals++;
        int left_task = in->core->status == ST_CORE_RUNNING && c->next->status != ST_CORE_RUNNING;
        st_core_instance_free(in->core);
        in->core = c->next;
        c->next = NULL;
        if (left_task && !in->task.inflight)
            exec_task_clear(&in->task);
        else if (left_task)
            in->task.id = 0; /* its result, when it comes, is stale */
        exec_timer_cancel_all(x, in);
        apply(x, in, c);
        /* Signals stored before the wait began: only a state that waits for
         * signals can take one (a stored cancel was delivered when it
         * arrived, by its notification), so plain sleeps cost no query. */
        const char *const *names = NULL;
        if (in->core->status == ST_CORE_WAITING &&
            st_core_instance_signals(in->prog->p, in->core, &names) > 0)
            in->check_signals = 1;
    } else if (rc == ST_CONFLICT) {
        exec_ev_log_attempt(x, c->ev); /* the attempt ran; no row took it */
        /* Another node took it, or this node re-claimed it (new epoch) while
         * the write was in flight: re-read the row; the reload keeps it only
         * if the row is ours, and forgets it otherwise. */
        x->stats.conflicts++;
        exec_reload_later(x, in);
    } else {
        exec_log(x, "checkpoint outcome unknown (%s); re-reading the instance later",
                 err ? err->msg : "?");
        /* Not stored if the checkpoint did not commit; a duplicate of one it
         * stored is hidden by the view (the log's record wins). */
        exec_ev_log_attempt(x, c->ev);
        exec_reload_later(x, in);
    }
    ckpt_free(c);
    if (in->dead) {
        exec_inst_forget(x, in);
        return;
    }
    exec_kick(x, in);
}

/* The oldest stored signal of list the instance can take now, as an event
 * (NULL: none). A cancel while the cancel path already runs has nothing to
 * do: it is discarded, or it would be offered first forever and hide the
 * signals behind it. */
static exec_ev_t *signal_pick(st_exec_t *x, exec_inst_t *in, const st_store_signals_t *list)
{
    const char *const *names = NULL;
    size_t n = st_core_instance_signals(in->prog->p, in->core, &names);
    st_err_t err;
    for (size_t i = 0; i < list->n; i++) {
        const st_store_signal_t *s = &list->v[i];
        int cancel = strcmp(s->name, "settle.cancel") == 0;
        int wanted = cancel;
        for (size_t k = 0; k < n && !wanted; k++)
            wanted = strcmp(names[k], s->name) == 0;
        if (!wanted)
            continue;
        if (cancel && in->core->cancel_requested) {
            if (st_store_signal_discard_async(x->ctl, s->id, &in->id, in->core->seq,
                                              exec_store_done, x, &err) != 0)
                exec_log(x, "discarding a repeated cancel failed: %s", err.msg);
            continue;
        }
        exec_ev_t *ev = exec_ev_new(cancel ? ST_CORE_EV_CANCEL : ST_CORE_EV_SIGNAL);
        if (ev == NULL || (ev->signal = strdup(s->name)) == NULL) {
            exec_ev_free(ev);
            exec_log(x, "out of memory taking a stored signal (looked at again later)");
            in->check_signals = 1;
            return NULL;
        }
        ev->signal_id = s->id;
        /* A payload jansson cannot read stays NULL; the core refuses it
         * like any payload that does not fit, and it is set aside. */
        ev->payload = s->payload_json ? json_loads(s->payload_json, 0, NULL) : NULL;
        if (s->payload_json != NULL && ev->payload == NULL)
            ev->payload = json_string("(unreadable payload)");
        return ev;
    }
    return NULL;
}

static void on_signals(int rc, const st_err_t *err, st_store_signals_t *list, void *ud)
{
    exec_req_t *r = ud;
    st_exec_t *x = r->x;
    int64_t seq = r->seq;
    exec_inst_t *in = exec_req_take(r, 1);
    if (in == NULL)
        return;
    in->fetching = 0;
    if (in->dead || in->reload || in->core == NULL) {
        exec_inst_release_if_idle(x, in);
        return;
    }
    if (rc != 0) {
        exec_log(x, "reading stored signals failed: %s", err->msg);
        exec_kick(x, in);
        return;
    }
    if (in->ck != NULL || in->qhead != NULL || in->core->seq != seq) {
        /* It moved on while the read was out: read again for its new state. */
        in->check_signals = 1;
        exec_kick(x, in);
        return;
    }
    exec_ev_t *ev = signal_pick(x, in, list);
    if (ev != NULL)
        exec_enqueue(in, ev);
    exec_kick(x, in);
}

static void signals_fetch(st_exec_t *x, exec_inst_t *in)
{
    st_err_t err;
    exec_req_t *r = exec_req_new(x, in);
    uint64_t gen = r != NULL ? r->gen : 0;
    int rc = r == NULL ? st_err_set(&err, ST_NOMEM, "out of memory")
                       : st_store_signals_pending_async(x->ctl, &in->id, on_signals, r, &err);
    if (rc != 0) {
        free(r);
        exec_log(x, "reading stored signals failed: %s", err.msg);
        return;
    }
    in->fetching = 1;
    in->fetch_gen = gen;
    x->stats.signal_reads++;
}

void exec_signals_poll(st_exec_t *x, exec_inst_t *in)
{
    in->check_signals = 1; /* looked at once idle */
    exec_kick(x, in);
}
