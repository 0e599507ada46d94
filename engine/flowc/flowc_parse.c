/*
 * flowc_parse.c — recursive-descent parser for the top level of a .flow file.
 *
 * Layer: engine/flowc internals. State bodies are parsed in
 * flowc_parse_state.c, expressions in flowc_parse_expr.c.
 * Invariants: the parser never stops at the first error. After a syntax
 * error it skips to the next statement of the current state, or to the next
 * top-level declaration (state, final, fail, input, var, correlate), and
 * continues; names it could not read are left NULL for the checker to skip.
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_parse_int.h"

#include <string.h>

void fc_p_advance(fc_parser_t *p)
{
    p->prev = p->tok;
    p->tok = fc_lex_next(&p->lx);
}

bool fc_p_accept(fc_parser_t *p, fc_tok_kind_t k)
{
    if (p->tok.kind != k)
        return false;
    fc_p_advance(p);
    return true;
}

bool fc_p_expected(fc_parser_t *p, const char *what, const char *hint)
{
    if (p->tok.kind == FC_T_ERROR)
        return false; /* the lexer already said what is wrong */
    if (p->tok.kind == FC_T_IDENT)
        fc_error(p->sink, p->tok.pos, hint, "expected %s, found '%s'", what, p->tok.text);
    else
        fc_error(p->sink, p->tok.pos, hint, "expected %s, found %s", what,
                 fc_tok_name(p->tok.kind));
    return false;
}

bool fc_p_is_word(const fc_parser_t *p, const char *word)
{
    return p->tok.kind == FC_T_IDENT && strcmp(p->tok.text, word) == 0;
}

bool fc_p_name(fc_parser_t *p, fc_name_t *out, const char *what)
{
    if (p->tok.kind != FC_T_IDENT)
        return fc_p_expected(p, what, NULL);
    out->s = p->tok.text;
    out->pos = p->tok.pos;
    fc_p_advance(p);
    return true;
}

/* A dotted name: `stripe.pay_invoice`, `payment_intent.succeeded`. */
bool fc_p_dotted(fc_parser_t *p, fc_name_t *out, const char *what)
{
    if (!fc_p_name(p, out, what))
        return false;
    while (p->tok.kind == FC_T_DOT) {
        fc_p_advance(p);
        if (p->tok.text == NULL || p->tok.kind == FC_T_STRING || p->tok.kind == FC_T_MONEY)
            return fc_p_expected(p, "a name after '.'", NULL);
        out->s = fc_printf(p->arena, "%s.%s", out->s, p->tok.text);
        out->pos.len = p->tok.pos.col + p->tok.pos.len - out->pos.col;
        fc_p_advance(p);
        if (out->s != NULL && strlen(out->s) > FC_NAME_MAX) {
            fc_error(p->sink, out->pos, NULL, "name is longer than %d characters", FC_NAME_MAX);
            return false;
        }
    }
    return out->s != NULL;
}

bool fc_p_arrow_target(fc_parser_t *p, fc_name_t *target)
{
    if (!fc_p_accept(p, FC_T_ARROW))
        return fc_p_expected(p, "'->'", "write 'on OUTCOME -> STATE'");
    return fc_p_name(p, target, "a state name after '->'");
}

bool fc_p_duration(fc_parser_t *p, fc_dur_t *d, const char *what)
{
    if (p->tok.kind != FC_T_DURATION) {
        if (p->tok.kind == FC_T_INT)
            fc_error(p->sink, p->tok.pos, "add a unit: ms, s, m, h, d or w", "%s needs a unit",
                     what);
        else
            fc_p_expected(p, what, "write a duration like 30s, 5m or 14d");
        return false;
    }
    d->set = true;
    d->us = p->tok.ival;
    d->pos = p->tok.pos;
    fc_p_advance(p);
    return true;
}

static bool fc_is_top(fc_tok_kind_t k)
{
    return k == FC_K_STATE || k == FC_K_FINAL || k == FC_K_FAIL || k == FC_K_INPUT ||
           k == FC_K_VAR || k == FC_K_CORRELATE || k == FC_T_EOF;
}

bool fc_p_at_top(const fc_parser_t *p)
{
    return fc_is_top(p->tok.kind);
}

/* Skip to the next declaration, stepping over balanced braces. */
static void fc_sync_top(fc_parser_t *p)
{
    int depth = 0;
    for (;;) {
        fc_tok_kind_t k = p->tok.kind;
        if (k == FC_T_EOF || k == FC_K_STATE || k == FC_K_FINAL || k == FC_K_FAIL)
            return;
        if (depth == 0 && (fc_is_top(k) || k == FC_K_ON))
            return;
        if (k == FC_T_LBRACE)
            depth++;
        else if (k == FC_T_RBRACE && depth > 0)
            depth--;
        fc_p_advance(p);
    }
}

static const struct {
    const char *name;
    Settle__V1__Type type;
} fc_types[] = {
    {"int", SETTLE__V1__TYPE__TYPE_INT},   {"string", SETTLE__V1__TYPE__TYPE_STRING},
    {"bool", SETTLE__V1__TYPE__TYPE_BOOL}, {"duration", SETTLE__V1__TYPE__TYPE_DURATION},
    {"time", SETTLE__V1__TYPE__TYPE_TIME}, {"money", SETTLE__V1__TYPE__TYPE_MONEY}};

static bool fc_parse_type(fc_parser_t *p, fc_decl_t *d)
{
    if (p->tok.kind != FC_T_IDENT)
        return fc_p_expected(p, "a type", "types are int, string, bool, duration, time, money");
    const char *names[6];
    for (size_t i = 0; i < 6; i++) {
        names[i] = fc_types[i].name;
        if (strcmp(p->tok.text, fc_types[i].name) == 0) {
            d->type = fc_types[i].type;
            d->type_pos = p->tok.pos;
            fc_p_advance(p);
            return true;
        }
    }
    const char *hint = fc_suggest(p->arena, p->tok.text, names, 6);
    if (strcmp(p->tok.text, "float") == 0 || strcmp(p->tok.text, "double") == 0 ||
        strcmp(p->tok.text, "decimal") == 0)
        hint = "settle has no floating point; use money (integer minor units) or int";
    fc_error(p->sink, p->tok.pos,
             hint ? hint : "types are int, string, bool, duration, time, money",
             "unknown type '%s'", p->tok.text);
    fc_p_advance(p);
    return false;
}

/* input NAME: TYPE  |  var NAME: TYPE [= EXPR] */
static bool fc_parse_decl(fc_parser_t *p, fc_flow_t *f)
{
    fc_decl_t *d = fc_alloc(p->arena, sizeof *d);
    if (d == NULL)
        return false;
    d->is_input = p->tok.kind == FC_K_INPUT;
    fc_p_advance(p);
    if (!fc_p_name(p, &d->name, d->is_input ? "an input name" : "a variable name"))
        return false;
    if (!fc_p_accept(p, FC_T_COLON))
        return fc_p_expected(p, "':' and a type", "write 'NAME: TYPE', e.g. 'attempt: int'");
    if (!fc_parse_type(p, d))
        return false;
    if (p->tok.kind == FC_T_ASSIGN) {
        if (d->is_input) {
            fc_error(p->sink, p->tok.pos, "declare it with 'var' to give it a value",
                     "an input cannot have an initial value; it is given at start");
            return false;
        }
        fc_p_advance(p);
        d->init = fc_parse_expr(p);
        if (d->init == NULL)
            return false;
    }
    fc_vec_push(p->arena, &f->decls, d);
    return true;
}

/* correlate KEY = VAR */
static bool fc_parse_correlate(fc_parser_t *p, fc_flow_t *f)
{
    fc_corr_t *c = fc_alloc(p->arena, sizeof *c);
    if (c == NULL)
        return false;
    fc_p_advance(p);
    if (!fc_p_name(p, &c->key, "a Stripe object kind (payment_intent, invoice, customer, charge)"))
        return false;
    if (!fc_p_accept(p, FC_T_ASSIGN))
        return fc_p_expected(p, "'='", "write 'correlate payment_intent = pi_id'");
    if (!fc_p_name(p, &c->var, "a variable holding the object's id"))
        return false;
    fc_vec_push(p->arena, &f->corrs, c);
    return true;
}

/* on cancel -> STATE (top level only) */
static bool fc_parse_cancel(fc_parser_t *p, fc_flow_t *f)
{
    fc_pos_t at = p->tok.pos;
    fc_p_advance(p);
    if (!fc_p_is_word(p, "cancel")) {
        fc_error(p->sink, at, "outcome arms belong inside a state { ... }",
                 "only 'on cancel -> STATE' may appear outside a state");
        return false;
    }
    fc_p_advance(p);
    if (f->has_cancel) {
        fc_error(p->sink, at, NULL, "duplicate 'on cancel'; a flow has one cancel path");
        return false;
    }
    f->has_cancel = true;
    return fc_p_arrow_target(p, &f->cancel_target);
}

/* final NAME  |  fail NAME "reason" */
static bool fc_parse_end(fc_parser_t *p, fc_flow_t *f)
{
    fc_state_t *st = fc_alloc(p->arena, sizeof *st);
    if (st == NULL)
        return false;
    st->kind = p->tok.kind == FC_K_FINAL ? FC_ST_FINAL : FC_ST_FAIL;
    fc_p_advance(p);
    if (!fc_p_name(p, &st->name, "a state name"))
        return false;
    fc_vec_push(p->arena, &f->states, st);
    if (st->kind == FC_ST_FAIL) {
        if (p->tok.kind != FC_T_STRING)
            return fc_p_expected(p, "a reason string after the fail state's name",
                                 "write fail stuck \"needs an operator\"");
        st->reason = p->tok.text;
        fc_p_advance(p);
    }
    if (p->tok.kind == FC_T_LBRACE) {
        fc_error(p->sink, p->tok.pos, "use a normal state that moves to the final state",
                 "a final or fail state has no body");
        return false;
    }
    return true;
}

static bool fc_parse_top(fc_parser_t *p, fc_flow_t *f)
{
    switch (p->tok.kind) {
    case FC_K_INPUT:
    case FC_K_VAR:
        return fc_parse_decl(p, f);
    case FC_K_CORRELATE:
        return fc_parse_correlate(p, f);
    case FC_K_ON:
        return fc_parse_cancel(p, f);
    case FC_K_STATE:
        return fc_parse_state(p, f);
    case FC_K_FINAL:
    case FC_K_FAIL:
        return fc_parse_end(p, f);
    case FC_K_FLOW:
        fc_error(p->sink, p->tok.pos, "put each flow in its own file", "duplicate 'flow' header");
        fc_p_advance(p);
        return false;
    default:
        return fc_p_expected(
            p, "a declaration",
            "top level holds input, var, correlate, on cancel, state, final, fail");
    }
}

fc_flow_t *fc_parse(fc_arena_t *a, fc_sink_t *s, const char *src, size_t len)
{
    fc_parser_t p = {.arena = a, .sink = s};
    fc_flow_t *f = fc_alloc(a, sizeof *f);
    if (f == NULL)
        return NULL;
    fc_lex_init(&p.lx, src, len, s);
    fc_p_advance(&p);
    if (p.tok.kind != FC_K_FLOW) {
        fc_p_expected(&p, "'flow NAME' at the start of the file", "start with e.g. 'flow dunning'");
    } else {
        fc_p_advance(&p);
        fc_p_name(&p, &f->name, "the flow's name");
    }
    while (p.tok.kind != FC_T_EOF && !a->failed) {
        if (s->errors >= s->max)
            break;
        if (!fc_parse_top(&p, f)) {
            if (p.tok.kind != FC_K_ON && !fc_is_top(p.tok.kind))
                fc_p_advance(&p);
            fc_sync_top(&p);
        }
    }
    return f;
}
