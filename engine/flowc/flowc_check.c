/*
 * flowc_check.c — name resolution and Program building for the flow level:
 * inputs, variables, correlations, state names and the cancel path. State
 * bodies are checked in flowc_check_state.c, the graph in flowc_graph.c.
 *
 * Layer: engine/flowc internals.
 * Invariants: Program.vars holds inputs first, then variables, each in
 * source order; Program.states keeps source order and the first state is
 * the initial one; every index written is in range or FC_NO_INDEX, and a
 * Program with any FC_NO_INDEX left also has errors (so is never emitted).
 */
#include "flowc/flowc_int.h"

#include <string.h>

#define T(x) SETTLE__V1__TYPE__TYPE_##x

Settle__V1__SourcePos *fc_source_pos(fc_checker_t *c, fc_pos_t at)
{
    Settle__V1__SourcePos *sp = fc_alloc(c->arena, sizeof *sp);
    if (sp != NULL) {
        settle__v1__source_pos__init(sp);
        sp->line = at.line;
        sp->col = at.col;
    }
    return sp;
}

uint32_t fc_find_var(const fc_checker_t *c, const char *name)
{
    return fc_map_get(&c->var_map, name);
}

uint32_t fc_find_state(const fc_checker_t *c, const char *name)
{
    return fc_map_get(&c->state_map, name);
}

uint32_t fc_resolve_state(fc_checker_t *c, const fc_name_t *n)
{
    if (n->s == NULL)
        return FC_NO_INDEX;
    uint32_t i = fc_find_state(c, n->s);
    if (i == FC_NO_INDEX) {
        c->resolve_errors++;
        fc_error(c->sink, n->pos, fc_suggest(c->arena, n->s, c->state_names, c->nstates),
                 "unknown state '%s'", n->s);
    }
    return i;
}

uint32_t fc_resolve_var(fc_checker_t *c, const fc_name_t *n)
{
    if (n->s == NULL)
        return FC_NO_INDEX;
    uint32_t i = fc_find_var(c, n->s);
    if (i != FC_NO_INDEX && i >= c->var_limit) {
        fc_error(c->sink, n->pos, "an initial value may use inputs and earlier variables only",
                 "variable '%s' is used before its declaration", n->s);
        return FC_NO_INDEX;
    }
    if (i == FC_NO_INDEX) {
        const char *hint = fc_suggest(c->arena, n->s, c->var_names, c->ndecls);
        if (strcmp(n->s, "now") == 0)
            hint = "the current time is the function now()";
        fc_error(c->sink, n->pos, hint, "unknown variable '%s'", n->s);
    }
    return i;
}

/* A literal of the type's zero value, for variables declared without one. */
static Settle__V1__Expr *fc_zero(fc_checker_t *c, const fc_decl_t *d)
{
    fc_expr_t z = {.pos = d->name.pos, .s = ""};
    switch (d->type) {
    case T(INT):
        z.kind = FC_E_INT;
        break;
    case T(STRING):
        z.kind = FC_E_STR;
        break;
    case T(BOOL):
        z.kind = FC_E_BOOL;
        break;
    case T(DURATION):
        z.kind = FC_E_DUR;
        break;
    default:
        fc_error(c->sink, d->name.pos,
                 d->type == T(MONEY) ? "write e.g. 'var fee: money = 0 eur'"
                                     : "write e.g. 'var due: time = now()'",
                 "%s variable '%s' needs an initial value", fc_type_name(d->type), d->name.s);
        return NULL;
    }
    return fc_expr_build(c, &z);
}

static void fc_check_decl(fc_checker_t *c, fc_decl_t *d, Settle__V1__Variable *v)
{
    settle__v1__variable__init(v);
    v->name = (char *)d->name.s;
    v->type = d->type;
    v->is_input = d->is_input;
    v->pos = fc_source_pos(c, d->name.pos);
    if (d->is_input)
        return;
    if (d->init == NULL) {
        v->init = fc_zero(c, d);
        return;
    }
    v->init = fc_expr_build(c, d->init);
    if (v->init != NULL && v->init->type != d->type)
        fc_error(c->sink, d->init->pos, NULL, "cannot initialise %s variable '%s' with a %s value",
                 fc_type_name(d->type), d->name.s, fc_type_name(v->init->type));
}

/* Register names, then check initial values in order (inputs first). */
static void fc_check_decls(fc_checker_t *c)
{
    const fc_flow_t *f = c->flow;
    uint32_t n = f->decls.n;
    c->decls = fc_alloc(c->arena, (n + 1) * sizeof *c->decls);
    c->var_names = fc_alloc(c->arena, (n + 1) * sizeof *c->var_names);
    Settle__V1__Variable **vars = fc_alloc(c->arena, (n + 1) * sizeof *vars);
    Settle__V1__Variable *cells = fc_alloc(c->arena, (n + 1) * sizeof *cells);
    if (c->decls == NULL || c->var_names == NULL || vars == NULL || cells == NULL)
        return;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < n; i++) {
            fc_decl_t *d = f->decls.v[i];
            if (d->is_input != (pass == 0) || d->name.s == NULL)
                continue;
            uint32_t prev = fc_map_put(c->arena, &c->var_map, d->name.s, c->ndecls);
            if (prev != FC_NO_INDEX) {
                fc_error(c->sink, d->name.pos, "rename one of them",
                         "duplicate name '%s' (already declared as %s on line %u)", d->name.s,
                         c->decls[prev]->is_input ? "an input" : "a variable",
                         c->decls[prev]->name.pos.line);
                continue;
            }
            c->var_names[c->ndecls] = d->name.s;
            c->decls[c->ndecls++] = d;
        }
    }
    for (uint32_t i = 0; i < c->ndecls; i++) {
        c->var_limit = i;
        vars[i] = &cells[i];
        fc_check_decl(c, c->decls[i], vars[i]);
    }
    c->var_limit = c->ndecls;
    c->prog->n_vars = c->ndecls;
    c->prog->vars = vars;
}

static const char *const fc_corr_keys[] = {"payment_intent", "invoice", "customer", "charge"};

static void fc_check_correlations(fc_checker_t *c)
{
    const fc_vec_t *v = &c->flow->corrs;
    Settle__V1__Correlation **out = fc_alloc(c->arena, (v->n + 1) * sizeof *out);
    if (out == NULL)
        return;
    for (uint32_t i = 0; i < v->n; i++) {
        const fc_corr_t *k = v->v[i];
        bool known = false;
        for (size_t j = 0; j < 4; j++)
            known = known || strcmp(k->key.s, fc_corr_keys[j]) == 0;
        if (!known) {
            const char *hint = fc_suggest(c->arena, k->key.s, fc_corr_keys, 4);
            fc_error(c->sink, k->key.pos,
                     hint ? hint : "correlate payment_intent, invoice, customer or charge",
                     "cannot correlate on '%s'", k->key.s);
            continue;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(((fc_corr_t *)v->v[j])->key.s, k->key.s) == 0)
                fc_error(c->sink, k->key.pos, NULL, "duplicate correlation on '%s'", k->key.s);
        uint32_t var = fc_resolve_var(c, &k->var);
        if (var == FC_NO_INDEX)
            continue;
        if (c->decls[var]->type != T(STRING)) {
            fc_error(c->sink, k->var.pos, "Stripe ids are strings",
                     "correlation variable '%s' must be a string, not %s", k->var.s,
                     fc_type_name(c->decls[var]->type));
            continue;
        }
        Settle__V1__Correlation *co = fc_alloc(c->arena, sizeof *co);
        if (co == NULL)
            return;
        settle__v1__correlation__init(co);
        co->key = (char *)k->key.s;
        co->var = var;
        out[c->prog->n_correlations++] = co;
    }
    c->prog->correlations = out;
}

static void fc_register_states(fc_checker_t *c)
{
    const fc_vec_t *v = &c->flow->states;
    c->state_names = fc_alloc(c->arena, (v->n + 1) * sizeof *c->state_names);
    c->states = fc_alloc(c->arena, (v->n + 1) * sizeof *c->states);
    if (c->state_names == NULL || c->states == NULL)
        return;
    for (uint32_t i = 0; i < v->n; i++) {
        const fc_state_t *st = v->v[i];
        uint32_t prev = fc_map_put(c->arena, &c->state_map, st->name.s, c->nstates);
        if (prev != FC_NO_INDEX) {
            fc_error(c->sink, st->name.pos, "rename one of them",
                     "duplicate state '%s' (first defined on line %u)", st->name.s,
                     c->states[prev]->name.pos.line);
            continue;
        }
        c->state_names[c->nstates] = st->name.s;
        c->states[c->nstates++] = st;
    }
}

static void fc_check_states(fc_checker_t *c)
{
    Settle__V1__Program *p = c->prog;
    p->states = fc_alloc(c->arena, (c->nstates + 1) * sizeof *p->states);
    Settle__V1__State *cells = fc_alloc(c->arena, (c->nstates + 1) * sizeof *cells);
    if (p->states == NULL || cells == NULL)
        return;
    for (uint32_t i = 0; i < c->nstates; i++) {
        p->states[i] = &cells[i];
        settle__v1__state__init(p->states[i]);
        fc_check_state(c, c->states[i], p->states[i]);
    }
    p->n_states = c->nstates;
}

Settle__V1__Program *fc_check(fc_arena_t *a, fc_sink_t *s, const fc_flow_t *flow,
                              const char *source_name)
{
    fc_checker_t c = {.arena = a, .sink = s, .flow = flow};
    Settle__V1__Program *p = fc_alloc(a, sizeof *p);
    if (p == NULL)
        return NULL;
    settle__v1__program__init(p);
    c.prog = p;
    p->format_version = SETTLE__V1__FORMAT_VERSION__FORMAT_VERSION_1;
    p->name = (char *)(flow->name.s ? flow->name.s : "");
    p->source_name = fc_strdup(a, source_name);
    fc_check_decls(&c);
    fc_check_correlations(&c);
    fc_register_states(&c);
    if (c.nstates == 0 && flow->name.s != NULL) {
        fc_error(s, flow->name.pos, "add a state, e.g. 'state start { ... }' and 'final done'",
                 "flow '%s' has no states", flow->name.s);
        return p;
    }
    if (flow->has_cancel) {
        p->has_cancel = true;
        p->cancel_target = fc_resolve_state(&c, &flow->cancel_target);
    }
    fc_check_states(&c);
    /* Dropped arms would make the graph lie: judge it only when all is well. */
    if (c.resolve_errors == 0 && s->errors == 0 && !a->failed && c.nstates > 0)
        fc_check_graph(s, p);
    return p;
}
