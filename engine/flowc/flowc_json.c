/*
 * flowc_json.c — render a Program as JSON for people, golden tests and
 * `settlectl show`.
 *
 * Layer: engine/flowc (public through st_flowc.h); uses jansson.
 * Invariants: keys come out in a fixed insertion order (jansson keeps it),
 * state and variable references are written by name, durations and times
 * as integer microseconds, money as {minor, currency}; the output depends
 * only on the Program, so equal Programs give byte-identical JSON.
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_valid.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *fc_kind_name(Settle__V1__StateKind k)
{
    static const char *const names[] = {"unspecified", "do",    "sleep", "await",
                                        "decide",      "final", "fail"};
    return (unsigned)k < 7 ? names[k] : "unknown";
}

static const char *fc_op_name(Settle__V1__Op op)
{
    static const char *const names[] = {"?",  "add", "sub", "mul", "div", "mod", "eq",  "ne",
                                        "lt", "le",  "gt",  "ge",  "and", "or",  "not", "neg"};
    return (unsigned)op < 16 ? names[op] : "?";
}

typedef struct {
    const Settle__V1__Program *p;
} fc_js_t;

static const char *fc_state_name(const fc_js_t *j, uint32_t i)
{
    return i < j->p->n_states ? j->p->states[i]->name : "?";
}

static const char *fc_var_name(const fc_js_t *j, uint32_t i)
{
    return i < j->p->n_vars ? j->p->vars[i]->name : "?";
}

static json_t *fc_value_json(const Settle__V1__Value *v)
{
    switch (v->v_case) {
    case SETTLE__V1__VALUE__V_INT_V:
        return json_integer(v->int_v);
    case SETTLE__V1__VALUE__V_STRING_V:
        return json_string(v->string_v);
    case SETTLE__V1__VALUE__V_BOOL_V:
        return json_boolean(v->bool_v);
    case SETTLE__V1__VALUE__V_DURATION_US:
        return json_integer(v->duration_us);
    case SETTLE__V1__VALUE__V_TIME_US:
        return json_integer(v->time_us);
    case SETTLE__V1__VALUE__V_MONEY_V:
        return json_pack("{s:I,s:s}", "minor", (json_int_t)v->money_v->minor, "currency",
                         v->money_v->currency);
    default:
        return json_null();
    }
}

static json_t *fc_expr_json(const fc_js_t *j, const Settle__V1__Expr *e)
{
    if (e == NULL)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(fc_type_name(e->type)));
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_LITERAL:
        json_object_set_new(o, "value", fc_value_json(e->literal));
        break;
    case SETTLE__V1__EXPR__NODE_VAR:
        json_object_set_new(o, "var", json_string(fc_var_name(j, e->var)));
        break;
    case SETTLE__V1__EXPR__NODE_BINARY:
        json_object_set_new(o, "op", json_string(fc_op_name(e->binary->op)));
        json_object_set_new(o, "lhs", fc_expr_json(j, e->binary->lhs));
        json_object_set_new(o, "rhs", fc_expr_json(j, e->binary->rhs));
        break;
    case SETTLE__V1__EXPR__NODE_UNARY:
        json_object_set_new(o, "op", json_string(fc_op_name(e->unary->op)));
        json_object_set_new(o, "operand", fc_expr_json(j, e->unary->operand));
        break;
    case SETTLE__V1__EXPR__NODE_CALL: {
        json_t *args = json_array();
        for (size_t i = 0; i < e->call->n_args; i++)
            json_array_append_new(args, fc_expr_json(j, e->call->args[i]));
        json_object_set_new(o, "call", json_string(e->call->fn));
        json_object_set_new(o, "args", args);
        break;
    }
    default:
        break;
    }
    return o;
}

static json_t *fc_saves_json(const fc_js_t *j, Settle__V1__Binding **b, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s,s:s}", "var", fc_var_name(j, b[i]->var), "field", b[i]->field));
    return a;
}

static json_t *fc_activity_json(const fc_js_t *j, const Settle__V1__Activity *a)
{
    json_t *o = json_object(), *args = json_array(), *arms = json_array();
    json_object_set_new(o, "name", json_string(a->name));
    for (size_t i = 0; i < a->n_args; i++)
        json_array_append_new(args, json_pack("{s:s,s:o}", "name", a->args[i]->name, "value",
                                              fc_expr_json(j, a->args[i]->value)));
    json_object_set_new(o, "args", args);
    json_object_set_new(o, "timeout_us", json_integer(a->timeout_us));
    json_object_set_new(o, "retry",
                        json_pack("{s:i,s:I,s:I}", "max_attempts", (int)a->retry->max_attempts,
                                  "backoff_min_us", (json_int_t)a->retry->backoff_min_us,
                                  "backoff_max_us", (json_int_t)a->retry->backoff_max_us));
    for (size_t i = 0; i < a->n_arms; i++) {
        const Settle__V1__OutcomeArm *arm = a->arms[i];
        json_t *codes = json_array();
        for (size_t k = 0; k < arm->n_codes; k++)
            json_array_append_new(codes, json_string(arm->codes[k]));
        json_array_append_new(arms, json_pack("{s:s,s:o,s:s,s:o}", "outcome", arm->outcome, "codes",
                                              codes, "target", fc_state_name(j, arm->target),
                                              "save", fc_saves_json(j, arm->save, arm->n_save)));
    }
    json_object_set_new(o, "arms", arms);
    return o;
}

static json_t *fc_sleep_json(const fc_js_t *j, const Settle__V1__Sleep *s)
{
    json_t *o = json_object();
    switch (s->until_case) {
    case SETTLE__V1__SLEEP__UNTIL_DURATION:
        json_object_set_new(o, "duration", fc_expr_json(j, s->duration));
        break;
    case SETTLE__V1__SLEEP__UNTIL_AT:
        json_object_set_new(o, "at", fc_expr_json(j, s->at));
        break;
    case SETTLE__V1__SLEEP__UNTIL_SMART:
        json_object_set_new(o, "smart",
                            json_pack("{s:I,s:I}", "within_us", (json_int_t)s->smart->within_us,
                                      "min_gap_us", (json_int_t)s->smart->min_gap_us));
        break;
    default:
        break;
    }
    json_object_set_new(o, "max_us", json_integer(s->max_us));
    json_object_set_new(o, "wake", json_string(fc_state_name(j, s->wake_target)));
    return o;
}

static json_t *fc_await_json(const fc_js_t *j, const Settle__V1__Await *a)
{
    json_t *sig = json_array();
    for (size_t i = 0; i < a->n_signals; i++)
        json_array_append_new(sig, json_string(a->signals[i]));
    return json_pack("{s:o,s:I,s:s}", "signals", sig, "timeout_us", (json_int_t)a->timeout_us,
                     "timeout", fc_state_name(j, a->timeout_target));
}

static json_t *fc_state_json(const fc_js_t *j, const Settle__V1__State *s)
{
    json_t *o = json_object(), *assigns = json_array(), *guards = json_array();
    json_object_set_new(o, "name", json_string(s->name));
    json_object_set_new(o, "kind", json_string(fc_kind_name(s->kind)));
    if (s->pos)
        json_object_set_new(
            o, "pos", json_pack("{s:i,s:i}", "line", (int)s->pos->line, "col", (int)s->pos->col));
    for (size_t i = 0; i < s->n_assigns; i++)
        json_array_append_new(assigns,
                              json_pack("{s:s,s:o}", "var", fc_var_name(j, s->assigns[i]->var),
                                        "value", fc_expr_json(j, s->assigns[i]->value)));
    for (size_t i = 0; i < s->n_guards; i++)
        json_array_append_new(guards,
                              json_pack("{s:o,s:s}", "if", fc_expr_json(j, s->guards[i]->cond),
                                        "target", fc_state_name(j, s->guards[i]->target)));
    json_object_set_new(o, "assigns", assigns);
    json_object_set_new(o, "guards", guards);
    if (s->activity)
        json_object_set_new(o, "activity", fc_activity_json(j, s->activity));
    if (s->sleep)
        json_object_set_new(o, "sleep", fc_sleep_json(j, s->sleep));
    if (s->await)
        json_object_set_new(o, "await", fc_await_json(j, s->await));
    if (s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_SLEEP ||
        s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_AWAIT) {
        json_t *sig = json_array();
        for (size_t i = 0; i < s->n_signals; i++)
            json_array_append_new(
                sig, json_pack("{s:s,s:s,s:o}", "signal", s->signals[i]->signal, "target",
                               fc_state_name(j, s->signals[i]->target), "save",
                               fc_saves_json(j, s->signals[i]->save, s->signals[i]->n_save)));
        json_object_set_new(o, "signals", sig);
    }
    if (s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_DECIDE)
        json_object_set_new(o, "else", json_string(fc_state_name(j, s->else_target)));
    if (s->kind == SETTLE__V1__STATE_KIND__STATE_KIND_FAIL)
        json_object_set_new(o, "fail_reason", json_string(s->fail_reason));
    return o;
}

static json_t *fc_program_json(const fc_js_t *j)
{
    const Settle__V1__Program *p = j->p;
    json_t *o = json_object(), *vars = json_array(), *corr = json_array(), *states = json_array();
    json_object_set_new(o, "format_version", json_integer(p->format_version));
    json_object_set_new(o, "name", json_string(p->name));
    json_object_set_new(o, "source_name", json_string(p->source_name));
    json_object_set_new(o, "initial", json_string(fc_state_name(j, p->initial)));
    json_object_set_new(
        o, "cancel", p->has_cancel ? json_string(fc_state_name(j, p->cancel_target)) : json_null());
    for (size_t i = 0; i < p->n_vars; i++) {
        const Settle__V1__Variable *v = p->vars[i];
        json_t *jv = json_pack("{s:s,s:s,s:b}", "name", v->name, "type", fc_type_name(v->type),
                               "input", (int)v->is_input);
        if (!v->is_input)
            json_object_set_new(jv, "init", fc_expr_json(j, v->init));
        json_array_append_new(vars, jv);
    }
    for (size_t i = 0; i < p->n_correlations; i++)
        json_array_append_new(corr, json_pack("{s:s,s:s}", "key", p->correlations[i]->key, "var",
                                              fc_var_name(j, p->correlations[i]->var)));
    for (size_t i = 0; i < p->n_states; i++)
        json_array_append_new(states, fc_state_json(j, p->states[i]));
    json_object_set_new(o, "vars", vars);
    json_object_set_new(o, "correlations", corr);
    json_object_set_new(o, "states", states);
    return o;
}

int st_flowc_program_to_json(const Settle__V1__Program *p, char **out, st_err_t *err)
{
    if (out == NULL)
        return st_err_set(err, ST_INVAL, "st_flowc_program_to_json: NULL argument");
    int rc = fc_program_validate(p, err);
    if (rc < 0)
        return rc;
    fc_js_t j = {p};
    json_t *root = fc_program_json(&j);
    *out = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (*out == NULL)
        return st_err_set(err, ST_NOMEM, "cannot render the Program as JSON");
    return 0;
}
