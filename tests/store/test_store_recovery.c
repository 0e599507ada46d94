/*
 * test_store_recovery.c — a node dies; another takes over its instances,
 * re-dispatches its unfinished tasks with the same keys and fires the wake
 * times that passed meanwhile, each once.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

START_TEST(takeover_recovers_tasks_and_wakes_once)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t dead = f.node, now = fx_now_us();
    /* node "dead" runs three flows: one with a task it was running, one
     * sleeping until a time that will pass while it is down, one sleeping
     * far in the future */
    int64_t ep[3];
    st_store_uuid_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id[0], ep[0], 0, ST_STORE_WAITING);
    st_store_task_new_t t = {"stripe.refund", "{}", "settle_r_1", 5, 1000, now};
    k.task = &t;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_tasks_t due;
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, dead, now, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1); /* running when the node dies */
    st_store_tasks_free(&due);
    fx_ckpt(&k, &f, &id[1], ep[1], 0, ST_STORE_WAITING);
    k.wake_at_us = now + 1000; /* passes while the node is down */
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    fx_ckpt(&k, &f, &id[2], ep[2], 0, ST_STORE_WAITING);
    k.wake_at_us = now + 30LL * 86400 * 1000000; /* 30 days */
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    /* the node stops renewing: its lease lapses */
    PQclear(st_test_exec(f.pg, "UPDATE nodes SET lease_until = now() - interval '1 s'"));
    /* a new node starts and recovers */
    int64_t fresh;
    ck_assert_int_eq(st_store_node_register(f.c, "fresh", 60000, &fresh, &err), 0);
    st_store_instances_t got;
    ck_assert_int_eq(st_store_lease_claim(f.c, fresh, 100, &got, &err), 0);
    ck_assert_uint_eq(got.n, 3);
    int64_t epoch1 = 0;
    for (size_t i = 0; i < got.n; i++) {
        ck_assert_int_eq(got.v[i].lease_epoch, ep[0] + 1);
        if (st_store_uuid_equal(&got.v[i].id, &id[1]))
            epoch1 = got.v[i].lease_epoch;
    }
    st_store_instances_free(&got);
    ck_assert_int_eq(st_store_tasks_recover(f.c, fresh, id, 3, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1);
    ck_assert_str_eq(due.v[0].idempotency_key, "settle_r_1");
    ck_assert_int_eq(due.v[0].attempt, 1);
    st_store_tasks_free(&due);
    ck_assert_int_eq(st_store_tasks_claim_due(f.c, fresh, now + 2000, 10, &due, &err), 0);
    ck_assert_uint_eq(due.n, 1);
    ck_assert_int_eq(due.v[0].attempt, 2); /* re-dispatched, same key */
    st_store_tasks_free(&due);
    /* wake times already past: only the passed one */
    st_store_wake_t w[8];
    size_t n;
    int64_t later = now + 2000;
    ck_assert_int_eq(st_store_wakes_page(f.c, fresh, later, ST_STORE_NO_TIME, NULL, w, 8, &n, &err),
                     0);
    ck_assert_uint_eq(n, 1);
    ck_assert(st_store_uuid_equal(&w[0].instance, &id[1]));
    ck_assert_int_eq(w[0].seq, 1);
    /* firing it twice (a duplicate timer): the second is rejected */
    st_store_ckpt_t fire;
    for (int attempt = 0; attempt < 2; attempt++) {
        fx_ckpt(&fire, &f, &id[1], epoch1, w[0].seq, ST_STORE_RUNNING);
        fire.node_id = fresh;
        st_store_hist_t h = {"timer", "s1", "s2", NULL};
        fire.hist = &h;
        fire.nhist = 1;
        ck_assert_int_eq(fx_ckpt_run(&f, b, &fire), attempt == 0 ? 0 : ST_CONFLICT);
    }
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'timer'"), 1);
    ck_assert_int_eq(st_store_wakes_page(f.c, fresh, later, ST_STORE_NO_TIME, NULL, w, 8, &n, &err),
                     0);
    ck_assert_uint_eq(n, 0);
    /* the old node's writes are refused */
    fx_ckpt(&k, &f, &id[2], ep[2], 1, ST_STORE_RUNNING);
    k.node_id = dead;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), ST_CONFLICT);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

/* The same recovery reads without blocking the loop. */
typedef struct got {
    int fired, rc;
    st_store_instances_t rows; /* taken from the callback */
    size_t n;
    int64_t first_id;
} got_t;

static void on_rows(int rc, const st_err_t *err, st_store_instances_t *rows, void *ud)
{
    got_t *g = ud;
    g->fired++;
    g->rc = rc;
    g->rows = *rows; /* keep them: take the list */
    *rows = (st_store_instances_t){0};
}

static void on_signals(int rc, const st_err_t *err, st_store_signals_t *list, void *ud)
{
    got_t *g = ud;
    g->fired++;
    g->rc = rc;
    g->n = list->n;
    g->first_id = list->n ? list->v[0].id : 0; /* borrowed: freed after return */
}

static void on_tasks(int rc, const st_err_t *err, st_store_tasks_t *list, void *ud)
{
    got_t *g = ud;
    g->fired++;
    g->rc = rc;
    g->n = list->n;
    g->first_id = list->n ? list->v[0].id : 0;
}

static void on_wakes(int rc, const st_err_t *err, st_store_wakes_t *page, void *ud)
{
    got_t *g = ud;
    g->fired++;
    g->rc = rc;
    g->n = page->n;
}

static void wait_got(fx_t *f, got_t *g)
{
    while (!g->fired)
        ev_run(f->loop, EVRUN_ONCE);
    ck_assert_int_eq(g->fired, 1);
}

START_TEST(async_recovery_reads)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t now = fx_now_us();
    st_store_start_t s[3];
    st_store_started_t out[3];
    for (int i = 0; i < 3; i++) {
        s[i] = fx_start_spec(&f, NULL);
        s[i].owner_node = 0;
        s[i].status = ST_STORE_WAITING;
        s[i].wake_at_us = i == 0 ? now - 1000 : now + 3600000000LL;
    }
    ck_assert_int_eq(st_store_start_many(f.c, s, 3, out, &err), 0);
    int64_t sig;
    ck_assert_int_eq(st_store_signal_send(f.c, &out[1].id, "go", NULL, "api", &sig, &err), 0);
    got_t g = {0};
    ck_assert_int_eq(st_store_lease_claim_async(f.c, f.node, 10, on_rows, &g, &err), 0);
    wait_got(&f, &g);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_uint_eq(g.rows.n, 3);
    int64_t epoch = g.rows.v[0].lease_epoch;
    st_store_instances_free(&g.rows);
    got_t gs = {0};
    ck_assert_int_eq(st_store_signals_pending_async(f.c, &out[1].id, on_signals, &gs, &err), 0);
    wait_got(&f, &gs);
    ck_assert_uint_eq(gs.n, 1);
    ck_assert_int_eq(gs.first_id, sig);
    got_t gw = {0};
    ck_assert_int_eq(st_store_wakes_page_async(f.c, f.node, now, ST_STORE_NO_TIME, NULL, 10,
                                               on_wakes, &gw, &err),
                     0);
    wait_got(&f, &gw);
    ck_assert_uint_eq(gw.n, 1);
    /* a task from a checkpoint, claimed without blocking */
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &out[2].id, epoch, 0, ST_STORE_WAITING);
    st_store_task_new_t t = {"email.send", "{}", "settle_m_1", 3, 1000, now};
    k.task = &t;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    got_t gt = {0};
    ck_assert_int_eq(st_store_tasks_claim_due_async(f.c, f.node, now, 10, on_tasks, &gt, &err), 0);
    wait_got(&f, &gt);
    ck_assert_uint_eq(gt.n, 1);
    ck_assert_int_eq(gt.first_id, k.task_id);
    /* a lost connection: the callback still fires once, with an empty list */
    got_t ge = {0};
    ck_assert_int_eq(st_store_lease_claim_async(f.c, f.node, 10, on_rows, &ge, &err), 0);
    st_store_conn_break(f.c);
    wait_got(&f, &ge);
    if (ge.rc != 0) {
        ck_assert_int_eq(ge.rc, ST_IO);
        ck_assert_uint_eq(ge.rows.n, 0);
    }
    st_store_instances_free(&ge.rows);
    /* without a callback the rows are simply freed */
    for (int i = 0; i < 2000 && !(st_store_conn_reconnects(f.c) && st_store_conn_is_up(f.c)); i++)
        ev_run(f.loop, EVRUN_ONCE);
    ck_assert(st_store_conn_is_up(f.c));
    ck_assert_int_eq(st_store_lease_claim_async(f.c, f.node, 10, NULL, NULL, &err), 0);
    st_store_signals_t after; /* a blocking call behind it: the claim has finished */
    ck_assert_int_eq(st_store_signals_pending(f.c, &out[1].id, &after, &err), 0);
    ck_assert_uint_eq(after.n, 1);
    st_store_signals_free(&after);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_recovery");
    TCase *tc = tcase_create("recovery");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, takeover_recovers_tasks_and_wakes_once);
    tcase_add_test(tc, async_recovery_reads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
