/*
 * flowc_parse_state.c — parser for `state NAME { ... }` bodies.
 *
 * Layer: engine/flowc internals.
 * Statements: set, if, else, do, timeout, retry, sleep, await, on. They may
 * come in any order on any lines; the checker enforces their meaning. A
 * syntax error skips to the next statement keyword, the closing brace or
 * the next top-level declaration, so one bad line costs one diagnostic.
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_parse_int.h"

#include <string.h>

static bool fc_is_stmt(fc_tok_kind_t k)
{
    return k == FC_K_SET || k == FC_K_IF || k == FC_K_ELSE || k == FC_K_DO || k == FC_K_SLEEP ||
           k == FC_K_AWAIT || k == FC_K_ON || k == FC_K_TIMEOUT || k == FC_K_RETRY;
}

static void fc_sync_stmt(fc_parser_t *p)
{
    while (!fc_is_stmt(p->tok.kind) && p->tok.kind != FC_T_RBRACE && !fc_p_at_top(p))
        fc_p_advance(p);
}

static void *fc_push_new(fc_parser_t *p, fc_vec_t *v, size_t size)
{
    void *x = fc_alloc(p->arena, size);
    if (x != NULL)
        fc_vec_push(p->arena, v, x);
    return x;
}

/* The state may hold one action; a second one is an error. */
static bool fc_claim_action(fc_parser_t *p, fc_state_t *st, fc_act_kind_t act)
{
    static const char *const names[] = {"", "do", "sleep", "await"};
    if (st->act != FC_ACT_NONE) {
        fc_error(p->sink, p->tok.pos, "split the work into two states",
                 "state '%s' already has an action ('%s' on line %u); a state does one thing",
                 st->name.s, names[st->act], st->act_pos.line);
        fc_p_advance(p);
        return false;
    }
    st->act = act;
    st->act_pos = p->tok.pos;
    fc_p_advance(p);
    return true;
}

static bool fc_stmt_set(fc_parser_t *p, fc_state_t *st)
{
    fc_p_advance(p);
    fc_set_t *s = fc_push_new(p, &st->sets, sizeof *s);
    if (s == NULL || !fc_p_name(p, &s->var, "a variable name after 'set'"))
        return false;
    if (!fc_p_accept(p, FC_T_ASSIGN))
        return fc_p_expected(p, "'='", "write 'set NAME = EXPR'");
    s->value = fc_parse_expr(p);
    return s->value != NULL;
}

static bool fc_stmt_if(fc_parser_t *p, fc_state_t *st)
{
    fc_p_advance(p);
    fc_guard_t *g = fc_push_new(p, &st->guards, sizeof *g);
    if (g == NULL || (g->cond = fc_parse_expr(p)) == NULL)
        return false;
    return fc_p_arrow_target(p, &g->target);
}

static bool fc_stmt_else(fc_parser_t *p, fc_state_t *st)
{
    fc_pos_t at = p->tok.pos;
    fc_p_advance(p);
    if (st->has_else) {
        fc_error(p->sink, at, NULL, "duplicate 'else' in state '%s'", st->name.s);
        return false;
    }
    st->has_else = true;
    st->else_pos = at;
    return fc_p_arrow_target(p, &st->else_target);
}

static bool fc_parse_arg(fc_parser_t *p, fc_vec_t *args)
{
    fc_arg_t *a = fc_push_new(p, args, sizeof *a);
    if (a == NULL || !fc_p_name(p, &a->name, "an argument name"))
        return false;
    if (!fc_p_accept(p, FC_T_COLON))
        return fc_p_expected(p, "':' after the argument name", "arguments are named: to: customer");
    a->value = fc_parse_expr(p);
    return a->value != NULL;
}

static bool fc_stmt_do(fc_parser_t *p, fc_state_t *st)
{
    if (!fc_claim_action(p, st, FC_ACT_DO))
        return false;
    if (!fc_p_dotted(p, &st->activity, "an activity name such as stripe.pay_invoice"))
        return false;
    if (!fc_p_accept(p, FC_T_LPAREN))
        return fc_p_expected(p, "'(' after the activity name", "write do email.send(to: customer)");
    if (fc_p_accept(p, FC_T_RPAREN))
        return true;
    do {
        if (!fc_parse_arg(p, &st->args))
            return false;
    } while (fc_p_accept(p, FC_T_COMMA));
    if (!fc_p_accept(p, FC_T_RPAREN))
        return fc_p_expected(p, "')' or ','", NULL);
    return true;
}

static bool fc_stmt_timeout(fc_parser_t *p, fc_state_t *st)
{
    fc_pos_t at = p->tok.pos;
    fc_p_advance(p);
    if (st->timeout.set) {
        fc_error(p->sink, at, NULL, "duplicate timeout in state '%s'", st->name.s);
        return false;
    }
    return fc_p_duration(p, &st->timeout, "a timeout duration");
}

/* retry N times [backoff D..D]  |  retry forever [backoff D..D] */
static bool fc_stmt_retry(fc_parser_t *p, fc_state_t *st)
{
    st->retry_pos = p->tok.pos;
    fc_p_advance(p);
    if (st->has_retry) {
        fc_error(p->sink, st->retry_pos, NULL, "duplicate retry policy in state '%s'", st->name.s);
        return false;
    }
    st->has_retry = true;
    if (fc_p_is_word(p, "forever")) {
        st->retry_forever = true;
        fc_p_advance(p);
    } else if (fc_p_is_word(p, "transient")) {
        fc_error(p->sink, p->tok.pos, "write retry 5 times backoff 2s..5m",
                 "'transient' is implied: only transient failures are ever retried");
        return false;
    } else if (p->tok.kind == FC_T_INT) {
        st->retry_times = p->tok.ival;
        fc_p_advance(p);
        if (!fc_p_is_word(p, "times"))
            return fc_p_expected(p, "'times'", "write retry 5 times backoff 2s..5m");
        fc_p_advance(p);
    } else {
        return fc_p_expected(p, "a retry count", "write retry 5 times backoff 2s..5m");
    }
    if (!fc_p_is_word(p, "backoff"))
        return true;
    fc_p_advance(p);
    if (!fc_p_duration(p, &st->backoff_min, "the shortest backoff"))
        return false;
    if (!fc_p_accept(p, FC_T_DOTDOT))
        return fc_p_expected(p, "'..'", "write backoff 2s..5m");
    return fc_p_duration(p, &st->backoff_max, "the longest backoff");
}

/* smart(within: D [, min_gap: D]) */
static bool fc_sleep_smart(fc_parser_t *p, fc_state_t *st)
{
    st->sleep_kind = FC_SLEEP_SMART;
    fc_p_advance(p);
    if (!fc_p_accept(p, FC_T_LPAREN))
        return fc_p_expected(p, "'(' after smart", "write sleep smart(within: 21d, min_gap: 1d)");
    do {
        fc_name_t n = {0};
        if (!fc_p_name(p, &n, "within or min_gap"))
            return false;
        fc_dur_t *d = strcmp(n.s, "within") == 0    ? &st->smart_within
                      : strcmp(n.s, "min_gap") == 0 ? &st->smart_min_gap
                                                    : NULL;
        if (d == NULL) {
            fc_error(p->sink, n.pos, "smart takes within and min_gap",
                     "unknown smart sleep parameter '%s'", n.s);
            return false;
        }
        if (d->set) {
            fc_error(p->sink, n.pos, NULL, "duplicate smart sleep parameter '%s'", n.s);
            return false;
        }
        if (!fc_p_accept(p, FC_T_COLON))
            return fc_p_expected(p, "':'", NULL);
        if (!fc_p_duration(p, d, n.s))
            return false;
    } while (fc_p_accept(p, FC_T_COMMA));
    if (!fc_p_accept(p, FC_T_RPAREN))
        return fc_p_expected(p, "')'", NULL);
    return true;
}

static bool fc_stmt_sleep(fc_parser_t *p, fc_state_t *st)
{
    if (!fc_claim_action(p, st, FC_ACT_SLEEP))
        return false;
    if (fc_p_is_word(p, "smart"))
        return fc_sleep_smart(p, st);
    st->sleep_kind = FC_SLEEP_FOR;
    if (fc_p_is_word(p, "until")) {
        st->sleep_kind = FC_SLEEP_UNTIL;
        fc_p_advance(p);
    }
    if ((st->sleep_expr = fc_parse_expr(p)) == NULL)
        return false;
    if (!fc_p_is_word(p, "max"))
        return true;
    fc_p_advance(p);
    return fc_p_duration(p, &st->sleep_max, "the longest sleep after 'max'");
}

static bool fc_stmt_await(fc_parser_t *p, fc_state_t *st)
{
    if (!fc_claim_action(p, st, FC_ACT_AWAIT))
        return false;
    if (p->tok.kind == FC_K_TIMEOUT)
        return fc_stmt_timeout(p, st);
    if (fc_p_is_word(p, "signal")) { /* the draft syntax: await signal NAME */
        fc_error(p->sink, p->tok.pos,
                 "write 'await timeout D' and one 'on signal NAME -> STATE' per signal",
                 "an await lists its signals as arms, not after 'await'");
        return false;
    }
    return true;
}

static bool fc_arm_saves(fc_parser_t *p, fc_arm_t *arm)
{
    fc_p_advance(p);
    do {
        fc_save_t *s = fc_push_new(p, &arm->saves, sizeof *s);
        if (s == NULL || !fc_p_name(p, &s->var, "a variable name after 'save'"))
            return false;
        if (!fc_p_accept(p, FC_T_ASSIGN))
            return fc_p_expected(p, "'='", "write save pi_id = id");
        if (!fc_p_dotted(p, &s->field, "a result field such as id or charge.id"))
            return false;
    } while (fc_p_accept(p, FC_T_COMMA));
    return true;
}

static bool fc_arm_codes(fc_parser_t *p, fc_arm_t *arm)
{
    arm->has_codes = true;
    fc_p_advance(p);
    do {
        fc_name_t *c = fc_push_new(p, &arm->codes, sizeof *c);
        if (c == NULL || !fc_p_name(p, c, "a decline code"))
            return false;
    } while (fc_p_accept(p, FC_T_COMMA));
    if (!fc_p_accept(p, FC_T_RPAREN))
        return fc_p_expected(p, "')' after the decline codes", NULL);
    return true;
}

static bool fc_stmt_on(fc_parser_t *p, fc_state_t *st)
{
    fc_arm_t *arm = fc_push_new(p, &st->arms, sizeof *arm);
    if (arm == NULL)
        return false;
    arm->pos = p->tok.pos;
    fc_p_advance(p);
    arm->name.pos = p->tok.pos;
    if (p->tok.kind == FC_K_TIMEOUT) {
        arm->kind = FC_ON_TIMEOUT;
        fc_p_advance(p);
    } else if (fc_p_is_word(p, "wake")) {
        arm->kind = FC_ON_WAKE;
        fc_p_advance(p);
    } else if (fc_p_is_word(p, "signal")) {
        arm->kind = FC_ON_SIGNAL;
        fc_p_advance(p);
        if (!fc_p_dotted(p, &arm->name, "a signal name"))
            return false;
    } else if (fc_p_is_word(p, "cancel")) {
        fc_error(p->sink, p->tok.pos, "move 'on cancel -> STATE' to the top level",
                 "'on cancel' applies to the whole flow, not one state");
        return false;
    } else {
        arm->kind = FC_ON_OUTCOME;
        if (!fc_p_name(p, &arm->name, "an outcome, 'signal NAME', 'wake' or 'timeout'"))
            return false;
        if (p->tok.kind == FC_T_LPAREN && !fc_arm_codes(p, arm))
            return false;
    }
    if (!fc_p_arrow_target(p, &arm->target))
        return false;
    if (fc_p_is_word(p, "save"))
        return fc_arm_saves(p, arm);
    return true;
}

static bool fc_stmt(fc_parser_t *p, fc_state_t *st)
{
    switch (p->tok.kind) {
    case FC_K_SET:
        return fc_stmt_set(p, st);
    case FC_K_IF:
        return fc_stmt_if(p, st);
    case FC_K_ELSE:
        return fc_stmt_else(p, st);
    case FC_K_DO:
        return fc_stmt_do(p, st);
    case FC_K_TIMEOUT:
        return fc_stmt_timeout(p, st);
    case FC_K_RETRY:
        return fc_stmt_retry(p, st);
    case FC_K_SLEEP:
        return fc_stmt_sleep(p, st);
    case FC_K_AWAIT:
        return fc_stmt_await(p, st);
    case FC_K_ON:
        return fc_stmt_on(p, st);
    default:
        fc_p_expected(p, "a statement", "statements are set, if, else, do, sleep, await, on");
        fc_p_advance(p);
        return false;
    }
}

bool fc_parse_state(fc_parser_t *p, fc_flow_t *f)
{
    fc_state_t *st = fc_alloc(p->arena, sizeof *st);
    if (st == NULL)
        return false;
    fc_p_advance(p);
    if (!fc_p_name(p, &st->name, "a state name"))
        return false;
    fc_vec_push(p->arena, &f->states, st);
    if (!fc_p_accept(p, FC_T_LBRACE))
        return fc_p_expected(p, "'{' after the state name", NULL);
    while (!fc_p_accept(p, FC_T_RBRACE)) {
        if (fc_p_at_top(p)) {
            fc_p_expected(p, fc_printf(p->arena, "'}' to close state '%s'", st->name.s), NULL);
            return true;
        }
        if (p->sink->errors >= p->sink->max || p->arena->failed)
            return false;
        if (!fc_stmt(p, st))
            fc_sync_stmt(p);
    }
    return true;
}
