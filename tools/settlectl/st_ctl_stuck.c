/*
 * st_ctl_stuck.c — `stuck` (instances that need a person, why, what next)
 * and `stats` (counts, throughput, oldest wait, nodes).
 *
 * Layer: tools (settlectl). The rows come from the store's reports
 * (st_store_report_*, st_store_flow_counts). Ages are measured on the
 * flows' clock (the virtual clock when one ran), lease checks on the
 * database clock, as the engine does.
 *
 * The advice for payment failures comes from the decline table of the
 * settlec library (category and retry advice per Stripe decline code).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "ops/st_ops.h"
#include "flowc/st_flowc.h"

#define CELL(r, i, k) st_store_rows_get((r), (i), (k))

typedef struct advice {
    char why[512];
    char next[512];
} advice_t;

static void decline_advice(const char *code, advice_t *a, const char *id)
{
    st_flowc_decline_t d;
    if (st_flowc_decline_find(code, &d) != 0) {
        snprintf(a->next, sizeof a->next,
                 "unknown decline code '%s': read the issuer's message with `settlectl show %s`",
                 code, id);
        return;
    }
    const char *step;
    if (strcmp(d.retry, "after_update") == 0)
        step =
            "ask the customer for new card details; when they updated them, start the flow again";
    else if (strcmp(d.retry, "with_auth") == 0)
        step = "bring the customer on-session to authenticate (3-D Secure), then start again";
    else if (strcmp(d.retry, "no") == 0)
        step = strcmp(d.category, "fraud") == 0
                   ? "do not retry and do not tell the customer why; review the customer"
                   : "do not retry this card; ask the customer for another payment method";
    else
        step = "a temporary decline: start the flow again later (or let dunning retry it)";
    snprintf(a->next, sizeof a->next, "%s decline '%s' (retry: %s): %s", d.category, code, d.retry,
             step);
}

static void explain(const st_store_rows_t *r, size_t i, advice_t *a)
{
    const char *kind = CELL(r, i, 1), *id = CELL(r, i, 2);
    const char *A = CELL(r, i, 7), *B = CELL(r, i, 8), *C = CELL(r, i, 9);
    const char *D = CELL(r, i, 10), *E = CELL(r, i, 11), *F = CELL(r, i, 12);
    char age[32];
    ctl_fmt_dur(atoll(CELL(r, i, 6)), age, sizeof age);
    st_flowc_decline_t dc;
    if (strcmp(kind, "failed") == 0) {
        if (E && E[0] && st_flowc_decline_find(E, &dc) == 0) {
            snprintf(a->why, sizeof a->why, "%s ended in a fail state after decline %s: %s", B, E,
                     A ? A : "");
            decline_advice(E, a, id);
        } else if (C && strcmp(C, "failed") == 0) {
            snprintf(a->why, sizeof a->why, "%s failed permanently after %s attempt(s): %s", B,
                     D ? D : "?", F ? F : (A ? A : "no error recorded"));
            snprintf(a->next, sizeof a->next,
                     "fix the cause (credentials, request, the service), then `settlectl retry %s` "
                     "(same idempotency key)",
                     id);
        } else {
            snprintf(a->why, sizeof a->why, "reached a fail state %s ago: %s", age,
                     A ? A : "no reason recorded");
            snprintf(a->next, sizeof a->next,
                     "read the last transition with `settlectl show %s`; the flow has ended, so "
                     "start a new one if the work must still happen",
                     id);
        }
    } else if (strcmp(kind, "retrying") == 0) {
        snprintf(a->why, sizeof a->why, "%s retrying for %s (attempt %s, last %s%s%s): %s", A, age,
                 B, D ? D : "?", E ? " " : "", E ? E : "", F ? F : "no error recorded");
        if (E && E[0]) {
            decline_advice(E, a, id);
        } else {
            snprintf(a->next, sizeof a->next,
                     "check the service the activity calls; the engine retries until the attempts "
                     "run out (next at %s); `settlectl cancel %s` stops it",
                     C ? C : "?", id);
        }
    } else if (strcmp(kind, "late") == 0) {
        snprintf(a->why, sizeof a->why, "wake time %s passed %s ago and the timer has not fired",
                 A ? A : "?", age);
        snprintf(a->next, sizeof a->next,
                 "check that settled runs (`settlectl stats` lists live nodes); `settlectl wake "
                 "%s` fires it now",
                 id);
    } else if (strcmp(kind, "orphaned") == 0) {
        if (A != NULL)
            snprintf(a->why, sizeof a->why, "owner node %s (%s) is gone: lease lapsed at %s", A,
                     B ? B : "?", C ? C : "?");
        else
            snprintf(a->why, sizeof a->why, "no settled node is alive to run it");
        if (D && atoll(D) > 0)
            snprintf(a->next, sizeof a->next,
                     "a live node takes it over at its next claim round; if it stays here, check "
                     "the nodes' logs");
        else
            snprintf(a->next, sizeof a->next,
                     "start settled (`settled run`); it claims orphaned instances at start-up");
    } else if (strcmp(kind, "old_version") == 0) {
        snprintf(a->why, sizeof a->why,
                 "runs version %.12s, but %.12s is the deployed version of %s", A ? A : "?",
                 B ? B : "?", CELL(r, i, 3));
        snprintf(a->next, sizeof a->next,
                 "it may finish on its pinned version; if that version is wrong, move it with "
                 "`settlectl migrate` (compiler-checked map) or cancel it");
    } else {
        snprintf(a->why, sizeof a->why, "%s (%s ago)", A ? A : "suspended by an operator", age);
        snprintf(a->next, sizeof a->next, "`settlectl resume %s` when the cause is fixed", id);
    }
}

int ctl_cmd_stuck(ctl_t *c, int argc, char **argv)
{
    const char *retrying = "1h", *late = "5m", *flow = NULL, *limit_s = "200";
    const ctl_opt_t opts[] = {{"retrying-for", 1, &retrying, NULL},
                              {"late", 1, &late, NULL},
                              {"flow", 1, &flow, NULL},
                              {"limit", 1, &limit_s, NULL},
                              {0}};
    const char *pos[1];
    if (ctl_opts_parse(c, "stuck", argc, argv, opts, pos, 0) < 0)
        return CTL_EXIT_USAGE;
    st_err_t err;
    int64_t r_us = 0, l_us = 0;
    if (st_ops_duration_parse(retrying, &r_us, &err) != 0 ||
        st_ops_duration_parse(late, &l_us, &err) != 0)
        return ctl_fail(c, CTL_EXIT_USAGE, &err);
    long lim = strtol(limit_s, NULL, 10);
    if (lim < 1 || lim > 100000)
        return ctl_usage(c, "stuck", "--limit takes a number from 1 to 100000");
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_store_rows_t r;
    if (st_store_report_stuck(c->sc, r_us, l_us, flow, (unsigned)lim, &r, &err) != 0)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    size_t n = r.n;
    json_t *arr = c->json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        advice_t a;
        memset(&a, 0, sizeof a);
        explain(&r, i, &a);
        const char *kind = CELL(&r, i, 1);
        if (arr != NULL) {
            json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "kind", kind, "id",
                                  CELL(&r, i, 2), "flow", CELL(&r, i, 3), "state", CELL(&r, i, 4),
                                  "status", CELL(&r, i, 5), "age_us",
                                  (json_int_t)atoll(CELL(&r, i, 6)), "why", a.why, "next", a.next);
            ctl_json_set_str(o, "code",
                             strcmp(kind, "failed") == 0 || strcmp(kind, "retrying") == 0
                                 ? CELL(&r, i, 11)
                                 : NULL);
            json_array_append_new(arr, o);
        } else {
            printf("%-11s %s  %s/%s (%s)\n", kind, CELL(&r, i, 2), CELL(&r, i, 3), CELL(&r, i, 4),
                   CELL(&r, i, 5));
            printf("            why:  %s\n            next: %s\n", a.why, a.next);
        }
    }
    st_store_rows_free(&r);
    if (arr != NULL)
        ctl_json_out(json_pack("{s:o,s:i}", "stuck", arr, "count", (int)n));
    else if (n == 0)
        printf("nothing is stuck\n");
    else
        printf("%d instance(s) need a person%s\n", (int)n,
               (long)n == lim ? " (limit reached: --limit)" : "");
    return n > 0 ? CTL_EXIT_STUCK : CTL_EXIT_OK;
}

/* ---- stats ---- */

typedef struct stats {
    st_store_counts_t counts;
    st_store_rows_t states, tput, oldest, nodes;
} stats_t;

static void stats_release(stats_t *s)
{
    st_store_counts_free(&s->counts);
    st_store_rows_free(&s->states);
    st_store_rows_free(&s->tput);
    st_store_rows_free(&s->oldest);
    st_store_rows_free(&s->nodes);
}

static int stats_read(ctl_t *c, int minutes, stats_t *s, st_err_t *err)
{
    memset(s, 0, sizeof *s);
    int rc = st_store_flow_counts(c->sc, &s->counts, err);
    if (rc == 0)
        rc = st_store_report_live_states(c->sc, &s->states, err);
    if (rc == 0)
        rc = st_store_report_throughput(c->sc, minutes, &s->tput, err);
    if (rc == 0)
        rc = st_store_report_oldest_waiting(c->sc, &s->oldest, err);
    if (rc == 0)
        rc = st_store_report_live_nodes(c->sc, &s->nodes, err);
    return rc;
}

/* History counts of the throughput row: 0 starts, 1 transitions, 2 repairs. */
static long long tput(const stats_t *s, size_t k)
{
    const char *v = CELL(&s->tput, 0, k);
    return v ? atoll(v) : 0;
}

static int stats_json(const stats_t *s, long minutes)
{
    json_t *jc = json_array(), *js = json_array(), *jn = json_array();
    for (size_t i = 0; i < s->counts.n; i++)
        if (s->counts.v[i].n != 0)
            json_array_append_new(jc,
                                  json_pack("{s:s,s:s,s:I}", "flow", s->counts.v[i].flow, "status",
                                            st_store_status_name(s->counts.v[i].status), "n",
                                            (json_int_t)s->counts.v[i].n));
    for (size_t i = 0; i < s->states.n; i++)
        json_array_append_new(js, json_pack("{s:s,s:s,s:s,s:I}", "flow", CELL(&s->states, i, 0),
                                            "state", CELL(&s->states, i, 1), "status",
                                            CELL(&s->states, i, 2), "n",
                                            (json_int_t)atoll(CELL(&s->states, i, 3))));
    for (size_t i = 0; i < s->nodes.n; i++)
        json_array_append_new(
            jn, json_pack("{s:I,s:s,s:s}", "id", (json_int_t)atoll(CELL(&s->nodes, i, 0)), "name",
                          CELL(&s->nodes, i, 1), "lease_until", CELL(&s->nodes, i, 2)));
    json_t *doc =
        json_pack("{s:o,s:o,s:{s:i,s:I,s:I,s:I,s:f},s:o}", "by_status", jc, "by_state", js,
                  "throughput", "minutes", (int)minutes, "starts", (json_int_t)tput(s, 0),
                  "transitions", (json_int_t)tput(s, 1), "repairs", (json_int_t)tput(s, 2),
                  "transitions_per_minute", (double)tput(s, 1) / (double)minutes, "nodes", jn);
    const st_store_rows_t *o = &s->oldest;
    if (o->n > 0)
        json_object_set_new(doc, "oldest_waiting",
                            json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", CELL(o, 0, 0), "flow",
                                      CELL(o, 0, 1), "state", CELL(o, 0, 2), "since", CELL(o, 0, 3),
                                      "age_us", (json_int_t)atoll(CELL(o, 0, 4))));
    else
        json_object_set_new(doc, "oldest_waiting", json_null());
    return ctl_json_out(doc);
}

static int stats_text(const stats_t *s, long minutes)
{
    size_t shown = 0;
    printf("instances by flow and status\n");
    for (size_t i = 0; i < s->counts.n; i++)
        if (s->counts.v[i].n != 0 && ++shown)
            printf("  %-16s %-10s %8lld\n", s->counts.v[i].flow,
                   st_store_status_name(s->counts.v[i].status), (long long)s->counts.v[i].n);
    if (shown == 0)
        printf("  (none)\n");
    printf("\nlive and failed instances by state\n");
    for (size_t i = 0; i < s->states.n; i++)
        printf("  %-16s %-22s %-10s %8s\n", CELL(&s->states, i, 0), CELL(&s->states, i, 1),
               CELL(&s->states, i, 2), CELL(&s->states, i, 3));
    if (s->states.n == 0)
        printf("  (none)\n");
    printf("\nlast %ld minute(s): %lld started, %lld transitions (%.1f/min), %lld repairs\n",
           minutes, tput(s, 0), tput(s, 1), (double)tput(s, 1) / (double)minutes, tput(s, 2));
    const st_store_rows_t *o = &s->oldest;
    if (o->n > 0) {
        char age[32];
        printf("oldest waiting: %s %s/%s since %s (%s)\n", CELL(o, 0, 0), CELL(o, 0, 1),
               CELL(o, 0, 2), CELL(o, 0, 3), ctl_fmt_dur(atoll(CELL(o, 0, 4)), age, sizeof age));
    } else {
        printf("oldest waiting: none\n");
    }
    printf("live nodes: %d\n", (int)s->nodes.n);
    for (size_t i = 0; i < s->nodes.n; i++)
        printf("  node %s %s (lease until %s)\n", CELL(&s->nodes, i, 0), CELL(&s->nodes, i, 1),
               CELL(&s->nodes, i, 2));
    return CTL_EXIT_OK;
}

int ctl_cmd_stats(ctl_t *c, int argc, char **argv)
{
    const char *minutes_s = "5";
    const ctl_opt_t opts[] = {{"minutes", 1, &minutes_s, NULL}, {0}};
    const char *pos[1];
    if (ctl_opts_parse(c, "stats", argc, argv, opts, pos, 0) < 0)
        return CTL_EXIT_USAGE;
    long minutes = strtol(minutes_s, NULL, 10);
    if (minutes < 1 || minutes > 1440)
        return ctl_usage(c, "stats", "--minutes takes a number from 1 to 1440");
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    stats_t st;
    int rc = stats_read(c, (int)minutes, &st, &err);
    if (rc == 0)
        rc = c->json ? stats_json(&st, minutes) : stats_text(&st, minutes);
    else
        rc = ctl_fail(c, CTL_EXIT_ERROR, &err);
    stats_release(&st);
    return rc;
}
