/*
 * st_ctl_stuck.c — `stuck` (instances that need a person, why, what next)
 * and `stats` (counts, throughput, oldest wait, nodes).
 *
 * Layer: tools (settlectl). One parameterised statement per report. Ages
 * are measured on the flows' clock (the virtual clock when one ran), lease
 * checks on the database clock, as the engine does.
 *
 * The advice for payment failures comes from the decline table of the
 * settlec library (category and retry advice per Stripe decline code).
 */
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"
#include "ops/st_ops.h"
#include "flowc/st_flowc.h"

/* Time columns as ISO text (named, so the statement below stays readable). */
#define TS_NOT_BEFORE CTL_TS("t.not_before")
#define TS_WAKE_AT    CTL_TS("i.wake_at")
#define TS_LEASE      CTL_TS("n.lease_until")

/* Columns: kind, id, flow, state, status, age_us, a, b, c, d, e, f. */
static const char STUCK_SQL[] =
    "WITH now_ AS (SELECT settle_us(" CTL_NOW_SQL ") AS us),"
    " live_nodes AS (SELECT count(*) AS n FROM nodes"
    "  WHERE stopped_at IS NULL AND lease_until > clock_timestamp())"
    " SELECT * FROM ("
    /* ended in a fail state */
    " SELECT 1 AS o, 'failed' AS kind, i.id, i.flow, i.state_name, i.status::text,"
    "   (SELECT us FROM now_) - settle_us(i.updated_at) AS age, i.wait_reason AS a,"
    "   t.activity AS b, t.status::text AS c, t.attempt::text AS d, la.code AS e,"
    "   COALESCE(la.error, t.last_error) AS f"
    "  FROM instances i"
    "  LEFT JOIN LATERAL (SELECT * FROM tasks t WHERE t.instance_id = i.id"
    "    ORDER BY t.id DESC LIMIT 1) t ON true"
    "  LEFT JOIN LATERAL (SELECT * FROM task_attempts a WHERE a.task_id = t.id"
    "    ORDER BY a.attempt DESC LIMIT 1) la ON true"
    "  WHERE i.status = 'failed' AND ($3::text IS NULL OR i.flow = $3::text)"
    " UNION ALL"
    /* an activity retrying for too long */
    " SELECT 2, 'retrying', i.id, i.flow, i.state_name, i.status::text,"
    "   (SELECT us FROM now_) - settle_us(fa.first), t.activity,"
    "   t.attempt || '/' || t.max_attempts, " TS_NOT_BEFORE ", la.outcome, la.code,"
    "   COALESCE(t.last_error, la.error)"
    "  FROM instances i JOIN tasks t ON t.instance_id = i.id AND t.seq = i.seq"
    "   AND t.status IN ('pending', 'running')"
    "  JOIN LATERAL (SELECT min(started_at) AS first FROM task_attempts a"
    "    WHERE a.task_id = t.id) fa ON fa.first IS NOT NULL"
    "  LEFT JOIN LATERAL (SELECT * FROM task_attempts a WHERE a.task_id = t.id"
    "    ORDER BY a.attempt DESC LIMIT 1) la ON true"
    "  WHERE i.status = 'running' AND ($3::text IS NULL OR i.flow = $3::text)"
    "    AND settle_us(fa.first) <= (SELECT us FROM now_) - $1::bigint"
    " UNION ALL"
    /* a wait whose time passed without the timer firing */
    " SELECT 3, 'late', i.id, i.flow, i.state_name, i.status::text,"
    "   (SELECT us FROM now_) - settle_us(i.wake_at), " TS_WAKE_AT ", i.wait_reason,"
    "   NULL, NULL, NULL, NULL"
    "  FROM instances i WHERE i.status = 'waiting' AND i.wake_at IS NOT NULL"
    "    AND ($3::text IS NULL OR i.flow = $3::text)"
    "    AND settle_us(i.wake_at) <= (SELECT us FROM now_) - $2::bigint"
    " UNION ALL"
    /* owner gone, or nobody alive to run it */
    " SELECT 4, 'orphaned', i.id, i.flow, i.state_name, i.status::text,"
    "   settle_us(clock_timestamp()) - settle_us(COALESCE(n.lease_until, i.updated_at)),"
    "   n.id::text, n.name, " TS_LEASE ", (SELECT n FROM live_nodes)::text, NULL, NULL"
    "  FROM instances i LEFT JOIN nodes n ON n.id = i.owner_node"
    "  WHERE i.status IN ('running', 'waiting') AND ($3::text IS NULL OR i.flow = $3::text)"
    "    AND ((n.id IS NOT NULL AND (n.lease_until < clock_timestamp()"
    "          OR n.stopped_at IS NOT NULL))"
    "      OR (SELECT n FROM live_nodes) = 0)"
    " UNION ALL"
    /* live on a version that is no longer the deployed one */
    " SELECT 5, 'old_version', i.id, i.flow, i.state_name, i.status::text,"
    "   (SELECT us FROM now_) - settle_us(i.updated_at), i.program_hash, f.current_hash,"
    "   NULL, NULL, NULL, NULL"
    "  FROM instances i JOIN flows f ON f.name = i.flow"
    "  WHERE i.status IN ('running', 'waiting', 'suspended') AND i.program_hash <> f.current_hash"
    "    AND ($3::text IS NULL OR i.flow = $3::text)"
    " UNION ALL"
    /* held by an operator */
    " SELECT 6, 'suspended', i.id, i.flow, i.state_name, i.status::text,"
    "   (SELECT us FROM now_) - settle_us(COALESCE((SELECT max(h.at) FROM history h"
    "     WHERE h.instance_id = i.id AND h.kind = 'repair'"
    "       AND h.detail->>'action' = 'suspend'), i.updated_at)), i.wait_reason,"
    "   NULL, NULL, NULL, NULL, NULL"
    "  FROM instances i WHERE i.status = 'suspended' AND ($3::text IS NULL OR i.flow = $3::text)) "
    "x ORDER BY x.o, x.age DESC, x.id LIMIT $4::int";

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

static void explain(const PGresult *r, int i, advice_t *a)
{
    const char *kind = PQgetvalue(r, i, 1), *id = PQgetvalue(r, i, 2);
    const char *A = ctl_val(r, i, 7), *B = ctl_val(r, i, 8), *C = ctl_val(r, i, 9);
    const char *D = ctl_val(r, i, 10), *E = ctl_val(r, i, 11), *F = ctl_val(r, i, 12);
    char age[32];
    ctl_fmt_dur(atoll(PQgetvalue(r, i, 6)), age, sizeof age);
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
                 B ? B : "?", PQgetvalue(r, i, 3));
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
    char rb[32], lb[32], lm[16];
    snprintf(rb, sizeof rb, "%lld", (long long)r_us);
    snprintf(lb, sizeof lb, "%lld", (long long)l_us);
    snprintf(lm, sizeof lm, "%ld", lim);
    const char *params[4] = {rb, lb, flow, lm};
    PGresult *r = ctl_q(c, STUCK_SQL, 4, params, &err);
    if (r == NULL)
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    int n = PQntuples(r);
    json_t *arr = c->json ? json_array() : NULL;
    for (int i = 0; i < n; i++) {
        advice_t a;
        memset(&a, 0, sizeof a);
        explain(r, i, &a);
        if (arr != NULL) {
            json_t *o =
                json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "kind", PQgetvalue(r, i, 1), "id",
                          PQgetvalue(r, i, 2), "flow", PQgetvalue(r, i, 3), "state",
                          PQgetvalue(r, i, 4), "status", PQgetvalue(r, i, 5), "age_us",
                          (json_int_t)atoll(PQgetvalue(r, i, 6)), "why", a.why, "next", a.next);
            ctl_json_set_str(o, "code",
                             strcmp(PQgetvalue(r, i, 1), "failed") == 0 ||
                                     strcmp(PQgetvalue(r, i, 1), "retrying") == 0
                                 ? ctl_val(r, i, 11)
                                 : NULL);
            json_array_append_new(arr, o);
        } else {
            printf("%-11s %s  %s/%s (%s)\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                   PQgetvalue(r, i, 3), PQgetvalue(r, i, 4), PQgetvalue(r, i, 5));
            printf("            why:  %s\n            next: %s\n", a.why, a.next);
        }
    }
    PQclear(r);
    if (arr != NULL)
        ctl_json_out(json_pack("{s:o,s:i}", "stuck", arr, "count", n));
    else if (n == 0)
        printf("nothing is stuck\n");
    else
        printf("%d instance(s) need a person%s\n", n, n == lim ? " (limit reached: --limit)" : "");
    return n > 0 ? CTL_EXIT_STUCK : CTL_EXIT_OK;
}

/* ---- stats ---- */

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
    char mb[16];
    snprintf(mb, sizeof mb, "%ld", minutes);
    const char *p1[1] = {mb};
    PGresult *counts = ctl_q(c,
                             "SELECT flow, status::text, n FROM flow_counts WHERE n <> 0"
                             " ORDER BY flow, status",
                             0, NULL, &err);
    PGresult *states = counts
                           ? ctl_q(c,
                                   "SELECT flow, state_name, status::text, count(*) FROM instances"
                                   " WHERE status IN ('running', 'waiting', 'suspended', 'failed')"
                                   " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                                   0, NULL, &err)
                           : NULL;
    PGresult *tput =
        states ? ctl_q(c,
                       "SELECT count(*) FILTER (WHERE kind = 'start' AND seq = 0),"
                       " count(*) FILTER (WHERE kind <> 'repair' AND seq > 0),"
                       " count(*) FILTER (WHERE kind = 'repair')"
                       " FROM history WHERE at > " CTL_NOW_SQL " - $1::int * interval '1 minute'",
                       1, p1, &err)
               : NULL;
    PGresult *oldest =
        tput
            ? ctl_q(c,
                    "SELECT id, flow, state_name, to_char((updated_at) AT TIME ZONE 'UTC', " CTL_ISO
                    "),"
                    " settle_us(" CTL_NOW_SQL ") - settle_us(updated_at)"
                    " FROM instances WHERE status = 'waiting' ORDER BY updated_at, id LIMIT 1",
                    0, NULL, &err)
            : NULL;
    PGresult *nodes =
        oldest ? ctl_q(c,
                       "SELECT id, name, to_char((lease_until) AT TIME ZONE 'UTC', " CTL_ISO
                       ") FROM nodes"
                       " WHERE stopped_at IS NULL AND lease_until > clock_timestamp()"
                       " ORDER BY id",
                       0, NULL, &err)
               : NULL;
    if (nodes == NULL) {
        PQclear(counts);
        PQclear(states);
        PQclear(tput);
        PQclear(oldest);
        return ctl_fail(c, CTL_EXIT_ERROR, &err);
    }
    long long starts = atoll(PQgetvalue(tput, 0, 0)), steps = atoll(PQgetvalue(tput, 0, 1));
    long long repairs = atoll(PQgetvalue(tput, 0, 2));
    int rc = CTL_EXIT_OK;
    if (c->json) {
        json_t *jc = json_array(), *js = json_array(), *jn = json_array();
        for (int i = 0; i < PQntuples(counts); i++)
            json_array_append_new(jc, json_pack("{s:s,s:s,s:I}", "flow", PQgetvalue(counts, i, 0),
                                                "status", PQgetvalue(counts, i, 1), "n",
                                                (json_int_t)atoll(PQgetvalue(counts, i, 2))));
        for (int i = 0; i < PQntuples(states); i++)
            json_array_append_new(
                js, json_pack("{s:s,s:s,s:s,s:I}", "flow", PQgetvalue(states, i, 0), "state",
                              PQgetvalue(states, i, 1), "status", PQgetvalue(states, i, 2), "n",
                              (json_int_t)atoll(PQgetvalue(states, i, 3))));
        for (int i = 0; i < PQntuples(nodes); i++)
            json_array_append_new(jn, json_pack("{s:I,s:s,s:s}", "id",
                                                (json_int_t)atoll(PQgetvalue(nodes, i, 0)), "name",
                                                PQgetvalue(nodes, i, 1), "lease_until",
                                                PQgetvalue(nodes, i, 2)));
        json_t *doc =
            json_pack("{s:o,s:o,s:{s:i,s:I,s:I,s:I,s:f},s:o}", "by_status", jc, "by_state", js,
                      "throughput", "minutes", (int)minutes, "starts", (json_int_t)starts,
                      "transitions", (json_int_t)steps, "repairs", (json_int_t)repairs,
                      "transitions_per_minute", (double)steps / (double)minutes, "nodes", jn);
        if (PQntuples(oldest) > 0)
            json_object_set_new(doc, "oldest_waiting",
                                json_pack("{s:s,s:s,s:s,s:s,s:I}", "id", PQgetvalue(oldest, 0, 0),
                                          "flow", PQgetvalue(oldest, 0, 1), "state",
                                          PQgetvalue(oldest, 0, 2), "since",
                                          PQgetvalue(oldest, 0, 3), "age_us",
                                          (json_int_t)atoll(PQgetvalue(oldest, 0, 4))));
        else
            json_object_set_new(doc, "oldest_waiting", json_null());
        rc = ctl_json_out(doc);
    } else {
        printf("instances by flow and status\n");
        for (int i = 0; i < PQntuples(counts); i++)
            printf("  %-16s %-10s %8s\n", PQgetvalue(counts, i, 0), PQgetvalue(counts, i, 1),
                   PQgetvalue(counts, i, 2));
        if (PQntuples(counts) == 0)
            printf("  (none)\n");
        printf("\nlive and failed instances by state\n");
        for (int i = 0; i < PQntuples(states); i++)
            printf("  %-16s %-22s %-10s %8s\n", PQgetvalue(states, i, 0), PQgetvalue(states, i, 1),
                   PQgetvalue(states, i, 2), PQgetvalue(states, i, 3));
        if (PQntuples(states) == 0)
            printf("  (none)\n");
        printf("\nlast %ld minute(s): %lld started, %lld transitions (%.1f/min), %lld repairs\n",
               minutes, starts, steps, (double)steps / (double)minutes, repairs);
        if (PQntuples(oldest) > 0) {
            char age[32];
            printf("oldest waiting: %s %s/%s since %s (%s)\n", PQgetvalue(oldest, 0, 0),
                   PQgetvalue(oldest, 0, 1), PQgetvalue(oldest, 0, 2), PQgetvalue(oldest, 0, 3),
                   ctl_fmt_dur(atoll(PQgetvalue(oldest, 0, 4)), age, sizeof age));
        } else {
            printf("oldest waiting: none\n");
        }
        printf("live nodes: %d\n", PQntuples(nodes));
        for (int i = 0; i < PQntuples(nodes); i++)
            printf("  node %s %s (lease until %s)\n", PQgetvalue(nodes, i, 0),
                   PQgetvalue(nodes, i, 1), PQgetvalue(nodes, i, 2));
    }
    PQclear(counts);
    PQclear(states);
    PQclear(tput);
    PQclear(oldest);
    PQclear(nodes);
    return rc;
}
