/*
 * core_build.c — Program builder for the core tests (see core_build.h).
 */
#include "core_build.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixup {
    uint32_t *slot; /* a target field inside the tree */
    char *name;     /* the state it should point at */
} fixup_t;

struct cb {
    Settle__V1__Program *pb;
    fixup_t *fix;
    size_t n_fix;
};

static void *xcalloc(size_t n)
{
    void *p = calloc(1, n);
    ck_assert_ptr_nonnull(p);
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* Append to a protobuf-c repeated field (n, array of pointers). */
#define PUSH(n, arr, item)                                 \
    do {                                                   \
        (arr) = realloc((arr), ((n) + 1) * sizeof *(arr)); \
        ck_assert_ptr_nonnull(arr);                        \
        (arr)[(n)++] = (item);                             \
    } while (0)

cb_t *cb_new(const char *flow)
{
    cb_t *b = xcalloc(sizeof *b);
    b->pb = xcalloc(sizeof *b->pb);
    settle__v1__program__init(b->pb);
    b->pb->format_version = SETTLE__V1__FORMAT_VERSION__FORMAT_VERSION_1;
    b->pb->name = xstrdup(flow);
    return b;
}

void cb_free(cb_t *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_fix; i++)
        free(b->fix[i].name);
    free(b->fix);
    settle__v1__program__free_unpacked(b->pb, NULL);
    free(b);
}

Settle__V1__Program *cb_pb(cb_t *b)
{
    return b->pb;
}

static void target(cb_t *b, uint32_t *slot, const char *name)
{
    b->fix = realloc(b->fix, (b->n_fix + 1) * sizeof *b->fix);
    ck_assert_ptr_nonnull(b->fix);
    b->fix[b->n_fix].slot = slot;
    b->fix[b->n_fix].name = xstrdup(name);
    b->n_fix++;
}

static uint32_t add_var(cb_t *b, const char *name, st_core_type_t t, int input, cb_expr_t *init)
{
    Settle__V1__Variable *v = xcalloc(sizeof *v);
    settle__v1__variable__init(v);
    v->name = xstrdup(name);
    v->type = (Settle__V1__Type)t;
    v->is_input = input;
    v->init = init;
    PUSH(b->pb->n_vars, b->pb->vars, v);
    return (uint32_t)(b->pb->n_vars - 1);
}

uint32_t cb_input(cb_t *b, const char *name, st_core_type_t t)
{
    return add_var(b, name, t, 1, NULL);
}

uint32_t cb_var(cb_t *b, const char *name, st_core_type_t t, cb_expr_t *init)
{
    return add_var(b, name, t, 0, init);
}

static uint32_t var_index(cb_t *b, const char *name)
{
    for (size_t i = 0; i < b->pb->n_vars; i++)
        if (strcmp(b->pb->vars[i]->name, name) == 0)
            return (uint32_t)i;
    ck_abort_msg("builder: no variable %s", name);
    return 0;
}

static cb_expr_t *expr(st_core_type_t t)
{
    cb_expr_t *e = xcalloc(sizeof *e);
    settle__v1__expr__init(e);
    e->type = (Settle__V1__Type)t;
    return e;
}

static cb_expr_t *lit(st_core_type_t t, Settle__V1__Value__VCase c)
{
    cb_expr_t *e = expr(t);
    e->node_case = SETTLE__V1__EXPR__NODE_LITERAL;
    e->literal = xcalloc(sizeof *e->literal);
    settle__v1__value__init(e->literal);
    e->literal->v_case = c;
    return e;
}

cb_expr_t *cb_int(int64_t v)
{
    cb_expr_t *e = lit(ST_CORE_T_INT, SETTLE__V1__VALUE__V_INT_V);
    e->literal->int_v = v;
    return e;
}

cb_expr_t *cb_str(const char *s)
{
    cb_expr_t *e = lit(ST_CORE_T_STRING, SETTLE__V1__VALUE__V_STRING_V);
    e->literal->string_v = xstrdup(s);
    return e;
}

cb_expr_t *cb_bool(int v)
{
    cb_expr_t *e = lit(ST_CORE_T_BOOL, SETTLE__V1__VALUE__V_BOOL_V);
    e->literal->bool_v = v;
    return e;
}

cb_expr_t *cb_dur(int64_t us)
{
    cb_expr_t *e = lit(ST_CORE_T_DURATION, SETTLE__V1__VALUE__V_DURATION_US);
    e->literal->duration_us = us;
    return e;
}

cb_expr_t *cb_time(int64_t us)
{
    cb_expr_t *e = lit(ST_CORE_T_TIME, SETTLE__V1__VALUE__V_TIME_US);
    e->literal->time_us = us;
    return e;
}

cb_expr_t *cb_money(int64_t minor, const char *currency)
{
    cb_expr_t *e = lit(ST_CORE_T_MONEY, SETTLE__V1__VALUE__V_MONEY_V);
    e->literal->money_v = xcalloc(sizeof *e->literal->money_v);
    settle__v1__money__init(e->literal->money_v);
    e->literal->money_v->minor = minor;
    e->literal->money_v->currency = xstrdup(currency);
    return e;
}

cb_expr_t *cb_ref(cb_t *b, const char *var)
{
    uint32_t i = var_index(b, var);
    cb_expr_t *e = expr((st_core_type_t)b->pb->vars[i]->type);
    e->node_case = SETTLE__V1__EXPR__NODE_VAR;
    e->var = i;
    return e;
}

cb_expr_t *cb_bin(Settle__V1__Op op, st_core_type_t t, cb_expr_t *l, cb_expr_t *r)
{
    cb_expr_t *e = expr(t);
    e->node_case = SETTLE__V1__EXPR__NODE_BINARY;
    e->binary = xcalloc(sizeof *e->binary);
    settle__v1__binary__init(e->binary);
    e->binary->op = op;
    e->binary->lhs = l;
    e->binary->rhs = r;
    return e;
}

cb_expr_t *cb_un(Settle__V1__Op op, st_core_type_t t, cb_expr_t *x)
{
    cb_expr_t *e = expr(t);
    e->node_case = SETTLE__V1__EXPR__NODE_UNARY;
    e->unary = xcalloc(sizeof *e->unary);
    settle__v1__unary__init(e->unary);
    e->unary->op = op;
    e->unary->operand = x;
    return e;
}

cb_expr_t *cb_call(const char *fn, st_core_type_t t, cb_expr_t *a0, cb_expr_t *a1)
{
    cb_expr_t *e = expr(t);
    e->node_case = SETTLE__V1__EXPR__NODE_CALL;
    e->call = xcalloc(sizeof *e->call);
    settle__v1__call__init(e->call);
    e->call->fn = xstrdup(fn);
    if (a0 != NULL)
        PUSH(e->call->n_args, e->call->args, a0);
    if (a1 != NULL)
        PUSH(e->call->n_args, e->call->args, a1);
    return e;
}

cb_state_t *cb_state(cb_t *b, const char *name, st_core_kind_t kind)
{
    cb_state_t *st = xcalloc(sizeof *st);
    settle__v1__state__init(st);
    st->name = xstrdup(name);
    st->kind = (Settle__V1__StateKind)kind;
    PUSH(b->pb->n_states, b->pb->states, st);
    return st;
}

void cb_assign(cb_t *b, cb_state_t *st, const char *var, cb_expr_t *e)
{
    Settle__V1__Assign *a = xcalloc(sizeof *a);
    settle__v1__assign__init(a);
    a->var = var_index(b, var);
    a->value = e;
    PUSH(st->n_assigns, st->assigns, a);
}

void cb_guard(cb_t *b, cb_state_t *st, cb_expr_t *cond, const char *to)
{
    Settle__V1__Guard *g = xcalloc(sizeof *g);
    settle__v1__guard__init(g);
    g->cond = cond;
    PUSH(st->n_guards, st->guards, g);
    target(b, &g->target, to);
}

void cb_else(cb_t *b, cb_state_t *st, const char *to)
{
    target(b, &st->else_target, to);
}

void cb_fail_reason(cb_state_t *st, const char *reason)
{
    st->fail_reason = xstrdup(reason);
}

cb_act_t *cb_do(cb_t *b, cb_state_t *st, const char *activity, int64_t timeout_us,
                uint32_t attempts)
{
    (void)b;
    cb_act_t *a = xcalloc(sizeof *a);
    settle__v1__activity__init(a);
    a->name = xstrdup(activity);
    a->timeout_us = timeout_us;
    a->retry = xcalloc(sizeof *a->retry);
    settle__v1__retry_policy__init(a->retry);
    a->retry->max_attempts = attempts;
    a->retry->backoff_min_us = 2000000;
    a->retry->backoff_max_us = 300000000;
    st->activity = a;
    return a;
}

void cb_arg(cb_act_t *a, const char *name, cb_expr_t *e)
{
    Settle__V1__Arg *arg = xcalloc(sizeof *arg);
    settle__v1__arg__init(arg);
    arg->name = xstrdup(name);
    arg->value = e;
    PUSH(a->n_args, a->args, arg);
}

cb_arm_t *cb_arm(cb_t *b, cb_act_t *a, const char *outcome, const char *codes, const char *to)
{
    cb_arm_t *arm = xcalloc(sizeof *arm);
    settle__v1__outcome_arm__init(arm);
    arm->outcome = xstrdup(outcome);
    if (codes != NULL) {
        char *list = xstrdup(codes), *save = NULL;
        for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
            PUSH(arm->n_codes, arm->codes, xstrdup(c));
        free(list);
    }
    PUSH(a->n_arms, a->arms, arm);
    target(b, &arm->target, to);
    return arm;
}

static Settle__V1__Binding *binding(cb_t *b, const char *field, const char *var)
{
    Settle__V1__Binding *bd = xcalloc(sizeof *bd);
    settle__v1__binding__init(bd);
    bd->field = xstrdup(field);
    bd->var = var_index(b, var);
    return bd;
}

void cb_arm_save(cb_t *b, cb_arm_t *arm, const char *field, const char *var)
{
    PUSH(arm->n_save, arm->save, binding(b, field, var));
}

static Settle__V1__Sleep *sleep_body(cb_t *b, cb_state_t *st, const char *wake)
{
    st->sleep = xcalloc(sizeof *st->sleep);
    settle__v1__sleep__init(st->sleep);
    target(b, &st->sleep->wake_target, wake);
    return st->sleep;
}

void cb_sleep_for(cb_t *b, cb_state_t *st, cb_expr_t *d, const char *wake)
{
    Settle__V1__Sleep *sl = sleep_body(b, st, wake);
    sl->until_case = SETTLE__V1__SLEEP__UNTIL_DURATION;
    sl->duration = d;
}

void cb_sleep_until(cb_t *b, cb_state_t *st, cb_expr_t *at, int64_t max_us, const char *wake)
{
    Settle__V1__Sleep *sl = sleep_body(b, st, wake);
    sl->until_case = SETTLE__V1__SLEEP__UNTIL_AT;
    sl->at = at;
    sl->max_us = max_us;
}

void cb_sleep_smart(cb_t *b, cb_state_t *st, int64_t within_us, int64_t gap_us, const char *wake)
{
    Settle__V1__Sleep *sl = sleep_body(b, st, wake);
    sl->until_case = SETTLE__V1__SLEEP__UNTIL_SMART;
    sl->smart = xcalloc(sizeof *sl->smart);
    settle__v1__smart__init(sl->smart);
    sl->smart->within_us = within_us;
    sl->smart->min_gap_us = gap_us;
}

void cb_await(cb_t *b, cb_state_t *st, const char *signals, int64_t timeout_us,
              const char *timeout_target, const char *to)
{
    Settle__V1__Await *aw = xcalloc(sizeof *aw);
    settle__v1__await__init(aw);
    aw->timeout_us = timeout_us;
    st->await = aw;
    target(b, &aw->timeout_target, timeout_target);
    char *list = xstrdup(signals), *save = NULL;
    for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        PUSH(aw->n_signals, aw->signals, xstrdup(c));
        if (to != NULL)
            cb_on_signal(b, st, c, to);
    }
    free(list);
}

cb_sig_t *cb_on_signal(cb_t *b, cb_state_t *st, const char *signal, const char *to)
{
    cb_sig_t *arm = xcalloc(sizeof *arm);
    settle__v1__signal_arm__init(arm);
    arm->signal = xstrdup(signal);
    PUSH(st->n_signals, st->signals, arm);
    target(b, &arm->target, to);
    return arm;
}

void cb_sig_save(cb_t *b, cb_sig_t *arm, const char *field, const char *var)
{
    PUSH(arm->n_save, arm->save, binding(b, field, var));
}

void cb_initial(cb_t *b, const char *state)
{
    target(b, &b->pb->initial, state);
}

void cb_cancel(cb_t *b, const char *state)
{
    b->pb->has_cancel = 1;
    target(b, &b->pb->cancel_target, state);
}

static uint32_t state_index(cb_t *b, const char *name)
{
    for (size_t i = 0; i < b->pb->n_states; i++)
        if (strcmp(b->pb->states[i]->name, name) == 0)
            return (uint32_t)i;
    return 9999;
}

uint8_t *cb_pack(cb_t *b, size_t *len)
{
    for (size_t i = 0; i < b->n_fix; i++)
        *b->fix[i].slot = state_index(b, b->fix[i].name);
    *len = settle__v1__program__get_packed_size(b->pb);
    uint8_t *buf = malloc(*len + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(settle__v1__program__pack(b->pb, buf), *len);
    return buf;
}

int cb_load(cb_t *b, st_core_program_t **out, st_err_t *err)
{
    size_t len = 0;
    uint8_t *bytes = cb_pack(b, &len);
    int rc = st_core_program_load(bytes, len, out, err);
    free(bytes);
    return rc;
}

st_core_program_t *cb_load_ok(cb_t *b)
{
    st_core_program_t *p = NULL;
    st_err_t err;
    st_err_clear(&err);
    int rc = cb_load(b, &p, &err);
    ck_assert_msg(rc == 0, "program load failed: %s", err.msg);
    return p;
}
