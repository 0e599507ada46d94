/*
 * st_core_validate.c — re-check every invariant of program.proto on load.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc,
 * protobuf-c generated types.
 *
 * The compiler already checks all of this; the engine checks again because
 * a Program arrives as bytes from the database and a bad one must be refused
 * with a clear error, never half-run. After st_core_validate returns 0:
 * every state/variable index is in range, every expression is typed
 * consistently and at most ST_CORE_EXPR_DEPTH_MAX deep, every state kind has
 * its body (and only its body), timeouts are > 0, retry max_attempts >= 1,
 * assignments and bindings target non-input variables.
 */
#include "st_core_int.h"

#include <string.h>

typedef Settle__V1__State pb_state;
#define T(x) ST_CORE_T_##x

static int bad(st_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(st_err_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_err_vset(err, ST_CHECK, fmt, ap);
    va_end(ap);
    return ST_CHECK;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
 * every string ends up in JSON, which jansson only accepts as UTF-8. */
static bool utf8_ok(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned c = *s, n = c < 0x80             ? 0
                             : (c & 0xe0) == 0xc0 ? 1
                             : (c & 0xf0) == 0xe0 ? 2
                             : (c & 0xf8) == 0xf0 ? 3
                                                  : 9;
        uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1f : n == 2 ? c & 0x0f : c & 0x07;
        if (n == 9)
            return false;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

static bool name_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= ST_CORE_NAME_MAX && utf8_ok(s);
}

static int check_literal(const Settle__V1__Value *v, st_core_type_t t, st_err_t *err)
{
    static const st_core_type_t by_case[] = {T(NONE),     T(INT),  T(STRING), T(BOOL),
                                             T(DURATION), T(TIME), T(MONEY)};
    if (v == NULL || v->v_case <= 0 || v->v_case > 6 || by_case[v->v_case] != t)
        return bad(err, "literal does not hold a %s value", st_core_type_name(t));
    if (t == T(MONEY) && (v->money_v == NULL || !st_core_currency_ok(v->money_v->currency)))
        return bad(err, "money literal needs a 3-letter lower-case currency");
    if (t == T(STRING) && (v->string_v == NULL || !utf8_ok(v->string_v)))
        return bad(err, "string literal is not UTF-8 text");
    return 0;
}

static st_core_type_t binary_type(Settle__V1__Op op, st_core_type_t l, st_core_type_t r)
{
    switch (op) {
    case SETTLE__V1__OP__OP_ADD:
    case SETTLE__V1__OP__OP_SUB:
        if (l == r && (l == T(INT) || l == T(DURATION) || l == T(MONEY)))
            return l;
        if (l == T(TIME) && r == T(DURATION))
            return T(TIME);
        if (op == SETTLE__V1__OP__OP_ADD && l == T(DURATION) && r == T(TIME))
            return T(TIME);
        if (op == SETTLE__V1__OP__OP_SUB && l == T(TIME) && r == T(TIME))
            return T(DURATION);
        return T(NONE);
    case SETTLE__V1__OP__OP_MUL:
        if (l == T(INT) && (r == T(INT) || r == T(DURATION) || r == T(MONEY)))
            return r;
        __attribute__((fallthrough)); /* duration * int, money * int */
    case SETTLE__V1__OP__OP_DIV:
    case SETTLE__V1__OP__OP_MOD:
        if (r == T(INT) && (l == T(INT) || l == T(DURATION) || l == T(MONEY)))
            return l;
        return T(NONE);
    case SETTLE__V1__OP__OP_EQ:
    case SETTLE__V1__OP__OP_NE:
        return l == r && l != T(NONE) ? T(BOOL) : T(NONE);
    case SETTLE__V1__OP__OP_LT:
    case SETTLE__V1__OP__OP_LE:
    case SETTLE__V1__OP__OP_GT:
    case SETTLE__V1__OP__OP_GE:
        return l == r && l != T(NONE) && l != T(BOOL) ? T(BOOL) : T(NONE);
    case SETTLE__V1__OP__OP_AND:
    case SETTLE__V1__OP__OP_OR:
        return l == T(BOOL) && r == T(BOOL) ? T(BOOL) : T(NONE);
    default:
        return T(NONE);
    }
}

static int check_expr(const st_core_program_t *p, const pb_expr_t *e, int depth, st_err_t *err);

static int check_call(const st_core_program_t *p, const pb_expr_t *e, int depth, st_err_t *err)
{
    const Settle__V1__Call *c = e->call;
    st_core_type_t args[4], ret = T(NONE);
    if (c == NULL || c->fn == NULL || c->n_args > 4)
        return bad(err, "malformed call");
    for (size_t i = 0; i < c->n_args; i++) {
        int rc = check_expr(p, c->args[i], depth + 1, err);
        if (rc < 0)
            return rc;
        args[i] = (st_core_type_t)c->args[i]->type;
    }
    if (st_core_builtin_type(c->fn, c->n_args, args, &ret) < 0)
        return bad(err, "unknown builtin %s/%zu or wrong argument types", c->fn, c->n_args);
    if (ret != (st_core_type_t)e->type)
        return bad(err, "%s() returns %s, expression says %s", c->fn, st_core_type_name(ret),
                   st_core_type_name((st_core_type_t)e->type));
    return 0;
}

static int check_ops(const st_core_program_t *p, const pb_expr_t *e, int depth, st_err_t *err)
{
    st_core_type_t t = (st_core_type_t)e->type, got = T(NONE);
    int rc;
    if (e->node_case == SETTLE__V1__EXPR__NODE_UNARY) {
        const Settle__V1__Unary *u = e->unary;
        if (u == NULL || (rc = check_expr(p, u->operand, depth + 1, err)) < 0)
            return u == NULL ? bad(err, "unary without operand") : rc;
        st_core_type_t o = (st_core_type_t)u->operand->type;
        if (u->op == SETTLE__V1__OP__OP_NOT && o == T(BOOL))
            got = T(BOOL);
        if (u->op == SETTLE__V1__OP__OP_NEG && (o == T(INT) || o == T(DURATION) || o == T(MONEY)))
            got = o;
        if (got != t)
            return bad(err, "unary op %d on %s does not give %s", (int)u->op, st_core_type_name(o),
                       st_core_type_name(t));
        return 0;
    }
    const Settle__V1__Binary *b = e->binary;
    if (b == NULL)
        return bad(err, "binary without operands");
    if ((rc = check_expr(p, b->lhs, depth + 1, err)) < 0 ||
        (rc = check_expr(p, b->rhs, depth + 1, err)) < 0)
        return rc;
    st_core_type_t l = (st_core_type_t)b->lhs->type, r = (st_core_type_t)b->rhs->type;
    got = binary_type(b->op, l, r);
    if (got == T(NONE) || got != t)
        return bad(err, "binary op %d on %s and %s does not give %s", (int)b->op,
                   st_core_type_name(l), st_core_type_name(r), st_core_type_name(t));
    return 0;
}

static int check_expr(const st_core_program_t *p, const pb_expr_t *e, int depth, st_err_t *err)
{
    if (e == NULL)
        return bad(err, "missing expression");
    if (depth > ST_CORE_EXPR_DEPTH_MAX)
        return bad(err, "expression nested deeper than %d", ST_CORE_EXPR_DEPTH_MAX);
    if ((int)e->type < T(INT) || (int)e->type > T(MONEY))
        return bad(err, "expression without a type");
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_LITERAL:
        return check_literal(e->literal, (st_core_type_t)e->type, err);
    case SETTLE__V1__EXPR__NODE_VAR:
        if (e->var >= p->pb->n_vars)
            return bad(err, "variable index %u out of range (%zu variables)", e->var,
                       p->pb->n_vars);
        if (p->pb->vars[e->var]->type != e->type)
            return bad(err, "variable %s is %s, expression says %s", p->pb->vars[e->var]->name,
                       st_core_type_name((st_core_type_t)p->pb->vars[e->var]->type),
                       st_core_type_name((st_core_type_t)e->type));
        return 0;
    case SETTLE__V1__EXPR__NODE_BINARY:
    case SETTLE__V1__EXPR__NODE_UNARY:
        return check_ops(p, e, depth, err);
    case SETTLE__V1__EXPR__NODE_CALL:
        return check_call(p, e, depth, err);
    default:
        return bad(err, "expression without a node");
    }
}

/* An expression of exactly type `want`. */
static int check_typed(const st_core_program_t *p, const pb_expr_t *e, st_core_type_t want,
                       st_err_t *err)
{
    int rc = check_expr(p, e, 0, err);
    if (rc == 0 && (st_core_type_t)e->type != want)
        return bad(err, "expression is %s, %s required", st_core_type_name((st_core_type_t)e->type),
                   st_core_type_name(want));
    return rc;
}

static int check_target(const st_core_program_t *p, uint32_t target, const char *what,
                        st_err_t *err)
{
    if (target >= p->pb->n_states)
        return bad(err, "%s target %u out of range (%zu states)", what, target, p->pb->n_states);
    return 0;
}

static int check_writable(const st_core_program_t *p, uint32_t var, st_err_t *err)
{
    if (var >= p->pb->n_vars)
        return bad(err, "variable index %u out of range (%zu variables)", var, p->pb->n_vars);
    if (p->pb->vars[var]->is_input)
        return bad(err, "input %s is read-only", p->pb->vars[var]->name);
    return 0;
}

static int check_vars(st_core_program_t *p, st_err_t *err)
{
    const pb_program_t *pb = p->pb;
    p->n_inputs = 0;
    for (size_t i = 0; i < pb->n_vars; i++) {
        const Settle__V1__Variable *v = pb->vars[i];
        int rc = 0;
        if (!name_ok(v->name))
            return bad(err, "variable %zu: missing or overlong name", i);
        if ((int)v->type < T(INT) || (int)v->type > T(MONEY))
            return bad(err, "variable %s: no type", v->name);
        if (v->is_input) {
            if (i != p->n_inputs)
                return bad(err, "input %s comes after a variable; inputs must come first", v->name);
            if (v->init != NULL)
                return bad(err, "input %s has an initial value", v->name);
            p->n_inputs++;
            continue;
        }
        if (v->init == NULL && (int)v->type == T(MONEY))
            return bad(err, "money variable %s needs an initial value (for its currency)", v->name);
        if (v->init != NULL && (rc = check_typed(p, v->init, (st_core_type_t)v->type, err)) < 0) {
            st_err_prefix(err, "variable %s: init", v->name);
            return rc;
        }
    }
    return 0;
}

/* Inits may only read inputs and earlier variables: run in order at START. */
static int check_init_order(const st_core_program_t *p, const pb_expr_t *e, size_t self,
                            st_err_t *err)
{
    if (e == NULL)
        return 0;
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_VAR:
        if (e->var >= self)
            return bad(err, "variable %s: init reads %s, which is not set yet",
                       p->pb->vars[self]->name, p->pb->vars[e->var]->name);
        return 0;
    case SETTLE__V1__EXPR__NODE_BINARY:
        if (check_init_order(p, e->binary->lhs, self, err) < 0)
            return ST_CHECK;
        return check_init_order(p, e->binary->rhs, self, err);
    case SETTLE__V1__EXPR__NODE_UNARY:
        return check_init_order(p, e->unary->operand, self, err);
    case SETTLE__V1__EXPR__NODE_CALL:
        for (size_t i = 0; i < e->call->n_args; i++)
            if (check_init_order(p, e->call->args[i], self, err) < 0)
                return ST_CHECK;
        return 0;
    default:
        return 0;
    }
}

static int check_bindings(const st_core_program_t *p, pb_binding_t **b, size_t n, st_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i]->field == NULL || b[i]->field[0] == '\0' || !utf8_ok(b[i]->field))
            return bad(err, "binding %zu: empty field path or not UTF-8", i);
        if (check_writable(p, b[i]->var, err) < 0)
            return ST_CHECK;
    }
    return 0;
}

static int check_activity(const st_core_program_t *p, const Settle__V1__Activity *a, st_err_t *err)
{
    if (a == NULL || !name_ok(a->name))
        return bad(err, "do state without an activity name");
    if (a->timeout_us <= 0)
        return bad(err, "activity %s: timeout must be > 0", a->name);
    if (a->retry != NULL) {
        if (a->retry->max_attempts < 1)
            return bad(err, "activity %s: retry max_attempts must be >= 1", a->name);
        if (a->retry->backoff_min_us < 0 || a->retry->backoff_max_us < a->retry->backoff_min_us)
            return bad(err, "activity %s: retry backoff must satisfy 0 <= min <= max", a->name);
    }
    for (size_t i = 0; i < a->n_args; i++) {
        if (!name_ok(a->args[i]->name))
            return bad(err, "activity %s: argument %zu without a name", a->name, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->args[i]->name, a->args[j]->name) == 0)
                return bad(err, "activity %s: duplicate argument %s", a->name, a->args[i]->name);
        if (check_expr(p, a->args[i]->value, 0, err) < 0) {
            st_err_prefix(err, "argument %s", a->args[i]->name);
            return ST_CHECK;
        }
    }
    if (a->n_arms == 0)
        return bad(err, "activity %s: no outcome arms", a->name);
    for (size_t i = 0; i < a->n_arms; i++) {
        const Settle__V1__OutcomeArm *arm = a->arms[i];
        if (!name_ok(arm->outcome))
            return bad(err, "outcome arm %zu without an outcome", i);
        if (check_target(p, arm->target, "outcome arm", err) < 0 ||
            check_bindings(p, arm->save, arm->n_save, err) < 0)
            return ST_CHECK;
        for (size_t c = 0; c < arm->n_codes; c++)
            if (!name_ok(arm->codes[c]))
                return bad(err, "outcome arm %s: empty decline code", arm->outcome);
        for (size_t j = 0; j < i; j++)
            if (arm->n_codes == 0 && a->arms[j]->n_codes == 0 &&
                strcmp(arm->outcome, a->arms[j]->outcome) == 0)
                return bad(err, "outcome %s has two catch-all arms", arm->outcome);
    }
    return 0;
}

static int check_signal_arms(const st_core_program_t *p, const pb_state *s, st_err_t *err)
{
    for (size_t i = 0; i < s->n_signals; i++) {
        const Settle__V1__SignalArm *a = s->signals[i];
        if (!name_ok(a->signal))
            return bad(err, "signal arm %zu without a signal name", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->signal, s->signals[j]->signal) == 0)
                return bad(err, "two arms for signal %s", a->signal);
        if (check_target(p, a->target, "signal arm", err) < 0 ||
            check_bindings(p, a->save, a->n_save, err) < 0)
            return ST_CHECK;
    }
    return 0;
}

static int check_sleep(const st_core_program_t *p, const Settle__V1__Sleep *sl, st_err_t *err)
{
    if (sl == NULL)
        return bad(err, "sleep state without a sleep");
    if (check_target(p, sl->wake_target, "wake", err) < 0)
        return ST_CHECK;
    switch (sl->until_case) {
    case SETTLE__V1__SLEEP__UNTIL_DURATION:
        return check_typed(p, sl->duration, T(DURATION), err);
    case SETTLE__V1__SLEEP__UNTIL_AT:
        if (sl->max_us <= 0)
            return bad(err, "sleep until needs an upper bound (max_us > 0)");
        return check_typed(p, sl->at, T(TIME), err);
    case SETTLE__V1__SLEEP__UNTIL_SMART:
        if (sl->smart == NULL || sl->smart->within_us <= 0 || sl->smart->min_gap_us < 0 ||
            sl->smart->min_gap_us > sl->smart->within_us)
            return bad(err, "sleep smart needs 0 <= min_gap <= within and within > 0");
        return 0;
    default:
        return bad(err, "sleep without duration, until or smart");
    }
}

static int check_await(const st_core_program_t *p, const pb_state *s, st_err_t *err)
{
    const Settle__V1__Await *aw = s->await;
    if (aw == NULL || aw->n_signals == 0)
        return bad(err, "await state without signals");
    if (aw->timeout_us <= 0)
        return bad(err, "await timeout must be > 0");
    if (check_target(p, aw->timeout_target, "timeout", err) < 0)
        return ST_CHECK;
    for (size_t i = 0; i < aw->n_signals; i++) {
        bool armed = false;
        if (!name_ok(aw->signals[i]))
            return bad(err, "await signal %zu without a name", i);
        for (size_t j = 0; j < s->n_signals; j++)
            armed = armed || strcmp(s->signals[j]->signal, aw->signals[i]) == 0;
        if (!armed)
            return bad(err, "awaited signal %s has no arm", aw->signals[i]);
    }
    for (size_t j = 0; j < s->n_signals; j++) {
        bool awaited = false;
        for (size_t i = 0; i < aw->n_signals; i++)
            awaited = awaited || strcmp(s->signals[j]->signal, aw->signals[i]) == 0;
        if (!awaited)
            return bad(err, "arm for signal %s, which the state does not await",
                       s->signals[j]->signal);
    }
    return 0;
}

/* Each kind has its body and no other kind's body. */
static int check_body(const st_core_program_t *p, const pb_state *s, st_err_t *err)
{
    int k = s->kind;
    if ((s->activity != NULL) != (k == ST_CORE_KIND_DO) ||
        (s->sleep != NULL) != (k == ST_CORE_KIND_SLEEP) ||
        (s->await != NULL) != (k == ST_CORE_KIND_AWAIT))
        return bad(err, "%s state has a body of another kind or lacks its own",
                   st_core_kind_name((st_core_kind_t)k));
    if (s->n_signals > 0 && k != ST_CORE_KIND_SLEEP && k != ST_CORE_KIND_AWAIT)
        return bad(err, "only sleep and await states take signal arms");
    if (check_signal_arms(p, s, err) < 0)
        return ST_CHECK;
    switch (k) {
    case ST_CORE_KIND_DO:
        return check_activity(p, s->activity, err);
    case ST_CORE_KIND_SLEEP:
        return check_sleep(p, s->sleep, err);
    case ST_CORE_KIND_AWAIT:
        return check_await(p, s, err);
    case ST_CORE_KIND_DECIDE:
        return check_target(p, s->else_target, "else", err);
    case ST_CORE_KIND_FINAL:
        return 0;
    case ST_CORE_KIND_FAIL:
        return utf8_ok(s->fail_reason) ? 0 : bad(err, "fail reason is not UTF-8 text");
    default:
        return bad(err, "unknown state kind %d", k);
    }
}

static int check_state(const st_core_program_t *p, const pb_state *s, st_err_t *err)
{
    for (size_t i = 0; i < s->n_assigns; i++) {
        const Settle__V1__Assign *a = s->assigns[i];
        if (check_writable(p, a->var, err) < 0 ||
            check_typed(p, a->value, (st_core_type_t)p->pb->vars[a->var]->type, err) < 0) {
            st_err_prefix(err, "assign %zu", i);
            return ST_CHECK;
        }
    }
    for (size_t i = 0; i < s->n_guards; i++) {
        const Settle__V1__Guard *g = s->guards[i];
        if (check_typed(p, g->cond, T(BOOL), err) < 0 ||
            check_target(p, g->target, "guard", err) < 0) {
            st_err_prefix(err, "guard %zu", i);
            return ST_CHECK;
        }
    }
    return check_body(p, s, err);
}

static int check_top(const st_core_program_t *p, st_err_t *err)
{
    const pb_program_t *pb = p->pb;
    if (pb->format_version != SETTLE__V1__FORMAT_VERSION__FORMAT_VERSION_1)
        return bad(err, "unsupported format version %d (this engine reads 1)",
                   (int)pb->format_version);
    if (!name_ok(pb->name))
        return bad(err, "program without a flow name");
    if (pb->n_states == 0)
        return bad(err, "program has no states");
    if (pb->n_states > ST_CORE_COUNT_MAX || pb->n_vars > ST_CORE_COUNT_MAX)
        return bad(err, "program has too many states or variables");
    if (check_target(p, pb->initial, "initial", err) < 0)
        return ST_CHECK;
    if (pb->has_cancel && check_target(p, pb->cancel_target, "cancel", err) < 0)
        return ST_CHECK;
    for (size_t i = 0; i < pb->n_correlations; i++) {
        const Settle__V1__Correlation *c = pb->correlations[i];
        if (!name_ok(c->key) || c->var >= pb->n_vars || (int)pb->vars[c->var]->type != T(STRING))
            return bad(err, "correlation %zu needs a key and a string variable", i);
    }
    return 0;
}

int st_core_validate(st_core_program_t *p, st_err_t *err)
{
    const pb_program_t *pb = p->pb;
    int rc = check_top(p, err);
    if (rc == 0)
        rc = check_vars(p, err);
    for (size_t i = 0; rc == 0 && i < pb->n_vars; i++)
        rc = check_init_order(p, pb->vars[i]->init, i, err);
    for (size_t i = 0; rc == 0 && i < pb->n_states; i++) {
        if (!name_ok(pb->states[i]->name)) {
            rc = bad(err, "state %zu: missing or overlong name", i);
            break;
        }
        rc = check_state(p, pb->states[i], err);
        if (rc < 0)
            st_err_prefix(err, "state %s", pb->states[i]->name);
    }
    if (rc < 0) {
        st_err_prefix(err, "invalid program %s", name_ok(pb->name) ? pb->name : "(unnamed)");
        st_err_hint(err, "recompile the flow with settlec; the engine refuses bad Programs");
    }
    return rc;
}
