/*
 * st_ctl_list.c — reading instances: the shared filter, `list` and `show`.
 *
 * Layer: tools (settlectl). Every filter value travels as a parameter; the
 * statement text is fixed. `--waiting-for SIGNAL` is resolved in C: the
 * Programs of waiting instances are loaded and the (hash, state) pairs whose
 * state has an arm for SIGNAL are passed as one array parameter.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "ctl_int.h"
#include "ops/st_ops.h"
#include "flowc/st_flowc.h"
#include "store/st_store.h"

static const char FILTER_SQL[] =
    "SELECT i.id, i.flow, i.program_hash, i.state_name, i.status::text,"
    "  to_char((i.updated_at) AT TIME ZONE 'UTC', " CTL_ISO "),"
    "  i.business_key, i.wait_reason, to_char((i.wake_at) AT TIME ZONE 'UTC', " CTL_ISO "), i.seq"
    " FROM instances i"
    " WHERE ($1::text IS NULL OR i.flow = $1::text)"
    "   AND ($2::text IS NULL OR left(i.program_hash, length($2::text)) = $2::text)"
    "   AND ($3::text IS NULL OR i.state_name = $3::text)"
    "   AND ($4::settle_status IS NULL OR i.status = $4::settle_status)"
    "   AND ($5::bigint IS NULL OR i.updated_at <= " CTL_NOW_SQL
    "        - $5::bigint * interval '1 microsecond')"
    "   AND ($6::text IS NULL OR i.business_key = $6::text)"
    "   AND ($7::text[] IS NULL OR (i.status = 'waiting'"
    "        AND i.program_hash || ':' || i.state_name = ANY($7::text[])))"
    "   AND ($8::uuid IS NULL OR i.id > $8::uuid)"
    " ORDER BY i.id LIMIT $9::int";

int ctl_filter_empty(const ctl_filter_t *f)
{
    return !f->flow && !f->version && !f->state && !f->status && !f->older_than && !f->key &&
           !f->waiting_for;
}

/* Append s to a PostgreSQL array literal, quoted. */
static int arr_add(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 2 * strlen(s) + 8;
    if (need > *cap) {
        size_t nc = need * 2;
        char *g = realloc(*buf, nc);
        if (g == NULL)
            return ST_NOMEM;
        *buf = g;
        *cap = nc;
    }
    char *o = *buf + *len;
    if (*len > 1)
        *o++ = ',';
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
    *len = (size_t)(o - *buf);
    return 0;
}

/* "{"hash:state",...}" for the states whose arms name the signal. */
static int waiting_pairs(ctl_t *c, const ctl_filter_t *f, char **out, st_err_t *err)
{
    const char *params[1] = {f->flow};
    PGresult *r = ctl_q(c,
                        "SELECT DISTINCT program_hash FROM instances WHERE status = 'waiting'"
                        " AND ($1::text IS NULL OR flow = $1::text)",
                        1, params, err);
    if (r == NULL)
        return ST_DB;
    size_t len = 1, cap = 64;
    char *buf = malloc(cap);
    int rc = buf ? 0 : ST_NOMEM;
    if (buf)
        strcpy(buf, "{");
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        const char *hash = PQgetvalue(r, i, 0);
        st_core_program_t *p = NULL;
        rc = ctl_core_program(c, hash, &p, err);
        for (size_t s = 0; rc == 0 && s < st_core_program_state_count(p); s++) {
            const char *const *names = NULL;
            size_t n = st_core_program_state_signals(p, (uint32_t)s, &names);
            for (size_t k = 0; rc == 0 && k < n; k++) {
                if (strcmp(names[k], f->waiting_for) != 0)
                    continue;
                char pair[512];
                snprintf(pair, sizeof pair, "%s:%s", hash,
                         st_core_program_state_name(p, (uint32_t)s));
                rc = arr_add(&buf, &len, &cap, pair);
            }
        }
        st_core_program_free(p);
    }
    PQclear(r);
    if (rc == 0 && len + 2 > cap) {
        char *g = realloc(buf, len + 2);
        if (g == NULL)
            rc = ST_NOMEM;
        else
            buf = g;
    }
    if (rc != 0) {
        free(buf);
        return rc == ST_NOMEM ? st_err_set(err, ST_NOMEM, "out of memory") : rc;
    }
    strcat(buf, "}");
    *out = buf;
    return 0;
}

int ctl_filter_query(ctl_t *c, const ctl_filter_t *f, const char *after, int limit, PGresult **out,
                     st_err_t *err)
{
    *out = NULL;
    st_store_status_t st;
    if (f->status && st_store_status_parse(f->status, &st) != 0) {
        st_err_set(err, ST_INVAL, "unknown status '%s'", f->status);
        st_err_hint(err, "one of running, waiting, completed, failed, cancelled, suspended");
        return ST_INVAL;
    }
    if (f->version) {
        size_t l = strlen(f->version);
        if (l < 4 || l > 64 || strspn(f->version, "0123456789abcdef") != l) {
            st_err_set(err, ST_INVAL, "--version needs a Program hash or a prefix of it");
            st_err_hint(err, "lower-case hex, 4 to 64 digits; `settlectl flows` lists them");
            return ST_INVAL;
        }
    }
    st_store_uuid_t u;
    if (after && st_store_uuid_parse(after, &u) != 0) {
        st_err_set(err, ST_INVAL, "--after needs an instance id, not '%s'", after);
        st_err_hint(err, "pass the last id of the previous page");
        return ST_INVAL;
    }
    char older[32] = "", lim[16];
    if (f->older_than) {
        int64_t us = 0;
        if (st_ops_duration_parse(f->older_than, &us, err) != 0)
            return ST_INVAL;
        snprintf(older, sizeof older, "%lld", (long long)us);
    }
    char *pairs = NULL;
    if (f->waiting_for) {
        int rc = waiting_pairs(c, f, &pairs, err);
        if (rc != 0)
            return rc;
    }
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[9] = {f->flow, f->version, f->state, f->status, f->older_than ? older : NULL,
                             f->key,  pairs,      after,    lim};
    *out = ctl_q(c, FILTER_SQL, 9, params, err);
    free(pairs);
    return *out ? 0 : ST_DB;
}

int ctl_cmd_list(ctl_t *c, int argc, char **argv)
{
    ctl_filter_t f = {0};
    const char *limit_s = NULL, *after = NULL;
    const ctl_opt_t opts[] = {
        CTL_FILTER_OPTS(f), {"limit", 1, &limit_s, NULL}, {"after", 1, &after, NULL}, {0}};
    const char *pos[1];
    if (ctl_opts_parse(c, "list", argc, argv, opts, pos, 0) < 0)
        return CTL_EXIT_USAGE;
    int limit = 50;
    if (limit_s) {
        char *end = NULL;
        long v = strtol(limit_s, &end, 10);
        if (end == limit_s || *end != '\0' || v < 1 || v > 1000)
            return ctl_usage(c, "list", "--limit takes a number from 1 to 1000, not '%s'", limit_s);
        limit = (int)v;
    }
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    PGresult *r = NULL;
    int rc = ctl_filter_query(c, &f, after, limit, &r, &err);
    if (rc != 0)
        return ctl_fail(c, ctl_exit_for(rc), &err);
    int n = PQntuples(r);
    const char *last = n ? PQgetvalue(r, n - 1, 0) : NULL;
    if (c->json) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++) {
            json_t *o =
                json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "id", PQgetvalue(r, i, 0), "flow",
                          PQgetvalue(r, i, 1), "version", PQgetvalue(r, i, 2), "state",
                          PQgetvalue(r, i, 3), "status", PQgetvalue(r, i, 4), "updated_at",
                          PQgetvalue(r, i, 5), "seq", (json_int_t)atoll(PQgetvalue(r, i, 9)));
            ctl_json_set_str(o, "business_key", ctl_val(r, i, 6));
            ctl_json_set_str(o, "reason", ctl_val(r, i, 7));
            ctl_json_set_str(o, "wake_at", ctl_val(r, i, 8));
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:o}", "instances", arr);
        json_object_set_new(doc, "next_after",
                            n == limit && last ? json_string(last) : json_null());
        PQclear(r);
        return ctl_json_out(doc);
    }
    if (n == 0) {
        printf("no instances match\n");
    } else {
        printf("%-36s  %-14s %-8s %-22s %-9s %-20s %s\n", "ID", "FLOW", "VERSION", "STATE",
               "STATUS", "UPDATED", "KEY");
        for (int i = 0; i < n; i++)
            printf("%-36s  %-14s %-8.8s %-22s %-9s %-20s %s\n", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
                   PQgetvalue(r, i, 4), PQgetvalue(r, i, 5),
                   ctl_val(r, i, 6) ? ctl_val(r, i, 6) : "-");
        if (n == limit)
            printf("-- more: add --after %s for the next page\n", last);
    }
    PQclear(r);
    return CTL_EXIT_OK;
}

/* ---- show ---- */

static const char SHOW_SQL[] =
    "SELECT i.id, i.flow, i.program_hash, i.state_name, i.status::text, i.seq,"
    "  to_char((i.wake_at) AT TIME ZONE 'UTC', " CTL_ISO
    "), i.wait_reason, i.business_key, i.owner_node, n.name,"
    "  to_char((i.created_at) AT TIME ZONE 'UTC', " CTL_ISO
    "), to_char((i.updated_at) AT TIME ZONE 'UTC', " CTL_ISO "), i.vars::text,"
    "  COALESCE(f.current_hash = i.program_hash, false),"
    "  n.id IS NOT NULL AND n.stopped_at IS NULL AND n.lease_until > clock_timestamp()"
    " FROM instances i LEFT JOIN nodes n ON n.id = i.owner_node"
    " LEFT JOIN flows f ON f.name = i.flow WHERE i.id = $1::uuid";

/* One timeline: history, activity attempts and signals. Ordered by step:
 * an attempt belongs to the step that created its task (the seq in its
 * idempotency key) or to the `retry` repair that re-ran it; a
 * consumed signal comes just before the step that consumed it, a pending
 * one at the end; within a step signals, then history, then attempts, by
 * time. (Ordering by time alone would misplace the API's start row when
 * the engine runs on a virtual clock.) Columns: at, source, seq, a..f. */
static const char TIMELINE_SQL[] =
    "SELECT to_char((x.at) AT TIME ZONE 'UTC', " CTL_ISO
    "), x.src, x.seq, x.a, x.b, x.c, x.d, x.e, x.f FROM ("
    " SELECT h.at, h.seq AS k, 1 AS ord, 'history' AS src, h.seq, h.kind AS a,"
    "   h.from_state AS b, h.to_state AS c, h.actor AS d, h.detail::text AS e, NULL::text AS f"
    "  FROM history h WHERE h.instance_id = $1::uuid"
    " UNION ALL"
    " SELECT a.started_at, COALESCE((SELECT max(h.seq) FROM history h"
    "   WHERE h.instance_id = $1::uuid AND h.kind = 'repair' AND h.detail->>'action' = 'retry'"
    "     AND (h.detail->>'task')::bigint = t.id"
    "     AND a.attempt > (h.detail->>'attempts_before')::int),"
    "   substring(t.idempotency_key from '_([0-9]+)$')::bigint, t.seq), 2,"
    "   'attempt', t.seq, t.activity, a.attempt || '/' || t.max_attempts,"
    "   a.outcome, a.code, a.error, (a.latency_us / 1000)::text"
    "  FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.instance_id = $1::uuid"
    " UNION ALL"
    " SELECT s.created_at, COALESCE(s.consumed_seq, 9223372036854775807), 0, 'signal',"
    "   s.consumed_seq, s.name, s.source,"
    "   CASE WHEN s.consumed_at IS NULL THEN 'pending' ELSE 'consumed' END, NULL,"
    "   s.payload::text, NULL"
    "  FROM signals s WHERE s.instance_id = $1::uuid) x ORDER BY x.k, x.ord, x.at";

static const char TASKS_SQL[] =
    "SELECT t.id, t.seq, t.state_name, t.activity, t.status::text, t.attempt, t.max_attempts,"
    "  t.idempotency_key, to_char((t.not_before) AT TIME ZONE 'UTC', " CTL_ISO
    "), t.outcome, t.last_error"
    " FROM tasks t WHERE t.instance_id = $1::uuid ORDER BY t.id";

static void print_timeline_row(const PGresult *r, int i)
{
    const char *at = PQgetvalue(r, i, 0), *src = PQgetvalue(r, i, 1);
    const char *seq = ctl_val(r, i, 2), *a = ctl_val(r, i, 3), *b = ctl_val(r, i, 4);
    const char *cc = ctl_val(r, i, 5), *d = ctl_val(r, i, 6), *e = ctl_val(r, i, 7);
    const char *f = ctl_val(r, i, 8);
    if (strcmp(src, "history") == 0) {
        printf("  %s  #%-3s %-10s %s -> %s", at, seq ? seq : "", a ? a : "", b ? b : "(new)",
               cc ? cc : "");
        if (strcmp(a ? a : "", "repair") == 0 || strcmp(a ? a : "", "start") == 0)
            printf("  by %s", d ? d : "?");
        if (e != NULL && strcmp(e, "{}") != 0)
            printf("  %s", e);
        putchar('\n');
    } else if (strcmp(src, "attempt") == 0) {
        printf("  %s       attempt %s %s: %s", at, b ? b : "", a ? a : "", cc ? cc : "");
        if (d != NULL && d[0]) {
            st_flowc_decline_t dc;
            if (st_flowc_decline_find(d, &dc) == 0)
                printf(" (%s: %s decline, retry %s)", d, dc.category, dc.retry);
            else
                printf(" (%s)", d);
        }
        if (e != NULL && e[0])
            printf(" — %s", e);
        if (f != NULL)
            printf(" [%s ms]", f);
        putchar('\n');
    } else {
        printf("  %s       signal %s from %s (%s", at, a ? a : "", b ? b : "?", cc ? cc : "");
        if (seq != NULL)
            printf(" at #%s", seq);
        printf(")");
        if (e != NULL && strcmp(e, "{}") != 0)
            printf(" %s", e);
        putchar('\n');
    }
}

static json_t *timeline_json(const PGresult *r, int i)
{
    const char *src = PQgetvalue(r, i, 1);
    json_t *o = json_pack("{s:s,s:s}", "at", PQgetvalue(r, i, 0), "type", src);
    if (ctl_val(r, i, 2))
        json_object_set_new(o, "seq", json_integer(atoll(PQgetvalue(r, i, 2))));
    static const char *const hist[] = {"kind", "from", "to", "actor", "detail", NULL};
    static const char *const att[] = {"activity", "attempt", "outcome",
                                      "code",     "error",   "latency_ms"};
    static const char *const sig[] = {"name", "source", "state", NULL, "payload", NULL};
    const char *const *names = strcmp(src, "history") == 0   ? hist
                               : strcmp(src, "attempt") == 0 ? att
                                                             : sig;
    for (int k = 0; k < 6; k++) {
        const char *v = ctl_val(r, i, 3 + k);
        if (names[k] == NULL || v == NULL)
            continue;
        if (strcmp(names[k], "detail") == 0 || strcmp(names[k], "payload") == 0) {
            json_t *j = ctl_json_parse(v);
            json_object_set_new(o, names[k], j ? j : json_string(v));
        } else {
            json_object_set_new(o, names[k], json_string(v));
        }
    }
    return o;
}

int ctl_cmd_show(ctl_t *c, int argc, char **argv)
{
    const char *pos[1] = {0};
    int n = ctl_opts_parse(c, "show", argc, argv, NULL, pos, 1);
    if (n != 1)
        return n < 0 ? CTL_EXIT_USAGE : ctl_usage(c, "show", "give one instance id");
    st_store_uuid_t u;
    if (st_store_uuid_parse(pos[0], &u) != 0)
        return ctl_usage(c, "show", "'%s' is not an instance id (a UUID)", pos[0]);
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    const char *params[1] = {pos[0]};
    PGresult *r = ctl_q(c, SHOW_SQL, 1, params, &err);
    if (r == NULL)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_failf(c, CTL_EXIT_NOTFOUND, "`settlectl list` shows the instances",
                         "no instance %s", pos[0]);
    }
    PGresult *t = ctl_q(c, TIMELINE_SQL, 1, params, &err);
    PGresult *k = t ? ctl_q(c, TASKS_SQL, 1, params, &err) : NULL;
    if (t == NULL || k == NULL) {
        PQclear(r);
        PQclear(t);
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    }
    json_t *vars = ctl_json_parse(ctl_val(r, 0, 13));
    if (c->json) {
        json_t *inst = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:b}", "id", PQgetvalue(r, 0, 0),
                                 "flow", PQgetvalue(r, 0, 1), "version", PQgetvalue(r, 0, 2),
                                 "state", PQgetvalue(r, 0, 3), "status", PQgetvalue(r, 0, 4), "seq",
                                 (json_int_t)atoll(PQgetvalue(r, 0, 5)), "created_at",
                                 PQgetvalue(r, 0, 11), "updated_at", PQgetvalue(r, 0, 12),
                                 "current_version", PQgetvalue(r, 0, 14)[0] == 't');
        ctl_json_set_str(inst, "wake_at", ctl_val(r, 0, 6));
        ctl_json_set_str(inst, "reason", ctl_val(r, 0, 7));
        ctl_json_set_str(inst, "business_key", ctl_val(r, 0, 8));
        if (ctl_val(r, 0, 9))
            json_object_set_new(
                inst, "owner",
                json_pack("{s:I,s:s,s:b}", "node", (json_int_t)atoll(PQgetvalue(r, 0, 9)), "name",
                          PQgetvalue(r, 0, 10), "alive", PQgetvalue(r, 0, 15)[0] == 't'));
        json_object_set_new(inst, "vars", vars ? vars : json_object());
        json_t *tl = json_array(), *tasks = json_array();
        for (int i = 0; i < PQntuples(t); i++)
            json_array_append_new(tl, timeline_json(t, i));
        for (int i = 0; i < PQntuples(k); i++) {
            json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:i,s:s,s:s}", "id",
                                  (json_int_t)atoll(PQgetvalue(k, i, 0)), "seq",
                                  (json_int_t)atoll(PQgetvalue(k, i, 1)), "state",
                                  PQgetvalue(k, i, 2), "activity", PQgetvalue(k, i, 3), "status",
                                  PQgetvalue(k, i, 4), "attempt", atoi(PQgetvalue(k, i, 5)),
                                  "max_attempts", atoi(PQgetvalue(k, i, 6)), "idempotency_key",
                                  PQgetvalue(k, i, 7), "not_before", PQgetvalue(k, i, 8));
            ctl_json_set_str(o, "outcome", ctl_val(k, i, 9));
            ctl_json_set_str(o, "last_error", ctl_val(k, i, 10));
            json_array_append_new(tasks, o);
        }
        json_object_set_new(inst, "timeline", tl);
        json_object_set_new(inst, "tasks", tasks);
        PQclear(r);
        PQclear(t);
        PQclear(k);
        return ctl_json_out(inst);
    }
    printf("instance %s\n", PQgetvalue(r, 0, 0));
    printf("  flow     %s version %.12s%s\n", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
           PQgetvalue(r, 0, 14)[0] == 't' ? " (current)" : " (not the current version)");
    printf("  state    %s, %s (seq %s)\n", PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4),
           PQgetvalue(r, 0, 5));
    if (ctl_val(r, 0, 7))
        printf("  reason   %s\n", PQgetvalue(r, 0, 7));
    if (ctl_val(r, 0, 6))
        printf("  wakes at %s\n", PQgetvalue(r, 0, 6));
    if (ctl_val(r, 0, 8))
        printf("  key      %s\n", PQgetvalue(r, 0, 8));
    if (ctl_val(r, 0, 9))
        printf("  owner    node %s (%s)%s\n", PQgetvalue(r, 0, 9), PQgetvalue(r, 0, 10),
               PQgetvalue(r, 0, 15)[0] == 't' ? "" : " — lease lapsed");
    else
        printf("  owner    none\n");
    printf("  created  %s, last change %s\n", PQgetvalue(r, 0, 11), PQgetvalue(r, 0, 12));
    printf("\nvariables\n");
    if (vars != NULL) {
        const char *key;
        json_t *v;
        json_object_foreach(vars, key, v)
        {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("  %-16s %s\n", key, s ? s : "?");
            free(s);
        }
    }
    json_decref(vars);
    printf("\ntimeline\n");
    for (int i = 0; i < PQntuples(t); i++)
        print_timeline_row(t, i);
    if (PQntuples(k) > 0) {
        printf("\ntasks\n");
        for (int i = 0; i < PQntuples(k); i++) {
            printf("  #%s %-20s %-9s attempt %s/%s  key %s", PQgetvalue(k, i, 1),
                   PQgetvalue(k, i, 3), PQgetvalue(k, i, 4), PQgetvalue(k, i, 5),
                   PQgetvalue(k, i, 6), PQgetvalue(k, i, 7));
            if (ctl_val(k, i, 9))
                printf("  outcome %s", PQgetvalue(k, i, 9));
            if (strcmp(PQgetvalue(k, i, 4), "pending") == 0)
                printf("  next attempt %s", PQgetvalue(k, i, 8));
            if (ctl_val(k, i, 10))
                printf("\n      last error: %s", PQgetvalue(k, i, 10));
            putchar('\n');
        }
    }
    PQclear(r);
    PQclear(t);
    PQclear(k);
    return CTL_EXIT_OK;
}
