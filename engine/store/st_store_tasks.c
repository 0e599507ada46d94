/*
 * st_store_tasks.c — the outbox of side effects, recovery of unfinished
 * tasks, and the pages of due wake times the timer loads.
 *
 * Layer: store. Depends on st_store_conn, st_store_util.
 *
 * Invariants:
 *   * a task is written by the checkpoint that asked for it and keeps its
 *     idempotency key for life, so every re-dispatch after a crash carries
 *     the same key;
 *   * dispatchers claim due tasks with SKIP LOCKED and mark them running,
 *     so two dispatchers never start the same attempt;
 *   * a finished task (done, failed, cancelled) is never changed again.
 */
#include "store/st_store_int.h"
#include "store/st_store_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int task_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_tasks_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++) {
        st_store_task_t *t = &out->v[out->n++];
        t->id = st_store_get_i64(r, i, 0);
        st_store_get_uuid(r, i, 1, &t->instance);
        t->seq = st_store_get_i64(r, i, 2);
        t->state_name = st_store_get_str(r, i, 3);
        t->activity = st_store_get_str(r, i, 4);
        t->args_json = st_store_get_str(r, i, 5);
        t->idempotency_key = st_store_get_str(r, i, 6);
        st_store_task_status_parse(PQgetvalue(r, i, 7), &t->status);
        t->attempt = (int32_t)st_store_get_i64(r, i, 8);
        t->max_attempts = (int32_t)st_store_get_i64(r, i, 9);
        t->timeout_ms = (int32_t)st_store_get_i64(r, i, 10);
        t->not_before_us = st_store_get_time(r, i, 11);
        if (!t->state_name || !t->activity || !t->args_json || !t->idempotency_key)
            return st_err_set(err, ST_NOMEM, "out of memory");
    }
    return 0;
}

void st_store_tasks_free(st_store_tasks_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].state_name);
        free(list->v[i].activity);
        free(list->v[i].args_json);
        free(list->v[i].idempotency_key);
    }
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int st_store_tasks_claim_due(st_store_conn_t *c, int64_t node_id, int64_t now_us, unsigned limit,
                             st_store_tasks_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, now_us);
    st_store_p_i64(&p, limit);
    int rc = st_store_exec1(c, ST_STORE_Q_TASKS_CLAIM_DUE, &p, task_rows, out, err);
    if (rc < 0)
        st_store_tasks_free(out);
    return rc;
}

static void tasks_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_tasks_cb)cb)(rc, err, ctx, ud);
}

static void tasks_release(void *ctx)
{
    st_store_tasks_free(ctx);
}

static const st_store_read_spec_t tasks_spec = {sizeof(st_store_tasks_t), task_rows, tasks_deliver,
                                                tasks_release};

int st_store_tasks_claim_due_async(st_store_conn_t *c, int64_t node_id, int64_t now_us,
                                   unsigned limit, st_store_tasks_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_i64(&p, node_id);
    st_store_p_i64(&p, now_us);
    st_store_p_i64(&p, limit);
    return st_store_exec1_read_async(c, ST_STORE_Q_TASKS_CLAIM_DUE, &p, &tasks_spec,
                                     (st_store_any_cb)cb, ud, err);
}

/* Parameters of TASK_ATTEMPT; ST_INVAL for a malformed attempt. */
static int attempt_params(st_store_params_t *p, const st_store_attempt_t *a, st_err_t *err)
{
    if (!a->outcome || a->finished_us < a->started_us)
        return st_err_set(err, ST_INVAL, "attempt needs an outcome and finished >= started");
    st_store_p_init(p);
    st_store_p_i64(p, a->task_id);
    st_store_p_i64(p, a->attempt);
    st_store_p_i64(p, a->started_us);
    st_store_p_i64(p, a->finished_us);
    st_store_p_text(p, a->outcome);
    st_store_p_text(p, a->code);
    st_store_p_text(p, a->error);
    return 0;
}

int st_store_task_attempt_record(st_store_conn_t *c, const st_store_attempt_t *a, st_err_t *err)
{
    st_store_params_t p;
    int rc = attempt_params(&p, a, err);
    return rc < 0 ? rc : st_store_exec1(c, ST_STORE_Q_TASK_ATTEMPT, &p, NULL, NULL, err);
}

int st_store_task_attempt_record_async(st_store_conn_t *c, const st_store_attempt_t *a,
                                       st_store_done_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    int rc = attempt_params(&p, a, err);
    return rc < 0 ? rc : st_store_exec1_async(c, ST_STORE_Q_TASK_ATTEMPT, &p, 0, NULL, cb, ud, err);
}

static int rows_seen(const PGresult *r, void *ctx, st_err_t *err)
{
    *(int *)ctx = PQntuples(r);
    return 0;
}

static void reschedule_params(st_store_params_t *p, int64_t task_id, int64_t not_before_us,
                              const char *last_error)
{
    st_store_p_init(p);
    st_store_p_i64(p, task_id);
    st_store_p_i64(p, not_before_us);
    st_store_p_text(p, last_error);
}

static void finished_msg(char *buf, size_t cap, int64_t task_id)
{
    snprintf(buf, cap, "task %lld is finished or missing", (long long)task_id);
}

int st_store_task_reschedule(st_store_conn_t *c, int64_t task_id, int64_t not_before_us,
                             const char *last_error, st_err_t *err)
{
    st_store_params_t p;
    reschedule_params(&p, task_id, not_before_us, last_error);
    int n = 0;
    int rc = st_store_exec1(c, ST_STORE_Q_TASK_RESCHEDULE, &p, rows_seen, &n, err);
    if (rc == 0 && n == 0)
        return st_err_set(err, ST_CONFLICT, "task %lld is finished or missing", (long long)task_id);
    return rc;
}

int st_store_task_reschedule_async(st_store_conn_t *c, int64_t task_id, int64_t not_before_us,
                                   const char *last_error, st_store_done_cb cb, void *ud,
                                   st_err_t *err)
{
    st_store_params_t p;
    char msg[96];
    reschedule_params(&p, task_id, not_before_us, last_error);
    finished_msg(msg, sizeof msg, task_id);
    return st_store_exec1_async(c, ST_STORE_Q_TASK_RESCHEDULE, &p, ST_CONFLICT, msg, cb, ud, err);
}

static int finish_params(st_store_params_t *p, const st_store_task_done_t *d, st_err_t *err)
{
    if (d->status != ST_STORE_TASK_DONE && d->status != ST_STORE_TASK_FAILED &&
        d->status != ST_STORE_TASK_CANCELLED)
        return st_err_set(err, ST_INVAL, "a task finishes done, failed or cancelled");
    st_store_p_init(p);
    st_store_p_i64(p, d->task_id);
    st_store_p_text(p, st_store_task_status_name(d->status));
    st_store_p_text(p, d->outcome);
    st_store_p_text(p, d->result_json);
    return 0;
}

int st_store_task_finish(st_store_conn_t *c, const st_store_task_done_t *d, st_err_t *err)
{
    st_store_params_t p;
    int rc = finish_params(&p, d, err);
    if (rc < 0)
        return rc;
    int n = 0;
    rc = st_store_exec1(c, ST_STORE_Q_TASK_FINISH, &p, rows_seen, &n, err);
    if (rc == 0 && n == 0)
        return st_err_set(err, ST_CONFLICT, "task %lld is finished or missing",
                          (long long)d->task_id);
    return rc;
}

int st_store_task_finish_async(st_store_conn_t *c, const st_store_task_done_t *d,
                               st_store_done_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    char msg[96];
    int rc = finish_params(&p, d, err);
    if (rc < 0)
        return rc;
    finished_msg(msg, sizeof msg, d->task_id);
    return st_store_exec1_async(c, ST_STORE_Q_TASK_FINISH, &p, ST_CONFLICT, msg, cb, ud, err);
}

/* Parameters of TASKS_RECOVER; the id list's literal lives in ids, which
 * the caller releases after sending. */
static int recover_params(st_store_params_t *p, st_store_arr_t *ids, int64_t node_id,
                          const st_store_uuid_t *v, size_t n, st_err_t *err)
{
    st_store_arr_begin(ids); /* released by the caller whatever happens */
    if (n > ST_STORE_RECOVER_MAX)
        return st_err_set(err, ST_INVAL, "task recovery names %zu instances (at most %d)", n,
                          ST_STORE_RECOVER_MAX);
    for (size_t i = 0; i < n; i++)
        st_store_arr_uuid(ids, &v[i]);
    const char *lit = st_store_arr_end(ids);
    if (!lit)
        return st_err_set(err, ST_NOMEM, "out of memory");
    st_store_p_init(p);
    st_store_p_i64(p, node_id);
    st_store_p_text(p, lit);
    return 0;
}

int st_store_tasks_recover(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *ids,
                           size_t n, st_store_tasks_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_arr_t arr = {0};
    int rc = recover_params(&p, &arr, node_id, ids, n, err);
    if (rc == 0)
        rc = st_store_exec1(c, ST_STORE_Q_TASKS_RECOVER, &p, task_rows, out, err);
    st_store_arr_release(&arr);
    if (rc < 0)
        st_store_tasks_free(out);
    return rc;
}

static void wakes_params(st_store_params_t *p, int64_t node_id, int64_t horizon_us,
                         int64_t after_us, const st_store_uuid_t *after_id, size_t limit)
{
    static const st_store_uuid_t zero;
    st_store_p_init(p);
    st_store_p_i64(p, node_id);
    st_store_p_i64(p, horizon_us);
    /* first page: a cursor before any real wake time */
    st_store_p_i64(p, after_us == ST_STORE_NO_TIME ? 0 : after_us);
    st_store_p_uuid(p, after_us == ST_STORE_NO_TIME || !after_id ? &zero : after_id);
    st_store_p_i64(p, (int64_t)limit);
}

static void wake_row(const PGresult *r, int i, st_store_wake_t *o)
{
    st_store_get_uuid(r, i, 0, &o->instance);
    o->wake_at_us = st_store_get_time(r, i, 1);
    o->seq = st_store_get_i64(r, i, 2);
}

typedef struct wake_ctx {
    st_store_wake_t *out;
    size_t cap, n;
} wake_ctx_t;

static int wake_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    wake_ctx_t *w = ctx;
    for (int i = 0; i < PQntuples(r) && w->n < w->cap; i++)
        wake_row(r, i, &w->out[w->n++]);
    return 0;
}

int st_store_wakes_page(st_store_conn_t *c, int64_t node_id, int64_t horizon_us, int64_t after_us,
                        const st_store_uuid_t *after_id, st_store_wake_t *out, size_t cap,
                        size_t *n, st_err_t *err)
{
    st_store_params_t p;
    wakes_params(&p, node_id, horizon_us, after_us, after_id, cap);
    wake_ctx_t w = {out, cap, 0};
    int rc = st_store_exec1(c, ST_STORE_Q_WAKES_PAGE, &p, wake_rows, &w, err);
    *n = rc == 0 ? w.n : 0;
    return rc;
}

void st_store_wakes_free(st_store_wakes_t *list)
{
    if (!list)
        return;
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int wakes_list_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    st_store_wakes_t *out = ctx;
    int rows = PQntuples(r);
    out->v = rows ? calloc((size_t)rows, sizeof *out->v) : NULL;
    if (rows && !out->v)
        return st_err_set(err, ST_NOMEM, "out of memory");
    for (int i = 0; i < rows; i++)
        wake_row(r, i, &out->v[out->n++]);
    return 0;
}

static void wakes_deliver(st_store_any_cb cb, int rc, const st_err_t *err, void *ctx, void *ud)
{
    ((st_store_wakes_cb)cb)(rc, err, ctx, ud);
}

static void wakes_release(void *ctx)
{
    st_store_wakes_free(ctx);
}

static const st_store_read_spec_t wakes_spec = {sizeof(st_store_wakes_t), wakes_list_rows,
                                                wakes_deliver, wakes_release};

int st_store_wakes_page_async(st_store_conn_t *c, int64_t node_id, int64_t horizon_us,
                              int64_t after_us, const st_store_uuid_t *after_id, unsigned limit,
                              st_store_wakes_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    wakes_params(&p, node_id, horizon_us, after_us, after_id, limit);
    return st_store_exec1_read_async(c, ST_STORE_Q_WAKES_PAGE, &p, &wakes_spec, (st_store_any_cb)cb,
                                     ud, err);
}

int st_store_tasks_recover_async(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *ids,
                                 size_t n, st_store_tasks_cb cb, void *ud, st_err_t *err)
{
    st_store_params_t p;
    st_store_arr_t arr = {0};
    int rc = recover_params(&p, &arr, node_id, ids, n, err);
    if (rc == 0) /* the parameters are copied: the literal can go */
        rc = st_store_exec1_read_async(c, ST_STORE_Q_TASKS_RECOVER, &p, &tasks_spec,
                                       (st_store_any_cb)cb, ud, err);
    st_store_arr_release(&arr);
    return rc;
}

/* ---- operator read (settlectl; declared in st_store_admin.h) ---------------------- */

int st_store_instance_tasks(st_store_conn_t *c, const st_store_uuid_t *instance,
                            st_store_tasks_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_params_t p;
    st_store_p_init(&p);
    st_store_p_uuid(&p, instance);
    int rc = st_store_exec1(c, ST_STORE_Q_ADMIN_TASKS, &p, task_rows, out, err);
    if (rc < 0)
        st_store_tasks_free(out);
    return rc;
}
