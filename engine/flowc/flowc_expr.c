/*
 * flowc_expr.c — type-check expressions and build their typed Expr trees.
 *
 * Layer: engine/flowc internals.
 * Invariants: every Expr this file returns carries its static type; money
 * is int64 minor units with a currency and never meets floating point; the
 * operator table below is the whole typing rule set (docs/flow-language.md
 * repeats it). Errors are reported once, at the innermost culprit, and the
 * parent sees NULL and stays quiet.
 */
#include "flowc/flowc_int.h"

#include <string.h>

#define T(x)  SETTLE__V1__TYPE__TYPE_##x
#define OP(x) SETTLE__V1__OP__OP_##x

const char *fc_type_name(Settle__V1__Type t)
{
    switch (t) {
    case T(INT):
        return "int";
    case T(STRING):
        return "string";
    case T(BOOL):
        return "bool";
    case T(DURATION):
        return "duration";
    case T(TIME):
        return "time";
    case T(MONEY):
        return "money";
    default:
        return "?";
    }
}

/* (op, lhs, rhs) -> result; rhs UNSPECIFIED for unary operators. */
static const struct {
    Settle__V1__Op op;
    Settle__V1__Type l, r, result;
} fc_op_rules[] = {
    {OP(ADD), T(INT), T(INT), T(INT)},
    {OP(ADD), T(DURATION), T(DURATION), T(DURATION)},
    {OP(ADD), T(TIME), T(DURATION), T(TIME)},
    {OP(ADD), T(DURATION), T(TIME), T(TIME)},
    {OP(ADD), T(MONEY), T(MONEY), T(MONEY)},
    {OP(SUB), T(INT), T(INT), T(INT)},
    {OP(SUB), T(DURATION), T(DURATION), T(DURATION)},
    {OP(SUB), T(TIME), T(DURATION), T(TIME)},
    {OP(SUB), T(TIME), T(TIME), T(DURATION)},
    {OP(SUB), T(MONEY), T(MONEY), T(MONEY)},
    {OP(MUL), T(INT), T(INT), T(INT)},
    {OP(MUL), T(DURATION), T(INT), T(DURATION)},
    {OP(MUL), T(INT), T(DURATION), T(DURATION)},
    {OP(MUL), T(MONEY), T(INT), T(MONEY)},
    {OP(MUL), T(INT), T(MONEY), T(MONEY)},
    {OP(DIV), T(INT), T(INT), T(INT)},
    {OP(DIV), T(DURATION), T(INT), T(DURATION)},
    {OP(MOD), T(INT), T(INT), T(INT)},
    {OP(MOD), T(DURATION), T(INT), T(DURATION)},
    {OP(AND), T(BOOL), T(BOOL), T(BOOL)},
    {OP(OR), T(BOOL), T(BOOL), T(BOOL)},
    {OP(NOT), T(BOOL), T(UNSPECIFIED), T(BOOL)},
    {OP(NEG), T(INT), T(UNSPECIFIED), T(INT)},
    {OP(NEG), T(DURATION), T(UNSPECIFIED), T(DURATION)},
    {OP(NEG), T(MONEY), T(UNSPECIFIED), T(MONEY)},
};

static const char *fc_op_text(int op)
{
    static const char *const text[] = {
        "?", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "-"};
    return op >= 0 && op < (int)(sizeof text / sizeof text[0]) ? text[op] : "?";
}

static bool fc_is_cmp(int op)
{
    return op >= OP(EQ) && op <= OP(GE);
}

/* Result type of op applied to l (and r), or UNSPECIFIED when not allowed. */
static Settle__V1__Type fc_op_result(int op, Settle__V1__Type l, Settle__V1__Type r)
{
    if (op == OP(EQ) || op == OP(NE))
        return l == r ? T(BOOL) : T(UNSPECIFIED);
    if (fc_is_cmp(op))
        return (l == r && l != T(BOOL) && l != T(STRING)) ? T(BOOL) : T(UNSPECIFIED);
    for (size_t i = 0; i < sizeof fc_op_rules / sizeof fc_op_rules[0]; i++)
        if (fc_op_rules[i].op == (Settle__V1__Op)op && fc_op_rules[i].l == l &&
            fc_op_rules[i].r == r)
            return fc_op_rules[i].result;
    return T(UNSPECIFIED);
}

static Settle__V1__Expr *fc_new(fc_checker_t *c, Settle__V1__Type t)
{
    Settle__V1__Expr *x = fc_alloc(c->arena, sizeof *x);
    if (x != NULL) {
        settle__v1__expr__init(x);
        x->type = t;
    }
    return x;
}

static Settle__V1__Expr *fc_literal(fc_checker_t *c, const fc_expr_t *e)
{
    static const Settle__V1__Type types[] = {[FC_E_INT] = T(INT),
                                             [FC_E_STR] = T(STRING),
                                             [FC_E_BOOL] = T(BOOL),
                                             [FC_E_DUR] = T(DURATION),
                                             [FC_E_MONEY] = T(MONEY)};
    Settle__V1__Expr *x = fc_new(c, types[e->kind]);
    Settle__V1__Value *v = fc_alloc(c->arena, sizeof *v);
    if (x == NULL || v == NULL)
        return NULL;
    settle__v1__value__init(v);
    switch (e->kind) {
    case FC_E_INT:
        v->v_case = SETTLE__V1__VALUE__V_INT_V;
        v->int_v = e->i;
        break;
    case FC_E_STR:
        v->v_case = SETTLE__V1__VALUE__V_STRING_V;
        v->string_v = (char *)e->s;
        break;
    case FC_E_BOOL:
        v->v_case = SETTLE__V1__VALUE__V_BOOL_V;
        v->bool_v = e->i != 0;
        break;
    case FC_E_DUR:
        v->v_case = SETTLE__V1__VALUE__V_DURATION_US;
        v->duration_us = e->i;
        break;
    default: {
        Settle__V1__Money *m = fc_alloc(c->arena, sizeof *m);
        if (m == NULL)
            return NULL;
        settle__v1__money__init(m);
        m->minor = e->i;
        m->currency = (char *)e->s;
        v->v_case = SETTLE__V1__VALUE__V_MONEY_V;
        v->money_v = m;
    }
    }
    x->node_case = SETTLE__V1__EXPR__NODE_LITERAL;
    x->literal = v;
    return x;
}

static Settle__V1__Expr *fc_name_ref(fc_checker_t *c, const fc_expr_t *e)
{
    fc_name_t n = {e->s, e->pos};
    uint32_t i = fc_resolve_var(c, &n);
    if (i == FC_NO_INDEX)
        return NULL;
    Settle__V1__Expr *x = fc_new(c, c->decls[i]->type);
    if (x != NULL) {
        x->node_case = SETTLE__V1__EXPR__NODE_VAR;
        x->var = i;
    }
    return x;
}

static bool fc_orderable(Settle__V1__Type t)
{
    return t == T(INT) || t == T(DURATION) || t == T(TIME) || t == T(MONEY);
}

/*
 * The built-in functions, the same fixed list the engine evaluates
 * (engine/core): now() -> time (the event's time); min(a, b), max(a, b) ->
 * T for T in int, duration, time, money; abs(a) -> T for int, duration,
 * money; minor(m: money) -> int. Returns UNSPECIFIED when the call does not
 * type-check, with *why set.
 */
static Settle__V1__Type fc_builtin_type(const char *fn, uint32_t n, Settle__V1__Expr **a,
                                        const char **why)
{
    *why = NULL;
    if (strcmp(fn, "now") == 0) {
        *why = "now() takes no arguments";
        return n == 0 ? T(TIME) : T(UNSPECIFIED);
    }
    if (strcmp(fn, "min") == 0 || strcmp(fn, "max") == 0) {
        *why = "min and max take two values of one type: int, duration, time or money";
        return n == 2 && a[0]->type == a[1]->type && fc_orderable(a[0]->type) ? a[0]->type
                                                                              : T(UNSPECIFIED);
    }
    if (strcmp(fn, "abs") == 0) {
        *why = "abs takes one int, duration or money";
        return n == 1 && fc_orderable(a[0]->type) && a[0]->type != T(TIME) ? a[0]->type
                                                                           : T(UNSPECIFIED);
    }
    if (strcmp(fn, "minor") == 0) {
        *why = "minor takes one money value and gives its minor units";
        return n == 1 && a[0]->type == T(MONEY) ? T(INT) : T(UNSPECIFIED);
    }
    return T(UNSPECIFIED);
}

static Settle__V1__Expr *fc_call(fc_checker_t *c, const fc_expr_t *e)
{
    Settle__V1__Expr **args = fc_alloc(c->arena, (e->args.n + 1) * sizeof *args);
    if (args == NULL)
        return NULL;
    for (uint32_t i = 0; i < e->args.n; i++)
        if ((args[i] = fc_expr_build(c, e->args.v[i])) == NULL)
            return NULL;
    const char *why = NULL;
    Settle__V1__Type t = fc_builtin_type(e->s, e->args.n, args, &why);
    if (t == T(UNSPECIFIED)) {
        if (why == NULL)
            fc_error(c->sink, e->pos, "the built-in functions are now, min, max, abs and minor",
                     "unknown function '%s'", e->s);
        else
            fc_error(c->sink, e->pos, why, "wrong arguments to %s()", e->s);
        return NULL;
    }
    Settle__V1__Expr *x = fc_new(c, t);
    Settle__V1__Call *call = fc_alloc(c->arena, sizeof *call);
    if (x == NULL || call == NULL)
        return NULL;
    settle__v1__call__init(call);
    call->fn = (char *)e->s;
    call->n_args = e->args.n;
    call->args = args;
    x->node_case = SETTLE__V1__EXPR__NODE_CALL;
    x->call = call;
    return x;
}

static Settle__V1__Expr *fc_unary(fc_checker_t *c, const fc_expr_t *e)
{
    Settle__V1__Expr *a = fc_expr_build(c, e->lhs);
    if (a == NULL)
        return NULL;
    Settle__V1__Type t = fc_op_result(e->op, a->type, T(UNSPECIFIED));
    if (t == T(UNSPECIFIED)) {
        fc_error(c->sink, e->pos, NULL, "operator '%s' cannot apply to %s", fc_op_text(e->op),
                 fc_type_name(a->type));
        return NULL;
    }
    Settle__V1__Expr *x = fc_new(c, t);
    Settle__V1__Unary *u = fc_alloc(c->arena, sizeof *u);
    if (x == NULL || u == NULL)
        return NULL;
    settle__v1__unary__init(u);
    u->op = e->op;
    u->operand = a;
    x->node_case = SETTLE__V1__EXPR__NODE_UNARY;
    x->unary = u;
    return x;
}

static const char *fc_binary_hint(int op, Settle__V1__Type l, Settle__V1__Type r)
{
    if ((op == OP(DIV) || op == OP(MOD)) && l == T(MONEY))
        return "money is never divided (rounding would lose cents); compute the amount upstream";
    if (fc_is_cmp(op) && l == T(STRING) && r == T(STRING))
        return "strings compare with == and != only";
    return NULL;
}

static Settle__V1__Expr *fc_binary(fc_checker_t *c, const fc_expr_t *e)
{
    Settle__V1__Expr *a = fc_expr_build(c, e->lhs);
    Settle__V1__Expr *b = fc_expr_build(c, e->rhs);
    if (a == NULL || b == NULL)
        return NULL;
    Settle__V1__Type t = fc_op_result(e->op, a->type, b->type);
    if (t == T(UNSPECIFIED)) {
        fc_error(c->sink, e->pos, fc_binary_hint(e->op, a->type, b->type),
                 "operator '%s' cannot combine %s and %s", fc_op_text(e->op), fc_type_name(a->type),
                 fc_type_name(b->type));
        return NULL;
    }
    if (e->lhs->kind == FC_E_MONEY && e->rhs->kind == FC_E_MONEY &&
        strcmp(e->lhs->s, e->rhs->s) != 0) {
        fc_error(c->sink, e->pos, "convert upstream; the engine never converts currencies",
                 "cannot combine %s and %s amounts", e->lhs->s, e->rhs->s);
        return NULL;
    }
    if ((e->op == OP(DIV) || e->op == OP(MOD)) && e->rhs->kind == FC_E_INT && e->rhs->i == 0) {
        fc_error(c->sink, e->pos, NULL, "division by zero");
        return NULL;
    }
    Settle__V1__Expr *x = fc_new(c, t);
    Settle__V1__Binary *bin = fc_alloc(c->arena, sizeof *bin);
    if (x == NULL || bin == NULL)
        return NULL;
    settle__v1__binary__init(bin);
    bin->op = e->op;
    bin->lhs = a;
    bin->rhs = b;
    x->node_case = SETTLE__V1__EXPR__NODE_BINARY;
    x->binary = bin;
    return x;
}

Settle__V1__Expr *fc_expr_build(fc_checker_t *c, const fc_expr_t *e)
{
    if (e == NULL)
        return NULL;
    switch (e->kind) {
    case FC_E_NAME:
        return fc_name_ref(c, e);
    case FC_E_CALL:
        return fc_call(c, e);
    case FC_E_UN:
        return fc_unary(c, e);
    case FC_E_BIN:
        return fc_binary(c, e);
    default:
        return fc_literal(c, e);
    }
}
