/*
 * st_store_conn.c — one libpq connection in non-blocking pipeline mode on a
 * libev loop, with reconnection.
 *
 * Layer: store. Depends on libpq, libev, common, st_store_sql.
 *
 * States: DOWN (waiting for the backoff timer) → CONNECTING (PQconnectPoll
 * driven by ev_io) → PREPARING (the prepared statements are in flight) → UP.
 * Ops queue in `pend` while not UP and move to `fly` when sent; results are
 * matched to the op at the head of `fly` in order, and each op ends with
 * its PGRES_PIPELINE_SYNC.
 *
 * Invariants:
 *   * an op is in exactly one of pend, fly, or finished;
 *   * finish_op is the only place that sets `finished` and calls `done`,
 *     and it runs once per submitted op (connection loss finishes every op
 *     in fly with ST_IO, conn_free finishes everything with ST_STATE);
 *   * result processing re-reads c->fly_head each step, so a callback that
 *     nests the loop (a blocking helper) cannot confuse the attribution;
 *   * a connection used only through st_store_conn_run (whose loop nobody
 *     else runs) still reconnects: run drives the backoff timer itself.
 */
#include "store/st_store_int.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { CONN_DOWN, CONN_CONNECTING, CONN_PREPARING, CONN_UP };

struct st_store_conn {
    struct ev_loop *loop;
    char *dsn;
    PGconn *pg;
    int state;
    int freeing;
    ev_io io;       /* PQsocket; events follow what libpq needs */
    ev_timer retry; /* reconnect backoff */
    unsigned backoff_ms, backoff_min, backoff_max;
    int index_plans;                      /* cfg.index_plans: plans without sequential scans */
    st_store_op_t *pend_head, *pend_tail; /* not sent yet */
    st_store_op_t *fly_head, *fly_tail;   /* sent, awaiting their Sync */
    st_store_op_t prep;                   /* PREPARING's op */
    unsigned reconnects;
    st_err_t last_err; /* why the connection last went down */
    /* LISTEN subscription (st_store_conn_listen); listen_op is queued again
     * first thing after every reconnect */
    st_store_notify_cb listen_cb;
    void *listen_ud;
    char listen_ch[8][64];
    unsigned listen_n;
    unsigned listen_seen; /* reconnects when the subscription last took */
    st_store_op_t listen_op;
};

static void conn_lost(st_store_conn_t *c, int code, const char *why);
static void pump_send(st_store_conn_t *c);

/* ---- watcher and queues ------------------------------------------------------ */

static void io_watch(st_store_conn_t *c, int fd, int events)
{
    if (ev_is_active(&c->io) && c->io.fd == fd && (c->io.events & (EV_READ | EV_WRITE)) == events)
        return;
    ev_io_stop(c->loop, &c->io);
    if (fd < 0 || !events)
        return;
    ev_io_set(&c->io, fd, events);
    ev_io_start(c->loop, &c->io);
}

static void q_push(st_store_op_t **head, st_store_op_t **tail, st_store_op_t *op)
{
    op->next = NULL;
    if (*tail)
        (*tail)->next = op;
    else
        *head = op;
    *tail = op;
}

static st_store_op_t *q_pop(st_store_op_t **head, st_store_op_t **tail)
{
    st_store_op_t *op = *head;
    if (op) {
        *head = op->next;
        if (!*head)
            *tail = NULL;
        op->next = NULL;
    }
    return op;
}

static void finish_op(st_store_op_t *op)
{
    op->finished = 1;
    if (op->done)
        op->done(op, op->rc, op->rc ? &op->err : NULL);
}

static void fail_list(st_store_op_t *list, int code, const char *msg, const char *detail)
{
    while (list) {
        st_store_op_t *op = list;
        list = op->next;
        op->next = NULL;
        if (op->rc == 0 || code == ST_IO) {
            op->rc = st_err_set(&op->err, code, "%s", msg);
            if (detail && detail[0])
                st_err_detail(&op->err, "%s", detail);
        }
        finish_op(op);
    }
}

/* ---- sending ----------------------------------------------------------------- */

/* An op whose send failed part-way may have queued statements already:
 * they must not commit at its Sync. A statement that fails aborts the
 * segment's implicit transaction, so the server rolls back everything the
 * op queued (and skips the rest up to the Sync). The literal is the error
 * text PostgreSQL logs. */
#define ABORT_SQL "SELECT 'settle: operation failed while queuing; rolled back'::int"

_Static_assert(ST_STORE_Q_COUNT < 255, "statement ids fit the op's statement log");

/* The op whose send runs on this thread: st_store_send notes its
 * statements there. */
static _Thread_local st_store_op_t *sending;

void st_store_conn_note_stmt(st_store_q_t q)
{
    st_store_op_t *op = sending;
    if (op == NULL)
        return;
    unsigned i = op->nq++;
    if (i < ST_STORE_OP_QLOG) {
        op->qlog[i] = (unsigned char)q;
    } else {
        if (i > ST_STORE_OP_QLOG && op->qtail != (unsigned char)q)
            op->qtail_mixed = 1;
        op->qtail = (unsigned char)q;
    }
}

const char *st_store_op_stmt_name(const st_store_op_t *op, unsigned index)
{
    if (index >= op->nq)
        return NULL;
    if (index < ST_STORE_OP_QLOG)
        return st_store_stmts[op->qlog[index]].name;
    return op->qtail_mixed ? NULL : st_store_stmts[op->qtail].name;
}

/* Queue op's statements and its Sync; op joins fly even if sending failed,
 * so that conn_lost finishes it. Returns -1 when the connection broke. */
static int send_op(st_store_conn_t *c, st_store_op_t *op)
{
    q_push(&c->fly_head, &c->fly_tail, op);
    op->nq = 0;
    op->qtail_mixed = 0;
    sending = op;
    int rc = op->send ? op->send(op, c->pg, &op->err) : 0;
    sending = NULL;
    if (rc < 0 && op->rc == 0)
        op->rc = rc;
    if (rc < 0 && !PQsendQueryParams(c->pg, ABORT_SQL, 0, NULL, NULL, NULL, NULL, 0))
        return -1;
    if (!PQpipelineSync(c->pg))
        return -1;
    return 0;
}

static void flush(st_store_conn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0) {
        conn_lost(c, ST_IO, "cannot write to the database");
        return;
    }
    io_watch(c, PQsocket(c->pg), r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void pump_send(st_store_conn_t *c)
{
    int sent = 0;
    while (c->state == CONN_UP && c->pend_head) {
        st_store_op_t *op = q_pop(&c->pend_head, &c->pend_tail);
        sent = 1;
        if (send_op(c, op) < 0) {
            conn_lost(c, ST_IO, "cannot send to the database");
            return;
        }
    }
    if (sent && c->state == CONN_UP)
        flush(c);
}

/* ---- results ----------------------------------------------------------------- */

static void on_result(st_store_op_t *op, PGresult *r)
{
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        if (op->rc == 0 && op->result) {
            int rc = op->result(op, r, op->index, &op->err);
            if (rc < 0)
                op->rc = rc;
        }
        break;
    case PGRES_PIPELINE_ABORTED:
        if (op->rc == 0)
            op->rc = st_err_set(
                &op->err, ST_DB, "statement %s skipped after an earlier error",
                st_store_op_stmt_name(op, op->index) ? st_store_op_stmt_name(op, op->index) : "?");
        break;
    default:
        if (op->rc == 0)
            op->rc = st_store_db_error(&op->err, r, st_store_op_stmt_name(op, op->index));
        break;
    }
    op->index++;
}

static void read_results(st_store_conn_t *c)
{
    int nulls = 0;
    while (c->pg && c->state >= CONN_PREPARING && c->fly_head && !PQisBusy(c->pg)) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            if (++nulls > 1)
                break; /* nothing more until new input arrives */
            continue;
        }
        nulls = 0;
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            finish_op(q_pop(&c->fly_head, &c->fly_tail));
            continue;
        }
        on_result(c->fly_head, r);
        PQclear(r);
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_BAD)
        conn_lost(c, ST_IO, "database connection lost");
}

/* ---- connection life --------------------------------------------------------- */

static int prep_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    /* Plan each statement once: the checkpoint statement costs more to
     * plan than to run for one row, and its plan does not depend on the
     * values (index lookups by id whatever the batch size). No JIT: the
     * generic plans' cost estimates (batches of unnest arrays, the claim on
     * millions of live rows) pass jit_above_cost, and compiling takes 100-200
     * ms a time for statements that run in one. */
    const st_store_conn_t *c = op->ud;
    if (!PQsendQueryParams(
            pg,
            c->index_plans ? "SELECT set_config('plan_cache_mode', 'force_generic_plan', false),"
                             " set_config('jit', 'off', false),"
                             " set_config('enable_seqscan', 'off', false)"
                           : "SELECT set_config('plan_cache_mode', 'force_generic_plan', false),"
                             " set_config('jit', 'off', false)",
            0, NULL, NULL, NULL, NULL, 0))
        return st_err_set(err, ST_IO, "cannot send the session settings");
    for (int q = 0; q < ST_STORE_Q_COUNT; q++)
        if (!PQsendPrepare(pg, st_store_stmts[q].name, st_store_stmts[q].sql, 0, NULL))
            return st_err_set(err, ST_IO, "cannot send statement %s", st_store_stmts[q].name);
    return 0;
}

static void prep_done(st_store_op_t *op, int rc, const st_err_t *err)
{
    st_store_conn_t *c = op->ud;
    if (rc < 0) {
        c->last_err = *err;
        if (c->state == CONN_PREPARING)
            conn_lost(c, rc, "cannot prepare the store's statements");
        return;
    }
    c->state = CONN_UP;
    c->backoff_ms = c->backoff_min;
    if (c->listen_cb && c->listen_op.finished) { /* re-LISTEN before anything else */
        st_store_op_t *l = &c->listen_op;
        l->index = 0;
        l->rc = 0;
        l->finished = 0;
        st_err_clear(&l->err);
        l->next = c->pend_head;
        c->pend_head = l;
        if (!c->pend_tail)
            c->pend_tail = l;
    }
    pump_send(c);
}

static void start_session(st_store_conn_t *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
        conn_lost(c, ST_IO, "cannot enter pipeline mode");
        return;
    }
    c->state = CONN_PREPARING;
    memset(&c->prep, 0, sizeof c->prep);
    c->prep.send = prep_send;
    c->prep.done = prep_done;
    c->prep.ud = c;
    if (send_op(c, &c->prep) < 0) {
        conn_lost(c, ST_IO, "cannot send to the database");
        return;
    }
    flush(c);
}

static void schedule_retry(st_store_conn_t *c)
{
    ev_timer_stop(c->loop, &c->retry);
    ev_timer_set(&c->retry, c->backoff_ms / 1000.0, 0.);
    ev_timer_start(c->loop, &c->retry);
    c->backoff_ms = c->backoff_ms * 2 > c->backoff_max ? c->backoff_max : c->backoff_ms * 2;
}

static void conn_lost(st_store_conn_t *c, int code, const char *why)
{
    if (c->state == CONN_DOWN)
        return;
    char detail[ST_ERR_MSG_MAX];
    snprintf(detail, sizeof detail, "%s", c->pg ? PQerrorMessage(c->pg) : "");
    size_t n = strlen(detail);
    if (n && detail[n - 1] == '\n')
        detail[n - 1] = '\0';
    if (code != ST_IO && c->last_err.msg[0]) /* prepare failed: keep its cause */
        snprintf(detail, sizeof detail, "%s%s%s", c->last_err.msg,
                 c->last_err.detail[0] ? "; " : "", c->last_err.detail);
    st_err_set(&c->last_err, code, "%s", why);
    st_err_detail(&c->last_err, "%s", detail);
    io_watch(c, -1, 0);
    PQfinish(c->pg);
    c->pg = NULL;
    c->state = CONN_DOWN;
    st_store_op_t *list = c->fly_head;
    c->fly_head = c->fly_tail = NULL;
    fail_list(list, c->freeing ? ST_STATE : ST_IO,
              c->freeing ? "store connection closed" : "connection lost; outcome unknown", detail);
    if (!c->freeing)
        schedule_retry(c);
}

static void connect_poll(st_store_conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        io_watch(c, PQsocket(c->pg), EV_READ);
        break;
    case PGRES_POLLING_WRITING:
        io_watch(c, PQsocket(c->pg), EV_WRITE);
        break;
    case PGRES_POLLING_OK:
        c->reconnects++;
        start_session(c);
        break;
    default:
        c->state = CONN_PREPARING; /* so conn_lost records and retries */
        conn_lost(c, ST_IO, "cannot reconnect to the database");
        break;
    }
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_store_conn_t *c = w->data;
    c->pg = PQconnectStart(c->dsn);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        c->state = CONN_PREPARING;
        conn_lost(c, ST_IO, "cannot reconnect to the database");
        return;
    }
    c->state = CONN_CONNECTING;
    io_watch(c, PQsocket(c->pg), EV_WRITE);
}

/* Hand the notifications libpq has parsed to the subscriber. */
static void drain_notifies(st_store_conn_t *c)
{
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg)) != NULL) {
        c->listen_cb(n->relname, n->extra, c->listen_ud);
        PQfreemem(n);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    st_store_conn_t *c = w->data;
    if (c->state == CONN_CONNECTING) {
        connect_poll(c);
        return;
    }
    if ((revents & EV_READ) && !PQconsumeInput(c->pg)) {
        conn_lost(c, ST_IO, "database connection lost");
        return;
    }
    read_results(c);
    if (c->state >= CONN_PREPARING && c->pg)
        flush(c);
    if (c->listen_cb && c->pg)
        drain_notifies(c);
}

/* ---- public -------------------------------------------------------------------- */

st_store_conn_t *st_store_conn_new(struct ev_loop *loop, const st_store_conn_cfg_t *cfg,
                                   st_err_t *err)
{
    st_store_conn_t *c = calloc(1, sizeof *c);
    if (!c || !(c->dsn = strdup(cfg->dsn ? cfg->dsn : ""))) {
        free(c);
        st_err_set(err, ST_NOMEM, "out of memory");
        return NULL;
    }
    c->loop = loop;
    c->backoff_min = cfg->backoff_min_ms ? cfg->backoff_min_ms : 50;
    c->backoff_max = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
    c->index_plans = cfg->index_plans;
    c->backoff_ms = c->backoff_min;
    ev_io_init(&c->io, on_io, -1, EV_READ);
    c->io.data = c;
    ev_timer_init(&c->retry, on_retry, 0., 0.);
    c->retry.data = c;
    c->pg = PQconnectdb(c->dsn);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        st_err_set(err, ST_IO, "cannot connect to the database");
        st_err_detail(err, "%s", PQerrorMessage(c->pg));
        PQfinish(c->pg);
        c->pg = NULL;
        st_store_conn_free(c);
        return NULL;
    }
    start_session(c);
    if (cfg->prepare_later && c->state != CONN_DOWN)
        return c;
    while (!c->prep.finished)
        ev_run(loop, EVRUN_ONCE);
    if (c->state != CONN_UP) {
        if (err)
            *err = c->last_err;
        st_err_hint(err, "are the migrations applied? run `settled migrate` against this database");
        st_store_conn_free(c);
        return NULL;
    }
    return c;
}

void st_store_conn_free(st_store_conn_t *c)
{
    if (!c)
        return;
    c->freeing = 1;
    ev_timer_stop(c->loop, &c->retry);
    if (c->state != CONN_DOWN)
        conn_lost(c, ST_STATE, "store connection closed");
    st_store_op_t *list = c->pend_head;
    c->pend_head = c->pend_tail = NULL;
    fail_list(list, ST_STATE, "store connection closed", NULL);
    io_watch(c, -1, 0);
    free(c->dsn);
    free(c);
}

int st_store_conn_is_up(const st_store_conn_t *c)
{
    return c->state == CONN_UP;
}

struct ev_loop *st_store_conn_loop(const st_store_conn_t *c)
{
    return c->loop;
}

unsigned st_store_conn_reconnects(const st_store_conn_t *c)
{
    return c->reconnects;
}

void st_store_conn_break(st_store_conn_t *c)
{
    if (c->pg && PQsocket(c->pg) >= 0)
        shutdown(PQsocket(c->pg), SHUT_RDWR);
}

void st_store_conn_submit(st_store_conn_t *c, st_store_op_t *op)
{
    op->next = NULL;
    op->index = 0;
    op->rc = 0;
    op->finished = 0;
    st_err_clear(&op->err);
    if (c->freeing) {
        op->rc = st_err_set(&op->err, ST_STATE, "store connection closed");
        finish_op(op);
        return;
    }
    q_push(&c->pend_head, &c->pend_tail, op);
    pump_send(c);
}

int st_store_conn_cancel(st_store_conn_t *c, st_store_op_t *op)
{
    st_store_op_t **link = &c->pend_head, *prev = NULL;
    while (*link && *link != op) {
        prev = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return 0; /* sent (or finished): it completes on its own */
    *link = op->next;
    if (c->pend_tail == op)
        c->pend_tail = prev;
    op->next = NULL;
    op->rc = st_err_set(&op->err, ST_STATE, "operation cancelled before it was sent");
    finish_op(op);
    return 1;
}

static void on_wait_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    *(int *)w->data = 1;
}

/* A blocking caller's loop runs only inside st_store_conn_run, so a
 * connection that went down reconnects here: a due backoff timer fires,
 * and an attempt under way gets up to RECONNECT_WAIT_S to finish. */
#define RECONNECT_WAIT_S 2.0
static void reconnect_inline(st_store_conn_t *c)
{
    ev_run(c->loop, EVRUN_NOWAIT);
    if (c->state == CONN_UP || c->state == CONN_DOWN)
        return;
    int expired = 0;
    ev_timer limit;
    ev_timer_init(&limit, on_wait_limit, RECONNECT_WAIT_S, 0.);
    limit.data = &expired;
    ev_timer_start(c->loop, &limit);
    while (!expired && c->state != CONN_UP && c->state != CONN_DOWN)
        ev_run(c->loop, EVRUN_ONCE);
    ev_timer_stop(c->loop, &limit);
}

int st_store_conn_run(st_store_conn_t *c, st_store_op_t *op, st_err_t *err)
{
    if (c->state != CONN_UP)
        reconnect_inline(c);
    if (c->state != CONN_UP) {
        int code = st_err_set(err, ST_IO, "database connection is down");
        st_err_detail(err, "%s", c->last_err.detail);
        return code;
    }
    op->done = NULL;
    st_store_conn_submit(c, op);
    while (!op->finished)
        ev_run(c->loop, EVRUN_ONCE);
    if (op->rc && err)
        *err = op->err;
    return op->rc;
}

/* ---- statement sequences as one transaction ------------------------------------ */

typedef struct seq_ctx {
    const st_store_q_t *qs;
    const st_store_params_t *ps;
    unsigned n;
    st_store_rows_fn fn; /* sees the last statement's result */
    void *ctx;
} seq_ctx_t;

static int seq_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    seq_ctx_t *x = op->ud;
    for (unsigned i = 0; i < x->n; i++) {
        int rc = st_store_send(pg, x->qs[i], &x->ps[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int seq_result(st_store_op_t *op, const PGresult *r, unsigned index, st_err_t *err)
{
    seq_ctx_t *x = op->ud;
    return x->fn && index + 1 == x->n ? x->fn(r, x->ctx, err) : 0;
}

int st_store_exec_seq(st_store_conn_t *c, const st_store_q_t *qs, const st_store_params_t *ps,
                      unsigned n, st_store_rows_fn fn, void *ctx, st_err_t *err)
{
    seq_ctx_t x = {qs, ps, n, fn, ctx};
    st_store_op_t op = {.send = seq_send, .result = seq_result, .ud = &x};
    int rc = st_store_conn_run(c, &op, err);
    if (rc < 0 && err && !strstr(err->msg, st_store_stmts[qs[n - 1]].name))
        st_err_prefix(err, "%s", st_store_stmts[qs[n - 1]].name);
    return rc;
}

int st_store_exec1(st_store_conn_t *c, st_store_q_t q, const st_store_params_t *p,
                   st_store_rows_fn fn, void *ctx, st_err_t *err)
{
    return st_store_exec_seq(c, &q, p, 1, fn, ctx, err);
}

/* ---- LISTEN --------------------------------------------------------------------- */

static int listen_send(st_store_op_t *op, PGconn *pg, st_err_t *err)
{
    st_store_conn_t *c = op->ud;
    for (unsigned i = 0; i < c->listen_n; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "LISTEN \"%s\"", c->listen_ch[i]);
        if (!PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0))
            return st_err_set(err, ST_IO, "cannot send LISTEN %s", c->listen_ch[i]);
    }
    return 0;
}

/* A subscription that took after a reconnect: whatever was notified while
 * the connection was down is lost, so say so. */
static void listen_done(st_store_op_t *op, int rc, const st_err_t *err)
{
    st_store_conn_t *c = op->ud;
    (void)err;
    if (rc < 0 || c->freeing)
        return; /* lost with the connection: queued again when it is back */
    if (c->listen_seen != c->reconnects) {
        c->listen_seen = c->reconnects;
        c->listen_cb(NULL, NULL, c->listen_ud);
    }
}

static int channel_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_' || (n > 0 && s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n > 0 && n < 64;
}

int st_store_conn_listen(st_store_conn_t *c, const char *const *channels, unsigned n,
                         st_store_notify_cb cb, void *ud, st_err_t *err)
{
    if (c->listen_cb)
        return st_err_set(err, ST_STATE, "this connection already listens");
    if (!cb || n == 0 || n > 8)
        return st_err_set(err, ST_INVAL, "LISTEN takes a callback and 1 to 8 channels");
    for (unsigned i = 0; i < n; i++) {
        if (!channels[i] || !channel_ok(channels[i]))
            return st_err_set(err, ST_INVAL, "'%s' is not a channel name",
                              channels[i] ? channels[i] : "");
        snprintf(c->listen_ch[i], sizeof c->listen_ch[i], "%s", channels[i]);
    }
    c->listen_n = n;
    c->listen_cb = cb;
    c->listen_ud = ud;
    c->listen_seen = c->reconnects;
    memset(&c->listen_op, 0, sizeof c->listen_op);
    c->listen_op.send = listen_send;
    c->listen_op.done = listen_done;
    c->listen_op.ud = c;
    st_store_conn_submit(c, &c->listen_op);
    return 0;
}
