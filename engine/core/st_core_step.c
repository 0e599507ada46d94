/*
 * st_core_step.c — the step: (program, instance, event) → (instance′, commands).
 *
 * Layer: core, pure: no I/O, no clock (the event carries `now`), no globals.
 * Dependencies: libc, jansson.
 *
 * How a step runs: admit() decides whether the event applies to the
 * instance as it is (stale and irrelevant events are answered "not
 * consumed" and change nothing); then the step works on a copy of the
 * instance, follows transitions — entry assigns, guards, DECIDE chains — up
 * to a state that needs the outside world (DO, SLEEP, AWAIT) or an end
 * (FINAL, FAIL), and finally swaps the copy in. So a negative return never
 * leaves a half-applied instance behind, and a consumed event always moves
 * seq by exactly one.
 *
 * Runtime faults of the flow itself (overflow, division by zero, a result
 * without a matching arm, a binding of the wrong type, the chain cap) are
 * not errors of the call: the instance becomes FAILED with the reason, and
 * the step returns 0 with a FAIL command, so the failure is visible.
 */
#include "st_core_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KIND(st) ((st_core_kind_t)(st)->kind)

typedef struct step {
    const st_core_program_t *p;
    const st_core_env_t *env;
    const st_core_event_t *ev;
    st_core_instance_t *w; /* working copy, swapped in on success */
    st_core_output_t *out;
    uint32_t entries; /* states entered so far in this step */
    uint32_t cap;     /* chain cap */
} step_t;

/* snprintf into a reason buffer, never leaving half a UTF-8 character. */
static void set_reason(char *dst, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_reason(char *dst, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, cap, fmt, ap);
    va_end(ap);
    st_core_utf8_trim(dst);
}

static const pb_state_t *cur_state(const step_t *s)
{
    return s->p->pb->states[s->w->state];
}

static int ignore(st_core_output_t *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ignore(st_core_output_t *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->note, sizeof out->note, fmt, ap);
    va_end(ap);
    st_core_utf8_trim(out->note);
    out->consumed = false;
    return 0;
}

static const Settle__V1__SignalArm *signal_arm(const pb_state_t *st, const char *name)
{
    if (KIND(st) != ST_CORE_KIND_SLEEP && KIND(st) != ST_CORE_KIND_AWAIT)
        return NULL;
    for (size_t i = 0; i < st->n_signals; i++)
        if (strcmp(st->signals[i]->signal, name) == 0)
            return st->signals[i];
    return NULL;
}

/* 1: apply the event; 0: not consumed (note set); <0: a bad event. */
static int admit(const st_core_program_t *p, const st_core_instance_t *inst,
                 const st_core_event_t *ev, st_core_output_t *out, st_err_t *err)
{
    const pb_state_t *st = p->pb->states[inst->state];
    if ((unsigned)ev->kind > ST_CORE_EV_CANCEL)
        return st_err_set(err, ST_INVAL, "unknown event kind %d", (int)ev->kind);
    if (ev->kind == ST_CORE_EV_START)
        return inst->seq == 0 ? 1 : st_err_set(err, ST_STATE, "instance already started");
    if (inst->seq == 0)
        return st_err_set(err, ST_STATE, "instance not started: the first event must be start");
    if (st_core_status_final(inst->status))
        return ignore(out, "instance is %s", st_core_status_name(inst->status));
    if (inst->status == ST_CORE_SUSPENDED && ev->kind != ST_CORE_EV_CANCEL)
        return ignore(out, "instance is suspended");
    switch (ev->kind) {
    case ST_CORE_EV_ACTIVITY_RESULT:
        if (ev->outcome == NULL || ev->outcome[0] == '\0')
            return st_err_set(err, ST_INVAL, "activity result without an outcome");
        if (ev->result != NULL && !json_is_object(ev->result))
            return st_err_set(err, ST_INVAL, "activity result must be a JSON object");
        if (inst->status != ST_CORE_RUNNING || KIND(st) != ST_CORE_KIND_DO ||
            inst->task_seq != ev->task_seq)
            return ignore(out, "stale activity result for task %lld (instance waits on %lld)",
                          (long long)ev->task_seq, (long long)inst->task_seq);
        return 1;
    case ST_CORE_EV_TIMER_FIRED:
        if (inst->status != ST_CORE_WAITING || !inst->has_wake || inst->wake_seq != ev->wake_seq)
            return ignore(out, "stale timer (set at seq %lld, instance wake seq %lld)",
                          (long long)ev->wake_seq, (long long)inst->wake_seq);
        if (ev->now_us < inst->wake_at_us)
            return ignore(out, "timer fired before its wake time");
        return 1;
    case ST_CORE_EV_SIGNAL:
        if (ev->signal == NULL || ev->signal[0] == '\0')
            return st_err_set(err, ST_INVAL, "signal without a name");
        if (ev->payload != NULL && !json_is_object(ev->payload))
            return st_err_set(err, ST_INVAL, "signal payload must be a JSON object");
        if (inst->status != ST_CORE_WAITING || signal_arm(st, ev->signal) == NULL)
            return ignore(out, "state %s does not wait for signal %s", st->name, ev->signal);
        return 1;
    case ST_CORE_EV_CANCEL:
        if (inst->cancel_requested)
            return ignore(out, "cancel already in progress");
        return 1;
    default:
        return st_err_set(err, ST_INVAL, "unknown event kind %d", (int)ev->kind);
    }
}

static void fmt_time(int64_t us, char *buf, size_t cap)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    if (us < 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "%lldus", (long long)us);
}

/* Leave the current state: its timer and task are no longer awaited. */
static void clear_waits(st_core_instance_t *w)
{
    w->has_wake = false;
    w->wake_at_us = 0;
    w->wake_seq = ST_CORE_NO_SEQ;
    w->task_seq = ST_CORE_NO_SEQ;
}

static int record(step_t *s, int32_t from, int32_t to, const char *kind, json_t *detail,
                  st_err_t *err)
{
    return st_core_output_history(s->out, s->w->seq, from, to, kind, detail, err);
}

static int eval(step_t *s, const pb_expr_t *e, st_core_value_t *v, st_err_t *err)
{
    st_core_eval_ctx_t ctx = {.prog = s->p, .vars = s->w->vars, .now_us = s->ev->now_us};
    return st_core_eval(&ctx, e, v, err);
}

static int run_assigns(step_t *s, const pb_state_t *st, st_err_t *err)
{
    for (size_t i = 0; i < st->n_assigns; i++) {
        st_core_value_t v;
        int rc = eval(s, st->assigns[i]->value, &v, err);
        if (rc == 0)
            rc = st_core_value_assign(&s->w->vars[st->assigns[i]->var], &v, err);
        if (rc < 0) {
            st_err_prefix(err, "assign to %s", s->p->pb->vars[st->assigns[i]->var]->name);
            return rc;
        }
    }
    return 0;
}

/* Index of the first true guard, -1 when none. */
static int first_guard(step_t *s, const pb_state_t *st, int *which, st_err_t *err)
{
    *which = -1;
    for (size_t i = 0; i < st->n_guards; i++) {
        st_core_value_t v;
        int rc = eval(s, st->guards[i]->cond, &v, err);
        if (rc < 0) {
            st_err_prefix(err, "guard %zu", i);
            return rc;
        }
        if (v.b) {
            *which = (int)i;
            return 0;
        }
    }
    return 0;
}

static int start_activity(step_t *s, const pb_state_t *st, st_err_t *err)
{
    const Settle__V1__Activity *a = st->activity;
    json_t *args = json_object();
    char id[37];
    if (args == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory building activity args");
    for (size_t i = 0; i < a->n_args; i++) {
        st_core_value_t v;
        int rc = eval(s, a->args[i]->value, &v, err);
        if (rc < 0) {
            json_decref(args);
            st_err_prefix(err, "argument %s of %s", a->args[i]->name, a->name);
            return rc;
        }
        if (json_object_set_new(args, a->args[i]->name, st_core_value_to_json(&v)) < 0) {
            json_decref(args);
            return st_err_set(err, ST_NOMEM, "out of memory building activity args");
        }
    }
    st_core_cmd_t *c = st_core_output_cmd(s->out, ST_CORE_CMD_RUN_ACTIVITY);
    c->activity = a->name;
    c->args = args;
    c->timeout_us = a->timeout_us;
    c->max_attempts = a->retry ? a->retry->max_attempts : 1;
    c->backoff_min_us = a->retry ? a->retry->backoff_min_us : 0;
    c->backoff_max_us = a->retry ? a->retry->backoff_max_us : 0;
    c->task_seq = s->w->seq;
    st_core_uuid_format(s->w->id, id);
    snprintf(c->idem_key, sizeof c->idem_key, "settle_%s_%lld", id, (long long)s->w->seq);
    s->w->status = ST_CORE_RUNNING;
    s->w->task_seq = s->w->seq;
    set_reason(s->w->reason, sizeof s->w->reason, "state %s: running activity %s (task %lld)",
               st->name, a->name, (long long)s->w->seq);
    return 0;
}

static int set_wait(step_t *s, int64_t wake, const char *what)
{
    char at[40];
    st_core_cmd_t *c = st_core_output_cmd(s->out, ST_CORE_CMD_SET_WAKE);
    c->wake_at_us = wake;
    c->wake_seq = s->w->seq;
    s->w->status = ST_CORE_WAITING;
    s->w->has_wake = true;
    s->w->wake_at_us = wake;
    s->w->wake_seq = s->w->seq;
    fmt_time(wake, at, sizeof at);
    set_reason(s->w->reason, sizeof s->w->reason, "state %s: %s until %s", cur_state(s)->name, what,
               at);
    return 0;
}

static int after(int64_t now, int64_t d, int64_t *out, st_err_t *err)
{
    if (__builtin_add_overflow(now, d, out))
        return st_err_set(err, ST_CHECK, "wake time overflows");
    return 0;
}

static int smart_wake(step_t *s, const Settle__V1__Smart *sm, int64_t *wake, st_err_t *err)
{
    st_core_smart_req_t req = {.now_us = s->ev->now_us, .state = cur_state(s)->name, .inst = s->w};
    int rc;
    if ((rc = after(req.now_us, sm->min_gap_us, &req.earliest_us, err)) < 0 ||
        (rc = after(req.now_us, sm->within_us, &req.latest_us, err)) < 0)
        return rc;
    *wake = req.earliest_us;
    if (s->env != NULL && s->env->smart != NULL) {
        rc = s->env->smart(s->env->smart_ctx, &req, wake, err);
        if (rc < 0)
            return rc;
        if (*wake < req.earliest_us)
            *wake = req.earliest_us;
        if (*wake > req.latest_us)
            *wake = req.latest_us;
    }
    return 0;
}

static int start_sleep(step_t *s, const pb_state_t *st, st_err_t *err)
{
    const Settle__V1__Sleep *sl = st->sleep;
    int64_t now = s->ev->now_us, wake = now, limit;
    st_core_value_t v;
    int rc = 0;
    switch (sl->until_case) {
    case SETTLE__V1__SLEEP__UNTIL_DURATION:
        if ((rc = eval(s, sl->duration, &v, err)) < 0)
            return rc;
        if (v.i < 0)
            return st_err_set(err, ST_CHECK, "negative sleep duration %lldus", (long long)v.i);
        if (sl->max_us > 0 && v.i > sl->max_us)
            v.i = sl->max_us; /* `sleep EXPR max D`: bounded like `until` */
        rc = after(now, v.i, &wake, err);
        break;
    case SETTLE__V1__SLEEP__UNTIL_AT:
        if ((rc = eval(s, sl->at, &v, err)) < 0)
            return rc;
        if (__builtin_add_overflow(now, sl->max_us, &limit))
            limit = INT64_MAX;
        wake = v.i < now ? now : v.i > limit ? limit : v.i; /* bounded by max_us */
        break;
    default:
        rc = smart_wake(s, sl->smart, &wake, err);
        break;
    }
    return rc < 0 ? rc : set_wait(s, wake, "sleeping");
}

static int start_await(step_t *s, const pb_state_t *st, st_err_t *err)
{
    char what[ST_CORE_REASON_MAX];
    size_t n = (size_t)snprintf(what, sizeof what, "awaiting signal");
    int64_t wake;
    int rc = after(s->ev->now_us, st->await->timeout_us, &wake, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < st->await->n_signals && n < sizeof what; i++)
        n += (size_t)snprintf(what + n, sizeof what - n, "%s %s", i ? "," : "",
                              st->await->signals[i]);
    return set_wait(s, wake, what);
}

static int finish(step_t *s, const pb_state_t *st)
{
    if (KIND(st) == ST_CORE_KIND_FINAL) {
        s->w->status = ST_CORE_COMPLETED;
        st_core_output_cmd(s->out, ST_CORE_CMD_COMPLETE);
        set_reason(s->w->reason, sizeof s->w->reason, "completed in state %s", st->name);
        return 0;
    }
    s->w->status = ST_CORE_FAILED;
    if (st->fail_reason[0] != '\0')
        set_reason(s->w->reason, sizeof s->w->reason, "%s", st->fail_reason);
    else
        set_reason(s->w->reason, sizeof s->w->reason, "reached fail state %s", st->name);
    st_core_cmd_t *c = st_core_output_cmd(s->out, ST_CORE_CMD_FAIL);
    set_reason(c->reason, sizeof c->reason, "%s", s->w->reason);
    return 0;
}

/* Enter `target` and keep going until a state needs the outside world. */
static int run_from(step_t *s, uint32_t target, st_err_t *err)
{
    for (;;) {
        const pb_state_t *st;
        int rc, g;
        s->w->state = target;
        st = cur_state(s);
        if (++s->entries > s->cap)
            return st_err_set(err, ST_CHECK,
                              "more than %u state entries in one step (a loop without sleep, "
                              "await or activity?)",
                              s->cap);
        if ((rc = run_assigns(s, st, err)) < 0 || (rc = first_guard(s, st, &g, err)) < 0)
            return rc;
        if (g >= 0 || KIND(st) == ST_CORE_KIND_DECIDE) {
            target = g >= 0 ? st->guards[g]->target : st->else_target;
            rc = record(s, (int32_t)s->w->state, (int32_t)target, g >= 0 ? "guard" : "else",
                        g >= 0 ? json_pack("{s:i}", "guard", g) : json_object(), err);
            if (rc < 0)
                return rc;
            continue;
        }
        switch (KIND(st)) {
        case ST_CORE_KIND_DO:
            return start_activity(s, st, err);
        case ST_CORE_KIND_SLEEP:
            return start_sleep(s, st, err);
        case ST_CORE_KIND_AWAIT:
            return start_await(s, st, err);
        default:
            return finish(s, st);
        }
    }
}

/* Leave the current state for `target`, recording why. */
static int go(step_t *s, uint32_t target, const char *kind, json_t *detail, st_err_t *err)
{
    int rc = record(s, (int32_t)s->w->state, (int32_t)target, kind, detail, err);
    if (rc < 0)
        return rc;
    clear_waits(s->w);
    return run_from(s, target, err);
}

/* Copy dotted-path fields of `src` into variables, type-checked. */
static int bind(step_t *s, pb_binding_t *const *b, size_t n, const json_t *src, const char *what,
                st_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = s->p->pb->vars[b[i]->var]->name;
        const json_t *j = src ? st_core_json_path(src, b[i]->field) : NULL;
        char label[ST_CORE_NAME_MAX * 2 + 64];
        st_core_value_t v;
        if (j == NULL)
            return st_err_set(err, ST_CHECK, "%s has no field %s (bound to %s)", what, b[i]->field,
                              name);
        snprintf(label, sizeof label, "%s field %s (bound to %s)", what, b[i]->field, name);
        int rc = st_core_value_from_json((st_core_type_t)s->p->pb->vars[b[i]->var]->type, j, label,
                                         &v, err);
        if (rc < 0)
            return rc == ST_NOMEM ? rc : (err ? (err->code = ST_CHECK) : ST_CHECK);
        st_core_value_release(&s->w->vars[b[i]->var]);
        s->w->vars[b[i]->var] = v;
    }
    return 0;
}

static const Settle__V1__OutcomeArm *pick_arm(const Settle__V1__Activity *a, const char *outcome,
                                              const char *code)
{
    const Settle__V1__OutcomeArm *catch_all = NULL;
    for (size_t i = 0; i < a->n_arms; i++) {
        const Settle__V1__OutcomeArm *arm = a->arms[i];
        if (strcmp(arm->outcome, outcome) != 0)
            continue;
        if (arm->n_codes == 0) {
            if (catch_all == NULL)
                catch_all = arm;
            continue;
        }
        for (size_t c = 0; code != NULL && c < arm->n_codes; c++)
            if (strcmp(arm->codes[c], code) == 0)
                return arm; /* a listed code beats the catch-all */
    }
    return catch_all;
}

static int on_result(step_t *s, st_err_t *err)
{
    const st_core_event_t *ev = s->ev;
    const Settle__V1__Activity *a = cur_state(s)->activity;
    const Settle__V1__OutcomeArm *arm = pick_arm(a, ev->outcome, ev->code);
    char what[ST_CORE_NAME_MAX + 32];
    if (arm == NULL)
        return st_err_set(err, ST_CHECK, "activity %s returned %s%s%s%s and no arm handles it",
                          a->name, ev->outcome, ev->code ? "(" : "", ev->code ? ev->code : "",
                          ev->code ? ")" : "");
    snprintf(what, sizeof what, "result of %s", a->name);
    int rc = bind(s, arm->save, arm->n_save, ev->result, what, err);
    if (rc < 0)
        return rc;
    json_t *d = json_pack("{s:s,s:s?,s:I}", "outcome", ev->outcome, "code", ev->code, "task_seq",
                          (json_int_t)ev->task_seq);
    return go(s, arm->target, "outcome", d, err);
}

static int on_timer(step_t *s, st_err_t *err)
{
    const pb_state_t *st = cur_state(s);
    json_t *d = json_pack("{s:I}", "wake_at", (json_int_t)s->w->wake_at_us);
    if (KIND(st) == ST_CORE_KIND_SLEEP)
        return go(s, st->sleep->wake_target, "wake", d, err);
    return go(s, st->await->timeout_target, "timeout", d, err);
}

static int on_signal(step_t *s, st_err_t *err)
{
    const Settle__V1__SignalArm *arm = signal_arm(cur_state(s), s->ev->signal);
    char what[ST_CORE_NAME_MAX + 32];
    snprintf(what, sizeof what, "signal %s payload", arm->signal);
    int rc = bind(s, arm->save, arm->n_save, s->ev->payload, what, err);
    if (rc < 0)
        return rc;
    return go(s, arm->target, "signal", json_pack("{s:s}", "signal", arm->signal), err);
}

static int on_cancel(step_t *s, st_err_t *err)
{
    const pb_program_t *pb = s->p->pb;
    if (pb->has_cancel) {
        s->w->cancel_requested = true;
        return go(s, pb->cancel_target, "cancel", json_pack("{s:b}", "cancel_path", 1), err);
    }
    int32_t here = (int32_t)s->w->state;
    int rc = record(s, here, here, "cancel", json_pack("{s:b}", "cancel_path", 0), err);
    if (rc < 0)
        return rc;
    clear_waits(s->w);
    s->w->cancel_requested = true;
    s->w->status = ST_CORE_CANCELLED;
    set_reason(s->w->reason, sizeof s->w->reason, "cancelled in state %s", cur_state(s)->name);
    st_core_output_cmd(s->out, ST_CORE_CMD_CANCELLED);
    return 0;
}

static int set_inputs(step_t *s, st_err_t *err)
{
    return st_core_inputs_decode(s->p, s->ev->inputs, s->w->vars, err);
}

static int on_start(step_t *s, st_err_t *err)
{
    const pb_program_t *pb = s->p->pb;
    int rc = set_inputs(s, err);
    if (rc < 0)
        return rc == ST_NOMEM ? rc : ST_INVAL; /* the caller's fault: nothing committed */
    rc = record(s, -1, (int32_t)pb->initial, "start", json_object(), err);
    for (size_t i = s->p->n_inputs; rc == 0 && i < pb->n_vars; i++) {
        st_core_value_t v = {.type = (st_core_type_t)pb->vars[i]->type, .s = ""};
        if (pb->vars[i]->init != NULL)
            rc = eval(s, pb->vars[i]->init, &v, err);
        if (rc == 0)
            rc = st_core_value_assign(&s->w->vars[i], &v, err);
        else
            st_err_prefix(err, "init of %s", pb->vars[i]->name);
    }
    return rc < 0 ? rc : run_from(s, pb->initial, err);
}

/* The flow failed at run time: make it visible, keep what happened so far. */
static int fail_runtime(step_t *s, const st_err_t *why, st_err_t *err)
{
    char msg[ST_CORE_REASON_MAX];
    set_reason(msg, sizeof msg, "state %s: %s", cur_state(s)->name, why->msg);
    int32_t here = (int32_t)s->w->state;
    char detail[ST_ERR_MSG_MAX];
    set_reason(detail, sizeof detail, "%s", why->msg);
    int rc = record(s, here, here, "error", json_pack("{s:s}", "error", detail), err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < s->out->n_cmds; i++)
        json_decref(s->out->cmds[i].args);
    s->out->n_cmds = 0;
    clear_waits(s->w);
    s->w->status = ST_CORE_FAILED;
    set_reason(s->w->reason, sizeof s->w->reason, "%s", msg);
    st_core_cmd_t *c = st_core_output_cmd(s->out, ST_CORE_CMD_FAIL);
    set_reason(c->reason, sizeof c->reason, "%s", msg);
    return 0;
}

static int dispatch(step_t *s, st_err_t *err)
{
    st_err_t why;
    int rc;
    st_err_clear(&why);
    switch (s->ev->kind) {
    case ST_CORE_EV_START:
        rc = on_start(s, &why);
        break;
    case ST_CORE_EV_ACTIVITY_RESULT:
        rc = on_result(s, &why);
        break;
    case ST_CORE_EV_TIMER_FIRED:
        rc = on_timer(s, &why);
        break;
    case ST_CORE_EV_SIGNAL:
        rc = on_signal(s, &why);
        break;
    default:
        rc = on_cancel(s, &why);
        break;
    }
    if (rc == ST_CHECK)
        return fail_runtime(s, &why, err);
    if (rc < 0 && err != NULL)
        *err = why;
    return rc;
}

int st_core_step_env(const st_core_program_t *p, const st_core_env_t *env, st_core_instance_t *inst,
                     const st_core_event_t *ev, st_core_output_t *out, st_err_t *err)
{
    st_core_instance_t w;
    step_t s;
    int rc;
    if (out == NULL)
        return st_err_set(err, ST_INVAL, "st_core_step: output missing");
    st_core_output_init(out);
    if (p == NULL || inst == NULL || ev == NULL)
        return st_err_set(err, ST_INVAL, "st_core_step: program, instance and event required");
    if (inst->n_vars != p->pb->n_vars || inst->state >= p->pb->n_states)
        return st_err_set(err, ST_INVAL, "instance does not belong to program %s", p->pb->name);
    if ((rc = admit(p, inst, ev, out, err)) <= 0)
        return rc;
    w = *inst;
    if ((rc = st_core_vars_copy(&w.vars, inst->vars, inst->n_vars, err)) < 0)
        return rc;
    w.seq = inst->seq + 1;
    s = (step_t){.p = p, .env = env, .ev = ev, .w = &w, .out = out};
    s.cap = env != NULL && env->chain_cap > 0 ? env->chain_cap : ST_CORE_CHAIN_CAP;
    rc = dispatch(&s, err);
    if (rc < 0) {
        st_core_vars_free(w.vars, w.n_vars);
        st_core_output_release(out);
        return rc;
    }
    st_core_vars_free(inst->vars, inst->n_vars);
    *inst = w;
    out->consumed = true;
    return 0;
}

int st_core_step(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
                 st_core_output_t *out, st_err_t *err)
{
    return st_core_step_env(p, NULL, inst, ev, out, err);
}
