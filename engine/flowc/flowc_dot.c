/*
 * flowc_dot.c — render a Program as a Graphviz digraph.
 *
 * Layer: engine/flowc (public through st_flowc.h); libc only.
 * Conventions: one node per state labelled with its name and what it does;
 * DO boxes, SLEEP/AWAIT ellipses, DECIDE diamonds, FINAL double circles
 * (green), FAIL octagons (red); edges carry the outcome, signal, wake,
 * timeout or condition that takes them; guards and else are dashed. Labels
 * are escaped, so any state or signal name is safe to print.
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

/* Write s as the inside of a DOT double-quoted string. */
static void fc_dot_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static void fc_dot_node(FILE *f, size_t i, const Settle__V1__State *s)
{
    static const char *const shapes[] = {"box",     "box",          "ellipse", "ellipse",
                                         "diamond", "doublecircle", "octagon"};
    const char *shape = (unsigned)s->kind < 7 ? shapes[s->kind] : "box";
    fprintf(f, "  s%zu [shape=%s, label=\"", i, shape);
    fc_dot_str(f, s->name);
    if (s->kind == KIND(DO) && s->activity) {
        fputs("\\n", f);
        fc_dot_str(f, s->activity->name);
    } else if (s->kind == KIND(SLEEP)) {
        fputs(s->sleep && s->sleep->until_case == SETTLE__V1__SLEEP__UNTIL_SMART ? "\\nsleep smart"
                                                                                 : "\\nsleep",
              f);
    } else if (s->kind == KIND(AWAIT)) {
        fputs("\\nawait", f);
    } else if (s->kind == KIND(FAIL) && s->fail_reason[0]) {
        fputs("\\n", f);
        fc_dot_str(f, s->fail_reason);
    }
    fputs("\"", f);
    if (s->kind == KIND(FINAL))
        fputs(", style=filled, fillcolor=\"#c8e6c9\", color=\"#2e7d32\"", f);
    else if (s->kind == KIND(FAIL))
        fputs(", style=filled, fillcolor=\"#ffcdd2\", color=\"#c62828\"", f);
    fputs("];\n", f);
}

static const char *fc_op_sym(Settle__V1__Op op)
{
    static const char *const sym[] = {
        "?", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not", "-"};
    return (unsigned)op < 16 ? sym[op] : "?";
}

static void fc_dot_duration(FILE *f, int64_t us)
{
    static const struct {
        int64_t us;
        const char *unit;
    } units[] = {{604800000000LL, "w"}, {86400000000LL, "d"}, {3600000000LL, "h"},
                 {60000000LL, "m"},     {1000000LL, "s"},     {1000LL, "ms"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (us != 0 && us % units[i].us == 0) {
            fprintf(f, "%lld%s", (long long)(us / units[i].us), units[i].unit);
            return;
        }
    fprintf(f, "%lldus", (long long)us);
}

static void fc_dot_money(FILE *f, const Settle__V1__Money *m)
{
    int exp = fc_currency_exponent(m->currency);
    int64_t div = 1;
    for (int i = 0; i < exp; i++)
        div *= 10;
    int64_t v = m->minor < 0 ? -m->minor : m->minor;
    fprintf(f, "%s%lld", m->minor < 0 ? "-" : "", (long long)(v / div));
    if (exp > 0)
        fprintf(f, ".%0*lld", exp, (long long)(v % div));
    fputc(' ', f);
    fc_dot_str(f, m->currency);
}

static void fc_dot_value(FILE *f, const Settle__V1__Value *v)
{
    switch (v->v_case) {
    case SETTLE__V1__VALUE__V_INT_V:
        fprintf(f, "%lld", (long long)v->int_v);
        break;
    case SETTLE__V1__VALUE__V_STRING_V:
        fputs("\\\"", f);
        fc_dot_str(f, v->string_v);
        fputs("\\\"", f);
        break;
    case SETTLE__V1__VALUE__V_BOOL_V:
        fputs(v->bool_v ? "true" : "false", f);
        break;
    case SETTLE__V1__VALUE__V_DURATION_US:
        fc_dot_duration(f, v->duration_us);
        break;
    case SETTLE__V1__VALUE__V_TIME_US:
        fprintf(f, "@%lld", (long long)v->time_us);
        break;
    case SETTLE__V1__VALUE__V_MONEY_V:
        fc_dot_money(f, v->money_v);
        break;
    default:
        fputc('?', f);
    }
}

/* An expression as flow source text, fully parenthesised below the top. */
static void fc_dot_expr(FILE *f, const Settle__V1__Program *p, const Settle__V1__Expr *e, bool top)
{
    switch (e->node_case) {
    case SETTLE__V1__EXPR__NODE_LITERAL:
        fc_dot_value(f, e->literal);
        break;
    case SETTLE__V1__EXPR__NODE_VAR:
        fc_dot_str(f, p->vars[e->var]->name);
        break;
    case SETTLE__V1__EXPR__NODE_BINARY:
        fputs(top ? "" : "(", f);
        fc_dot_expr(f, p, e->binary->lhs, false);
        fprintf(f, " %s ", fc_op_sym(e->binary->op));
        fc_dot_expr(f, p, e->binary->rhs, false);
        fputs(top ? "" : ")", f);
        break;
    case SETTLE__V1__EXPR__NODE_UNARY:
        fputs(e->unary->op == SETTLE__V1__OP__OP_NOT ? "not " : "-", f);
        fc_dot_expr(f, p, e->unary->operand, false);
        break;
    case SETTLE__V1__EXPR__NODE_CALL:
        fc_dot_str(f, e->call->fn);
        fputc('(', f);
        for (size_t i = 0; i < e->call->n_args; i++) {
            fputs(i ? ", " : "", f);
            fc_dot_expr(f, p, e->call->args[i], true);
        }
        fputc(')', f);
        break;
    default:
        fputc('?', f);
    }
}

static void fc_dot_edge(FILE *f, size_t from, uint32_t to, const char *label, const char *extra,
                        bool dashed)
{
    fprintf(f, "  s%zu -> s%u [label=\"", from, to);
    fc_dot_str(f, label);
    if (extra && extra[0]) {
        fputs(extra[0] == '(' ? "" : " ", f);
        fc_dot_str(f, extra);
    }
    fprintf(f, "\"%s];\n", dashed ? ", style=dashed" : "");
}

static void fc_dot_arms(FILE *f, size_t i, const Settle__V1__Activity *a)
{
    for (size_t k = 0; k < a->n_arms; k++) {
        const Settle__V1__OutcomeArm *arm = a->arms[k];
        char codes[256] = "";
        size_t n = 0;
        for (size_t c = 0; c < arm->n_codes && n < sizeof codes - 8; c++) {
            int w = snprintf(codes + n, sizeof codes - n, "%s%s", c ? ", " : "(", arm->codes[c]);
            n = w < 0 ? n : n + (size_t)w;
        }
        if (arm->n_codes && n < sizeof codes - 1)
            strcat(codes, ")");
        fc_dot_edge(f, i, arm->target, arm->outcome, codes, false);
    }
}

static void fc_dot_guard(FILE *f, const Settle__V1__Program *p, size_t i,
                         const Settle__V1__Guard *g)
{
    fprintf(f, "  s%zu -> s%u [label=\"if ", i, g->target);
    fc_dot_expr(f, p, g->cond, true);
    fputs("\", style=dashed];\n", f);
}

static void fc_dot_edges(FILE *f, const Settle__V1__Program *p, size_t i)
{
    const Settle__V1__State *s = p->states[i];
    for (size_t k = 0; k < s->n_guards; k++)
        fc_dot_guard(f, p, i, s->guards[k]);
    if (s->kind == KIND(DECIDE))
        fc_dot_edge(f, i, s->else_target, "else", NULL, true);
    if (s->kind == KIND(DO))
        fc_dot_arms(f, i, s->activity);
    if (s->kind == KIND(SLEEP))
        fc_dot_edge(f, i, s->sleep->wake_target, "wake", NULL, false);
    if (s->kind == KIND(AWAIT))
        fc_dot_edge(f, i, s->await->timeout_target, "timeout", NULL, false);
    for (size_t k = 0; k < s->n_signals; k++)
        fc_dot_edge(f, i, s->signals[k]->target, "signal", s->signals[k]->signal, false);
}

int st_flowc_program_to_dot(const Settle__V1__Program *p, char **out, st_err_t *err)
{
    if (out == NULL)
        return st_err_set(err, ST_INVAL, "st_flowc_program_to_dot: NULL argument");
    int rc = fc_program_validate(p, err);
    if (rc < 0)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return st_err_set(err, ST_NOMEM, "cannot render the Program as DOT");
    fputs("digraph \"", f);
    fc_dot_str(f, p->name);
    fputs("\" {\n  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=11];\n"
          "  edge [fontname=\"Helvetica\", fontsize=9];\n  start [shape=point];\n",
          f);
    fprintf(f, "  start -> s%u;\n", p->initial);
    for (size_t i = 0; i < p->n_states; i++)
        fc_dot_node(f, i, p->states[i]);
    if (p->has_cancel) {
        fputs("  cancel [shape=plaintext, label=\"on cancel\"];\n", f);
        fprintf(f, "  cancel -> s%u [style=dotted];\n", p->cancel_target);
    }
    for (size_t i = 0; i < p->n_states; i++)
        fc_dot_edges(f, p, i);
    fputs("}\n", f);
    if (fclose(f) != 0 || buf == NULL) {
        free(buf);
        return st_err_set(err, ST_NOMEM, "cannot render the Program as DOT");
    }
    *out = buf;
    return 0;
}
