/*
 * st_exec_act.c — running the activity a DO state asked for.
 *
 * One attempt at a time per instance goes to the activity runner with the
 * step's idempotency key. Every attempt is recorded (the task_attempts
 * view). A transient failure with attempts left is logged and rescheduled
 * in the store (tasks.not_before) and on the timer wheel, so a restart
 * resumes the same schedule; a final outcome becomes an ACTIVITY_RESULT
 * event that carries its attempt, and the checkpoint taking it finishes the
 * task row and stores the attempt there, with no write of its own. A
 * result no checkpoint takes (the flow moved on, the event was refused or
 * its checkpoint failed) has its attempt logged instead.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

void exec_task_clear(exec_task_t *t)
{
    free(t->activity);
    json_decref(t->args);
    memset(t, 0, sizeof *t);
}

static st_store_attempt_t attempt_of(const exec_task_t *t, const st_act_result_t *res, int64_t now)
{
    st_store_attempt_t a = {
        .task_id = t->id,
        .attempt = (int32_t)res->attempt,
        .started_us = t->started_us,
        .finished_us = now,
        .outcome = res->outcome,
        .code = res->code[0] ? res->code : NULL,
        .error = res->message[0] ? res->message : NULL,
    };
    return a;
}

static void log_attempt(st_exec_t *x, const st_store_attempt_t *a)
{
    st_err_t err;
    /* Asynchronous on the audit connection (see connect_all): an audit
     * record must never stall the loop or the checkpoints. */
    if (st_store_task_attempt_record_async(x->aux, a, exec_store_done, x, &err) != 0)
        exec_log(x, "recording attempt %d of task %lld failed: %s", (int)a->attempt,
                 (long long)a->task_id, err.msg);
}

static void record_attempt(st_exec_t *x, const exec_task_t *t, const st_act_result_t *res,
                           int64_t now)
{
    st_store_attempt_t a = attempt_of(t, res, now);
    log_attempt(x, &a);
}

void exec_ev_log_attempt(st_exec_t *x, const exec_ev_t *ev)
{
    if (ev != NULL && ev->att.outcome != NULL && ev->att.task_id > 0 && !x->freeing)
        log_attempt(x, &ev->att);
}

/* The attempt rides on the event (copied: res dies after the callback). */
static int carry_attempt(exec_ev_t *ev, const exec_task_t *t, const st_act_result_t *res,
                         int64_t now)
{
    st_store_attempt_t a = attempt_of(t, res, now);
    ev->att = a;
    ev->att.outcome = strdup(a.outcome);
    ev->att.code = a.code ? strdup(a.code) : NULL;
    ev->att.error = a.error ? strdup(a.error) : NULL;
    return ev->att.outcome && (!a.code || ev->att.code) && (!a.error || ev->att.error);
}

/* The final result of a task, as an event for its instance. */
static exec_ev_t *result_event(const exec_task_t *t, const st_act_result_t *res)
{
    exec_ev_t *ev = exec_ev_new(ST_CORE_EV_ACTIVITY_RESULT);
    if (ev == NULL)
        return NULL;
    int transient = strcmp(res->outcome, ST_ACT_TRANSIENT) == 0;
    const char *outcome = transient ? ST_ACT_FAILED : res->outcome;
    ev->task_seq = t->seq;
    ev->task_id = t->id;
    ev->task_failed = strcmp(outcome, ST_ACT_FAILED) == 0;
    ev->outcome = strdup(outcome);
    ev->code = res->code[0] ? strdup(res->code) : NULL;
    if (ev->outcome == NULL || (res->code[0] && ev->code == NULL)) {
        exec_ev_free(ev);
        return NULL;
    }
    ev->result = res->result ? json_deep_copy(res->result) : json_object();
    if (ev->result != NULL && res->message[0] && ev->task_failed)
        json_object_set_new(
            ev->result, "error",
            json_string(transient ? "gave up retrying a transient error" : res->message));
    return ev;
}

static void on_result(const st_act_result_t *res, void *user)
{
    exec_inst_t *in = user;
    st_exec_t *x = in->x;
    exec_task_t *t = &in->task;
    int64_t now = exec_now(x);
    t->inflight = 0;
    if (x->freeing)
        return;
    exec_crash_point(x, "after_result");
    exec_metrics_attempt(x, t->activity, res->outcome, res->latency_us);
    if (in->dead || t->id == 0) {
        /* The flow moved on (cancelled) or was lost while this ran. */
        if (t->id > 0)
            record_attempt(x, t, res, now);
        exec_inst_release_if_idle(x, in);
        return;
    }
    int64_t not_before = 0;
    if (st_act_next_attempt(&t->policy, res, now, exec_random(x), &not_before)) {
        st_err_t err;
        record_attempt(x, t, res, now); /* before the reschedule counts it */
        if (st_store_task_reschedule_async(x->aux, t->id, not_before, res->message, exec_store_done,
                                           x, &err) != 0)
            exec_log(x, "rescheduling task %lld failed: %s", (long long)t->id, err.msg);
        exec_timer_set_retry(x, in, not_before);
        return;
    }
    exec_ev_t *ev = result_event(t, res);
    if (ev != NULL && !carry_attempt(ev, t, res, now)) {
        exec_ev_free(ev);
        ev = NULL;
    }
    if (ev == NULL) {
        /* The task row is still open: recovery runs it again under the
         * same idempotency key once memory allows. */
        record_attempt(x, t, res, now);
        exec_log(x, "out of memory taking the result of task %lld (recovered later)",
                 (long long)t->id);
        exec_task_clear(t);
        exec_recover_want(x, in, 0);
        return;
    }
    exec_deliver(x, in, ev);
}

/* A permanent failure of the task without running it: recorded as an
 * attempt with msg, and its failed result queued for the instance. */
static void fail_task(st_exec_t *x, exec_inst_t *in, const char *msg)
{
    exec_task_t *t = &in->task;
    st_act_result_t res;
    memset(&res, 0, sizeof res);
    res.outcome = ST_ACT_FAILED;
    res.permanent = true;
    res.attempt = t->attempt;
    snprintf(res.message, sizeof res.message, "%s", msg);
    res.result = json_object();
    int64_t now = exec_now(x);
    exec_ev_t *ev = result_event(t, &res);
    if (ev != NULL && !carry_attempt(ev, t, &res, now)) {
        exec_ev_free(ev);
        ev = NULL;
    }
    if (ev == NULL) { /* the task stays pending: recovery tries again */
        record_attempt(x, t, &res, now);
        exec_log(x, "out of memory failing task %lld", (long long)t->id);
    }
    exec_enqueue(in, ev);
    json_decref(res.result);
}

int exec_task_dispatch(st_exec_t *x, exec_inst_t *in)
{
    exec_task_t *t = &in->task;
    st_err_t err;
    if (t->inflight || t->id == 0 || x->shutting_down)
        return 0;
    t->attempt++;
    st_act_request_t req = {
        .activity = t->activity,
        .args = t->args,
        .idem_key = t->idem_key,
        .timeout_us = t->timeout_us,
        .policy = t->policy,
        .attempt = t->attempt,
    };
    t->started_us = exec_now(x);
    int rc = st_act_start(x->act, &req, on_result, in, &err);
    if (rc != 0) {
        /* Unknown activity or a bad request: a permanent failure the
         * operator sees, never a silent drop. */
        exec_log(x, "activity %s not started: %s", t->activity, err.msg);
        fail_task(x, in, err.msg);
        return rc;
    }
    t->inflight = 1;
    x->stats.dispatched++;
    exec_crash_point(x, "after_dispatch");
    return 0;
}

void exec_retry_fired(st_exec_t *x, exec_inst_t *in)
{
    if (!in->dead)
        exec_task_dispatch(x, in);
}

void exec_task_recover(st_exec_t *x, exec_inst_t *in, const st_store_task_t *st)
{
    exec_task_t *t = &in->task;
    if (t->inflight)
        return;
    exec_task_clear(t);
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    t->id = st->id;
    t->seq = st->seq;
    snprintf(t->idem_key, sizeof t->idem_key, "%s", st->idempotency_key);
    t->activity = strdup(st->activity);
    if (t->activity == NULL) {
        exec_log(x, "out of memory recovering task %lld (tried again)", (long long)st->id);
        exec_task_clear(t);
        exec_recover_want(x, in, 0);
        return;
    }
    t->args = st->args_json ? json_loads(st->args_json, 0, &jerr) : NULL;
    t->timeout_us = (int64_t)st->timeout_ms * 1000;
    /* attempt counts attempts already started; the next one is attempt+1. */
    t->attempt = st->attempt > 0 ? (uint32_t)st->attempt : 0;
    t->policy.max_attempts = st->max_attempts > 0 ? (uint32_t)st->max_attempts : 1;
    st_core_program_retry(in->prog->p, in->core->state, &t->policy.backoff_min_us,
                          &t->policy.backoff_max_us);
    if (t->args == NULL || !json_is_object(t->args)) {
        /* Never run an activity with arguments other than those its step
         * wrote: the task fails, visibly, in its attempt and in history. */
        char msg[256];
        snprintf(msg, sizeof msg, "stored arguments of task %lld cannot be read (%s); not run",
                 (long long)st->id, t->args == NULL ? jerr.text : "not a JSON object");
        exec_log(x, "%s", msg);
        t->attempt++;
        fail_task(x, in, msg);
        exec_kick(x, in);
        return;
    }
    if (st->not_before_us > exec_now(x))
        exec_timer_set_retry(x, in, st->not_before_us);
    else
        exec_task_dispatch(x, in);
}
