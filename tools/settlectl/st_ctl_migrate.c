/*
 * st_ctl_migrate.c — `migrate FROM TO [--map FILE] [--dry-run]`: move the
 * live instances of one Program version to another.
 *
 * Layer: tools (settlectl). The map is checked by the compiler
 * (st_flowc_migrate_check: every live state lands on a state of the same
 * kind, kept variables keep their type, no new inputs); a map with errors
 * moves nothing. Each instance then moves in its own transaction (see
 * st_ctl_repair.c for the protocol: row lock, lease_epoch bumped, owner
 * cleared, `repair` history row, NOTIFY settle_work).
 *
 * Invariants:
 *   * only instances waiting in a sleep/await state (status waiting, or
 *     suspended there) move: they have no activity in flight whose task
 *     row names the old state's activity; the others are listed as skipped
 *     with the reason;
 *   * the moved row is rebuilt by the core against the new Program before
 *     it is written (the check the executor makes when it claims it), so a
 *     row the engine cannot load is never stored;
 *   * variables new in the target version get their literal initial value.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "ctl_int.h"
#include "flowc/st_flowc.h"

static const char *const kind_word[] = {"?", "do", "sleep", "await", "decide", "final", "fail"};

/* The one registered hash starting with prefix, into out. */
static int resolve(ctl_t *c, const char *prefix, char out[65], char name[256], st_err_t *err)
{
    size_t l = strlen(prefix);
    if (l < 4 || l > 64 || strspn(prefix, "0123456789abcdef") != l) {
        st_err_set(err, ST_INVAL, "'%s' is not a Program hash or a prefix of one", prefix);
        st_err_hint(err, "lower-case hex, 4 to 64 digits; `settlectl flows` lists the versions");
        return ST_INVAL;
    }
    const char *p[1] = {prefix};
    PGresult *r = ctl_q(c,
                        "SELECT hash, name FROM programs WHERE left(hash, length($1::text)) = $1"
                        " ORDER BY hash LIMIT 2",
                        1, p, err);
    if (r == NULL)
        return ST_DB;
    int n = PQntuples(r);
    if (n == 1) {
        snprintf(out, 65, "%s", PQgetvalue(r, 0, 0));
        snprintf(name, 256, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    if (n == 0) {
        st_err_set(err, ST_NOTFOUND, "no Program version %s", prefix);
        st_err_hint(err, "`settlectl flows` lists the versions");
        return ST_NOTFOUND;
    }
    if (n > 1) {
        st_err_set(err, ST_INVAL, "version prefix %s names more than one Program", prefix);
        st_err_hint(err, "give more hex digits");
        return ST_INVAL;
    }
    return 0;
}

static int load_pb(ctl_t *c, const char *hash, Settle__V1__Program **p, unsigned char **bytes,
                   size_t *len, st_err_t *err)
{
    int rc = ctl_program_bytes(c, hash, bytes, len, err);
    if (rc == 0)
        rc = st_flowc_program_unpack(*bytes, *len, p, err);
    return rc;
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

/* Move one instance; *skip gets a reason when it is not movable. */
static int move_one(ctl_t *c, const mig_t *m, const char *id, int dry, json_t *res, char *skip,
                    size_t skip_cap, st_err_t *err)
{
    skip[0] = '\0';
    if (ctl_exec_simple(c, "BEGIN", err) != 0)
        return ST_DB;
    const char *p1[2] = {id, m->from};
    PGresult *r = ctl_q(c,
                        "SELECT state_name, status::text, vars::text, seq,"
                        " COALESCE(settle_us(wake_at)::text, ''), COALESCE(wait_reason, ''),"
                        " flow FROM instances"
                        " WHERE id = $1::uuid AND program_hash = $2 FOR UPDATE",
                        2, p1, err);
    int rc = r ? 0 : ST_DB;
    if (rc == 0 && PQntuples(r) == 0)
        snprintf(skip, skip_cap, "no longer on version %.12s", m->from);
    char new_state[256] = "";
    int nidx = -1;
    json_t *vars = NULL;
    if (rc == 0 && !skip[0]) {
        const char *status = PQgetvalue(r, 0, 1);
        const char *old_state = PQgetvalue(r, 0, 0);
        char buf[256];
        snprintf(new_state, sizeof new_state, "%s", map_state(m->map, old_state, buf, sizeof buf));
        nidx = st_core_program_state_index(m->core_new, new_state);
        st_core_kind_t k = nidx >= 0 ? st_core_program_state_kind(m->core_new, (uint32_t)nidx) : 0;
        if (strcmp(status, "waiting") != 0 && strcmp(status, "suspended") != 0)
            snprintf(skip, skip_cap, "%s in state %s: migrate it when it waits", status, old_state);
        else if (k != ST_CORE_KIND_SLEEP && k != ST_CORE_KIND_AWAIT)
            snprintf(skip, skip_cap, "state %s maps to %s, a %s state: only waits move", old_state,
                     new_state, kind_word[k < 7 ? k : 0]);
    }
    if (rc == 0 && !skip[0]) {
        vars = ctl_json_parse(PQgetvalue(r, 0, 2));
        json_t *nv = json_object();
        for (size_t i = 0; vars && i < m->newp->n_vars; i++) {
            const Settle__V1__Variable *v = m->newp->vars[i];
            json_t *old = json_object_get(vars, v->name);
            json_t *val = old ? json_incref(old) : literal_json(v->init);
            if (val == NULL) {
                snprintf(skip, skip_cap, "new variable %s has no literal initial value", v->name);
                break;
            }
            json_object_set_new(nv, v->name, val);
        }
        json_decref(vars);
        vars = nv;
    }
    if (rc == 0 && !skip[0]) {
        /* The executor's check, before anything is written. */
        int waiting = strcmp(PQgetvalue(r, 0, 1), "waiting") == 0 && PQgetvalue(r, 0, 4)[0];
        json_int_t seq = atoll(PQgetvalue(r, 0, 3));
        json_t *row = json_pack("{s:s,s:i,s:s,s:s,s:I,s:O,s:o,s:o,s:n,s:b,s:s}", "id", id, "state",
                                nidx, "state_name", new_state, "status", PQgetvalue(r, 0, 1), "seq",
                                seq, "vars", vars, "wake_at",
                                waiting ? json_integer(atoll(PQgetvalue(r, 0, 4))) : json_null(),
                                "wake_seq", waiting ? json_integer(seq) : json_null(), "task_seq",
                                "cancel_requested", 0, "reason", PQgetvalue(r, 0, 5));
        st_core_instance_t *inst = NULL;
        st_err_t cerr;
        if (row == NULL || st_core_instance_from_json(m->core_new, row, &inst, &cerr) != 0)
            snprintf(skip, skip_cap, "the new version cannot hold it: %s",
                     row ? cerr.msg : "out of memory");
        st_core_instance_free(inst);
        json_decref(row);
    }
    if (rc == 0 && !skip[0] && !dry) {
        char *vtext = json_dumps(vars, JSON_COMPACT | JSON_SORT_KEYS);
        char nidxb[16];
        snprintf(nidxb, sizeof nidxb, "%d", nidx);
        const char *p[5] = {id, m->to, nidxb, new_state, vtext};
        PGresult *u = ctl_q(c,
                            "UPDATE instances SET program_hash = $2, state = $3::int,"
                            " state_name = $4, vars = $5::jsonb, owner_node = NULL,"
                            " lease_epoch = lease_epoch + 1 WHERE id = $1::uuid",
                            5, p, err);
        free(vtext);
        rc = u ? 0 : ST_DB;
        PQclear(u);
        if (rc == 0) {
            json_t *d =
                json_pack("{s:s,s:s,s:s}", "action", "migrate", "from", m->from, "to", m->to);
            char *dt = json_dumps(d, JSON_COMPACT);
            json_decref(d);
            const char *ph[5] = {id, PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 0), new_state, dt};
            const char *params[6] = {ph[0], ph[1], ph[2], ph[3], c->actor, ph[4]};
            PGresult *h = ctl_q(
                c,
                "WITH t AS (SELECT greatest(" CTL_NOW_SQL ","
                "  (SELECT max(at) FROM history WHERE instance_id = $1::uuid AND seq = $2::bigint)"
                "   + interval '1 microsecond') AS at)"
                " INSERT INTO history (instance_id, seq, at, kind, from_state, to_state, actor,"
                "  detail) SELECT $1::uuid, $2::bigint, t.at, 'repair', $3, $4, $5, $6::jsonb FROM "
                "t",
                6, params, err);
            free(dt);
            rc = h ? 0 : ST_DB;
            PQclear(h);
        }
        if (rc == 0)
            rc = ctl_exec_simple(c, "SELECT pg_notify('settle_work', '')", err);
    }
    if (rc == 0 && !skip[0]) {
        json_object_set_new(res, "id", json_string(id));
        json_object_set_new(res, "from_state", json_string(PQgetvalue(r, 0, 0)));
        json_object_set_new(res, "to_state", json_string(new_state));
        json_object_set_new(res, "status", json_string(PQgetvalue(r, 0, 1)));
    }
    json_decref(vars);
    PQclear(r);
    if (rc == 0 && !dry && !skip[0])
        rc = ctl_exec_simple(c, "COMMIT", err);
    else
        ctl_rollback(c);
    return rc;
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
        const char *p[1] = {from};
        PGresult *ids = ctl_q(c,
                              "SELECT id FROM instances WHERE program_hash = $1"
                              " AND status IN ('running', 'waiting', 'suspended') ORDER BY id",
                              1, p, &err);
        if (ids == NULL) {
            xrc = ctl_fail(c, CTL_EXIT_ERROR, &err);
        } else {
            json_t *moved = json_array(), *skipped = json_array();
            int total = PQntuples(ids);
            for (int i = 0; i < total; i++) {
                char skip[512];
                json_t *one = json_object();
                int orc = move_one(c, &m, PQgetvalue(ids, i, 0), dry, one, skip, sizeof skip, &err);
                if (orc != 0) {
                    json_decref(one);
                    xrc = ctl_fail(c, CTL_EXIT_ERROR, &err);
                    break;
                }
                if (skip[0]) {
                    json_decref(one);
                    json_array_append_new(
                        skipped, json_pack("{s:s,s:s}", "id", PQgetvalue(ids, i, 0), "why", skip));
                } else {
                    json_array_append_new(moved, one);
                }
                ctl_progress(c, "migrate", (size_t)i + 1, (size_t)total);
            }
            PQclear(ids);
            size_t nm = json_array_size(moved), ns = json_array_size(skipped);
            if (c->json) {
                ctl_json_out(json_pack("{s:s,s:s,s:s,s:b,s:o,s:o}", "flow", fname, "from", from,
                                       "to", to, "dry_run", dry, dry ? "would_move" : "moved",
                                       moved, "skipped", skipped));
            } else {
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
                       dry ? "would move" : "moved", nm, fname, from, to, ns,
                       dry ? " (dry run: nothing changed)" : "");
                json_decref(moved);
                json_decref(skipped);
            }
        }
    }
    st_flowc_result_free(res);
    st_core_program_free(core_new);
    st_flowc_program_free(oldp);
    st_flowc_program_free(newp);
    free(ob);
    free(nb);
    return xrc;
}
