/*
 * flowc_check_arms.c — activities and the arms that leave a state: outcome
 * arms (with decline codes and result bindings) and signal arms.
 *
 * Layer: engine/flowc internals.
 * Invariants: after a successful check every outcome the catalog lists for
 * the activity has a catch-all arm, no arm names an outcome the activity
 * cannot produce, and a decline code is handled by at most one arm.
 */
#include "flowc/flowc_check_int.h"

#include <string.h>

#define T(x)                   SETTLE__V1__TYPE__TYPE_##x
#define FC_MAX_ATTEMPTS        100
#define FC_DEFAULT_BACKOFF_MIN 1000000LL
#define FC_DEFAULT_BACKOFF_MAX 60000000LL

static bool fc_has_outcome(const st_flowc_activity_t *act, const char *o)
{
    for (size_t i = 0; act->outcomes[i] != NULL; i++)
        if (strcmp(act->outcomes[i], o) == 0)
            return true;
    return false;
}

static const char *fc_outcome_list(fc_arena_t *a, const st_flowc_activity_t *act)
{
    const char *s = "";
    for (size_t i = 0; act->outcomes[i] != NULL; i++)
        s = fc_printf(a, "%s%s%s", s, i ? ", " : "", act->outcomes[i]);
    return s;
}

static Settle__V1__Binding **fc_saves(fc_checker_t *c, const fc_vec_t *saves, size_t *n)
{
    Settle__V1__Binding **out = fc_alloc(c->arena, (saves->n + 1) * sizeof *out);
    *n = 0;
    for (uint32_t i = 0; out != NULL && i < saves->n; i++) {
        const fc_save_t *s = saves->v[i];
        uint32_t var = fc_resolve_var(c, &s->var);
        if (var == FC_NO_INDEX)
            continue;
        const fc_decl_t *d = c->decls[var];
        if (d->is_input) {
            fc_error(c->sink, s->var.pos, "save into a var", "'%s' is an input and cannot be set",
                     d->name.s);
            continue;
        }
        if (d->type != T(STRING) && d->type != T(INT) && d->type != T(BOOL)) {
            fc_error(c->sink, s->var.pos, "results are saved into string, int or bool variables",
                     "cannot save a result field into %s variable '%s'", fc_type_name(d->type),
                     d->name.s);
            continue;
        }
        Settle__V1__Binding *b = fc_alloc(c->arena, sizeof *b);
        if (b == NULL)
            return out;
        settle__v1__binding__init(b);
        b->field = (char *)s->field.s;
        b->var = var;
        out[(*n)++] = b;
    }
    return out;
}

static void fc_check_args(fc_checker_t *c, const fc_state_t *st, const st_flowc_activity_t *act,
                          Settle__V1__Activity *out)
{
    out->args = fc_alloc(c->arena, (st->args.n + 1) * sizeof *out->args);
    for (uint32_t i = 0; out->args != NULL && i < st->args.n; i++) {
        const fc_arg_t *a = st->args.v[i];
        const st_flowc_param_t *prm = act->params;
        while (prm->name != NULL && strcmp(prm->name, a->name.s) != 0)
            prm++;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(((fc_arg_t *)st->args.v[j])->name.s, a->name.s) == 0)
                fc_error(c->sink, a->name.pos, NULL, "duplicate argument '%s'", a->name.s);
        if (prm->name == NULL && !act->open_params) {
            const char *names[16];
            size_t n = 0;
            for (const st_flowc_param_t *q = act->params; q->name && n < 16; q++)
                names[n++] = q->name;
            fc_error(c->sink, a->name.pos, fc_suggest(c->arena, a->name.s, names, n),
                     "%s has no parameter '%s'", act->name, a->name.s);
            continue;
        }
        Settle__V1__Expr *x = fc_expr_build(c, a->value);
        if (x != NULL && prm->name != NULL && x->type != st_flowc_param_type(prm))
            fc_error(c->sink, a->value->pos, NULL, "argument '%s' of %s must be %s, not %s",
                     a->name.s, act->name, fc_type_name(st_flowc_param_type(prm)),
                     fc_type_name(x->type));
        Settle__V1__Arg *arg = fc_alloc(c->arena, sizeof *arg);
        if (arg == NULL)
            return;
        settle__v1__arg__init(arg);
        arg->name = (char *)a->name.s;
        arg->value = x;
        out->args[out->n_args++] = arg;
    }
    for (const st_flowc_param_t *q = act->params; q->name != NULL; q++) {
        bool given = false;
        for (uint32_t i = 0; i < st->args.n; i++)
            given = given || strcmp(((fc_arg_t *)st->args.v[i])->name.s, q->name) == 0;
        if (q->required && !given)
            fc_error(c->sink, st->activity.pos,
                     fc_printf(c->arena, "add '%s: ...' to the call", q->name),
                     "%s needs argument '%s' (%s)", act->name, q->name,
                     fc_type_name(st_flowc_param_type(q)));
    }
}

static Settle__V1__RetryPolicy *fc_check_retry(fc_checker_t *c, const fc_state_t *st)
{
    Settle__V1__RetryPolicy *r = fc_alloc(c->arena, sizeof *r);
    if (r == NULL)
        return NULL;
    settle__v1__retry_policy__init(r);
    r->max_attempts = 1;
    if (!st->has_retry)
        return r;
    if (st->retry_forever) {
        fc_error(c->sink, st->retry_pos, "give a bound, e.g. 'retry 5 times backoff 2s..5m'",
                 "retry policy without a bound");
        return r;
    }
    if (st->retry_times > FC_MAX_ATTEMPTS - 1) {
        fc_error(c->sink, st->retry_pos, "retry fewer times and let the flow decide what next",
                 "retry count %lld is too large (at most %d)", (long long)st->retry_times,
                 FC_MAX_ATTEMPTS - 1);
        return r;
    }
    r->max_attempts = (uint32_t)st->retry_times + 1;
    r->backoff_min_us = st->backoff_min.set ? st->backoff_min.us : FC_DEFAULT_BACKOFF_MIN;
    r->backoff_max_us = st->backoff_max.set ? st->backoff_max.us : FC_DEFAULT_BACKOFF_MAX;
    if (st->backoff_min.set && st->backoff_min.us == 0)
        fc_error(c->sink, st->backoff_min.pos, NULL, "backoff of 0 would hammer the service");
    else if (r->backoff_min_us > r->backoff_max_us)
        fc_error(c->sink, st->backoff_max.pos, NULL, "backoff range ends before it starts");
    return r;
}

/* Decline codes of one arm: known to the table, handled once per state. */
static void fc_check_codes(fc_checker_t *c, const fc_state_t *st, const fc_arm_t *arm,
                           Settle__V1__OutcomeArm *out)
{
    out->codes = fc_alloc(c->arena, (arm->codes.n + 1) * sizeof *out->codes);
    for (uint32_t i = 0; out->codes != NULL && i < arm->codes.n; i++) {
        const fc_name_t *code = arm->codes.v[i];
        if (st_flowc_decline_find(code->s, NULL) != 0) {
            const char *near = st_flowc_decline_nearest(code->s);
            fc_warn(c->sink, code->pos,
                    near ? fc_printf(c->arena, "did you mean '%s'?", near)
                         : "see engine/flowc/data/decline_codes.tsv",
                    "unknown decline code '%s'", code->s);
        }
        for (uint32_t k = 0; k < st->arms.n; k++) {
            const fc_arm_t *other = st->arms.v[k];
            if (other == arm)
                break;
            for (uint32_t j = 0; other->kind == FC_ON_OUTCOME && j < other->codes.n; j++)
                if (strcmp(((fc_name_t *)other->codes.v[j])->s, code->s) == 0)
                    fc_error(c->sink, code->pos, NULL,
                             "decline code '%s' is already handled on line %u", code->s,
                             other->pos.line);
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(((fc_name_t *)arm->codes.v[j])->s, code->s) == 0)
                fc_error(c->sink, code->pos, NULL, "decline code '%s' is listed twice", code->s);
        out->codes[out->n_codes++] = (char *)code->s;
    }
}

static const fc_arm_t *fc_catch_all(const fc_state_t *st, const char *outcome,
                                    const fc_arm_t *before)
{
    for (uint32_t i = 0; i < st->arms.n && st->arms.v[i] != before; i++) {
        const fc_arm_t *a = st->arms.v[i];
        if (a->kind == FC_ON_OUTCOME && !a->has_codes && strcmp(a->name.s, outcome) == 0)
            return a;
    }
    return NULL;
}

static void fc_check_arm(fc_checker_t *c, const fc_state_t *st, const st_flowc_activity_t *act,
                         const fc_arm_t *arm, Settle__V1__Activity *out)
{
    if (!fc_has_outcome(act, arm->name.s)) {
        fc_error(c->sink, arm->name.pos,
                 fc_printf(c->arena, "it produces %s", fc_outcome_list(c->arena, act)),
                 "%s cannot produce '%s'", act->name, arm->name.s);
        return;
    }
    if (arm->has_codes && !st_flowc_outcome_has_codes(arm->name.s)) {
        fc_error(c->sink, arm->name.pos, "only 'declined' carries decline codes",
                 "outcome '%s' carries no decline code", arm->name.s);
        return;
    }
    const fc_arm_t *dup = arm->has_codes ? NULL : fc_catch_all(st, arm->name.s, arm);
    if (dup != NULL) {
        fc_error(c->sink, arm->pos, NULL, "outcome '%s' is already handled on line %u", arm->name.s,
                 dup->pos.line);
        return;
    }
    Settle__V1__OutcomeArm *o = fc_alloc(c->arena, sizeof *o);
    if (o == NULL)
        return;
    settle__v1__outcome_arm__init(o);
    o->outcome = (char *)arm->name.s;
    o->target = fc_resolve_state(c, &arm->target);
    if (arm->has_codes)
        fc_check_codes(c, st, arm, o);
    o->save = fc_saves(c, &arm->saves, &o->n_save);
    out->arms[out->n_arms++] = o;
}

static void fc_check_outcomes(fc_checker_t *c, const fc_state_t *st, const st_flowc_activity_t *act,
                              Settle__V1__Activity *out)
{
    out->arms = fc_alloc(c->arena, (st->arms.n + 1) * sizeof *out->arms);
    for (uint32_t i = 0; out->arms != NULL && i < st->arms.n; i++) {
        const fc_arm_t *arm = st->arms.v[i];
        if (arm->kind == FC_ON_OUTCOME)
            fc_check_arm(c, st, act, arm, out);
    }
    for (size_t i = 0; act->outcomes[i] != NULL; i++) {
        const char *o = act->outcomes[i];
        if (fc_catch_all(st, o, NULL) != NULL)
            continue;
        c->resolve_errors++;
        fc_error(c->sink, st->activity.pos,
                 fc_printf(c->arena, "add 'on %s -> STATE'%s", o,
                           st_flowc_outcome_has_codes(o) ? " for the codes not listed" : ""),
                 "outcome '%s' of %s is not handled", o, act->name);
    }
}

void fc_check_do(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->kind = SETTLE__V1__STATE_KIND__STATE_KIND_DO;
    const st_flowc_activity_t *act = st_flowc_activity_find(st->activity.s);
    if (act == NULL) {
        const char *names[32];
        size_t n = 0;
        for (const st_flowc_activity_t *a; n < 32 && (a = st_flowc_activity_at(n)) != NULL;)
            names[n++] = a->name;
        c->resolve_errors++;
        fc_error(c->sink, st->activity.pos, fc_suggest(c->arena, st->activity.s, names, n),
                 "unknown activity '%s'", st->activity.s);
        return;
    }
    Settle__V1__Activity *a = fc_alloc(c->arena, sizeof *a);
    if (a == NULL)
        return;
    settle__v1__activity__init(a);
    out->activity = a;
    a->name = (char *)act->name;
    fc_check_args(c, st, act, a);
    a->timeout_us = st->timeout.set ? st->timeout.us : act->default_timeout_us;
    if (st->timeout.set && st->timeout.us == 0)
        fc_error(c->sink, st->timeout.pos, "give the call time to answer, e.g. 'timeout 30s'",
                 "timeout of 0 would fail every attempt");
    a->retry = fc_check_retry(c, st);
    fc_check_outcomes(c, st, act, a);
}

/* A Stripe event signal needs a correlation on its object kind to arrive. */
static void fc_check_signal_source(fc_checker_t *c, const fc_arm_t *arm)
{
    static const char *const kinds[] = {"payment_intent", "invoice", "customer", "charge"};
    const char *dot = strchr(arm->name.s, '.');
    if (dot == NULL)
        return;
    size_t n = (size_t)(dot - arm->name.s);
    for (size_t i = 0; i < 4; i++) {
        if (strlen(kinds[i]) != n || memcmp(kinds[i], arm->name.s, n) != 0)
            continue;
        for (size_t j = 0; j < c->prog->n_correlations; j++)
            if (strcmp(c->prog->correlations[j]->key, kinds[i]) == 0)
                return;
        fc_warn(c->sink, arm->name.pos,
                fc_printf(c->arena, "add 'correlate %s = VAR' naming the variable with its id",
                          kinds[i]),
                "signal '%s' is a Stripe event, but the flow declares no '%s' correlation",
                arm->name.s, kinds[i]);
    }
}

void fc_check_signal_arms(fc_checker_t *c, const fc_state_t *st, Settle__V1__State *out)
{
    out->signals = fc_alloc(c->arena, (st->arms.n + 1) * sizeof *out->signals);
    for (uint32_t i = 0; out->signals != NULL && i < st->arms.n; i++) {
        const fc_arm_t *arm = st->arms.v[i];
        if (arm->kind != FC_ON_SIGNAL)
            continue;
        bool dup = false;
        for (size_t j = 0; j < out->n_signals; j++)
            dup = dup || strcmp(out->signals[j]->signal, arm->name.s) == 0;
        if (dup) {
            fc_error(c->sink, arm->name.pos, NULL, "signal '%s' is already handled in state '%s'",
                     arm->name.s, st->name.s);
            continue;
        }
        fc_check_signal_source(c, arm);
        Settle__V1__SignalArm *s = fc_alloc(c->arena, sizeof *s);
        if (s == NULL)
            return;
        settle__v1__signal_arm__init(s);
        s->signal = (char *)arm->name.s;
        s->target = fc_resolve_state(c, &arm->target);
        s->save = fc_saves(c, &arm->saves, &s->n_save);
        out->signals[out->n_signals++] = s;
    }
}
