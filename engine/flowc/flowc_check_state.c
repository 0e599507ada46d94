/*
 * flowc_check_state.c — check one state's body and build its State message.
 *
 * Layer: engine/flowc internals. Activity arms live in
 * flowc_check_arms.c; this file handles kinds, assignments, guards, sleep
 * and await.
 * Invariants: a state does one thing: DO (one activity), SLEEP, AWAIT or
 * DECIDE (guards then else); FINAL and FAIL have no body. Every bound that
 * the engine relies on (timeouts, retry counts, sleep limits) is > 0 and
 * known at compile time.
 */
#include "flowc/flowc_check_int.h"

#include <string.h>

#define T(x)    SETTLE__V1__TYPE__TYPE_##x
#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

static void fc_check_sets(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->assigns = fc_alloc(c->arena, (st->sets.n + 1) * sizeof *out->assigns);
    if (out->assigns == NULL)
        return;
    for (uint32_t i = 0; i < st->sets.n; i++) {
        const fc_set_t *s = st->sets.v[i];
        uint32_t var = fc_resolve_var(c, &s->var);
        Settle__V1__Expr *x = fc_expr_build(c, s->value);
        if (var == FC_NO_INDEX || x == NULL)
            continue;
        const fc_decl_t *d = c->decls[var];
        if (d->is_input) {
            fc_error(c->sink, s->var.pos, "copy it into a var and change that",
                     "'%s' is an input and cannot be set", d->name.s);
            continue;
        }
        if (x->type != d->type) {
            fc_error(c->sink, s->value->pos, NULL, "cannot assign a %s value to %s variable '%s'",
                     fc_type_name(x->type), fc_type_name(d->type), d->name.s);
            continue;
        }
        Settle__V1__Assign *a = fc_alloc(c->arena, sizeof *a);
        if (a == NULL)
            return;
        settle__v1__assign__init(a);
        a->var = var;
        a->value = x;
        out->assigns[out->n_assigns++] = a;
    }
}

static void fc_check_guards(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->guards = fc_alloc(c->arena, (st->guards.n + 1) * sizeof *out->guards);
    if (out->guards == NULL)
        return;
    for (uint32_t i = 0; i < st->guards.n; i++) {
        const fc_guard_t *g = st->guards.v[i];
        Settle__V1__Expr *x = fc_expr_build(c, g->cond);
        uint32_t target = fc_resolve_state(c, &g->target);
        if (x != NULL && x->type != T(BOOL)) {
            fc_error(c->sink, g->cond->pos, "compare it, e.g. attempt >= 4",
                     "condition must be bool, not %s", fc_type_name(x->type));
            continue;
        }
        Settle__V1__Guard *gd = fc_alloc(c->arena, sizeof *gd);
        if (gd == NULL)
            return;
        settle__v1__guard__init(gd);
        gd->cond = x;
        gd->target = target;
        out->guards[out->n_guards++] = gd;
    }
}

/* Arms a state of this action may not have, with the reason why. */
static void fc_reject_arms(fc_checker_t *c, const fc_state_t *st)
{
    for (uint32_t i = 0; i < st->arms.n; i++) {
        const fc_arm_t *a = st->arms.v[i];
        const char *what = NULL, *hint = NULL;
        if (a->kind == FC_ON_OUTCOME && st->act != FC_ACT_DO) {
            what = "an outcome";
            hint = "outcomes belong to a 'do' state";
        } else if (a->kind == FC_ON_SIGNAL && st->act != FC_ACT_SLEEP && st->act != FC_ACT_AWAIT) {
            what = "'on signal'";
            hint = "signals interrupt 'sleep' and 'await' states";
        } else if (a->kind == FC_ON_WAKE && st->act != FC_ACT_SLEEP) {
            what = "'on wake'";
            hint = "only a 'sleep' state wakes up";
        } else if (a->kind == FC_ON_TIMEOUT && st->act != FC_ACT_AWAIT) {
            what = "'on timeout'";
            hint = st->act == FC_ACT_DO ? "an activity that times out is retried, then 'failed'"
                                        : "only an 'await' state times out";
        }
        if (what != NULL)
            fc_error(c->sink, a->pos, hint, "state '%s' cannot handle %s", st->name.s, what);
    }
}

/* The target of the single arm of `kind` (wake / timeout); reports if absent. */
static uint32_t fc_single_arm(fc_checker_t *c, const fc_state_t *st, fc_on_kind_t kind,
                              const char *word)
{
    const fc_arm_t *found = NULL;
    for (uint32_t i = 0; i < st->arms.n; i++) {
        const fc_arm_t *a = st->arms.v[i];
        if (a->kind != kind)
            continue;
        if (found != NULL) {
            fc_error(c->sink, a->pos, NULL, "duplicate 'on %s' in state '%s'", word, st->name.s);
            continue;
        }
        found = a;
    }
    if (found == NULL) {
        c->resolve_errors++;
        fc_error(c->sink, st->act_pos, fc_printf(c->arena, "add 'on %s -> STATE'", word),
                 "state '%s' has no 'on %s' arm", st->name.s, word);
        return FC_NO_INDEX;
    }
    return fc_resolve_state(c, &found->target);
}

static void fc_check_sleep_for(fc_checker_t *c, const fc_state_t *st, Settle__V1__Sleep *sl)
{
    Settle__V1__Expr *x = fc_expr_build(c, st->sleep_expr);
    bool until = st->sleep_kind == FC_SLEEP_UNTIL;
    Settle__V1__Type want = until ? T(TIME) : T(DURATION);
    const char *hint = until ? "sleep until takes a time, e.g. due_at"
                       : x != NULL && x->type == T(TIME)
                           ? "to wake at a point in time write 'sleep until EXPR max D'"
                           : "sleep takes a duration, e.g. 3d";
    if (x != NULL && x->type != want)
        fc_error(c->sink, st->sleep_expr->pos, hint, "sleep%s needs a %s, not %s",
                 until ? " until" : "", fc_type_name(want), fc_type_name(x->type));
    sl->until_case = until ? SETTLE__V1__SLEEP__UNTIL_AT : SETTLE__V1__SLEEP__UNTIL_DURATION;
    sl->duration = x; /* union member shared with `at` */
    if (st->sleep_max.set) {
        sl->max_us = st->sleep_max.us;
        if (st->sleep_max.us == 0)
            fc_error(c->sink, st->sleep_max.pos, NULL, "sleep limit of 0 would never sleep");
        return;
    }
    if (!until && st->sleep_expr->kind == FC_E_DUR) {
        sl->max_us = st->sleep_expr->i;
        if (sl->max_us == 0)
            fc_error(c->sink, st->sleep_expr->pos, "remove the sleep or give it a length",
                     "sleep of 0 does nothing");
        return;
    }
    fc_error(c->sink, st->act_pos, "add an upper bound, e.g. 'max 30d'",
             "sleep without an upper bound in state '%s'", st->name.s);
}

static void fc_check_sleep(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    Settle__V1__Sleep *sl = fc_alloc(c->arena, sizeof *sl);
    if (sl == NULL)
        return;
    settle__v1__sleep__init(sl);
    out->kind = KIND(SLEEP);
    out->sleep = sl;
    if (st->sleep_kind != FC_SLEEP_SMART) {
        fc_check_sleep_for(c, st, sl);
    } else {
        Settle__V1__Smart *sm = fc_alloc(c->arena, sizeof *sm);
        if (sm == NULL)
            return;
        settle__v1__smart__init(sm);
        sm->within_us = st->smart_within.us;
        sm->min_gap_us = st->smart_min_gap.us;
        sl->until_case = SETTLE__V1__SLEEP__UNTIL_SMART;
        sl->smart = sm;
        sl->max_us = sm->within_us;
        if (!st->smart_within.set || sm->within_us == 0)
            fc_error(c->sink, st->smart_within.set ? st->smart_within.pos : st->act_pos,
                     "write sleep smart(within: 21d, min_gap: 1d)",
                     "smart sleep needs 'within' greater than 0 (its upper bound)");
        else if (sm->min_gap_us >= sm->within_us)
            fc_error(c->sink, st->smart_min_gap.pos, NULL, "min_gap must be shorter than within");
    }
    sl->wake_target = fc_single_arm(c, st, FC_ON_WAKE, "wake");
    fc_check_signal_arms(c, st, out);
}

static void fc_check_await(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    Settle__V1__Await *aw = fc_alloc(c->arena, sizeof *aw);
    if (aw == NULL)
        return;
    settle__v1__await__init(aw);
    out->kind = KIND(AWAIT);
    out->await = aw;
    aw->timeout_us = st->timeout.us;
    if (!st->timeout.set)
        fc_error(c->sink, st->act_pos, "write e.g. 'await timeout 14d'",
                 "await without a timeout would wait forever");
    else if (st->timeout.us == 0)
        fc_error(c->sink, st->timeout.pos, NULL, "timeout of 0 would never wait");
    aw->timeout_target = fc_single_arm(c, st, FC_ON_TIMEOUT, "timeout");
    fc_check_signal_arms(c, st, out);
    if (out->n_signals == 0)
        fc_error(c->sink, st->act_pos, "add 'on signal NAME -> STATE'",
                 "state '%s' awaits no signal", st->name.s);
    aw->signals = fc_alloc(c->arena, (out->n_signals + 1) * sizeof *aw->signals);
    for (size_t i = 0; aw->signals != NULL && i < out->n_signals; i++)
        aw->signals[aw->n_signals++] = out->signals[i]->signal;
}

static void fc_check_decide(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->kind = KIND(DECIDE);
    if (!st->has_else) {
        c->resolve_errors++;
        out->else_target = FC_NO_INDEX;
        if (st->guards.n == 0)
            fc_error(c->sink, st->name.pos, "give it a 'do', 'sleep', 'await' or 'if'/'else'",
                     "state '%s' does nothing", st->name.s);
        else
            fc_error(c->sink, st->name.pos, "add 'else -> STATE' for when no condition holds",
                     "decision state '%s' has no 'else'", st->name.s);
        return;
    }
    out->else_target = fc_resolve_state(c, &st->else_target);
}

/* timeout, retry and else each belong to one kind of state. */
static void fc_check_misplaced(fc_checker_t *c, const fc_state_t *st)
{
    if (st->timeout.set && st->act != FC_ACT_DO && st->act != FC_ACT_AWAIT)
        fc_error(c->sink, st->timeout.pos, "a timeout applies to 'do' and 'await'",
                 "state '%s' has nothing to time out", st->name.s);
    if (st->has_retry && st->act != FC_ACT_DO)
        fc_error(c->sink, st->retry_pos, "a retry policy applies to 'do'",
                 "state '%s' has no activity to retry", st->name.s);
    if (st->has_else && st->act != FC_ACT_NONE)
        fc_error(c->sink, st->else_pos, "use 'if' lines and let the action run otherwise",
                 "'else' is only for decision states; state '%s' has an action", st->name.s);
}

void fc_check_state(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->name = (char *)st->name.s;
    out->pos = fc_source_pos(c, st->name.pos);
    if (st->kind != FC_ST_NORMAL) {
        out->kind = st->kind == FC_ST_FINAL ? KIND(FINAL) : KIND(FAIL);
        if (st->reason != NULL)
            out->fail_reason = (char *)st->reason;
        return;
    }
    fc_check_sets(c, st, out);
    fc_check_guards(c, st, out);
    fc_check_misplaced(c, st);
    fc_reject_arms(c, st);
    switch (st->act) {
    case FC_ACT_DO:
        fc_check_do(c, st, out);
        break;
    case FC_ACT_SLEEP:
        fc_check_sleep(c, st, out);
        break;
    case FC_ACT_AWAIT:
        fc_check_await(c, st, out);
        break;
    default:
        fc_check_decide(c, st, out);
        break;
    }
}
