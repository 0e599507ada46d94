/*
 * st_store_batch.c — group commit of checkpoints.
 *
 * Layer: store. Depends on st_store_conn (async ops), st_store_util, libev.
 *
 * Submitted checkpoints wait in a FIFO. The queue is sent as one
 * transaction (one CHECKPOINT statement whose parameters are arrays, one
 * element per checkpoint, preceded by a CORR_LOCK statement when the batch
 * brings correlation keys) when it reaches max_size, when the linger timer
 * fires, or as soon as a batch slot frees (whatever queued meanwhile has
 * already waited). There is one slot per connection (one batch in flight
 * on each), or 64 single-checkpoint slots when batching is disabled.
 * Parameters are encoded in the op's send callback, so one set of scratch
 * buffers serves every batch.
 *
 * Invariants:
 *   * a checkpoint is in exactly one place: the queue, one batch, or done;
 *     its callback runs once, after it left both;
 *   * a batch never holds two checkpoints of one instance, nor one of an
 *     instance whose batch is still in flight (the later one stays queued),
 *     so an instance's checkpoints commit in submit order even when batches
 *     run in parallel on several connections;
 *   * a row that fails its seq/epoch/owner check is simply not written; the
 *     statement returns the ordinals it applied, so a conflict fails only
 *     its own checkpoint. If the statement itself fails (a malformed value
 *     in one checkpoint), each checkpoint of the batch is retried alone so
 *     the bad one fails and the others commit;
 *   * a failed transaction is never silent: cfg.on_batch_error hears of it
 *     (the connection's error names the statement and carries
 *     PostgreSQL's message and SQLSTATE).
 */
#include "store/st_store_int.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

enum {
    A_ID,
    A_NODE,
    A_EPOCH,
    A_EXPECTED,
    A_STATE,
    A_STATE_NAME,
    A_STATUS,
    A_VARS,
    A_WAKE,
    A_WAIT,
    A_AT,
    A_ACTOR,
    A_SIG,
    A_DONE_TASK,
    A_DONE_STATUS,
    A_DONE_OUTCOME,
    A_DONE_RESULT,
    A_T_ACTIVITY,
    A_T_ARGS,
    A_T_KEY,
    A_T_MAX,
    A_T_TIMEOUT,
    A_T_NB,
    A_H_ORD,
    A_H_IDX,
    A_H_KIND,
    A_H_FROM,
    A_H_TO,
    A_H_DETAIL,
    A_C_ORD,
    A_C_KEY,
    A_C_VALUE,
    A_DONE_ATTEMPT,
    A_CANCEL,
    A_F_STARTED, /* the finishing attempt, kept on the task row (0009) */
    A_F_FINISHED,
    A_F_OUTCOME,
    A_F_CODE,
    A_F_ERROR,
    A_COUNT
};

#define DEFAULT_MAX_SIZE      1024
#define DISABLED_MAX_INFLIGHT 64

typedef struct batch_op {
    st_store_op_t op;
    struct st_store_batch *b;
    st_store_ckpt_t **v; /* the batch's checkpoints, capacity max_size */
    unsigned char *ok;   /* ok[i]: v[i] was applied */
    size_t n;
    int busy;              /* submitted, not finished */
    int locked_pairs;      /* a CORR_LOCK statement precedes the checkpoint */
    uint32_t *by_id;       /* open-addressing: instance -> index + 1 (task rows) */
    int by_id_built;       /* by_id describes this batch */
    st_store_conn_t *conn; /* the connection this slot sends on */
} batch_op_t;

struct st_store_batch {
    st_store_conn_t *conn;
    struct ev_loop *loop;
    st_store_batch_cfg_t cfg;
    unsigned max_inflight;
    st_store_ckpt_t *q_head, *q_tail; /* waiting to be sent */
    st_store_ckpt_t *solo_head;       /* retried one per transaction */
    size_t qn;
    ev_timer linger;
    batch_op_t *ops; /* max_inflight slots, spread over the connections */
    unsigned inflight;
    int closing; /* st_store_batch_free runs: send nothing more */
    st_store_arr_t arr[A_COUNT];
    st_store_uuid_t *seen; /* open-addressing set of the batch's instances */
    size_t seen_cap;
    st_store_batch_stats_t stats;
};

static void batch_flush(st_store_batch_t *b);

/* ---- encoding --------------------------------------------------------------------- */

static void encode_ckpt(st_store_arr_t *a, const st_store_ckpt_t *k, size_t ord)
{
    st_store_arr_uuid(&a[A_ID], &k->instance);
    st_store_arr_i64(&a[A_NODE], k->node_id);
    st_store_arr_i64(&a[A_EPOCH], k->lease_epoch);
    st_store_arr_i64(&a[A_EXPECTED], k->expected_seq);
    st_store_arr_i64(&a[A_STATE], k->state);
    st_store_arr_text(&a[A_STATE_NAME], k->state_name);
    st_store_arr_text(&a[A_STATUS], st_store_status_name(k->status));
    st_store_arr_text(&a[A_VARS], k->vars_json);
    st_store_arr_time(&a[A_WAKE], k->wake_at_us);
    st_store_arr_text(&a[A_WAIT], k->wait_reason);
    st_store_arr_i64(&a[A_AT], k->at_us);
    st_store_arr_text(&a[A_ACTOR], k->actor);
    if (k->consume_signal_id)
        st_store_arr_i64(&a[A_SIG], k->consume_signal_id);
    else
        st_store_arr_text(&a[A_SIG], NULL);
    const st_store_task_done_t *d = k->task_done;
    if (d)
        st_store_arr_i64(&a[A_DONE_TASK], d->task_id);
    else
        st_store_arr_text(&a[A_DONE_TASK], NULL);
    st_store_arr_text(&a[A_DONE_STATUS], d ? st_store_task_status_name(d->status) : NULL);
    st_store_arr_text(&a[A_DONE_OUTCOME], d ? d->outcome : NULL);
    st_store_arr_text(&a[A_DONE_RESULT], d ? d->result_json : NULL);
    st_store_arr_i64(&a[A_DONE_ATTEMPT], d ? d->attempt : 0);
    st_store_arr_text(&a[A_CANCEL], k->cancel_requested ? "t" : "f");
    const st_store_attempt_t *f = d ? d->final : NULL;
    st_store_arr_time(&a[A_F_STARTED], f ? f->started_us : ST_STORE_NO_TIME);
    st_store_arr_time(&a[A_F_FINISHED], f ? f->finished_us : ST_STORE_NO_TIME);
    st_store_arr_text(&a[A_F_OUTCOME], f ? f->outcome : NULL);
    st_store_arr_text(&a[A_F_CODE], f ? f->code : NULL);
    st_store_arr_text(&a[A_F_ERROR], f ? f->error : NULL);
    const st_store_task_new_t *t = k->task;
    st_store_arr_text(&a[A_T_ACTIVITY], t ? t->activity : NULL);
    st_store_arr_text(&a[A_T_ARGS], t ? t->args_json : NULL);
    st_store_arr_text(&a[A_T_KEY], t ? t->idempotency_key : NULL);
    st_store_arr_i64(&a[A_T_MAX], t ? t->max_attempts : 0);
    st_store_arr_i64(&a[A_T_TIMEOUT], t ? t->timeout_ms : 0);
    st_store_arr_time(&a[A_T_NB], t ? t->not_before_us : ST_STORE_NO_TIME);
    for (unsigned h = 0; h < k->nhist; h++) {
        st_store_arr_i64(&a[A_H_ORD], (int64_t)ord);
        st_store_arr_i64(&a[A_H_IDX], h);
        st_store_arr_text(&a[A_H_KIND], k->hist[h].kind);
        st_store_arr_text(&a[A_H_FROM], k->hist[h].from_state);
        st_store_arr_text(&a[A_H_TO], k->hist[h].to_state);
        st_store_arr_text(&a[A_H_DETAIL], k->hist[h].detail_json);
    }
    for (unsigned j = 0; j < k->ncorrelations; j++) {
        st_store_arr_i64(&a[A_C_ORD], (int64_t)ord);
        st_store_arr_text(&a[A_C_KEY], k->correlations[j].key);
        st_store_arr_text(&a[A_C_VALUE], k->correlations[j].value);
    }
}

static int batch_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    batch_op_t *bo = (batch_op_t *)op;
    st_store_arr_t *a = bo->b->arr;
    for (int i = 0; i < A_COUNT; i++)
        st_store_arr_begin(&a[i]);
    for (size_t i = 0; i < bo->n; i++)
        encode_ckpt(a, bo->v[i], i + 1);
    st_store_params_t p;
    st_store_p_init(&p);
    for (int i = 0; i < A_COUNT; i++) {
        const char *lit = st_store_arr_end(&a[i]);
        if (!lit)
            return st_err_set(err, ST_NOMEM, "out of memory encoding a checkpoint batch");
        st_store_p_text(&p, lit);
    }
    /* new correlation keys may take over parked signals: lock the pairs in
     * a statement of their own first (see 0004_signal_parking) */
    bo->locked_pairs = a[A_C_KEY].count > 0;
    if (bo->locked_pairs) {
        st_store_params_t lock;
        st_store_p_init(&lock);
        st_store_p_text(&lock, p.v[A_C_KEY]);
        st_store_p_text(&lock, p.v[A_C_VALUE]);
        int rc = st_store_send(pg, ST_STORE_Q_CORR_LOCK, &lock, err);
        if (rc < 0)
            return rc;
    }
    return st_store_send(pg, ST_STORE_Q_CHECKPOINT, &p, err);
}

static size_t uuid_slot(const st_store_uuid_t *u, size_t cap);

/* The checkpoint of the batch for instance u, or NULL. */
static st_store_ckpt_t *by_instance(batch_op_t *bo, size_t cap, const st_store_uuid_t *u)
{
    if (!bo->by_id_built) { /* build on first use: index + 1, 0 = empty */
        bo->by_id_built = 1;
        memset(bo->by_id, 0, cap * sizeof *bo->by_id);
        for (size_t i = 0; i < bo->n; i++) {
            size_t s = uuid_slot(&bo->v[i]->instance, cap);
            while (bo->by_id[s])
                s = (s + 1) & (cap - 1);
            bo->by_id[s] = (uint32_t)(i + 1);
        }
    }
    for (size_t s = uuid_slot(u, cap); bo->by_id[s]; s = (s + 1) & (cap - 1))
        if (st_store_uuid_equal(&bo->v[bo->by_id[s] - 1]->instance, u))
            return bo->v[bo->by_id[s] - 1];
    return NULL;
}

static int batch_result(st_store_op_t *op, const PGresult *r, unsigned index, st_err_t *err)
{
    batch_op_t *bo = (batch_op_t *)op;
    if (bo->locked_pairs && index == 0)
        return 0; /* the CORR_LOCK result */
    for (int row = 0; row < PQntuples(r); row++) {
        if (PQgetisnull(r, row, 0)) { /* a task this batch inserted */
            st_store_uuid_t u;
            st_store_ckpt_t *k = NULL;
            if (st_store_get_uuid(r, row, 1, &u) == 0)
                k = by_instance(bo, bo->b->seen_cap, &u);
            if (!k)
                return st_err_set(err, ST_INTERNAL, "task row of an instance not in the batch");
            k->task_id = st_store_get_i64(r, row, 2);
            continue;
        }
        int64_t ord = st_store_get_i64(r, row, 0);
        if (ord < 1 || (size_t)ord > bo->n)
            return st_err_set(err, ST_INTERNAL, "checkpoint ordinal %lld out of range",
                              (long long)ord);
        bo->ok[ord - 1] = 1;
    }
    return 0;
}

/* ---- completion ------------------------------------------------------------------- */

static void complete(st_store_batch_t *b, st_store_ckpt_t *k, int rc, const st_err_t *err)
{
    b->stats.checkpoints++;
    if (rc == 0)
        b->stats.committed++;
    else if (rc == ST_CONFLICT)
        b->stats.conflicts++;
    k->next_ = NULL;
    k->cb_(k, rc, err, k->ud_);
}

static void conflict(st_store_batch_t *b, st_store_ckpt_t *k)
{
    st_err_t e;
    char id[37];
    st_store_uuid_format(&k->instance, id);
    st_err_set(&e, ST_CONFLICT, "checkpoint of %s rejected", id);
    st_err_detail(&e,
                  "the row is not at seq %lld with epoch %lld owned by node %lld, or its "
                  "signal/task was already consumed",
                  (long long)k->expected_seq, (long long)k->lease_epoch, (long long)k->node_id);
    complete(b, k, ST_CONFLICT, &e);
}

static void batch_done(st_store_op_t *op, int rc, const st_err_t *err)
{
    batch_op_t *bo = (batch_op_t *)op;
    st_store_batch_t *b = bo->b;
    size_t n = bo->n;
    /* The slot stays busy while callbacks run: a callback that submits
     * only queues, so bo->v is not reused under this loop. */
    int alone = rc < 0 && rc != ST_IO && rc != ST_STATE && n > 1;
    if (rc < 0 && rc != ST_STATE && b->cfg.on_batch_error)
        b->cfg.on_batch_error(err, n, alone, b->cfg.on_batch_error_ud);
    if (alone) {
        /* one bad value failed the statement: retry each alone, in order */
        for (size_t i = n; i-- > 0;) {
            bo->v[i]->next_ = b->solo_head;
            b->solo_head = bo->v[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            if (rc < 0)
                complete(b, bo->v[i], rc, err);
            else if (bo->ok[i])
                complete(b, bo->v[i], 0, NULL);
            else
                conflict(b, bo->v[i]);
        }
    }
    bo->n = 0;
    bo->busy = 0;
    b->inflight--;
    if (b->solo_head || b->qn)
        batch_flush(b); /* what queued meanwhile has waited long enough */
}

/* ---- forming batches -------------------------------------------------------------- */

static size_t uuid_slot(const st_store_uuid_t *u, size_t cap)
{
    uint64_t h;
    memcpy(&h, u->b + 8, 8); /* the random half of a v7 id */
    h *= 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

/* Insert into the batch's instance set; 0 if it was already there. */
static int seen_add(st_store_batch_t *b, const st_store_uuid_t *u)
{
    static const st_store_uuid_t zero;
    size_t i = uuid_slot(u, b->seen_cap);
    while (!st_store_uuid_equal(&b->seen[i], &zero)) {
        if (st_store_uuid_equal(&b->seen[i], u))
            return 0;
        i = (i + 1) & (b->seen_cap - 1);
    }
    b->seen[i] = *u;
    return 1;
}

static void take_from_queue(st_store_batch_t *b, batch_op_t *bo)
{
    size_t max = b->cfg.max_size;
    memset(b->seen, 0, b->seen_cap * sizeof *b->seen);
    /* instances of batches in flight wait too: with several connections
     * a later step could otherwise overtake the earlier one */
    for (unsigned s = 0; s < b->max_inflight; s++)
        for (size_t i = 0; b->ops[s].busy && i < b->ops[s].n; i++)
            seen_add(b, &b->ops[s].v[i]->instance);
    st_store_ckpt_t **link = &b->q_head, *prev = NULL;
    while (*link && bo->n < max) {
        st_store_ckpt_t *k = *link;
        if (!seen_add(b, &k->instance)) { /* same instance: next batch */
            prev = k;
            link = &k->next_;
            continue;
        }
        *link = k->next_;
        if (b->q_tail == k)
            b->q_tail = prev;
        k->next_ = NULL;
        b->qn--;
        bo->v[bo->n++] = k;
    }
}

static void batch_flush(st_store_batch_t *b)
{
    ev_timer_stop(b->loop, &b->linger);
    if (b->closing)
        return;
    while (b->inflight < b->max_inflight && (b->solo_head || b->qn)) {
        batch_op_t *bo = NULL;
        for (unsigned i = 0; i < b->max_inflight && !bo; i++)
            if (!b->ops[i].busy)
                bo = &b->ops[i];
        bo->n = 0;
        if (b->solo_head) {
            bo->v[bo->n++] = b->solo_head;
            b->solo_head = b->solo_head->next_;
        } else {
            take_from_queue(b, bo);
            if (bo->n == 0)
                break; /* all queued instances are in flight; batch_done flushes */
        }
        memset(bo->ok, 0, bo->n);
        bo->by_id_built = 0; /* built when task rows arrive */
        memset(&bo->op, 0, sizeof bo->op);
        bo->op.send = batch_send;
        bo->op.result = batch_result;
        bo->op.done = batch_done;
        bo->busy = 1;
        b->inflight++;
        b->stats.batches++;
        st_store_conn_submit(bo->conn, &bo->op);
    }
}

static void on_linger(struct ev_loop *loop, ev_timer *w, int revents)
{
    batch_flush(w->data);
}

/* ---- public ----------------------------------------------------------------------- */

st_store_batch_t *st_store_batch_new(st_store_conn_t *c, const st_store_batch_cfg_t *cfg,
                                     st_err_t *err)
{
    st_store_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        goto oom;
    b->conn = c;
    b->loop = st_store_conn_loop(c);
    b->cfg = *cfg;
    if (b->cfg.disabled)
        b->cfg.max_size = 1;
    else if (!b->cfg.max_size)
        b->cfg.max_size = DEFAULT_MAX_SIZE;
    unsigned nconns = 1 + (b->cfg.more_conns ? b->cfg.n_more : 0);
    b->max_inflight = b->cfg.disabled ? DISABLED_MAX_INFLIGHT : nconns;
    for (b->seen_cap = 16; b->seen_cap < 2 * b->cfg.max_size * (b->max_inflight + 1);)
        b->seen_cap *= 2;
    b->seen = calloc(b->seen_cap, sizeof *b->seen);
    b->ops = calloc(b->max_inflight, sizeof *b->ops);
    if (!b->seen || !b->ops)
        goto oom;
    for (unsigned i = 0; i < b->max_inflight; i++) {
        b->ops[i].b = b;
        b->ops[i].conn = i % nconns ? b->cfg.more_conns[i % nconns - 1] : c;
        b->ops[i].v = calloc(b->cfg.max_size, sizeof *b->ops[i].v);
        b->ops[i].ok = calloc(b->cfg.max_size, 1);
        b->ops[i].by_id = calloc(b->seen_cap, sizeof *b->ops[i].by_id);
        if (!b->ops[i].v || !b->ops[i].ok || !b->ops[i].by_id)
            goto oom;
    }
    ev_timer_init(&b->linger, on_linger, 0., 0.);
    b->linger.data = b;
    return b;
oom:
    st_store_batch_free(b);
    st_err_set(err, ST_NOMEM, "out of memory");
    return NULL;
}

void st_store_batch_free(st_store_batch_t *b)
{
    if (!b)
        return;
    if (b->ops) {
        ev_timer_stop(b->loop, &b->linger);
        b->closing = 1;
        /* batches still queued on a connection that is down are cancelled
         * (their checkpoints complete with ST_STATE); sent ones finish on
         * their own: committed, rejected, or ST_IO when the link drops */
        for (unsigned i = 0; i < b->max_inflight; i++)
            if (b->ops[i].busy)
                st_store_conn_cancel(b->ops[i].conn, &b->ops[i].op);
        while (b->inflight)
            ev_run(b->loop, EVRUN_ONCE);
        st_err_t e;
        st_err_set(&e, ST_STATE, "checkpoint batcher closed before sending");
        while (b->solo_head || b->q_head) {
            st_store_ckpt_t **head = b->solo_head ? &b->solo_head : &b->q_head;
            st_store_ckpt_t *k = *head;
            *head = k->next_;
            complete(b, k, ST_STATE, &e);
        }
        for (unsigned i = 0; i < b->max_inflight; i++) {
            free(b->ops[i].v);
            free(b->ops[i].ok);
            free(b->ops[i].by_id);
        }
    }
    for (int i = 0; i < A_COUNT; i++)
        st_store_arr_release(&b->arr[i]);
    free(b->ops);
    free(b->seen);
    free(b);
}

static int ckpt_check(const st_store_ckpt_t *k, st_err_t *err)
{
    if (!k->state_name || !k->vars_json || (unsigned)k->status >= ST_STORE_STATUS_COUNT ||
        (k->nhist && !k->hist) || k->node_id <= 0)
        return st_err_set(err, ST_INVAL,
                          "checkpoint needs a state name, vars, a status, its "
                          "history rows and the owning node");
    for (unsigned h = 0; h < k->nhist; h++)
        if (!k->hist[h].kind)
            return st_err_set(err, ST_INVAL, "history row %u has no kind", h);
    for (unsigned j = 0; j < k->ncorrelations; j++)
        if (!k->correlations || !k->correlations[j].key || !k->correlations[j].value)
            return st_err_set(err, ST_INVAL, "correlation %u needs a key and a value", j);
    if (k->task && (!k->task->activity || !k->task->args_json || !k->task->idempotency_key ||
                    k->task->max_attempts < 1 || k->task->timeout_ms < 1))
        return st_err_set(err, ST_INVAL, "task needs activity, args, key, attempts, timeout");
    if (k->task_done && k->task_done->final && !k->task_done->final->outcome)
        return st_err_set(err, ST_INVAL, "the attempt that finishes a task needs an outcome");
    return 0;
}

int st_store_batch_submit(st_store_batch_t *b, st_store_ckpt_t *ck, st_store_ckpt_cb cb, void *ud,
                          st_err_t *err)
{
    int rc = b->closing ? st_err_set(err, ST_STATE, "checkpoint batcher is closing")
                        : ckpt_check(ck, err);
    if (rc < 0)
        return rc;
    ck->task_id = 0;
    ck->cb_ = cb;
    ck->ud_ = ud;
    ck->next_ = NULL;
    if (b->q_tail)
        b->q_tail->next_ = ck;
    else
        b->q_head = ck;
    b->q_tail = ck;
    b->qn++;
    if (b->inflight >= b->max_inflight)
        return 0; /* batch_done sends it */
    if (b->qn >= b->cfg.max_size || b->cfg.disabled)
        batch_flush(b);
    else if (!ev_is_active(&b->linger)) {
        ev_timer_set(&b->linger, b->cfg.linger_us / 1e6, 0.);
        ev_timer_start(b->loop, &b->linger);
    }
    return 0;
}

void st_store_batch_flush(st_store_batch_t *b)
{
    batch_flush(b);
}

void st_store_batch_get_stats(const st_store_batch_t *b, st_store_batch_stats_t *out)
{
    *out = b->stats;
}
