/*
 * test_store_webhook.c — the batched webhook insert (st_store_webhooks_store):
 * events stored once by id, one signal per correlated instance, parking,
 * and the resend on a fresh connection after the connection broke under a
 * batch (issue 15: the connection used to be kept and the jobs retried on
 * the broken one).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/st_store_webhook.h"
#include "store_fixture.h"

static const char *const INVOICE_K[] = {"invoice", "customer"};
static const char *const INVOICE_1[] = {"in_1", "cus_1"};
static const char *const ORPHAN_K[] = {"payment_intent"};
static const char *const ORPHAN_V[] = {"pi_none"};

/* Three events: two about invoice in_1 (one instance knows it), one about
 * an object no instance knows yet (parked). */
static void events(st_store_wh_event_t ev[3])
{
    memset(ev, 0, 3 * sizeof *ev);
    static const char *const ids[] = {"evt_a", "evt_b", "evt_c"};
    for (int i = 0; i < 3; i++) {
        ev[i].event_id = ids[i];
        ev[i].type = i < 2 ? "invoice.paid" : "payment_intent.succeeded";
        ev[i].payload_json = "{\"data\": {\"object\": {\"amount\": 100}}}";
        ev[i].keys = i < 2 ? INVOICE_K : ORPHAN_K;
        ev[i].values = i < 2 ? INVOICE_1 : ORPHAN_V;
        ev[i].npairs = i < 2 ? 2 : 1;
    }
}

/* Every event and signal is stored exactly once. */
static void assert_stored_once(fx_t *f)
{
    ck_assert_int_eq(fx_int(f, "SELECT count(*) FROM webhook_events"), 3);
    ck_assert_int_eq(fx_int(f, "SELECT count(*) FROM signals"), 3);
    ck_assert_int_eq(fx_int(f, "SELECT count(DISTINCT source) FROM signals"), 3);
    ck_assert_int_eq(fx_int(f, "SELECT count(*) FROM signals WHERE instance_id IS NULL"
                               " AND corr_key = 'payment_intent' AND corr_value = 'pi_none'"),
                     1);
    ck_assert_int_eq(fx_int(f, "SELECT count(*) FROM signals WHERE source = 'webhook:evt_a'"
                               " AND payload = '{\"amount\": 100}'::jsonb"),
                     1);
    ck_assert_int_eq(fx_int(f, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL"),
                     1);
}

static st_store_uuid_t correlated_instance(fx_t *f)
{
    st_err_t err;
    st_store_uuid_t id = fx_start(f, NULL, NULL);
    ck_assert_int_eq(st_store_correlate(f->c, &id, "invoice", "in_1", &err), 0);
    ck_assert_int_eq(st_store_correlate(f->c, &id, "customer", "cus_1", &err), 0);
    return id;
}

START_TEST(events_are_stored_once_and_signal_their_instances)
{
    fx_t f;
    fx_open(&f);
    correlated_instance(&f);
    st_store_wh_event_t ev[3];
    events(ev);
    st_store_wh_stats_t stats = {0, 0};
    st_err_t err;
    ck_assert_int_eq(st_store_webhooks_store(f.c, ev, 3, &stats, &err), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ev[i].rc, 0);
        ck_assert(ev[i].is_new);
    }
    /* one signal per instance although two pairs reach it */
    ck_assert_int_eq(ev[0].signals, 1);
    ck_assert(!ev[0].parked);
    ck_assert_int_eq(ev[2].signals, 0);
    ck_assert(ev[2].parked);
    ck_assert_uint_eq(stats.statements, 1);
    assert_stored_once(&f);
    /* A resend of a batch that did commit (what a retry after an unknown
     * outcome does) changes nothing and reports redeliveries. */
    ck_assert_int_eq(st_store_webhooks_store(f.c, ev, 3, &stats, &err), 0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ev[i].rc, 0);
        ck_assert(!ev[i].is_new);
        ck_assert_int_eq(ev[i].signals, 0);
        ck_assert(!ev[i].parked);
    }
    assert_stored_once(&f);
    fx_close(&f);
}
END_TEST

/* Within one batch the first occurrence of an id wins. */
START_TEST(duplicates_within_a_batch_store_one_event)
{
    fx_t f;
    fx_open(&f);
    correlated_instance(&f);
    st_store_wh_event_t ev[3];
    events(ev);
    ev[1].event_id = "evt_a";
    st_err_t err;
    ck_assert_int_eq(st_store_webhooks_store(f.c, ev, 3, NULL, &err), 0);
    ck_assert(ev[0].is_new);
    ck_assert(!ev[1].is_new);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM webhook_events"), 2);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals WHERE source = 'webhook:evt_a'"), 1);
    fx_close(&f);
}
END_TEST

/* One event PostgreSQL refuses (payload not JSON) fails alone. */
START_TEST(a_bad_event_does_not_fail_its_neighbours)
{
    fx_t f;
    fx_open(&f);
    correlated_instance(&f);
    st_store_wh_event_t ev[3];
    events(ev);
    ev[1].payload_json = "{not json";
    st_store_wh_stats_t stats = {0, 0};
    st_err_t err;
    ck_assert_int_ne(st_store_webhooks_store(f.c, ev, 3, &stats, &err), 0);
    ck_assert_int_eq(ev[0].rc, 0);
    ck_assert_int_ne(ev[1].rc, 0);
    ck_assert_int_eq(ev[2].rc, 0);
    ck_assert_uint_eq(stats.statements, 4); /* the batch, then each alone */
    ck_assert_uint_eq(stats.io_retries, 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM webhook_events"), 2);
    fx_close(&f);
}
END_TEST

typedef struct breaker {
    fx_t *f;
    PGconn *holder; /* holds the pair lock the batch waits for */
    int killed;
} breaker_t;

/* Wait until a backend of the test database waits for the advisory lock
 * (the batch), terminate it, then release the lock. */
static void *break_batch(void *ud)
{
    breaker_t *b = ud;
    PGconn *pg = st_test_connect(b->f->dsn);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE datname = '%s' AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
             b->f->db);
    for (int i = 0; i < 500 && !b->killed; i++) {
        PGresult *r = st_test_exec(pg, sql);
        b->killed = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (!b->killed)
            usleep(10000);
    }
    usleep(100000); /* let the resend wait for the lock too */
    PQclear(st_test_exec(b->holder, "COMMIT"));
    PQfinish(pg);
    return NULL;
}

START_TEST(a_broken_connection_is_replaced_and_the_batch_resent)
{
    fx_t f;
    fx_open(&f);
    correlated_instance(&f);
    unsigned before = st_store_conn_reconnects(f.c);
    /* Hold the pair lock so the batch is in flight when its backend dies. */
    breaker_t b = {&f, st_test_connect(f.dsn), 0};
    PQclear(st_test_exec(b.holder, "BEGIN"));
    PQclear(st_test_exec(b.holder, "SELECT settle_corr_lock('{invoice}', '{in_1}')"));
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, break_batch, &b), 0);
    st_store_wh_event_t ev[3];
    events(ev);
    st_store_wh_stats_t stats = {0, 0};
    st_err_t err;
    st_err_clear(&err);
    int rc = st_store_webhooks_store(f.c, ev, 3, &stats, &err);
    pthread_join(th, NULL);
    PQfinish(b.holder);
    ck_assert_int_eq(b.killed, 1);
    ck_assert_msg(rc == 0, "webhooks_store: %d %s (%s)", rc, err.msg, err.detail);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ev[i].rc, 0);
        ck_assert(ev[i].is_new); /* the first try died before its commit */
    }
    ck_assert_uint_eq(stats.io_retries, 1);
    ck_assert_uint_eq(stats.statements, 2);
    /* resent on a fresh connection, not on the broken one */
    ck_assert_uint_eq(st_store_conn_reconnects(f.c), before + 1);
    assert_stored_once(&f);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_webhook");
    TCase *tc = tcase_create("webhook");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, events_are_stored_once_and_signal_their_instances);
    tcase_add_test(tc, duplicates_within_a_batch_store_one_event);
    tcase_add_test(tc, a_bad_event_does_not_fail_its_neighbours);
    tcase_add_test(tc, a_broken_connection_is_replaced_and_the_batch_resent);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
