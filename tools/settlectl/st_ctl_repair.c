/*
 * st_ctl_repair.c — repairs: signal, cancel, wake, retry, suspend, resume,
 * one instance or (all but signal) every instance a filter picks (--all).
 *
 * Layer: tools (settlectl). Each repair reads the instance row
 * (st_store_instance_load), decides here what the row becomes, and writes
 * it with st_store_repair_apply: one statement, conditional on the seq,
 * lease epoch and owner read, that also writes the `repair` history row,
 * flow_counts and the task / inbox effects. A row that moved meanwhile is a
 * conflict: nothing is written and the operator is told to run it again.
 * Safe against running settled nodes:
 *
 *   * signal and cancel use the engine's own inbox (a stored signal;
 *     `settle.cancel` runs the cancel path), so the owner delivers them.
 *   * wake, retry, suspend and resume fence the owner: the repair bumps
 *     lease_epoch, clears owner_node and NOTIFYs settle_work. A node still
 *     holding the instance gets a checkpoint conflict (its epoch and owner
 *     no longer match) and forgets it; a node claims the row afresh and
 *     rebuilds the instance from it. A node that checkpointed or claimed
 *     the instance after settlectl read it makes the repair conflict.
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

/* One repair being prepared: the row read and what it becomes. */
typedef struct plan {
    ctl_t *c;
    const repair_t *rp;
    st_store_instance_t row;
    char id[37];
    st_store_repair_t sr;
    json_t *detail; /* the history row's detail */
    json_t *out;    /* the summary printed */
    char note[512];
    char why[600];          /* suspend: the new wait reason */
    char *before;           /* resume: the wait reason before the suspension */
    st_store_tasks_t tasks; /* retry */
} plan_t;

static void plan_release(plan_t *p)
{
    st_store_instance_release(&p->row);
    json_decref(p->detail);
    json_decref(p->out);
    free(p->before);
    st_store_tasks_free(&p->tasks);
}

static int refuse(st_err_t *err, const char *hint, const char *fmt, const char *a, const char *b)
{
    st_err_set(err, ST_STATE, fmt, a, b);
    st_err_hint(err, "%s", hint);
    return ST_STATE;
}

static const char *status_of(const plan_t *p)
{
    return st_store_status_name(p->row.status);
}

/* The status a suspended instance goes back to when its suspension is not
 * in the history: its state's kind decides. */
static int live_status(plan_t *p, st_store_status_t *to, st_err_t *err)
{
    st_core_program_t *prog = NULL;
    int rc = ctl_core_program(p->c, p->row.program_hash, &prog, err);
    if (rc != 0)
        return rc;
    st_core_kind_t k = st_core_program_state_kind(prog, (uint32_t)p->row.state);
    st_core_program_free(prog);
    *to = k == ST_CORE_KIND_DO ? ST_STORE_RUNNING : ST_STORE_WAITING;
    return 0;
}

/*
 * An attempt a node started before the suspension may still run: the node
 * keeps the instance in memory until its result comes back, and if that
 * node re-claimed the row meanwhile it would skip it (a write in flight)
 * and then drop it on the conflict, leaving the row owned by a live node
 * that no longer runs it. So a running instance is resumed only once its
 * task's timeout (plus a margin) has passed since the suspension, on the
 * database clock; --force skips the wait.
 */
static int attempt_gate(plan_t *p, long long since_us, st_err_t *err)
{
    if (p->rp->force || since_us <= 0)
        return 0;
    st_store_tasks_t t;
    int64_t now = 0;
    int rc = st_store_instance_tasks(p->c->sc, &p->row.id, &t, err);
    if (rc == 0)
        rc = st_store_db_now(p->c->sc, &now, err);
    long long timeout_us = 0;
    for (size_t i = t.n; rc == 0 && i-- > 0;) /* the newest live task of this seq */
        if (t.v[i].seq == p->row.seq &&
            (t.v[i].status == ST_STORE_TASK_PENDING || t.v[i].status == ST_STORE_TASK_RUNNING)) {
            timeout_us = (long long)t.v[i].timeout_ms * 1000;
            break;
        }
    st_store_tasks_free(&t);
    if (rc != 0)
        return rc;
    long long left = since_us + timeout_us + 2000000 - now;
    if (timeout_us > 0 && left > 0) {
        st_err_set(err, ST_STATE,
                   "instance %s was suspended %llds ago; an attempt started before that may still "
                   "be running",
                   p->id, (long long)(now - since_us) / 1000000);
        st_err_hint(err, "try again in %llds (the activity's timeout), or pass --force",
                    left / 1000000 + 1);
        return ST_STATE;
    }
    return 0;
}

/* The suspension in the history: the wait reason before it (p->before),
 * the status it was suspended from (was: NULL when unknown, malloc'd) and
 * when, on the database clock. The last `suspend` repair counts. */
static int before_suspend(plan_t *p, char **was, long long *since_us, st_err_t *err)
{
    *was = NULL;
    *since_us = 0;
    json_t *last = NULL;
    int64_t seq = -1, at = 0;
    for (;;) {
        st_store_hist_rows_t page;
        int rc = st_store_history_list(p->c->sc, &p->row.id, seq, at, 500, &page, err);
        if (rc != 0) {
            json_decref(last);
            return rc;
        }
        for (size_t i = 0; i < page.n; i++) {
            json_t *d = page.v[i].detail_json ? ctl_json_parse(page.v[i].detail_json) : NULL;
            const char *action = json_string_value(json_object_get(d, "action"));
            if (strcmp(page.v[i].kind, "repair") == 0 && action && strcmp(action, "suspend") == 0) {
                json_decref(last);
                last = d;
            } else {
                json_decref(d);
            }
        }
        size_t got = page.n;
        if (got > 0) {
            seq = page.v[got - 1].seq;
            at = page.v[got - 1].at_us;
        }
        st_store_hist_rows_free(&page);
        if (got < 500)
            break;
    }
    const char *rb = json_string_value(json_object_get(last, "reason_before"));
    const char *w = json_string_value(json_object_get(last, "was"));
    p->before = rb ? strdup(rb) : NULL;
    *was = w ? strdup(w) : NULL;
    *since_us = (long long)json_integer_value(json_object_get(last, "suspended_db_us"));
    json_decref(last);
    return 0;
}

/* Unsuspend in place (resume, and cancel of a suspended instance). */
static int unsuspend(plan_t *p, st_err_t *err)
{
    char *was = NULL;
    long long since = 0;
    int rc = before_suspend(p, &was, &since, err);
    st_store_status_t to = ST_STORE_WAITING;
    if (rc == 0 && was != NULL && (strcmp(was, "running") == 0 || strcmp(was, "waiting") == 0))
        to = strcmp(was, "running") == 0 ? ST_STORE_RUNNING : ST_STORE_WAITING;
    else if (rc == 0)
        rc = live_status(p, &to, err);
    free(was);
    if (rc == 0 && to == ST_STORE_RUNNING)
        rc = attempt_gate(p, since, err);
    if (rc != 0)
        return rc;
    p->sr.status = to;
    p->sr.wait_reason = p->before;
    p->sr.reset_running_tasks = to == ST_STORE_RUNNING;
    p->sr.fence = p->sr.notify = true;
    return 0;
}

static int final_status(st_store_status_t s)
{
    return s == ST_STORE_COMPLETED || s == ST_STORE_FAILED || s == ST_STORE_CANCELLED;
}

/* signal: a note when the instance will not take it at once. */
static int signal_note(plan_t *p, const char *name, st_err_t *err)
{
    if (p->row.status == ST_STORE_SUSPENDED) {
        snprintf(p->note, sizeof p->note,
                 "the instance is suspended: the signal waits until `settlectl resume`");
        return 0;
    }
    if (p->row.status != ST_STORE_WAITING) {
        snprintf(p->note, sizeof p->note,
                 "the instance is %s now: the signal is kept and delivered when it waits for it",
                 status_of(p));
        return 0;
    }
    st_core_program_t *prog = NULL;
    int rc = ctl_core_program(p->c, p->row.program_hash, &prog, err);
    if (rc != 0)
        return rc;
    const char *const *names = NULL;
    size_t n = st_core_program_state_signals(prog, (uint32_t)p->row.state, &names);
    int wanted = 0;
    for (size_t i = 0; i < n; i++)
        wanted |= strcmp(names[i], name) == 0;
    if (!wanted)
        snprintf(p->note, sizeof p->note,
                 "state %s does not wait for %s: the signal is kept until a state that does",
                 p->row.state_name, name);
    st_core_program_free(prog);
    return 0;
}

static int plan_signal(plan_t *p, st_err_t *err)
{
    if (final_status(p->row.status))
        return refuse(err,
                      "a finished instance takes no signals; `settlectl show` tells how it ended",
                      "instance %s has ended (%s)", p->id, status_of(p));
    int cancel = p->rp->kind == R_CANCEL;
    const char *name = cancel ? "settle.cancel" : p->rp->signal;
    int rc = 0;
    if (cancel && p->row.status == ST_STORE_SUSPENDED) {
        rc = unsuspend(p, err);
        json_object_set_new(p->detail, "resumed", json_true());
    } else if (!cancel) {
        rc = signal_note(p, name, err);
    }
    if (rc != 0)
        return rc;
    p->sr.signal_name = name;
    p->sr.signal_payload = cancel ? "{}" : p->rp->payload;
    p->sr.notify = p->sr.notify || cancel;
    json_object_set_new(p->detail, "signal", json_string(name));
    json_object_set_new(p->out, "signal", json_string(name));
    if (!cancel) {
        json_t *pl = ctl_json_parse(p->rp->payload);
        json_object_set_new(p->detail, "payload", pl ? pl : json_object());
    }
    return 0;
}

static int plan_wake(plan_t *p, st_err_t *err)
{
    if (p->row.status != ST_STORE_WAITING || p->row.wake_at_us == ST_STORE_NO_TIME)
        return refuse(err,
                      p->row.status == ST_STORE_WAITING
                          ? "it waits only for a signal: send one with `settlectl signal ID NAME`"
                          : "only a sleeping or timed waiting instance has a timer to fire",
                      "instance %s has no timer to fire (%s)", p->id, status_of(p));
    /* The time it entered the wait is on the executor's clock and never
     * after its now, so the timer is due at once on any clock. */
    if (p->row.updated_us < p->sr.wake_at_us)
        p->sr.wake_at_us = p->row.updated_us;
    p->sr.fence = p->sr.notify = true;
    return 0;
}

/* retry: the last task, failed, back to pending with a fresh budget. */
static int plan_retry(plan_t *p, st_err_t *err)
{
    if (p->row.status != ST_STORE_FAILED)
        return refuse(
            err,
            p->row.status == ST_STORE_RUNNING
                ? "the engine is still retrying it; `settlectl show` has the next attempt time"
                : "retry re-runs the activity of a failed instance only",
            "instance %s is %s, not failed", p->id, status_of(p));
    int rc = st_store_instance_tasks(p->c->sc, &p->row.id, &p->tasks, err);
    if (rc != 0)
        return rc;
    const st_store_task_t *t = p->tasks.n ? &p->tasks.v[p->tasks.n - 1] : NULL;
    if (t == NULL || t->status != ST_STORE_TASK_FAILED)
        return refuse(err, "it failed without a failed activity; `settlectl show` has the reason",
                      "instance %s: its last activity did not fail (%s)", p->id,
                      t ? st_store_task_status_name(t->status) : "no activity");
    st_core_program_t *prog = NULL;
    rc = ctl_core_program(p->c, p->row.program_hash, &prog, err);
    int sidx = rc == 0 ? st_core_program_state_index(prog, t->state_name) : -1;
    int64_t bmin, bmax;
    uint32_t budget = sidx >= 0 ? st_core_program_retry(prog, (uint32_t)sidx, &bmin, &bmax) : 0;
    st_core_program_free(prog);
    if (rc != 0)
        return rc;
    if (budget == 0)
        return refuse(err, "the Program changed under the task; inspect it with `settlectl show`",
                      "instance %s: state %s is not an activity state", p->id, t->state_name);
    /* Same idempotency key; attempts continue their count (attempt
     * records are keyed by number) with the state's full budget. */
    p->sr.seq = p->row.seq + 1;
    p->sr.state = sidx;
    p->sr.state_name = p->sr.to_state = t->state_name;
    p->sr.status = ST_STORE_RUNNING;
    p->sr.wake_at_us = ST_STORE_NO_TIME;
    p->sr.wait_reason = NULL;
    p->sr.retry_task_id = t->id;
    p->sr.retry_budget = (int32_t)budget;
    p->sr.fence = p->sr.notify = true;
    json_object_set_new(p->detail, "task", json_integer(t->id));
    json_object_set_new(p->detail, "activity", json_string(t->activity));
    json_object_set_new(p->detail, "idempotency_key", json_string(t->idempotency_key));
    json_object_set_new(p->detail, "attempts_before", json_integer(t->attempt));
    json_object_set_new(p->detail, "more_attempts", json_integer(budget));
    json_object_set_new(p->out, "idempotency_key", json_string(t->idempotency_key));
    return 0;
}

static int plan_suspend(plan_t *p, st_err_t *err)
{
    if (p->row.status != ST_STORE_RUNNING && p->row.status != ST_STORE_WAITING)
        return refuse(err, "only running or waiting instances can be suspended",
                      "instance %s is %s", p->id, status_of(p));
    int64_t now = 0;
    int rc = st_store_db_now(p->c->sc, &now, err);
    if (rc != 0)
        return rc;
    const char *reason = p->rp->reason;
    snprintf(p->why, sizeof p->why, "suspended by %s%s%s", p->c->actor, reason ? ": " : "",
             reason ? reason : "");
    p->sr.status = ST_STORE_SUSPENDED;
    p->sr.wait_reason = p->why;
    p->sr.fence = p->sr.notify = true;
    json_object_set_new(p->detail, "was", json_string(status_of(p)));
    json_object_set_new(p->detail, "suspended_db_us", json_integer(now));
    if (p->row.wait_reason)
        json_object_set_new(p->detail, "reason_before", json_string(p->row.wait_reason));
    return 0;
}

static int plan_resume(plan_t *p, st_err_t *err)
{
    if (p->row.status != ST_STORE_SUSPENDED)
        return refuse(err, "only suspended instances can be resumed", "instance %s is %s", p->id,
                      status_of(p));
    return unsuspend(p, err);
}

static int plan_kind(plan_t *p, st_err_t *err)
{
    switch (p->rp->kind) {
    case R_SIGNAL:
    case R_CANCEL:
        return plan_signal(p, err);
    case R_WAKE:
        return plan_wake(p, err);
    case R_RETRY:
        return plan_retry(p, err);
    case R_SUSPEND:
        return plan_suspend(p, err);
    case R_RESUME:
        return plan_resume(p, err);
    }
    return st_err_set(err, ST_INTERNAL, "unknown repair");
}

/* Write the plan; the summary goes to p->out. */
static int plan_write(plan_t *p, st_err_t *err)
{
    char *d = json_dumps(p->detail, JSON_COMPACT);
    if (d == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    p->sr.detail_json = d;
    st_store_repaired_t done;
    int rc = st_store_repair_apply(p->c->sc, &p->sr, &done, err);
    free(d);
    if (rc == ST_CONFLICT)
        st_err_hint(err,
                    "a node moved it on meanwhile: check it with `settlectl show %s` and run the "
                    "command again if it still applies",
                    p->id);
    if (rc != 0)
        return rc;
    json_t *o = p->out;
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "action", json_string(repair_names[p->rp->kind]));
    json_object_set_new(o, "flow", json_string(p->row.flow));
    json_object_set_new(o, "from_state", json_string(p->row.state_name));
    json_object_set_new(o, "to_state", json_string(p->sr.to_state));
    json_object_set_new(o, "from_status", json_string(status_of(p)));
    json_object_set_new(o, "status", json_string(st_store_status_name(p->sr.status)));
    json_object_set_new(o, "seq", json_integer(p->sr.seq));
    if (p->note[0])
        json_object_set_new(o, "note", json_string(p->note));
    return 0;
}

/* One repair of one instance: read, decide, one conditional write. */
static int repair_one(ctl_t *c, const repair_t *rp, const char *id, json_t **out, st_err_t *err)
{
    *out = NULL;
    st_store_uuid_t u;
    if (ctl_parse_id(id, &u, err) != 0)
        return ST_INVAL;
    plan_t p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.rp = rp;
    int rc = st_store_instance_load(c->sc, &u, &p.row, err);
    if (rc == ST_NOTFOUND) {
        st_err_set(err, ST_NOTFOUND, "no instance %s", id);
        st_err_hint(err, "`settlectl list` shows the instances");
    }
    if (rc != 0)
        return rc;
    st_store_uuid_format(&u, p.id);
    st_store_repair_init(&p.sr, &p.row, c->actor);
    p.detail = json_pack("{s:s}", "action", repair_names[rp->kind]);
    p.out = json_object();
    if (rp->reason)
        json_object_set_new(p.detail, "reason", json_string(rp->reason));
    rc = plan_kind(&p, err);
    if (rc == 0)
        rc = plan_write(&p, err);
    if (rc == 0) {
        *out = p.out;
        p.out = NULL;
    }
    plan_release(&p);
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
        st_store_instances_t r;
        int rc = ctl_filter_query(c, f, after[0] ? after : NULL, 1000, &r, &err);
        if (rc != 0) {
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            free(ids);
            return ctl_fail(c, ctl_exit_for(rc), &err);
        }
        size_t got = r.n;
        for (size_t i = 0; i < got; i++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                char **g = realloc(ids, cap * sizeof *ids);
                if (g == NULL)
                    break;
                ids = g;
            }
            char id[37];
            st_store_uuid_format(&r.v[i].id, id);
            ids[n++] = strdup(id);
        }
        if (got > 0)
            st_store_uuid_format(&r.v[got - 1].id, after);
        st_store_instances_free(&r);
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
        if (rc == ST_DB || rc == ST_IO) /* the connection is in trouble: stop here */
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
