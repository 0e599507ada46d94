/*
 * flowc_migrate.c — check a migration map between two Programs.
 *
 * Layer: engine/flowc (public through st_flowc.h).
 * Map format: `OLD_STATE -> NEW_STATE` pairs (newlines are whitespace, `#`
 * comments), read with the flow lexer. A live (non-terminal) old state
 * that the map does not mention maps to the new state of the same name.
 * Invariants: a live state must land on an existing state of the same
 * kind; variables kept across versions keep their type; a new input
 * cannot appear (running instances have no value for it).
 */
#include "flowc/flowc_int.h"
#include "flowc/flowc_valid.h"

#include <string.h>

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

static const char *fc_kind_word(Settle__V1__StateKind k)
{
    static const char *const names[] = {"?", "do", "sleep", "await", "decide", "final", "fail"};
    return (unsigned)k < 7 ? names[k] : "?";
}

static const Settle__V1__State *fc_state_named(const Settle__V1__Program *p, const char *name)
{
    for (size_t i = 0; i < p->n_states; i++)
        if (strcmp(p->states[i]->name, name) == 0)
            return p->states[i];
    return NULL;
}

static const char *fc_nearest_state(fc_arena_t *a, const Settle__V1__Program *p, const char *n)
{
    const char **names = fc_alloc(a, (p->n_states + 1) * sizeof *names);
    if (names == NULL)
        return NULL;
    for (size_t i = 0; i < p->n_states; i++)
        names[i] = p->states[i]->name;
    return fc_suggest(a, n, names, p->n_states);
}

static bool fc_live(const Settle__V1__State *s)
{
    return s->kind != KIND(FINAL) && s->kind != KIND(FAIL);
}

/* Same kind required; a DO that changes activity is allowed with a warning. */
static void fc_check_pair(fc_sink_t *s, fc_pos_t at, const Settle__V1__State *o,
                          const Settle__V1__State *n)
{
    if (o->kind != n->kind) {
        fc_error(s, at, "map it to a state of the same kind",
                 "state '%s' (%s) would become '%s' (%s); a live instance cannot change kind",
                 o->name, fc_kind_word(o->kind), n->name, fc_kind_word(n->kind));
        return;
    }
    if (o->kind == KIND(DO) && strcmp(o->activity->name, n->activity->name) != 0)
        fc_warn(s, at, "an activity still in flight reports to the new state's arms",
                "state '%s' runs %s but '%s' runs %s", o->name, o->activity->name, n->name,
                n->activity->name);
}

typedef struct {
    fc_name_t from, to;
} fc_pair_t;

static void fc_read_map(fc_sink_t *s, const char *src, size_t len, fc_vec_t *pairs)
{
    fc_lexer_t lx;
    fc_lex_init(&lx, src, len, s);
    fc_token_t t = fc_lex_next(&lx);
    while (t.kind != FC_T_EOF && !s->arena->failed) {
        fc_pair_t *p = fc_alloc(s->arena, sizeof *p);
        if (p == NULL)
            return;
        fc_token_t arrow = t.kind == FC_T_IDENT ? fc_lex_next(&lx) : t;
        fc_token_t to = arrow.kind == FC_T_ARROW ? fc_lex_next(&lx) : arrow;
        if (t.kind != FC_T_IDENT || arrow.kind != FC_T_ARROW || to.kind != FC_T_IDENT) {
            fc_token_t bad = t.kind != FC_T_IDENT ? t : arrow.kind != FC_T_ARROW ? arrow : to;
            if (bad.kind != FC_T_ERROR)
                fc_error(s, bad.pos, "each line reads OLD_STATE -> NEW_STATE",
                         "expected a state mapping, found %s", fc_tok_name(bad.kind));
            while (bad.kind != FC_T_EOF && bad.pos.line == t.pos.line)
                bad = fc_lex_next(&lx);
            t = bad;
            continue;
        }
        p->from = (fc_name_t){t.text, t.pos};
        p->to = (fc_name_t){to.text, to.pos};
        fc_vec_push(s->arena, pairs, p);
        t = fc_lex_next(&lx);
    }
}

static void fc_check_pairs(fc_sink_t *s, const Settle__V1__Program *o, const Settle__V1__Program *n,
                           const fc_vec_t *pairs)
{
    for (uint32_t i = 0; i < pairs->n; i++) {
        const fc_pair_t *p = pairs->v[i];
        const Settle__V1__State *os = fc_state_named(o, p->from.s);
        const Settle__V1__State *ns = fc_state_named(n, p->to.s);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(((fc_pair_t *)pairs->v[j])->from.s, p->from.s) == 0)
                fc_error(s, p->from.pos, NULL, "state '%s' is mapped twice", p->from.s);
        if (os == NULL)
            fc_error(s, p->from.pos, fc_nearest_state(s->arena, o, p->from.s),
                     "state '%s' does not exist in the old program", p->from.s);
        if (ns == NULL)
            fc_error(s, p->to.pos, fc_nearest_state(s->arena, n, p->to.s),
                     "state '%s' does not exist in the new program", p->to.s);
        if (os != NULL && ns != NULL)
            fc_check_pair(s, p->to.pos, os, ns);
    }
}

static void fc_check_unmapped(fc_sink_t *s, const Settle__V1__Program *o,
                              const Settle__V1__Program *n, const fc_vec_t *pairs)
{
    fc_pos_t none = {0, 0, 0};
    for (size_t i = 0; i < o->n_states; i++) {
        const Settle__V1__State *os = o->states[i];
        bool mapped = false;
        for (uint32_t j = 0; j < pairs->n && !mapped; j++)
            mapped = strcmp(((fc_pair_t *)pairs->v[j])->from.s, os->name) == 0;
        if (mapped || !fc_live(os))
            continue;
        const Settle__V1__State *ns = fc_state_named(n, os->name);
        if (ns == NULL)
            fc_error(s, none, fc_printf(s->arena, "add '%s -> STATE' to the map", os->name),
                     "live state '%s' does not exist in the new program", os->name);
        else
            fc_check_pair(s, none, os, ns);
    }
}

static void fc_check_vars(fc_sink_t *s, const Settle__V1__Program *o, const Settle__V1__Program *n)
{
    fc_pos_t none = {0, 0, 0};
    for (size_t i = 0; i < n->n_vars; i++) {
        const Settle__V1__Variable *nv = n->vars[i], *ov = NULL;
        for (size_t j = 0; j < o->n_vars && ov == NULL; j++)
            if (strcmp(o->vars[j]->name, nv->name) == 0)
                ov = o->vars[j];
        if (ov == NULL && nv->is_input)
            fc_error(s, none, "make it a var with an initial value",
                     "new input '%s' has no value in running instances", nv->name);
        else if (ov != NULL && ov->type != nv->type)
            fc_error(s, none, "give the new variable another name",
                     "variable '%s' changes type from %s to %s", nv->name, fc_type_name(ov->type),
                     fc_type_name(nv->type));
    }
}

int st_flowc_migrate_check(const Settle__V1__Program *old_p, const Settle__V1__Program *new_p,
                           const char *map_file, const char *map_src, size_t map_len,
                           st_flowc_result_t **out, st_err_t *err)
{
    if (out == NULL || (map_src == NULL && map_len > 0))
        return st_err_set(err, ST_INVAL, "st_flowc_migrate_check: NULL argument");
    *out = NULL;
    int rc = fc_program_validate(old_p, err);
    if (rc == 0)
        rc = fc_program_validate(new_p, err);
    if (rc < 0)
        return rc;
    st_flowc_result_t *r = fc_result_new(map_file, NULL);
    if (r == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory checking %s", map_file);
    fc_vec_t pairs = {0};
    fc_read_map(&r->sink, map_src ? map_src : "", map_len, &pairs);
    fc_check_pairs(&r->sink, old_p, new_p, &pairs);
    fc_check_unmapped(&r->sink, old_p, new_p, &pairs);
    fc_check_vars(&r->sink, old_p, new_p);
    if (r->arena.failed || r->sink.oom) {
        st_flowc_result_free(r);
        return st_err_set(err, ST_NOMEM, "out of memory checking %s", map_file);
    }
    *out = r;
    return 0;
}
