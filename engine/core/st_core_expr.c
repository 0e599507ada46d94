/*
 * st_core_expr.c — evaluation of typed expression trees.
 *
 * Layer: core, pure: now() is the event's time from the context, never a
 * clock read. Dependencies: libc, protobuf-c generated types.
 *
 * Invariants: the tree was validated on load (types consistent, indexes in
 * range, depth bounded), so evaluation only reports *runtime* faults —
 * integer overflow, division by zero, money of two currencies — as ST_CHECK.
 * Results borrow strings; nothing is allocated.
 */
#include "st_core_int.h"

#include <string.h>

typedef Settle__V1__Value pb_value_t;

static int literal(const pb_value_t *lv, st_core_type_t t, st_core_value_t *out)
{
    memset(out, 0, sizeof *out);
    out->type = t;
    switch (lv->v_case) {
    case SETTLE__V1__VALUE__V_INT_V:
        out->i = lv->int_v;
        break;
    case SETTLE__V1__VALUE__V_STRING_V:
        out->s = lv->string_v;
        break;
    case SETTLE__V1__VALUE__V_BOOL_V:
        out->b = lv->bool_v;
        break;
    case SETTLE__V1__VALUE__V_DURATION_US:
        out->i = lv->duration_us;
        break;
    case SETTLE__V1__VALUE__V_TIME_US:
        out->i = lv->time_us;
        break;
    case SETTLE__V1__VALUE__V_MONEY_V:
        out->i = lv->money_v->minor;
        memcpy(out->currency, lv->money_v->currency, 4);
        break;
    default:
        return -1;
    }
    return 0;
}

static int overflow(st_err_t *err, const char *what)
{
    return st_err_set(err, ST_CHECK, "integer overflow in %s", what);
}

static int same_currency(const st_core_value_t *a, const st_core_value_t *b, st_err_t *err)
{
    if (a->type != ST_CORE_T_MONEY || b->type != ST_CORE_T_MONEY)
        return 0;
    if (strcmp(a->currency, b->currency) == 0)
        return 0;
    return st_err_set(err, ST_CHECK, "money of different currencies (%s and %s)", a->currency,
                      b->currency);
}

/* Arithmetic on the int64 payloads; the result type was fixed on load. */
static int arith(Settle__V1__Op op, const st_core_value_t *a, const st_core_value_t *b,
                 st_core_value_t *r, st_err_t *err)
{
    int64_t x = a->i, y = b->i;
    int rc = same_currency(a, b, err);
    if (rc < 0)
        return rc;
    switch (op) {
    case SETTLE__V1__OP__OP_ADD:
        if (__builtin_add_overflow(x, y, &r->i))
            return overflow(err, "addition");
        return 0;
    case SETTLE__V1__OP__OP_SUB:
        if (__builtin_sub_overflow(x, y, &r->i))
            return overflow(err, "subtraction");
        return 0;
    case SETTLE__V1__OP__OP_MUL:
        if (__builtin_mul_overflow(x, y, &r->i))
            return overflow(err, "multiplication");
        return 0;
    case SETTLE__V1__OP__OP_DIV:
    case SETTLE__V1__OP__OP_MOD:
        if (y == 0)
            return st_err_set(err, ST_CHECK, "division by zero");
        if (x == INT64_MIN && y == -1)
            return overflow(err, "division");
        r->i = op == SETTLE__V1__OP__OP_DIV ? x / y : x % y;
        return 0;
    default:
        return st_err_set(err, ST_INTERNAL, "operator %d is not arithmetic", (int)op);
    }
}

/* -1, 0, 1; equality of money includes the currency. */
static int compare(Settle__V1__Op op, const st_core_value_t *a, const st_core_value_t *b, int *cmp,
                   st_err_t *err)
{
    bool eq_op = op == SETTLE__V1__OP__OP_EQ || op == SETTLE__V1__OP__OP_NE;
    if (a->type == ST_CORE_T_MONEY && !eq_op) {
        int rc = same_currency(a, b, err);
        if (rc < 0)
            return rc;
    }
    if (a->type == ST_CORE_T_STRING) {
        int c = strcmp(a->s, b->s);
        *cmp = (c > 0) - (c < 0);
    } else if (a->type == ST_CORE_T_BOOL) {
        *cmp = (a->b > b->b) - (a->b < b->b);
    } else {
        *cmp = (a->i > b->i) - (a->i < b->i);
        if (*cmp == 0 && a->type == ST_CORE_T_MONEY && strcmp(a->currency, b->currency) != 0)
            *cmp = 1;
    }
    return 0;
}

static bool cmp_result(Settle__V1__Op op, int c)
{
    switch (op) {
    case SETTLE__V1__OP__OP_EQ:
        return c == 0;
    case SETTLE__V1__OP__OP_NE:
        return c != 0;
    case SETTLE__V1__OP__OP_LT:
        return c < 0;
    case SETTLE__V1__OP__OP_LE:
        return c <= 0;
    case SETTLE__V1__OP__OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static int eval_binary(const st_core_eval_ctx_t *ctx, const pb_expr_t *e, st_core_value_t *out,
                       st_err_t *err)
{
    const Settle__V1__Binary *bin = e->binary;
    st_core_value_t a, b;
    int rc = st_core_eval(ctx, bin->lhs, &a, err);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->type = (st_core_type_t)e->type;
    if (bin->op == SETTLE__V1__OP__OP_AND || bin->op == SETTLE__V1__OP__OP_OR) {
        bool is_and = bin->op == SETTLE__V1__OP__OP_AND;
        if (a.b != is_and) { /* short-circuit */
            out->b = a.b;
            return 0;
        }
        if ((rc = st_core_eval(ctx, bin->rhs, &b, err)) < 0)
            return rc;
        out->b = b.b;
        return 0;
    }
    rc = st_core_eval(ctx, bin->rhs, &b, err);
    if (rc < 0)
        return rc;
    if (bin->op >= SETTLE__V1__OP__OP_EQ && bin->op <= SETTLE__V1__OP__OP_GE) {
        int c = 0;
        rc = compare(bin->op, &a, &b, &c, err);
        out->b = cmp_result(bin->op, c);
        return rc;
    }
    if (out->type == ST_CORE_T_MONEY)
        memcpy(out->currency, a.type == ST_CORE_T_MONEY ? a.currency : b.currency, 4);
    return arith(bin->op, &a, &b, out, err);
}

static int eval_unary(const st_core_eval_ctx_t *ctx, const pb_expr_t *e, st_core_value_t *out,
                      st_err_t *err)
{
    int rc = st_core_eval(ctx, e->unary->operand, out, err);
    if (rc < 0)
        return rc;
    if (e->unary->op == SETTLE__V1__OP__OP_NOT) {
        out->b = !out->b;
        return 0;
    }
    if (out->i == INT64_MIN)
        return overflow(err, "negation");
    out->i = -out->i;
    return 0;
}

static int eval_call(const st_core_eval_ctx_t *ctx, const pb_expr_t *e, st_core_value_t *out,
                     st_err_t *err)
{
    const Settle__V1__Call *c = e->call;
    st_core_value_t a, b;
    int rc;
    memset(out, 0, sizeof *out);
    if (strcmp(c->fn, "now") == 0) {
        out->type = ST_CORE_T_TIME;
        out->i = ctx->now_us;
        return 0;
    }
    if ((rc = st_core_eval(ctx, c->args[0], &a, err)) < 0)
        return rc;
    if (strcmp(c->fn, "minor") == 0) {
        out->type = ST_CORE_T_INT;
        out->i = a.i;
        return 0;
    }
    if (strcmp(c->fn, "abs") == 0) {
        *out = a;
        if (a.i == INT64_MIN)
            return overflow(err, "abs()");
        out->i = a.i < 0 ? -a.i : a.i;
        return 0;
    }
    if ((rc = st_core_eval(ctx, c->args[1], &b, err)) < 0)
        return rc;
    if ((rc = same_currency(&a, &b, err)) < 0)
        return rc;
    bool first = strcmp(c->fn, "min") == 0 ? a.i <= b.i : a.i >= b.i;
    *out = first ? a : b;
    return 0;
}

int st_core_eval(const st_core_eval_ctx_t *ctx, const pb_expr_t *e, st_core_value_t *out,
                 st_err_t *err)
{
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_LITERAL:
        if (literal(e->literal, (st_core_type_t)e->type, out) < 0)
            return st_err_set(err, ST_INTERNAL, "literal without a value");
        return 0;
    case SETTLE__V1__EXPR__NODE_VAR:
        *out = ctx->vars[e->var];
        if (out->type == ST_CORE_T_NONE)
            return st_err_set(err, ST_CHECK, "variable %s read before it has a value",
                              ctx->prog->pb->vars[e->var]->name);
        return 0;
    case SETTLE__V1__EXPR__NODE_BINARY:
        return eval_binary(ctx, e, out, err);
    case SETTLE__V1__EXPR__NODE_UNARY:
        return eval_unary(ctx, e, out, err);
    case SETTLE__V1__EXPR__NODE_CALL:
        return eval_call(ctx, e, out, err);
    default:
        return st_err_set(err, ST_INTERNAL, "expression without a node");
    }
}
