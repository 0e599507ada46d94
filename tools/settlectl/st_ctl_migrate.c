/*
 * st_ctl_migrate.c — `migrate FROM TO [--map FILE] [--dry-run]`: move the
 * live instances of one Program version to another.
 *
 * Layer: tools (settlectl). The map is checked by the compiler
 * (st_flowc_migrate_check: every live state lands on a state of the same
 * kind, kept variables keep their type, no new inputs); a map with errors
 * moves nothing. Each instance then moves by its own store repair (see
 * st_store_admin.h: conditional on the seq, epoch and owner read,
 * lease_epoch bumped, owner cleared, `repair` history row, NOTIFY
 * settle_work); one that moved meanwhile is skipped with the reason.
 *
 * Invariants:
 *   * only instances waiting in a sleep/await state (status waiting, or
 *     suspended there) move: they have no activity in flight whose task
 *     row names the old state's activity; the others are listed as skipped
 *     with the reason;
 *   * the moved row is rebuilt by the core against the new Program before
 *     it is written (the check the executor makes when it claims it), so a
 *     row the engine cannot load is never stored;
 *   * variables new in the target version get their literal initial value;
 *   * an instance in its cancel path (cancel_requested) is checked as such:
 *     it moves only to a state on the new version's cancel path (reachable
 *     from its `on cancel` target), else a cancelled instance would run the
 *     business path with further cancels ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "ctl_int.h"
#include "flowc/st_flowc.h"

static const char *const kind_word[] = {"?", "do", "sleep", "await", "decide", "final", "fail"};

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

/* The one registered hash starting with prefix, into out. */
static int resolve(ctl_t *c, const char *prefix, char out[65], char name[256], st_err_t *err)
{
    size_t l = strlen(prefix);
    if (l < 4 || l > 64 || strspn(prefix, "0123456789abcdef") != l) {
        st_err_set(err, ST_INVAL, "'%s' is not a Program hash or a prefix of one", prefix);
        st_err_hint(err, "lower-case hex, 4 to 64 digits; `settlectl flows` lists the versions");
        return ST_INVAL;
    }
    int rc = st_store_program_resolve(c->sc, prefix, out, name, err);
    if (rc == ST_NOTFOUND)
        st_err_hint(err, "`settlectl flows` lists the versions");
    return rc;
}

static int load_pb(ctl_t *c, const char *hash, Settle__V1__Program **p, unsigned char **bytes,
                   size_t *len, st_err_t *err)
{
    int rc = ctl_program_bytes(c, hash, bytes, len, err);
    if (rc == 0)
        rc = st_flowc_program_unpack(*bytes, *len, p, err);
    return rc;
}

/* Push the states an instance in state s can move to next. */
static void push_targets(const Settle__V1__State *s, uint32_t *stack, uint32_t *top)
{
    for (size_t i = 0; i < s->n_guards; i++)
        stack[(*top)++] = s->guards[i]->target;
    if (s->kind == KIND(DECIDE))
        stack[(*top)++] = s->else_target;
    if (s->kind == KIND(DO) && s->activity != NULL)
        for (size_t i = 0; i < s->activity->n_arms; i++)
            stack[(*top)++] = s->activity->arms[i]->target;
    if (s->kind == KIND(SLEEP) && s->sleep != NULL)
        stack[(*top)++] = s->sleep->wake_target;
    if (s->kind == KIND(AWAIT) && s->await != NULL)
        stack[(*top)++] = s->await->timeout_target;
    for (size_t i = 0; i < s->n_signals; i++)
        stack[(*top)++] = s->signals[i]->target;
}

/* Edges leaving state s (the bound of one push_targets). */
static size_t out_degree(const Settle__V1__State *s)
{
    size_t n = s->n_guards + s->n_signals + 2;
    if (s->kind == KIND(DO) && s->activity != NULL)
        n += s->activity->n_arms;
    return n;
}

/* 1 when state idx is on p's cancel path (reachable from `on cancel`). */
static int on_cancel_path(const Settle__V1__Program *p, uint32_t idx)
{
    if (!p->has_cancel || p->cancel_target >= p->n_states)
        return 0;
    size_t edges = 1;
    for (size_t i = 0; i < p->n_states; i++)
        edges += out_degree(p->states[i]);
    unsigned char *seen = calloc(p->n_states, 1);
    uint32_t *stack = malloc(edges * sizeof *stack);
    uint32_t top = 0;
    int found = 0;
    if (seen != NULL && stack != NULL)
        stack[top++] = p->cancel_target;
    while (top > 0 && !found) {
        uint32_t s = stack[--top];
        if (s >= p->n_states || seen[s])
            continue;
        seen[s] = 1;
        found = s == idx;
        push_targets(p->states[s], stack, &top);
    }
    free(seen);
    free(stack);
    return found;
}

/* The new state for old state `name` under the (already checked) map. */
static const char *map_state(const char *map, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *s = map;
    while (s && *s) {
        const char *eol = strchr(s, '\n');
        size_t ll = eol ? (size_t)(eol - s) : strlen(s);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(ll < sizeof line ? ll : sizeof line - 1), s);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *arrow = strstr(line, "->");
        if (arrow) {
            *arrow = '\0';
            char *a = line, *b = arrow + 2;
            a += strspn(a, " \t\r");
            b += strspn(b, " \t\r");
            size_t al = strcspn(a, " \t\r"), bl = strcspn(b, " \t\r");
            if (al == nl && strncmp(a, name, nl) == 0) {
                snprintf(buf, cap, "%.*s", (int)bl, b);
                return buf;
            }
        }
        s = eol ? eol + 1 : NULL;
    }
    return name;
}

static json_t *literal_json(const Settle__V1__Expr *e)
{
    if (e == NULL || e->node_case != SETTLE__V1__EXPR__NODE_LITERAL || e->literal == NULL)
        return NULL;
    const Settle__V1__Value *v = e->literal;
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
        return v->money_v ? json_pack("{s:I,s:s}", "minor", (json_int_t)v->money_v->minor,
                                      "currency", v->money_v->currency)
                          : NULL;
    default:
        return NULL;
    }
}

typedef struct mig {
    const Settle__V1__Program *newp;
    st_core_program_t *core_new;
    const char *from, *to, *map;
} mig_t;

/* Why the instance in row cannot move to new_state (nidx), into skip
 * (empty when it can). */
static void check_target(const mig_t *m, const st_store_instance_t *row, const char *new_state,
                         int nidx, char *skip, size_t cap)
{
    st_core_kind_t k = nidx >= 0 ? st_core_program_state_kind(m->core_new, (uint32_t)nidx) : 0;
    if (row->status != ST_STORE_WAITING && row->status != ST_STORE_SUSPENDED)
        snprintf(skip, cap, "%s in state %s: migrate it when it waits",
                 st_store_status_name(row->status), row->state_name);
    else if (k != ST_CORE_KIND_SLEEP && k != ST_CORE_KIND_AWAIT)
        snprintf(skip, cap, "state %s maps to %s, a %s state: only waits move", row->state_name,
                 new_state, kind_word[k < 7 ? k : 0]);
    else if (row->cancel_requested && !on_cancel_path(m->newp, (uint32_t)nidx))
        snprintf(skip, cap,
                 "in its cancel path, but state %s is not on the cancel path of version %.12s: "
                 "map it to a state there, or let the cancel finish first",
                 new_state, m->to);
}

/* The variables of the new version: kept values, else literal initial
 * values; NULL with skip filled when a new variable has none. */
static json_t *new_vars(const mig_t *m, const char *old_json, char *skip, size_t cap)
{
    json_t *vars = ctl_json_parse(old_json), *nv = json_object();
    for (size_t i = 0; vars && i < m->newp->n_vars; i++) {
        const Settle__V1__Variable *v = m->newp->vars[i];
        json_t *old = json_object_get(vars, v->name);
        json_t *val = old ? json_incref(old) : literal_json(v->init);
        if (val == NULL) {
            snprintf(skip, cap, "new variable %s has no literal initial value", v->name);
            json_decref(nv);
            nv = NULL;
            break;
        }
        json_object_set_new(nv, v->name, val);
    }
    json_decref(vars);
    return nv;
}

/* The executor's check of the moved row, before anything is written. */
static void check_row(const mig_t *m, const st_store_instance_t *row, int nidx,
                      const char *new_state, json_t *vars, char *skip, size_t cap)
{
    char id[37];
    st_store_uuid_format(&row->id, id);
    int waiting = row->status == ST_STORE_WAITING && row->wake_at_us != ST_STORE_NO_TIME;
    json_t *j = json_pack(
        "{s:s,s:i,s:s,s:s,s:I,s:O,s:o,s:o,s:n,s:b,s:s}", "id", id, "state", nidx, "state_name",
        new_state, "status", st_store_status_name(row->status), "seq", (json_int_t)row->seq, "vars",
        vars, "wake_at", waiting ? json_integer(row->wake_at_us) : json_null(), "wake_seq",
        waiting ? json_integer(row->seq) : json_null(), "task_seq", "cancel_requested",
        (int)row->cancel_requested, "reason", row->wait_reason ? row->wait_reason : "");
    st_core_instance_t *inst = NULL;
    st_err_t cerr;
    if (j == NULL || st_core_instance_from_json(m->core_new, j, &inst, &cerr) != 0)
        snprintf(skip, cap, "the new version cannot hold it: %s", j ? cerr.msg : "out of memory");
    st_core_instance_free(inst);
    json_decref(j);
}

/* Write the move: one conditional store repair. */
static int write_move(ctl_t *c, const mig_t *m, const st_store_instance_t *row, int nidx,
                      const char *new_state, json_t *vars, char *skip, size_t cap, st_err_t *err)
{
    char *vtext = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *d = json_pack("{s:s,s:s,s:s}", "action", "migrate", "from", m->from, "to", m->to);
    char *dt = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    int rc = vtext && dt ? 0 : st_err_set(err, ST_NOMEM, "out of memory");
    st_store_repair_t r;
    st_store_repair_init(&r, row, c->actor);
    r.program_hash = m->to;
    r.state = nidx;
    r.state_name = r.to_state = new_state;
    r.vars_json = vtext;
    r.detail_json = dt;
    r.fence = r.notify = true;
    st_store_repaired_t done;
    if (rc == 0)
        rc = st_store_repair_apply(c->sc, &r, &done, err);
    if (rc == ST_CONFLICT) {
        snprintf(skip, cap, "it moved on while being migrated: run migrate again");
        rc = 0;
    }
    free(vtext);
    free(dt);
    return rc;
}

/* Move one instance; *skip gets a reason when it is not movable. */
static int move_one(ctl_t *c, const mig_t *m, const st_store_uuid_t *id, int dry, json_t *res,
                    char *skip, size_t skip_cap, st_err_t *err)
{
    skip[0] = '\0';
    st_store_instance_t row;
    int rc = st_store_instance_load(c->sc, id, &row, err);
    if (rc == ST_NOTFOUND || (rc == 0 && strcmp(row.program_hash, m->from) != 0)) {
        snprintf(skip, skip_cap, "no longer on version %.12s", m->from);
        if (rc == 0)
            st_store_instance_release(&row);
        return 0;
    }
    if (rc != 0)
        return rc;
    char buf[256], new_state[256];
    snprintf(new_state, sizeof new_state, "%s", map_state(m->map, row.state_name, buf, sizeof buf));
    int nidx = st_core_program_state_index(m->core_new, new_state);
    json_t *vars = NULL;
    check_target(m, &row, new_state, nidx, skip, skip_cap);
    if (!skip[0])
        vars = new_vars(m, row.vars_json, skip, skip_cap);
    if (!skip[0])
        check_row(m, &row, nidx, new_state, vars, skip, skip_cap);
    if (!skip[0] && !dry)
        rc = write_move(c, m, &row, nidx, new_state, vars, skip, skip_cap, err);
    if (rc == 0 && !skip[0]) {
        char ids[37];
        st_store_uuid_format(id, ids);
        json_object_set_new(res, "id", json_string(ids));
        json_object_set_new(res, "from_state", json_string(row.state_name));
        json_object_set_new(res, "to_state", json_string(new_state));
        json_object_set_new(res, "status", json_string(st_store_status_name(row.status)));
    }
    json_decref(vars);
    st_store_instance_release(&row);
    return rc;
}

/* The live instances (running, waiting, suspended) on version hash. */
static int live_ids(ctl_t *c, const char *hash, st_store_uuid_t **ids, size_t *n, st_err_t *err)
{
    st_store_filter_t f;
    st_store_filter_init(&f);
    f.version = hash;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    st_store_uuid_t last;
    for (const st_store_uuid_t *after = NULL;;) {
        st_store_instances_t page;
        int rc = st_store_instances_find(c->sc, &f, after, 1000, &page, err);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < page.n; i++) {
            st_store_status_t s = page.v[i].status;
            if (s != ST_STORE_RUNNING && s != ST_STORE_WAITING && s != ST_STORE_SUSPENDED)
                continue;
            if (*n == cap) {
                cap = cap ? cap * 2 : 256;
                st_store_uuid_t *g = realloc(*ids, cap * sizeof *g);
                if (g == NULL) {
                    st_store_instances_free(&page);
                    return st_err_set(err, ST_NOMEM, "out of memory");
                }
                *ids = g;
            }
            (*ids)[(*n)++] = page.v[i].id;
        }
        size_t got = page.n;
        if (got > 0)
            last = page.v[got - 1].id;
        after = &last;
        st_store_instances_free(&page);
        if (got < 1000)
            return 0;
    }
}

static void print_moves(const json_t *moved, const json_t *skipped, const mig_t *m,
                        const char *flow, int dry)
{
    size_t k;
    json_t *v;
    json_array_foreach(moved, k, v)
    {
        printf("%s %s  %s -> %s\n", dry ? "would move" : "moved",
               json_string_value(json_object_get(v, "id")),
               json_string_value(json_object_get(v, "from_state")),
               json_string_value(json_object_get(v, "to_state")));
    }
    json_array_foreach(skipped, k, v)
    {
        printf("skip %s  %s\n", json_string_value(json_object_get(v, "id")),
               json_string_value(json_object_get(v, "why")));
    }
    printf("%s %zu instance(s) of %s from %.12s to %.12s; %zu skipped%s\n",
           dry ? "would move" : "moved", json_array_size(moved), flow, m->from, m->to,
           json_array_size(skipped), dry ? " (dry run: nothing changed)" : "");
}

/* Move (or with dry, list) every live instance of m->from; prints the
 * outcome and returns the exit code. */
static int migrate_all(ctl_t *c, const mig_t *m, const char *flow, int dry)
{
    st_err_t err;
    st_store_uuid_t *ids = NULL;
    size_t total = 0;
    if (live_ids(c, m->from, &ids, &total, &err) != 0)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    int xrc = CTL_EXIT_OK;
    json_t *moved = json_array(), *skipped = json_array();
    for (size_t i = 0; i < total; i++) {
        char skip[512], idt[37];
        st_store_uuid_format(&ids[i], idt);
        json_t *one = json_object();
        if (move_one(c, m, &ids[i], dry, one, skip, sizeof skip, &err) != 0) {
            json_decref(one);
            xrc = ctl_fail(c, CTL_EXIT_ERROR, &err);
            break;
        }
        if (skip[0]) {
            json_decref(one);
            json_array_append_new(skipped, json_pack("{s:s,s:s}", "id", idt, "why", skip));
        } else {
            json_array_append_new(moved, one);
        }
        ctl_progress(c, "migrate", i + 1, total);
    }
    free(ids);
    if (c->json) {
        ctl_json_out(json_pack("{s:s,s:s,s:s,s:b,s:o,s:o}", "flow", flow, "from", m->from, "to",
                               m->to, "dry_run", dry, dry ? "would_move" : "moved", moved,
                               "skipped", skipped));
        return xrc;
    }
    print_moves(moved, skipped, m, flow, dry);
    json_decref(moved);
    json_decref(skipped);
    return xrc;
}

int ctl_cmd_migrate(ctl_t *c, int argc, char **argv)
{
    const char *map_path = NULL;
    int dry = 0;
    const ctl_opt_t opts[] = {{"map", 1, &map_path, NULL}, {"dry-run", 0, NULL, &dry}, {0}};
    const char *pos[2] = {0};
    int n = ctl_opts_parse(c, "migrate", argc, argv, opts, pos, 2);
    if (n != 2)
        return n < 0 ? CTL_EXIT_USAGE
                     : ctl_usage(c, "migrate", "give the FROM and TO versions (hash prefixes)");
    char map_buf[65536] = "";
    size_t map_len = 0;
    if (map_path) {
        FILE *f = fopen(map_path, "r");
        if (f == NULL)
            return ctl_failf(c, CTL_EXIT_ERROR, "give the path of a map file (OLD -> NEW lines)",
                             "cannot open %s", map_path);
        map_len = fread(map_buf, 1, sizeof map_buf - 1, f);
        map_buf[map_len] = '\0';
        fclose(f);
    }
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    char from[65], to[65], fname[256], tname[256];
    int rc = resolve(c, pos[0], from, fname, &err);
    if (rc == 0)
        rc = resolve(c, pos[1], to, tname, &err);
    if (rc != 0)
        return ctl_fail(c, ctl_exit_for(rc), &err);
    if (strcmp(fname, tname) != 0)
        return ctl_failf(c, CTL_EXIT_REFUSED, "both versions must be of the same flow",
                         "%.12s is flow %s but %.12s is flow %s", from, fname, to, tname);
    Settle__V1__Program *oldp = NULL, *newp = NULL;
    unsigned char *ob = NULL, *nb = NULL;
    size_t ol = 0, nl = 0;
    st_flowc_result_t *res = NULL;
    st_core_program_t *core_new = NULL;
    rc = load_pb(c, from, &oldp, &ob, &ol, &err);
    if (rc == 0)
        rc = load_pb(c, to, &newp, &nb, &nl, &err);
    if (rc == 0)
        rc = st_core_program_load(nb, nl, &core_new, &err);
    if (rc == 0)
        rc = st_flowc_migrate_check(oldp, newp, map_path ? map_path : "(no map)", map_buf, map_len,
                                    &res, &err);
    int xrc = CTL_EXIT_OK;
    if (rc != 0) {
        xrc = ctl_fail(c, ctl_exit_for(rc), &err);
    } else if (st_flowc_result_errors(res) > 0) {
        for (size_t i = 0; i < st_flowc_result_diag_count(res); i++) {
            char *text = NULL;
            if (st_flowc_diag_render(st_flowc_result_diag(res, i), map_buf, map_len, &text, NULL) ==
                0)
                fputs(text, stderr);
            free(text);
        }
        xrc = ctl_failf(c, CTL_EXIT_REFUSED, "fix the map; nothing was moved",
                        "the migration map from %.12s to %.12s does not check", from, to);
    } else {
        mig_t m = {newp, core_new, from, to, map_buf};
        xrc = migrate_all(c, &m, fname, dry);
    }
    st_flowc_result_free(res);
    st_core_program_free(core_new);
    st_flowc_program_free(oldp);
    st_flowc_program_free(newp);
    free(ob);
    free(nb);
    return xrc;
}
