/*
 * st_ctl_list.c — reading instances: the shared filter, `list` and `show`.
 *
 * Layer: tools (settlectl). Filters go to st_store_instances_find as
 * values. `--waiting-for SIGNAL` is resolved here: the Programs of waiting
 * instances are loaded and the (hash, state) pairs whose state has an arm
 * for SIGNAL are passed to the store.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "ctl_int.h"
#include "ops/st_ops.h"
#include "flowc/st_flowc.h"
#include "store/st_store.h"

int ctl_filter_empty(const ctl_filter_t *f)
{
    return !f->flow && !f->version && !f->state && !f->status && !f->older_than && !f->key &&
           !f->waiting_for;
}

typedef struct pairs {
    char **v;
    size_t n, cap;
} pairs_t;

static void pairs_free(pairs_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}

static int pairs_add(pairs_t *p, const char *hash, const char *state)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        char **g = realloc(p->v, nc * sizeof *g);
        if (g == NULL)
            return ST_NOMEM;
        p->v = g;
        p->cap = nc;
    }
    size_t len = strlen(hash) + strlen(state) + 2;
    if ((p->v[p->n] = malloc(len)) == NULL)
        return ST_NOMEM;
    snprintf(p->v[p->n++], len, "%s:%s", hash, state);
    return 0;
}

/* The "hash:state" pairs of p whose state has an arm for signal. */
static int program_pairs(const st_core_program_t *p, const char *hash, const char *signal,
                         pairs_t *out)
{
    for (size_t s = 0; s < st_core_program_state_count(p); s++) {
        const char *const *names = NULL;
        size_t n = st_core_program_state_signals(p, (uint32_t)s, &names);
        for (size_t k = 0; k < n; k++)
            if (strcmp(names[k], signal) == 0 &&
                pairs_add(out, hash, st_core_program_state_name(p, (uint32_t)s)) != 0)
                return ST_NOMEM;
    }
    return 0;
}

/* The pairs for --waiting-for over the Programs waiting instances run. */
static int waiting_pairs(ctl_t *c, const ctl_filter_t *f, pairs_t *out, st_err_t *err)
{
    st_store_rows_t r;
    int rc = st_store_waiting_programs(c->sc, f->flow, &r, err);
    for (size_t i = 0; rc == 0 && i < r.n; i++) {
        const char *hash = st_store_rows_get(&r, i, 0);
        st_core_program_t *p = NULL;
        rc = ctl_core_program(c, hash, &p, err);
        if (rc == 0 && program_pairs(p, hash, f->waiting_for, out) != 0)
            rc = st_err_set(err, ST_NOMEM, "out of memory");
        st_core_program_free(p);
    }
    st_store_rows_free(&r);
    return rc;
}

/* The store's filter for f; ST_INVAL with a hint for a bad value. */
static int filter_of(const ctl_filter_t *f, st_store_filter_t *sf, st_err_t *err)
{
    st_store_filter_init(sf);
    st_store_status_t st = ST_STORE_RUNNING;
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
    if (f->older_than && st_ops_duration_parse(f->older_than, &sf->older_than_us, err) != 0)
        return ST_INVAL;
    sf->flow = f->flow;
    sf->version = f->version;
    sf->state = f->state;
    sf->status = f->status ? (int)st : -1;
    sf->business_key = f->key;
    return 0;
}

int ctl_filter_query(ctl_t *c, const ctl_filter_t *f, const char *after, int limit,
                     st_store_instances_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_filter_t sf;
    int rc = filter_of(f, &sf, err);
    if (rc != 0)
        return rc;
    st_store_uuid_t u;
    if (after && st_store_uuid_parse(after, &u) != 0) {
        st_err_set(err, ST_INVAL, "--after needs an instance id, not '%s'", after);
        st_err_hint(err, "pass the last id of the previous page");
        return ST_INVAL;
    }
    pairs_t pairs = {0};
    if (f->waiting_for) {
        rc = waiting_pairs(c, f, &pairs, err);
        sf.by_waiting_state = true;
        sf.waiting = (const char *const *)pairs.v;
        sf.nwaiting = pairs.n;
    }
    if (rc == 0)
        rc = st_store_instances_find(c->sc, &sf, after ? &u : NULL, (unsigned)limit, out, err);
    pairs_free(&pairs);
    return rc;
}

static json_t *instance_json(const st_store_instance_t *in)
{
    char id[37], up[32], wake[32];
    st_store_uuid_format(&in->id, id);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "id", id, "flow", in->flow, "version",
                          in->program_hash, "state", in->state_name, "status",
                          st_store_status_name(in->status), "updated_at",
                          ctl_iso(in->updated_us, up, sizeof up), "seq", (json_int_t)in->seq);
    ctl_json_set_str(o, "business_key", in->business_key);
    ctl_json_set_str(o, "reason", in->wait_reason);
    ctl_json_set_str(o, "wake_at", ctl_iso(in->wake_at_us, wake, sizeof wake));
    return o;
}

static int list_json(const st_store_instances_t *r, int limit, const char *last)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n; i++)
        json_array_append_new(arr, instance_json(&r->v[i]));
    json_t *doc = json_pack("{s:o}", "instances", arr);
    json_object_set_new(doc, "next_after",
                        r->n == (size_t)limit && last[0] ? json_string(last) : json_null());
    return ctl_json_out(doc);
}

static int list_text(const st_store_instances_t *r, int limit, const char *last)
{
    if (r->n == 0) {
        printf("no instances match\n");
        return CTL_EXIT_OK;
    }
    printf("%-36s  %-14s %-8s %-22s %-9s %-20s %s\n", "ID", "FLOW", "VERSION", "STATE", "STATUS",
           "UPDATED", "KEY");
    for (size_t i = 0; i < r->n; i++) {
        const st_store_instance_t *in = &r->v[i];
        char id[37], up[32];
        st_store_uuid_format(&in->id, id);
        printf("%-36s  %-14s %-8.8s %-22s %-9s %-20s %s\n", id, in->flow, in->program_hash,
               in->state_name, st_store_status_name(in->status),
               ctl_iso(in->updated_us, up, sizeof up), in->business_key ? in->business_key : "-");
    }
    if (r->n == (size_t)limit)
        printf("-- more: add --after %s for the next page\n", last);
    return CTL_EXIT_OK;
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
    st_store_instances_t r;
    int rc = ctl_filter_query(c, &f, after, limit, &r, &err);
    if (rc != 0)
        return ctl_fail(c, ctl_exit_for(rc), &err);
    size_t n = r.n;
    char last[37] = "";
    if (n > 0)
        st_store_uuid_format(&r.v[n - 1].id, last);
    rc = c->json ? list_json(&r, limit, last) : list_text(&r, limit, last);
    st_store_instances_free(&r);
    return rc;
}

/* ---- show ---- */

#define CELL(r, i, k) st_store_rows_get((r), (i), (k))

/* One timeline row (st_store_report_timeline's columns). */
static void print_timeline_row(const st_store_rows_t *r, size_t i)
{
    const char *at = CELL(r, i, 0), *src = CELL(r, i, 1);
    const char *seq = CELL(r, i, 2), *a = CELL(r, i, 3), *b = CELL(r, i, 4);
    const char *cc = CELL(r, i, 5), *d = CELL(r, i, 6), *e = CELL(r, i, 7);
    const char *f = CELL(r, i, 8);
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

static json_t *timeline_json(const st_store_rows_t *r, size_t i)
{
    const char *src = CELL(r, i, 1);
    json_t *o = json_pack("{s:s,s:s}", "at", CELL(r, i, 0), "type", src);
    if (CELL(r, i, 2))
        json_object_set_new(o, "seq", json_integer(atoll(CELL(r, i, 2))));
    static const char *const hist[] = {"kind", "from", "to", "actor", "detail", NULL};
    static const char *const att[] = {"activity", "attempt", "outcome",
                                      "code",     "error",   "latency_ms"};
    static const char *const sig[] = {"name", "source", "state", NULL, "payload", NULL};
    const char *const *names = strcmp(src, "history") == 0   ? hist
                               : strcmp(src, "attempt") == 0 ? att
                                                             : sig;
    for (size_t k = 0; k < 6; k++) {
        const char *v = CELL(r, i, 3 + k);
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

static json_t *task_json(const st_store_rows_t *k, size_t i)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:s,s:s,s:s,s:i,s:i,s:s,s:s}", "id", (json_int_t)atoll(CELL(k, i, 0)), "seq",
        (json_int_t)atoll(CELL(k, i, 1)), "state", CELL(k, i, 2), "activity", CELL(k, i, 3),
        "status", CELL(k, i, 4), "attempt", atoi(CELL(k, i, 5)), "max_attempts",
        atoi(CELL(k, i, 6)), "idempotency_key", CELL(k, i, 7), "not_before", CELL(k, i, 8));
    ctl_json_set_str(o, "outcome", CELL(k, i, 9));
    ctl_json_set_str(o, "last_error", CELL(k, i, 10));
    return o;
}

/* What show prints: the row, its owner, and the reports. */
typedef struct shown {
    st_store_instance_t in;
    char id[37];
    bool current;  /* the flow's current version */
    bool has_node; /* owner node found */
    st_store_node_info_t node;
    st_store_rows_t timeline, tasks;
} shown_t;

static void shown_release(shown_t *s)
{
    st_store_instance_release(&s->in);
    st_store_rows_free(&s->timeline);
    st_store_rows_free(&s->tasks);
}

static int show_read(ctl_t *c, const st_store_uuid_t *id, shown_t *s, st_err_t *err)
{
    memset(s, 0, sizeof *s);
    int rc = st_store_instance_load(c->sc, id, &s->in, err);
    if (rc != 0)
        return rc;
    st_store_uuid_format(id, s->id);
    char cur[65];
    rc = st_store_flow_current(c->sc, s->in.flow, cur, err);
    if (rc != 0 && rc != ST_NOTFOUND)
        return rc;
    s->current = rc == 0 && strcmp(cur, s->in.program_hash) == 0;
    if (s->in.owner_node) {
        rc = st_store_node_info(c->sc, s->in.owner_node, &s->node, err);
        if (rc != 0 && rc != ST_NOTFOUND)
            return rc;
        s->has_node = rc == 0;
    }
    rc = st_store_report_timeline(c->sc, id, &s->timeline, err);
    return rc ? rc : st_store_report_tasks(c->sc, id, &s->tasks, err);
}

static int show_json(const shown_t *s)
{
    const st_store_instance_t *in = &s->in;
    char cr[32], up[32], wake[32];
    json_t *inst = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:b}", "id", s->id, "flow", in->flow,
                             "version", in->program_hash, "state", in->state_name, "status",
                             st_store_status_name(in->status), "seq", (json_int_t)in->seq,
                             "created_at", ctl_iso(in->created_us, cr, sizeof cr), "updated_at",
                             ctl_iso(in->updated_us, up, sizeof up), "current_version", s->current);
    ctl_json_set_str(inst, "wake_at", ctl_iso(in->wake_at_us, wake, sizeof wake));
    ctl_json_set_str(inst, "reason", in->wait_reason);
    ctl_json_set_str(inst, "business_key", in->business_key);
    if (in->owner_node)
        json_object_set_new(inst, "owner",
                            json_pack("{s:I,s:s,s:b}", "node", (json_int_t)in->owner_node, "name",
                                      s->node.name, "alive", s->has_node && s->node.alive));
    json_t *vars = ctl_json_parse(in->vars_json);
    json_object_set_new(inst, "vars", vars ? vars : json_object());
    json_t *tl = json_array(), *tasks = json_array();
    for (size_t i = 0; i < s->timeline.n; i++)
        json_array_append_new(tl, timeline_json(&s->timeline, i));
    for (size_t i = 0; i < s->tasks.n; i++)
        json_array_append_new(tasks, task_json(&s->tasks, i));
    json_object_set_new(inst, "timeline", tl);
    json_object_set_new(inst, "tasks", tasks);
    return ctl_json_out(inst);
}

static void show_head(const shown_t *s)
{
    const st_store_instance_t *in = &s->in;
    char buf[32], up[32];
    printf("instance %s\n", s->id);
    printf("  flow     %s version %.12s%s\n", in->flow, in->program_hash,
           s->current ? " (current)" : " (not the current version)");
    printf("  state    %s, %s (seq %lld)\n", in->state_name, st_store_status_name(in->status),
           (long long)in->seq);
    if (in->wait_reason)
        printf("  reason   %s\n", in->wait_reason);
    if (in->wake_at_us != ST_STORE_NO_TIME)
        printf("  wakes at %s\n", ctl_iso(in->wake_at_us, buf, sizeof buf));
    if (in->business_key)
        printf("  key      %s\n", in->business_key);
    if (in->owner_node)
        printf("  owner    node %lld (%s)%s\n", (long long)in->owner_node, s->node.name,
               s->has_node && s->node.alive ? "" : " — lease lapsed");
    else
        printf("  owner    none\n");
    printf("  created  %s, last change %s\n", ctl_iso(in->created_us, buf, sizeof buf),
           ctl_iso(in->updated_us, up, sizeof up));
}

static void show_tasks(const st_store_rows_t *k)
{
    if (k->n == 0)
        return;
    printf("\ntasks\n");
    for (size_t i = 0; i < k->n; i++) {
        printf("  #%s %-20s %-9s attempt %s/%s  key %s", CELL(k, i, 1), CELL(k, i, 3),
               CELL(k, i, 4), CELL(k, i, 5), CELL(k, i, 6), CELL(k, i, 7));
        if (CELL(k, i, 9))
            printf("  outcome %s", CELL(k, i, 9));
        if (strcmp(CELL(k, i, 4), "pending") == 0)
            printf("  next attempt %s", CELL(k, i, 8));
        if (CELL(k, i, 10))
            printf("\n      last error: %s", CELL(k, i, 10));
        putchar('\n');
    }
}

static int show_text(const shown_t *s)
{
    show_head(s);
    printf("\nvariables\n");
    json_t *vars = ctl_json_parse(s->in.vars_json);
    if (vars != NULL) {
        const char *key;
        json_t *v;
        json_object_foreach(vars, key, v)
        {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf("  %-16s %s\n", key, t ? t : "?");
            free(t);
        }
    }
    json_decref(vars);
    printf("\ntimeline\n");
    for (size_t i = 0; i < s->timeline.n; i++)
        print_timeline_row(&s->timeline, i);
    show_tasks(&s->tasks);
    return CTL_EXIT_OK;
}

int ctl_cmd_show(ctl_t *c, int argc, char **argv)
{
    const char *pos[1] = {0};
    int n = ctl_opts_parse(c, "show", argc, argv, NULL, pos, 1);
    if (n != 1)
        return n < 0 ? CTL_EXIT_USAGE : ctl_usage(c, "show", "give one instance id");
    st_err_t err;
    st_store_uuid_t u;
    if (ctl_parse_id(pos[0], &u, &err) != 0)
        return ctl_fail(c, CTL_EXIT_USAGE, &err);
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    shown_t s;
    int rc = show_read(c, &u, &s, &err);
    if (rc == ST_NOTFOUND && s.id[0] == '\0') {
        shown_release(&s);
        return ctl_failf(c, CTL_EXIT_NOTFOUND, "`settlectl list` shows the instances",
                         "no instance %s", pos[0]);
    }
    if (rc != 0) {
        shown_release(&s);
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    }
    rc = c->json ? show_json(&s) : show_text(&s);
    shown_release(&s);
    return rc;
}
