/*
 * flowc_valid.c — structural validation of a Program from outside the
 * compiler (a .pb file, a database row) before anything walks it.
 *
 * Layer: engine/flowc internals.
 * Invariants enforced (the same ones program.proto promises): every state
 * and variable index is in range; each state kind has the sub-message it
 * needs; every Expr node is set. JSON, DOT and migration checks rely on
 * this and never index out of range.
 */
#include "flowc/flowc_valid.h"

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

static int fc_bad(st_err_t *err, const char *what, size_t i)
{
    return st_err_set(err, ST_PARSE, "invalid Program: %s (state %zu)", what, i);
}

static bool fc_expr_ok(const Settle__V1__Expr *e, size_t nvars, unsigned depth)
{
    if (e == NULL || depth > 1000)
        return false;
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_LITERAL:
        return e->literal != NULL;
    case SETTLE__V1__EXPR__NODE_VAR:
        return e->var < nvars;
    case SETTLE__V1__EXPR__NODE_BINARY:
        return e->binary && fc_expr_ok(e->binary->lhs, nvars, depth + 1) &&
               fc_expr_ok(e->binary->rhs, nvars, depth + 1);
    case SETTLE__V1__EXPR__NODE_UNARY:
        return e->unary && fc_expr_ok(e->unary->operand, nvars, depth + 1);
    case SETTLE__V1__EXPR__NODE_CALL:
        for (size_t i = 0; e->call && i < e->call->n_args; i++)
            if (!fc_expr_ok(e->call->args[i], nvars, depth + 1))
                return false;
        return e->call != NULL;
    default:
        return false;
    }
}

static bool fc_bindings_ok(Settle__V1__Binding **b, size_t n, size_t nvars)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] == NULL || b[i]->var >= nvars)
            return false;
    return true;
}

static int fc_state_ok(const Settle__V1__Program *p, size_t i, st_err_t *err)
{
    const Settle__V1__State *s = p->states[i];
    size_t ns = p->n_states, nv = p->n_vars;
    if (s == NULL || s->name == NULL)
        return fc_bad(err, "missing state", i);
    for (size_t k = 0; k < s->n_assigns; k++)
        if (s->assigns[k]->var >= nv || !fc_expr_ok(s->assigns[k]->value, nv, 0))
            return fc_bad(err, "bad assignment", i);
    for (size_t k = 0; k < s->n_guards; k++)
        if (s->guards[k]->target >= ns || !fc_expr_ok(s->guards[k]->cond, nv, 0))
            return fc_bad(err, "bad guard", i);
    for (size_t k = 0; k < s->n_signals; k++)
        if (s->signals[k]->target >= ns ||
            !fc_bindings_ok(s->signals[k]->save, s->signals[k]->n_save, nv))
            return fc_bad(err, "bad signal arm", i);
    switch (s->kind) {
    case KIND(DO):
        if (s->activity == NULL || s->activity->retry == NULL)
            return fc_bad(err, "do state without activity", i);
        for (size_t k = 0; k < s->activity->n_args; k++)
            if (!fc_expr_ok(s->activity->args[k]->value, nv, 0))
                return fc_bad(err, "bad argument", i);
        for (size_t k = 0; k < s->activity->n_arms; k++)
            if (s->activity->arms[k]->target >= ns ||
                !fc_bindings_ok(s->activity->arms[k]->save, s->activity->arms[k]->n_save, nv))
                return fc_bad(err, "bad outcome arm", i);
        return 0;
    case KIND(SLEEP):
        if (s->sleep == NULL || s->sleep->wake_target >= ns ||
            s->sleep->until_case == SETTLE__V1__SLEEP__UNTIL__NOT_SET ||
            (s->sleep->until_case == SETTLE__V1__SLEEP__UNTIL_SMART
                 ? s->sleep->smart == NULL
                 : !fc_expr_ok(s->sleep->duration, nv, 0)))
            return fc_bad(err, "bad sleep", i);
        return 0;
    case KIND(AWAIT):
        return s->await == NULL || s->await->timeout_target >= ns ? fc_bad(err, "bad await", i) : 0;
    case KIND(DECIDE):
        return s->else_target >= ns ? fc_bad(err, "bad else target", i) : 0;
    case KIND(FINAL):
    case KIND(FAIL):
        return 0;
    default:
        return fc_bad(err, "unknown state kind", i);
    }
}

int fc_program_validate(const Settle__V1__Program *p, st_err_t *err)
{
    if (p == NULL)
        return st_err_set(err, ST_INVAL, "no Program");
    if (p->n_states == 0 || p->initial >= p->n_states ||
        (p->has_cancel && p->cancel_target >= p->n_states))
        return st_err_set(err, ST_PARSE, "invalid Program: bad initial or cancel state");
    for (size_t i = 0; i < p->n_vars; i++)
        if (p->vars[i] == NULL || (p->vars[i]->init && !fc_expr_ok(p->vars[i]->init, p->n_vars, 0)))
            return st_err_set(err, ST_PARSE, "invalid Program: bad variable %zu", i);
    for (size_t i = 0; i < p->n_correlations; i++)
        if (p->correlations[i]->var >= p->n_vars)
            return st_err_set(err, ST_PARSE, "invalid Program: bad correlation %zu", i);
    for (size_t i = 0; i < p->n_states; i++) {
        int rc = fc_state_ok(p, i, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int st_flowc_program_validate(const Settle__V1__Program *p, st_err_t *err)
{
    return fc_program_validate(p, err);
}
