/*
 * st_store_webhook.c — the batched insert of webhook events and their
 * signals (see st_store_webhook.h), with the retry after a broken
 * connection.
 *
 * Layer: store. Depends on st_store_conn (blocking helpers, reconnect),
 * st_store_util (array literals), libev (waiting for the reconnect on the
 * connection's own loop). Statements CORR_LOCK and WEBHOOKS_STORE.
 *
 * Invariants: the lock and the batch are one pipeline segment, so one
 * implicit transaction and one round trip; the pair lock comes first in a
 * statement of its own so that the batch's snapshot sees what a concurrent
 * start or checkpoint giving an instance one of these pairs committed (or
 * that one waits and then adopts our parked signal). A batch is only ever
 * resent after ST_IO (outcome unknown), never after a statement error:
 * event ids make the resend idempotent.
 */
#include "store/st_store_webhook.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "store/st_store_int.h"

/* How long a resend waits for the connection to come back: short, since
 * the deliveries of the batch wait for their answer meanwhile (and Stripe
 * retries a delivery that failed). */
#define WH_RECONNECT_WAIT_S 2.0

int st_store_webhooks_params(const st_store_wh_event_t *ev, size_t n, char *params[6],
                             st_err_t *err)
{
    st_store_arr_t a[6];
    memset(a, 0, sizeof a);
    for (int k = 0; k < 6; k++)
        st_store_arr_begin(&a[k]);
    for (size_t i = 0; i < n; i++) {
        st_store_arr_text(&a[0], ev[i].event_id);
        st_store_arr_text(&a[1], ev[i].type);
        st_store_arr_text(&a[2], ev[i].payload_json);
        for (unsigned p = 0; p < ev[i].npairs; p++) {
            st_store_arr_i64(&a[3], (int64_t)i + 1);
            st_store_arr_text(&a[4], ev[i].keys[p]);
            st_store_arr_text(&a[5], ev[i].values[p]);
        }
    }
    int oom = 0;
    for (int k = 0; k < 6; k++)
        oom |= st_store_arr_end(&a[k]) == NULL;
    for (int k = 0; k < 6; k++) {
        params[k] = oom ? NULL : a[k].buf.p; /* the literal's buffer changes hands */
        if (oom)
            st_store_arr_release(&a[k]);
    }
    return oom ? st_err_set(err, ST_NOMEM, "no memory for a webhook batch") : 0;
}

typedef struct wh_batch {
    st_store_wh_event_t *ev;
    size_t n;
} wh_batch_t;

/* WEBHOOKS_STORE's rows: (index, signals) per new event. */
static int wh_rows(const PGresult *r, void *ctx, st_err_t *err)
{
    wh_batch_t *b = ctx;
    for (int i = 0; i < PQntuples(r); i++) {
        int64_t ord = st_store_get_i64(r, i, 0);
        if (ord < 1 || (size_t)ord > b->n)
            return st_err_set(err, ST_INTERNAL, "webhook batch returned index %lld",
                              (long long)ord);
        st_store_wh_event_t *e = &b->ev[ord - 1];
        e->is_new = true;
        e->signals = st_store_get_i64(r, i, 1);
        e->parked = e->signals == 0 && e->npairs > 0;
    }
    return 0;
}

/* The batch once: pair lock and statement as one transaction. */
static int run_once(st_store_conn_t *c, st_store_wh_event_t *ev, size_t n, st_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        ev[i].is_new = ev[i].parked = false;
        ev[i].signals = 0;
    }
    char *lit[6];
    int rc = st_store_webhooks_params(ev, n, lit, err);
    if (rc < 0)
        return rc;
    st_store_params_t p[2];
    st_store_p_init(&p[0]);
    st_store_p_text(&p[0], lit[4]);
    st_store_p_text(&p[0], lit[5]);
    st_store_p_init(&p[1]);
    for (int k = 0; k < 6; k++)
        st_store_p_text(&p[1], lit[k]);
    static const st_store_q_t qs[] = {ST_STORE_Q_CORR_LOCK, ST_STORE_Q_WEBHOOKS_STORE};
    wh_batch_t b = {ev, n};
    rc = st_store_exec_seq(c, qs, p, 2, wh_rows, &b, err);
    for (int k = 0; k < 6; k++)
        free(lit[k]);
    return rc;
}

static void on_wait_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    *(int *)w->data = 1;
}

/* Run the connection's loop until it is up again (a fresh libpq
 * connection) or max_s passed. */
static void wait_up(st_store_conn_t *c, double max_s)
{
    struct ev_loop *loop = st_store_conn_loop(c);
    int expired = 0;
    ev_timer limit;
    ev_timer_init(&limit, on_wait_limit, max_s, 0.);
    limit.data = &expired;
    ev_timer_start(loop, &limit);
    while (!expired && !st_store_conn_is_up(c))
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &limit);
}

/* The batch, sent again on a fresh connection after ST_IO. */
static int run_retrying(st_store_conn_t *c, st_store_wh_event_t *ev, size_t n,
                        st_store_wh_stats_t *stats, st_err_t *err)
{
    for (int attempt = 1;; attempt++) {
        stats->statements++;
        int rc = run_once(c, ev, n, err);
        if (rc != ST_IO || attempt >= ST_STORE_WH_IO_TRIES)
            return rc;
        stats->io_retries++;
        wait_up(c, WH_RECONNECT_WAIT_S);
    }
}

int st_store_webhooks_store(st_store_conn_t *c, st_store_wh_event_t *ev, size_t n,
                            st_store_wh_stats_t *stats, st_err_t *err)
{
    st_store_wh_stats_t local = {0, 0};
    if (stats == NULL)
        stats = &local;
    if (n == 0)
        return 0;
    int rc = run_retrying(c, ev, n, stats, err);
    if (rc == 0 || rc == ST_IO || n == 1) {
        for (size_t i = 0; i < n; i++)
            ev[i].rc = rc;
        return rc;
    }
    /* A statement error: find the event(s) at fault, each alone. */
    int last = 0;
    for (size_t i = 0; i < n; i++) {
        st_err_t one;
        st_err_clear(&one);
        ev[i].rc = run_retrying(c, &ev[i], 1, stats, &one);
        if (ev[i].rc != 0) {
            last = ev[i].rc;
            if (err)
                *err = one;
        }
    }
    return last;
}
