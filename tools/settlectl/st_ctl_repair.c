/*
 * st_ctl_repair.c — repairs: signal, cancel, wake, retry, suspend, resume,
 * one instance or (all but signal) every instance a filter picks (--all).
 *
 * Layer: tools (settlectl). Safe against running settled nodes:
 *
 *   * signal and cancel use the engine's own inbox (a stored signal;
 *     `settle.cancel` runs the cancel path), so the owner delivers them.
 *   * wake, retry, suspend and resume change the instance row directly, in
 *     one transaction that locks the row (FOR UPDATE), bumps lease_epoch and
 *     clears owner_node, writes its `repair` history row and NOTIFYs
 *     settle_work. A node still holding the instance gets a checkpoint
 *     conflict (its epoch and owner no longer match) and forgets it; a node
 *     claims the row afresh and rebuilds the instance from it.
 *   * Only retry bumps seq: a failed instance is in no node's memory, and
 *     the executor rebuilds a RUNNING row's awaited task from task_seq ==
 *     seq, so retry also moves the task to the new seq (its idempotency key
 *     stays). The others keep seq: a node that re-claims an instance it
 *     still holds keeps its in-memory task and timers, which stay valid only
 *     while seq is unchanged (a bumped seq would turn that task's result
 *     stale and leave the instance running with no task).
 *   * resume (and cancel, which resumes a suspended instance) of an
 *     instance in an activity state waits until the task's timeout has
 *     passed since the suspension (attempt_gate), so no attempt started
 *     before it can still be in flight on a node that re-claims the row.
 *   * A repair's history row uses the current seq (retry: the new one) and
 *     a time after every history row of that seq, on the flows' clock.
 *   * flow_counts changes in the same transaction as a status it counts.
 */
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "ctl_int.h"
#include "common/st_input.h"
#include "store/st_store.h"

typedef enum { R_SIGNAL, R_CANCEL, R_WAKE, R_RETRY, R_SUSPEND, R_RESUME } repair_kind_t;

static const char *const repair_names[] = {"signal", "cancel",  "wake",
                                           "retry",  "suspend", "resume"};

typedef struct repair {
    repair_kind_t kind;
    const char *signal;  /* R_SIGNAL */
    const char *payload; /* R_SIGNAL: JSON object text */
    const char *reason;  /* --reason, may be NULL */
    int force;           /* --force: resume without waiting out an attempt */
} repair_t;

/* The locked row. */
typedef struct row {
    char id[37], flow[256], hash[65], state_name[256], status[16];
    int state;
    long long seq;
    char *wait_reason; /* NULL when none */
    long long updated_us;
    long long db_now_us; /* the database clock, for the resume gate */
    int has_wake;
} row_t;

static const char LOCK_SQL[] =
    "SELECT id, flow, program_hash, state, state_name, status::text, seq, wait_reason,"
    "  settle_us(updated_at), wake_at IS NOT NULL, settle_us(clock_timestamp())"
    " FROM instances WHERE id = $1::uuid FOR UPDATE";

static const char HIST_SQL[] =
    "WITH t AS (SELECT greatest(" CTL_NOW_SQL ","
    "  (SELECT max(at) FROM history WHERE instance_id = $1::uuid AND seq = $2::bigint)"
    "   + interval '1 microsecond') AS at)"
    " INSERT INTO history (instance_id, seq, at, kind, from_state, to_state, actor, detail)"
    " SELECT $1::uuid, $2::bigint, t.at, 'repair', $3::text, $4::text, $5::text, $6::jsonb FROM t"
    " RETURNING settle_us(at)";

/* Move one instance of flow from status `from` to `to` in flow_counts, rows
 * in enum order like the engine's checkpoint (no deadlock between them). */
static const char COUNTS_SQL[] =
    "INSERT INTO flow_counts (flow, status, n)"
    " SELECT $1::text, s, d FROM (VALUES ($2::settle_status, -1), ($3::settle_status, 1)) v(s, d)"
    " ORDER BY s"
    " ON CONFLICT (flow, status) DO UPDATE SET n = flow_counts.n + excluded.n";

static int q_ok(ctl_t *c, const char *sql, int n, const char *const *p, st_err_t *err)
{
    PGresult *r = ctl_q(c, sql, n, p, err);
    if (r == NULL)
        return ST_DB;
    PQclear(r);
    return 0;
}

static int lock_row(ctl_t *c, const char *id, row_t *w, st_err_t *err)
{
    const char *p[1] = {id};
    PGresult *r = ctl_q(c, LOCK_SQL, 1, p, err);
    if (r == NULL)
        return ST_DB;
    if (PQntuples(r) == 0) {
        PQclear(r);
        st_err_set(err, ST_NOTFOUND, "no instance %s", id);
        st_err_hint(err, "`settlectl list` shows the instances");
        return ST_NOTFOUND;
    }
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", PQgetvalue(r, 0, 0));
    snprintf(w->flow, sizeof w->flow, "%s", PQgetvalue(r, 0, 1));
    snprintf(w->hash, sizeof w->hash, "%s", PQgetvalue(r, 0, 2));
    w->state = atoi(PQgetvalue(r, 0, 3));
    snprintf(w->state_name, sizeof w->state_name, "%s", PQgetvalue(r, 0, 4));
    snprintf(w->status, sizeof w->status, "%s", PQgetvalue(r, 0, 5));
    w->seq = atoll(PQgetvalue(r, 0, 6));
    w->wait_reason = ctl_val(r, 0, 7) ? strdup(PQgetvalue(r, 0, 7)) : NULL;
    w->updated_us = atoll(PQgetvalue(r, 0, 8));
    w->has_wake = PQgetvalue(r, 0, 9)[0] == 't';
    w->db_now_us = atoll(PQgetvalue(r, 0, 10));
    PQclear(r);
    return 0;
}

static int refuse(st_err_t *err, const char *hint, const char *fmt, const char *a, const char *b)
{
    st_err_set(err, ST_STATE, fmt, a, b);
    st_err_hint(err, "%s", hint);
    return ST_STATE;
}

static int write_hist(ctl_t *c, const row_t *w, long long seq, const char *from, const char *to,
                      json_t *detail, st_err_t *err)
{
    char seqb[32];
    snprintf(seqb, sizeof seqb, "%lld", seq);
    char *d = json_dumps(detail, JSON_COMPACT);
    if (d == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    const char *p[6] = {w->id, seqb, from, to, c->actor, d};
    int rc = q_ok(c, HIST_SQL, 6, p, err);
    free(d);
    return rc;
}

static int move_count(ctl_t *c, const char *flow, const char *from, const char *to, st_err_t *err)
{
    const char *p[3] = {flow, from, to};
    return q_ok(c, COUNTS_SQL, 3, p, err);
}

static int notify_work(ctl_t *c, st_err_t *err)
{
    return q_ok(c, "SELECT pg_notify('settle_work', '')", 0, NULL, err);
}

/* The status a suspended instance goes back to when its suspension is not
 * in the history: its state's kind decides. */
static int live_status(ctl_t *c, const row_t *w, const char **status, st_err_t *err)
{
    st_core_program_t *p = NULL;
    int rc = ctl_core_program(c, w->hash, &p, err);
    if (rc != 0)
        return rc;
    st_core_kind_t k = st_core_program_state_kind(p, (uint32_t)w->state);
    st_core_program_free(p);
    *status = k == ST_CORE_KIND_DO ? "running" : "waiting";
    return 0;
}

/* Unsuspend in place (resume, and cancel of a suspended instance). */
/*
 * An attempt a node started before the suspension may still run: the node
 * keeps the instance in memory until its result comes back, and if that
 * node re-claimed the row meanwhile it would skip it (a write in flight)
 * and then drop it on the conflict, leaving the row owned by a live node
 * that no longer runs it. So a running instance is resumed only once its
 * task's timeout (plus a margin) has passed since the suspension, on the
 * database clock; --force skips the wait.
 */
static int attempt_gate(ctl_t *c, const row_t *w, long long since_us, int force, st_err_t *err)
{
    if (force || since_us <= 0)
        return 0;
    char seqb[32];
    snprintf(seqb, sizeof seqb, "%lld", w->seq);
    const char *p[2] = {w->id, seqb};
    PGresult *r = ctl_q(c,
                        "SELECT timeout_ms FROM tasks WHERE instance_id = $1::uuid"
                        " AND seq = $2::bigint AND status IN ('pending', 'running')"
                        " ORDER BY id DESC LIMIT 1",
                        2, p, err);
    if (r == NULL)
        return ST_DB;
    long long timeout_us = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) * 1000 : 0;
    PQclear(r);
    long long left = since_us + timeout_us + 2000000 - w->db_now_us;
    if (timeout_us > 0 && left > 0) {
        st_err_set(err, ST_STATE,
                   "instance %s was suspended %llds ago; an attempt started before that may still "
                   "be running",
                   w->id, (w->db_now_us - since_us) / 1000000);
        st_err_hint(err, "try again in %llds (the activity's timeout), or pass --force",
                    left / 1000000 + 1);
        return ST_STATE;
    }
    return 0;
}

static int unsuspend(ctl_t *c, const row_t *w, const char *reason_before, const char *was,
                     long long since_us, int force, const char **to, st_err_t *err)
{
    int rc = 0;
    if (was != NULL && (strcmp(was, "running") == 0 || strcmp(was, "waiting") == 0))
        *to = strcmp(was, "running") == 0 ? "running" : "waiting";
    else
        rc = live_status(c, w, to, err);
    if (rc == 0 && strcmp(*to, "running") == 0)
        rc = attempt_gate(c, w, since_us, force, err);
    if (rc != 0)
        return rc;
    const char *p[3] = {w->id, *to, reason_before};
    rc = q_ok(c,
              "UPDATE instances SET status = $2::settle_status, wait_reason = $3::text,"
              " owner_node = NULL, lease_epoch = lease_epoch + 1 WHERE id = $1::uuid",
              3, p, err);
    if (rc == 0 && strcmp(*to, "running") == 0)
        rc = q_ok(c,
                  "UPDATE tasks SET status = 'pending', updated_at = now()"
                  " WHERE instance_id = $1::uuid AND status = 'running'",
                  1, p, err);
    if (rc == 0)
        rc = move_count(c, w->flow, "suspended", *to, err);
    return rc;
}

/* The wait reason and status the instance had before its last
 * suspension (*was: NULL when unknown); the reason is returned. */
static char *before_suspend(ctl_t *c, const row_t *w, char **was, long long *since_us,
                            st_err_t *err)
{
    const char *p[1] = {w->id};
    *was = NULL;
    *since_us = 0;
    PGresult *r = ctl_q(c,
                        "SELECT detail->>'reason_before', detail->>'was',"
                        " (detail->>'suspended_db_us')::bigint FROM history"
                        " WHERE instance_id = $1::uuid"
                        " AND kind = 'repair' AND detail->>'action' = 'suspend'"
                        " ORDER BY seq DESC, at DESC LIMIT 1",
                        1, p, err);
    if (r == NULL)
        return NULL;
    char *s = PQntuples(r) && ctl_val(r, 0, 0) ? strdup(PQgetvalue(r, 0, 0)) : NULL;
    if (PQntuples(r) && ctl_val(r, 0, 1))
        *was = strdup(PQgetvalue(r, 0, 1));
    if (PQntuples(r) && ctl_val(r, 0, 2))
        *since_us = atoll(PQgetvalue(r, 0, 2));
    PQclear(r);
    return s;
}

static int final_status(const char *s)
{
    return strcmp(s, "completed") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0;
}

/* Apply rp to the locked row w; fills *out (a JSON summary). Inside a
 * transaction the caller commits or rolls back. */
static int apply(ctl_t *c, const repair_t *rp, const row_t *w, json_t *out, st_err_t *err)
{
    json_t *detail = json_pack("{s:s}", "action", repair_names[rp->kind]);
    if (rp->reason)
        json_object_set_new(detail, "reason", json_string(rp->reason));
    const char *to_state = w->state_name, *to_status = w->status;
    long long seq = w->seq;
    int rc = 0;
    char note[512] = "";
    switch (rp->kind) {
    case R_SIGNAL:
    case R_CANCEL: {
        if (final_status(w->status)) {
            rc = refuse(err,
                        "a finished instance takes no signals; `settlectl show` tells how it ended",
                        "instance %s has ended (%s)", w->id, w->status);
            break;
        }
        const char *name = rp->kind == R_CANCEL ? "settle.cancel" : rp->signal;
        if (strcmp(w->status, "suspended") == 0) {
            if (rp->kind == R_SIGNAL) {
                snprintf(note, sizeof note,
                         "the instance is suspended: the signal waits until `settlectl resume`");
            } else {
                char *was = NULL;
                long long since = 0;
                char *before = before_suspend(c, w, &was, &since, err);
                rc = unsuspend(c, w, before, was, since, rp->force, &to_status, err);
                free(before);
                free(was);
                json_object_set_new(detail, "resumed", json_true());
            }
        }
        if (rc == 0 && rp->kind == R_SIGNAL && note[0] == '\0' && strcmp(w->status, "waiting")) {
            snprintf(
                note, sizeof note,
                "the instance is %s now: the signal is kept and delivered when it waits for it",
                w->status);
        } else if (rc == 0 && rp->kind == R_SIGNAL && note[0] == '\0') {
            st_core_program_t *p = NULL;
            rc = ctl_core_program(c, w->hash, &p, err);
            if (rc == 0) {
                const char *const *names = NULL;
                size_t n = st_core_program_state_signals(p, (uint32_t)w->state, &names);
                int wanted = 0;
                for (size_t i = 0; i < n; i++)
                    wanted |= strcmp(names[i], name) == 0;
                if (!wanted)
                    snprintf(
                        note, sizeof note,
                        "state %s does not wait for %s: the signal is kept until a state that does",
                        w->state_name, name);
                st_core_program_free(p);
            }
        }
        if (rc == 0) {
            const char *p[4] = {w->id, name, rp->kind == R_SIGNAL ? rp->payload : "{}", c->actor};
            PGresult *r = ctl_q(c,
                                "INSERT INTO signals (instance_id, name, payload, source)"
                                " VALUES ($1::uuid, $2::text, $3::jsonb, $4::text) RETURNING id",
                                4, p, err);
            if (r == NULL) {
                rc = ST_DB;
            } else {
                json_object_set_new(detail, "signal", json_string(name));
                json_object_set_new(out, "signal", json_string(name));
                json_object_set_new(detail, "signal_id", json_integer(atoll(PQgetvalue(r, 0, 0))));
                if (rp->kind == R_SIGNAL) {
                    json_t *pl = ctl_json_parse(rp->payload);
                    json_object_set_new(detail, "payload", pl ? pl : json_object());
                }
                PQclear(r);
            }
        }
        break;
    }
    case R_WAKE: {
        if (strcmp(w->status, "waiting") != 0 || !w->has_wake) {
            rc = refuse(err,
                        strcmp(w->status, "waiting") == 0
                            ? "it waits only for a signal: send one with `settlectl signal ID NAME`"
                            : "only a sleeping or timed waiting instance has a timer to fire",
                        "instance %s has no timer to fire (%s)", w->id, w->status);
            break;
        }
        char up[32];
        snprintf(up, sizeof up, "%lld", w->updated_us);
        const char *p[2] = {w->id, up};
        /* The time it entered the wait is on the executor's clock and never
         * after its now, so the timer is due at once on any clock. */
        rc = q_ok(c,
                  "UPDATE instances SET wake_at = least(wake_at, settle_ts($2::bigint)),"
                  " owner_node = NULL, lease_epoch = lease_epoch + 1 WHERE id = $1::uuid",
                  2, p, err);
        break;
    }
    case R_RETRY: {
        if (strcmp(w->status, "failed") != 0) {
            rc = refuse(
                err,
                strcmp(w->status, "running") == 0
                    ? "the engine is still retrying it; `settlectl show` has the next attempt time"
                    : "retry re-runs the activity of a failed instance only",
                "instance %s is %s, not failed", w->id, w->status);
            break;
        }
        const char *p1[1] = {w->id};
        PGresult *t = ctl_q(c,
                            "SELECT id, state_name, activity, status::text, attempt,"
                            " idempotency_key FROM tasks WHERE instance_id = $1::uuid"
                            " ORDER BY id DESC LIMIT 1 FOR UPDATE",
                            1, p1, err);
        if (t == NULL) {
            rc = ST_DB;
            break;
        }
        if (PQntuples(t) == 0 || strcmp(PQgetvalue(t, 0, 3), "failed") != 0) {
            rc = refuse(err, "it failed without a failed activity; `settlectl show` has the reason",
                        "instance %s: its last activity did not fail (%s)", w->id,
                        PQntuples(t) ? PQgetvalue(t, 0, 3) : "no activity");
            PQclear(t);
            break;
        }
        st_core_program_t *prog = NULL;
        rc = ctl_core_program(c, w->hash, &prog, err);
        int sidx = rc == 0 ? st_core_program_state_index(prog, PQgetvalue(t, 0, 1)) : -1;
        int64_t bmin, bmax;
        uint32_t budget = sidx >= 0 ? st_core_program_retry(prog, (uint32_t)sidx, &bmin, &bmax) : 0;
        st_core_program_free(prog);
        if (rc == 0 && budget == 0) {
            rc = refuse(err, "the Program changed under the task; inspect it with `settlectl show`",
                        "instance %s: state %s is not an activity state", w->id,
                        PQgetvalue(t, 0, 1));
        }
        if (rc == 0) {
            seq = w->seq + 1;
            char seqb[32], sidxb[16], budb[16];
            snprintf(seqb, sizeof seqb, "%lld", seq);
            snprintf(sidxb, sizeof sidxb, "%d", sidx);
            snprintf(budb, sizeof budb, "%u", budget);
            to_state = PQgetvalue(t, 0, 1);
            to_status = "running";
            const char *pi[4] = {w->id, seqb, sidxb, to_state};
            rc = q_ok(c,
                      "UPDATE instances SET status = 'running', seq = $2::bigint, state = $3::int,"
                      " state_name = $4::text, wake_at = NULL, wait_reason = NULL,"
                      " owner_node = NULL, lease_epoch = lease_epoch + 1 WHERE id = $1::uuid",
                      4, pi, err);
            /* Same idempotency key; attempts continue their count (attempt
             * records are keyed by number) with the state's full budget. */
            const char *pt[3] = {PQgetvalue(t, 0, 0), seqb, budb};
            if (rc == 0)
                rc = q_ok(c,
                          "UPDATE tasks SET status = 'pending', seq = $2::bigint,"
                          " max_attempts = attempt + $3::int, not_before = created_at,"
                          " outcome = NULL, result = NULL, updated_at = now()"
                          " WHERE id = $1::bigint",
                          3, pt, err);
            if (rc == 0)
                rc = move_count(c, w->flow, "failed", "running", err);
            json_object_set_new(detail, "task", json_integer(atoll(PQgetvalue(t, 0, 0))));
            json_object_set_new(detail, "activity", json_string(PQgetvalue(t, 0, 2)));
            json_object_set_new(detail, "idempotency_key", json_string(PQgetvalue(t, 0, 5)));
            json_object_set_new(detail, "attempts_before", json_integer(atoi(PQgetvalue(t, 0, 4))));
            json_object_set_new(detail, "more_attempts", json_integer(budget));
            if (rc == 0)
                rc = write_hist(c, w, seq, w->state_name, to_state, detail, err);
            to_state = NULL;
        }
        if (rc == 0) {
            json_object_set_new(out, "to_state", json_string(PQgetvalue(t, 0, 1)));
            json_object_set_new(out, "idempotency_key", json_string(PQgetvalue(t, 0, 5)));
        }
        PQclear(t);
        break;
    }
    case R_SUSPEND: {
        if (strcmp(w->status, "running") != 0 && strcmp(w->status, "waiting") != 0) {
            rc = refuse(err, "only running or waiting instances can be suspended",
                        "instance %s is %s", w->id, w->status);
            break;
        }
        char why[600];
        snprintf(why, sizeof why, "suspended by %s%s%s", c->actor, rp->reason ? ": " : "",
                 rp->reason ? rp->reason : "");
        const char *p[2] = {w->id, why};
        rc = q_ok(c,
                  "UPDATE instances SET status = 'suspended', wait_reason = $2::text,"
                  " owner_node = NULL, lease_epoch = lease_epoch + 1 WHERE id = $1::uuid",
                  2, p, err);
        if (rc == 0)
            rc = move_count(c, w->flow, w->status, "suspended", err);
        json_object_set_new(detail, "was", json_string(w->status));
        json_object_set_new(detail, "suspended_db_us", json_integer(w->db_now_us));
        if (w->wait_reason)
            json_object_set_new(detail, "reason_before", json_string(w->wait_reason));
        to_status = "suspended";
        break;
    }
    case R_RESUME: {
        if (strcmp(w->status, "suspended") != 0) {
            rc = refuse(err, "only suspended instances can be resumed", "instance %s is %s", w->id,
                        w->status);
            break;
        }
        char *was = NULL;
        long long since = 0;
        char *before = before_suspend(c, w, &was, &since, err);
        rc = unsuspend(c, w, before, was, since, rp->force, &to_status, err);
        free(before);
        free(was);
        break;
    }
    }
    if (rc == 0 && to_state != NULL)
        rc = write_hist(c, w, seq, w->state_name, to_state, detail, err);
    if (rc == 0 && rp->kind != R_SIGNAL)
        rc = notify_work(c, err);
    if (rc == 0) {
        json_object_set_new(out, "id", json_string(w->id));
        json_object_set_new(out, "action", json_string(repair_names[rp->kind]));
        json_object_set_new(out, "flow", json_string(w->flow));
        json_object_set_new(out, "from_state", json_string(w->state_name));
        if (json_object_get(out, "to_state") == NULL)
            json_object_set_new(out, "to_state", json_string(w->state_name));
        json_object_set_new(out, "from_status", json_string(w->status));
        json_object_set_new(out, "status", json_string(to_status));
        json_object_set_new(out, "seq", json_integer(seq));
        if (note[0])
            json_object_set_new(out, "note", json_string(note));
    }
    json_decref(detail);
    return rc;
}

/* One repair of one instance in its own transaction. */
static int repair_one(ctl_t *c, const repair_t *rp, const char *id, json_t **out, st_err_t *err)
{
    *out = NULL;
    st_store_uuid_t u;
    if (st_store_uuid_parse(id, &u) != 0) {
        st_err_set(err, ST_INVAL, "'%s' is not an instance id (a UUID)", id);
        st_err_hint(err, "`settlectl list` shows the ids");
        return ST_INVAL;
    }
    if (ctl_exec_simple(c, "BEGIN", err) != 0)
        return ST_DB;
    row_t w;
    memset(&w, 0, sizeof w);
    int rc = lock_row(c, id, &w, err);
    json_t *res = json_object();
    if (rc == 0)
        rc = apply(c, rp, &w, res, err);
    if (rc == 0)
        rc = ctl_exec_simple(c, "COMMIT", err);
    else
        ctl_rollback(c);
    if (rc == 0)
        *out = res;
    else
        json_decref(res);
    free(w.wait_reason);
    return rc;
}

static void print_result(const json_t *r)
{
    const char *action = json_string_value(json_object_get(r, "action"));
    const char *id = json_string_value(json_object_get(r, "id"));
    if (strcmp(action, "signal") == 0 || strcmp(action, "cancel") == 0) {
        printf("%s %s: %s stored for %s/%s (%s)\n", action, id,
               json_string_value(json_object_get(r, "signal")),
               json_string_value(json_object_get(r, "flow")),
               json_string_value(json_object_get(r, "to_state")),
               json_string_value(json_object_get(r, "status")));
        if (json_object_get(r, "note"))
            printf("  note: %s\n", json_string_value(json_object_get(r, "note")));
        printf("  recorded; settled delivers it to the instance\n");
        return;
    }
    printf("%s %s: %s/%s (%s) -> %s (%s)\n", action, id,
           json_string_value(json_object_get(r, "flow")),
           json_string_value(json_object_get(r, "from_state")),
           json_string_value(json_object_get(r, "from_status")),
           json_string_value(json_object_get(r, "to_state")),
           json_string_value(json_object_get(r, "status")));
    if (json_object_get(r, "idempotency_key"))
        printf("  same idempotency key %s\n",
               json_string_value(json_object_get(r, "idempotency_key")));
    if (json_object_get(r, "note"))
        printf("  note: %s\n", json_string_value(json_object_get(r, "note")));
    if (strcmp(action, "suspend") != 0)
        printf("  recorded; a settled node picks the instance up at once (or at its start)\n");
    else
        printf("  recorded; no node will run it until `settlectl resume %s`\n", id);
}

static int run_single(ctl_t *c, const repair_t *rp, const char *id)
{
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    json_t *res = NULL;
    int rc = repair_one(c, rp, id, &res, &err);
    if (rc != 0)
        return ctl_fail(c, ctl_exit_for(rc), &err);
    if (c->json)
        return ctl_json_out(res);
    print_result(res);
    json_decref(res);
    return CTL_EXIT_OK;
}

/* Every instance the filter picks, page by page, then one repair each. */
static int run_bulk(ctl_t *c, const repair_t *rp, const ctl_filter_t *f, int dry)
{
    const char *cmd = repair_names[rp->kind];
    if (ctl_filter_empty(f))
        return ctl_usage(c, cmd, "--all needs at least one filter (--flow, --state, ...)");
    if (ctl_db(c) == NULL)
        return CTL_EXIT_ERROR;
    st_err_t err;
    char **ids = NULL;
    size_t n = 0, cap = 0;
    char after[37] = "";
    for (;;) {
        PGresult *r = NULL;
        int rc = ctl_filter_query(c, f, after[0] ? after : NULL, 1000, &r, &err);
        if (rc != 0) {
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            free(ids);
            return ctl_fail(c, ctl_exit_for(rc), &err);
        }
        int got = PQntuples(r);
        for (int i = 0; i < got; i++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                char **g = realloc(ids, cap * sizeof *ids);
                if (g == NULL)
                    break;
                ids = g;
            }
            ids[n++] = strdup(PQgetvalue(r, i, 0));
        }
        if (got > 0)
            snprintf(after, sizeof after, "%s", PQgetvalue(r, got - 1, 0));
        PQclear(r);
        if (got < 1000)
            break;
    }
    json_t *done = json_array(), *refused = json_array();
    for (size_t i = 0; i < n; i++) {
        if (dry) {
            json_array_append_new(done, json_pack("{s:s}", "id", ids[i]));
            continue;
        }
        json_t *res = NULL;
        int rc = repair_one(c, rp, ids[i], &res, &err);
        if (rc == 0)
            json_array_append_new(done, res);
        else
            json_array_append_new(refused, json_pack("{s:s,s:s}", "id", ids[i], "error", err.msg));
        if (rc == ST_DB) /* the connection is in trouble: stop here */
            break;
        ctl_progress(c, cmd, i + 1, n);
    }
    int nrefused = (int)json_array_size(refused);
    if (c->json) {
        ctl_json_out(json_pack("{s:s,s:b,s:i,s:o,s:o}", "action", cmd, "dry_run", dry, "matched",
                               (int)n, dry ? "would" : "done", done, "refused", refused));
    } else {
        size_t k;
        json_t *v;
        if (dry) {
            json_array_foreach(done, k, v)
                printf("would %s %s\n", cmd, json_string_value(json_object_get(v, "id")));
            printf("%zu instance(s) match; run again without --dry-run to %s them\n", n, cmd);
        } else {
            json_array_foreach(refused, k, v)
                fprintf(stderr, "settlectl: %s %s refused: %s\n", cmd,
                        json_string_value(json_object_get(v, "id")),
                        json_string_value(json_object_get(v, "error")));
            printf("%s: %zu done, %d refused of %zu matched\n", cmd, json_array_size(done),
                   nrefused, n);
        }
        json_decref(done);
        json_decref(refused);
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return nrefused > 0 ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}

static int run_repair(ctl_t *c, repair_kind_t kind, int bulk_ok, int argc, char **argv)
{
    const char *cmd = repair_names[kind];
    repair_t rp = {.kind = kind};
    ctl_filter_t f = {0};
    int all = 0, dry = 0;
    const ctl_opt_t opts[] = {{"reason", 1, &rp.reason, NULL},
                              {"force", 0, NULL, &rp.force},
                              {"all", 0, NULL, &all},
                              {"dry-run", 0, NULL, &dry},
                              CTL_FILTER_OPTS(f),
                              {0}};
    const ctl_opt_t single[] = {
        {"reason", 1, &rp.reason, NULL}, {"force", 0, NULL, &rp.force}, {0}};
    const char *pos[1] = {0};
    int n = ctl_opts_parse(c, cmd, argc, argv, bulk_ok ? opts : single, pos, 1);
    if (n < 0)
        return CTL_EXIT_USAGE;
    if (all) {
        if (n != 0)
            return ctl_usage(c, cmd, "give either an ID or --all with filters, not both");
        return run_bulk(c, &rp, &f, dry);
    }
    if (!ctl_filter_empty(&f) || dry)
        return ctl_usage(c, cmd, "filters and --dry-run go with --all");
    if (n != 1)
        return ctl_usage(c, cmd, "give the instance ID");
    return run_single(c, &rp, pos[0]);
}

int ctl_cmd_signal(ctl_t *c, int argc, char **argv)
{
    repair_t rp = {.kind = R_SIGNAL};
    const ctl_opt_t opts[] = {{"reason", 1, &rp.reason, NULL}, {0}};
    const char *pos[3] = {0};
    int n = ctl_opts_parse(c, "signal", argc, argv, opts, pos, 3);
    if (n < 0)
        return CTL_EXIT_USAGE;
    if (n < 2)
        return ctl_usage(c, "signal", "give the instance ID and the signal NAME");
    rp.signal = pos[1];
    rp.payload = n == 3 ? pos[2] : "{}";
    st_err_t nerr;
    if (st_input_signal_check(rp.signal, &nerr) != 0)
        return ctl_usage(c, "signal",
                         "%s (settle.* names are the engine's; use `settlectl cancel` to cancel)",
                         nerr.msg);
    json_t *pl = ctl_json_parse(rp.payload);
    int is_obj = json_is_object(pl);
    json_decref(pl);
    if (!is_obj)
        return ctl_usage(c, "signal",
                         "the payload must be a JSON object, e.g. '{\"card\": \"pm_x\"}'");
    return run_single(c, &rp, pos[0]);
}

int ctl_cmd_cancel(ctl_t *c, int argc, char **argv)
{
    return run_repair(c, R_CANCEL, 1, argc, argv);
}

int ctl_cmd_wake(ctl_t *c, int argc, char **argv)
{
    return run_repair(c, R_WAKE, 1, argc, argv);
}

int ctl_cmd_retry(ctl_t *c, int argc, char **argv)
{
    return run_repair(c, R_RETRY, 1, argc, argv);
}

int ctl_cmd_suspend(ctl_t *c, int argc, char **argv)
{
    return run_repair(c, R_SUSPEND, 1, argc, argv);
}

int ctl_cmd_resume(ctl_t *c, int argc, char **argv)
{
    return run_repair(c, R_RESUME, 1, argc, argv);
}
