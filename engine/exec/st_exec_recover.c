/*
 * st_exec_recover.c — task recovery: re-dispatch the tasks of instances
 * this node has just taken (claimed after a crash or a takeover, or re-read
 * after an unknown checkpoint outcome), whose task rows were written but
 * not finished.
 *
 * Recovery names its instances: an instance whose state became known with
 * a task to run (ready() in st_exec_inst.c, for a claim or a re-read) or
 * whose task could not be kept in memory goes on the list, and the list
 * goes to the store (st_store_tasks_recover_async, on ctl) at the loop's
 * next turn, so one statement covers a whole claim page. A crash-recovered
 * node thus re-dispatches every open task of every instance it claims.
 *
 * Invariants:
 *   * at most one recovery statement is in flight; its ids are the first
 *     `rec_inflight` entries of the list, removed when it succeeded and
 *     kept for the next claim round when it failed;
 *   * the statement never names an instance whose task this node is
 *     running (such an instance is not on the list: ready() asks only when
 *     no attempt is in flight), and it locks instance rows before task
 *     rows (the store's lock order), so it never deadlocks with this or
 *     another node's checkpoints;
 *   * a returned task is attached only to an instance still waiting for
 *     it (running, same step, no task known, nothing in flight or queued).
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec_int.h"

static void recover_flush(st_exec_t *x);

static void on_recover_soon(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    recover_flush(w->data);
}

void exec_recover_init(st_exec_t *x)
{
    ev_timer_init(&x->recover_w, on_recover_soon, 0.0, 0.0);
    x->recover_w.data = x;
}

void exec_recover_stop(st_exec_t *x)
{
    ev_timer_stop(x->loop, &x->recover_w);
    free(x->rec_ids);
    x->rec_ids = NULL;
    x->rec_n = x->rec_cap = x->rec_inflight = 0;
}

void exec_recover_forget_all(st_exec_t *x)
{
    x->rec_n = x->rec_inflight = 0; /* a reply in flight then removes nothing */
}

static int list_add(st_exec_t *x, const st_store_uuid_t *id)
{
    if (x->rec_n == x->rec_cap) {
        size_t cap = x->rec_cap ? x->rec_cap * 2 : 64;
        st_store_uuid_t *v = realloc(x->rec_ids, cap * sizeof *v);
        if (v == NULL)
            return ST_NOMEM;
        x->rec_ids = v;
        x->rec_cap = cap;
    }
    x->rec_ids[x->rec_n++] = *id;
    return 0;
}

void exec_recover_want(st_exec_t *x, const exec_inst_t *in, int soon)
{
    if (x->freeing)
        return;
    if (list_add(x, &in->id) != 0) {
        /* The row stays as it is: a later claim or re-read asks again. */
        exec_log(x, "out of memory asking for the task of an instance (asked again on its next "
                    "re-read)");
        return;
    }
    if (!soon) {
        x->recover_retry = 1; /* the next claim round */
        return;
    }
    if (!ev_is_active(&x->recover_w) && !x->freeing)
        ev_timer_start(x->loop, &x->recover_w);
}

void exec_recover_tasks(st_exec_t *x)
{
    recover_flush(x);
}

static void attach(st_exec_t *x, const st_store_task_t *t)
{
    exec_inst_t *in = exec_inst_find(x, &t->instance);
    /* Only tasks this node does not already know: a task it dispatched
     * (task.id set) is running or has its result on the way. */
    if (in != NULL && in->core != NULL && !in->dead && in->core->status == ST_CORE_RUNNING &&
        in->core->task_seq == t->seq && in->task.id == 0 && !in->task.inflight && in->ck == NULL &&
        in->qhead == NULL)
        exec_task_recover(x, in, t);
}

static void on_recovered(int rc, const st_err_t *err, st_store_tasks_t *tasks, void *ud)
{
    st_exec_t *x = ud;
    if (x->freeing)
        return;
    x->recovering = 0;
    if (rc != 0) {
        exec_log_err(x, "task recovery failed (tried again each claim round)", err);
        x->rec_inflight = 0; /* the ids stay on the list */
        x->recover_retry = 1;
        return;
    }
    size_t done = x->rec_inflight < x->rec_n ? x->rec_inflight : x->rec_n;
    memmove(x->rec_ids, x->rec_ids + done, (x->rec_n - done) * sizeof *x->rec_ids);
    x->rec_n -= done;
    x->rec_inflight = 0;
    for (size_t i = 0; i < tasks->n; i++)
        attach(x, &tasks->v[i]);
    if (x->rec_n > 0)
        recover_flush(x); /* asked for meanwhile */
    else
        x->recover_retry = 0;
}

/* Send the listed ids (up to the store's limit) unless a round is out;
 * its reply sends the rest. */
static void recover_flush(st_exec_t *x)
{
    st_err_t err;
    if (x->recovering || x->rec_n == 0 || x->shutting_down || x->freeing)
        return;
    size_t n = x->rec_n < ST_STORE_RECOVER_MAX ? x->rec_n : ST_STORE_RECOVER_MAX;
    if (st_store_tasks_recover_async(x->ctl, x->node_id, x->rec_ids, n, on_recovered, x, &err) !=
        0) {
        exec_log_err(x, "task recovery failed (tried again each claim round)", &err);
        x->recover_retry = 1;
        return;
    }
    x->recovering = 1;
    x->rec_inflight = n;
}
