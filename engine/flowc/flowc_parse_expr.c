/*
 * flowc_parse_expr.c — expressions: precedence climbing into fc_expr_t.
 *
 * Layer: engine/flowc internals.
 * Precedence, loosest first: or, and, not, comparison (non-associative),
 * + -, * / %, unary minus, primary. Nesting is bounded (FC_MAX_DEPTH) so a
 * hostile file cannot exhaust the stack.
 */
#include "flowc/flowc_int.h"

#define FC_MAX_DEPTH 256

static fc_expr_t *fc_new_expr(fc_parser_t *p, fc_ekind_t k, fc_pos_t at)
{
    fc_expr_t *e = fc_alloc(p->arena, sizeof *e);
    if (e != NULL) {
        e->kind = k;
        e->pos = at;
    }
    return e;
}

/* The span from a's start to b's end when both are on one line. */
static fc_pos_t fc_span(fc_pos_t a, fc_pos_t b)
{
    if (a.line == b.line && b.col + b.len > a.col)
        a.len = b.col + b.len - a.col;
    return a;
}

static fc_expr_t *fc_binary(fc_parser_t *p, int op, fc_expr_t *l, fc_expr_t *r, fc_pos_t at)
{
    if (l == NULL || r == NULL)
        return NULL;
    fc_expr_t *e = fc_new_expr(p, FC_E_BIN, at);
    if (e != NULL) {
        e->op = op;
        e->lhs = l;
        e->rhs = r;
    }
    return e;
}

static fc_expr_t *fc_parse_or(fc_parser_t *p);

static fc_expr_t *fc_parse_call(fc_parser_t *p, fc_token_t name)
{
    fc_expr_t *e = fc_new_expr(p, FC_E_CALL, name.pos);
    if (e == NULL)
        return NULL;
    e->s = name.text;
    if (!fc_p_accept(p, FC_T_RPAREN)) {
        do {
            fc_expr_t *a = fc_parse_or(p);
            if (a == NULL)
                return NULL;
            fc_vec_push(p->arena, &e->args, a);
        } while (fc_p_accept(p, FC_T_COMMA));
        if (!fc_p_accept(p, FC_T_RPAREN)) {
            fc_p_expected(p, "')' after the arguments", NULL);
            return NULL;
        }
    }
    e->pos = fc_span(name.pos, p->prev.pos);
    return e;
}

static fc_expr_t *fc_parse_primary(fc_parser_t *p)
{
    fc_token_t t = p->tok;
    fc_expr_t *e = NULL;
    switch (t.kind) {
    case FC_T_INT:
    case FC_T_DURATION:
    case FC_T_MONEY:
    case FC_T_STRING:
    case FC_K_TRUE:
    case FC_K_FALSE:
        fc_p_advance(p);
        e = fc_new_expr(p,
                        t.kind == FC_T_INT        ? FC_E_INT
                        : t.kind == FC_T_DURATION ? FC_E_DUR
                        : t.kind == FC_T_MONEY    ? FC_E_MONEY
                        : t.kind == FC_T_STRING   ? FC_E_STR
                                                  : FC_E_BOOL,
                        t.pos);
        if (e != NULL) {
            e->i = t.kind == FC_K_TRUE ? 1 : t.ival;
            e->s = t.text;
        }
        return e;
    case FC_T_IDENT:
        fc_p_advance(p);
        if (fc_p_accept(p, FC_T_LPAREN))
            return fc_parse_call(p, t);
        e = fc_new_expr(p, FC_E_NAME, t.pos);
        if (e != NULL)
            e->s = t.text;
        return e;
    case FC_T_LPAREN:
        fc_p_advance(p);
        e = fc_parse_or(p);
        if (e != NULL && !fc_p_accept(p, FC_T_RPAREN)) {
            fc_p_expected(p, "')'", NULL);
            return NULL;
        }
        return e;
    case FC_T_ERROR:
        fc_p_advance(p); /* already reported by the lexer */
        return NULL;
    default:
        fc_p_expected(p, "an expression", NULL);
        return NULL;
    }
}

static fc_expr_t *fc_parse_unary(fc_parser_t *p)
{
    if (p->tok.kind != FC_T_MINUS && p->tok.kind != FC_K_NOT)
        return fc_parse_primary(p);
    if (++p->depth > FC_MAX_DEPTH) {
        fc_error(p->sink, p->tok.pos, "split the expression with set statements",
                 "expression nested too deeply");
        return NULL;
    }
    fc_token_t op = p->tok;
    fc_p_advance(p);
    fc_expr_t *x = fc_parse_unary(p);
    p->depth--;
    if (x == NULL)
        return NULL;
    fc_expr_t *e = fc_new_expr(p, FC_E_UN, fc_span(op.pos, x->pos));
    if (e != NULL) {
        e->op = op.kind == FC_K_NOT ? SETTLE__V1__OP__OP_NOT : SETTLE__V1__OP__OP_NEG;
        e->lhs = x;
    }
    return e;
}

static int fc_mul_op(fc_tok_kind_t k)
{
    return k == FC_T_STAR      ? SETTLE__V1__OP__OP_MUL
           : k == FC_T_SLASH   ? SETTLE__V1__OP__OP_DIV
           : k == FC_T_PERCENT ? SETTLE__V1__OP__OP_MOD
                               : 0;
}

static int fc_add_op(fc_tok_kind_t k)
{
    return k == FC_T_PLUS ? SETTLE__V1__OP__OP_ADD : k == FC_T_MINUS ? SETTLE__V1__OP__OP_SUB : 0;
}

static int fc_cmp_op(fc_tok_kind_t k)
{
    switch (k) {
    case FC_T_EQ:
        return SETTLE__V1__OP__OP_EQ;
    case FC_T_NE:
        return SETTLE__V1__OP__OP_NE;
    case FC_T_LT:
        return SETTLE__V1__OP__OP_LT;
    case FC_T_LE:
        return SETTLE__V1__OP__OP_LE;
    case FC_T_GT:
        return SETTLE__V1__OP__OP_GT;
    case FC_T_GE:
        return SETTLE__V1__OP__OP_GE;
    default:
        return 0;
    }
}

typedef fc_expr_t *(*fc_sub_parser)(fc_parser_t *p);

/* Left-associative level: operand (op operand)*. */
static fc_expr_t *fc_parse_level(fc_parser_t *p, fc_sub_parser sub, int (*op_of)(fc_tok_kind_t))
{
    fc_expr_t *l = sub(p);
    int op;
    unsigned chain = 0; /* each operator deepens the tree the checker walks */
    while (l != NULL && (op = op_of(p->tok.kind)) != 0) {
        fc_pos_t at = p->tok.pos;
        if (++p->depth > FC_MAX_DEPTH) {
            fc_error(p->sink, at, "split the expression with set statements",
                     "expression nested too deeply");
            l = NULL;
            chain++;
            break;
        }
        chain++;
        fc_p_advance(p);
        fc_expr_t *r = sub(p);
        l = fc_binary(p, op, l, r, r ? fc_span(l->pos, r->pos) : at);
    }
    p->depth -= chain;
    return l;
}

static fc_expr_t *fc_parse_mul(fc_parser_t *p)
{
    return fc_parse_level(p, fc_parse_unary, fc_mul_op);
}

static fc_expr_t *fc_parse_add(fc_parser_t *p)
{
    return fc_parse_level(p, fc_parse_mul, fc_add_op);
}

static fc_expr_t *fc_parse_cmp(fc_parser_t *p)
{
    fc_expr_t *l = fc_parse_add(p);
    int op = fc_cmp_op(p->tok.kind);
    if (l == NULL || op == 0)
        return l;
    fc_p_advance(p);
    fc_expr_t *r = fc_parse_add(p);
    if (r != NULL && fc_cmp_op(p->tok.kind) != 0) {
        fc_error(p->sink, p->tok.pos, "combine comparisons with 'and'",
                 "comparisons cannot be chained");
        return NULL;
    }
    return fc_binary(p, op, l, r, r ? fc_span(l->pos, r->pos) : l->pos);
}

static int fc_and_op(fc_tok_kind_t k)
{
    return k == FC_K_AND ? SETTLE__V1__OP__OP_AND : 0;
}

static int fc_or_op(fc_tok_kind_t k)
{
    return k == FC_K_OR ? SETTLE__V1__OP__OP_OR : 0;
}

static fc_expr_t *fc_parse_and(fc_parser_t *p)
{
    return fc_parse_level(p, fc_parse_cmp, fc_and_op);
}

static fc_expr_t *fc_parse_or(fc_parser_t *p)
{
    if (++p->depth > FC_MAX_DEPTH) {
        fc_error(p->sink, p->tok.pos, "split the expression with set statements",
                 "expression nested too deeply");
        return NULL;
    }
    fc_expr_t *e = fc_parse_level(p, fc_parse_and, fc_or_op);
    p->depth--;
    return e;
}

fc_expr_t *fc_parse_expr(fc_parser_t *p)
{
    return fc_parse_or(p);
}
