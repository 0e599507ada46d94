/*
 * test_http_webhook.c — POST /webhooks/stripe against a real server and
 * database: signatures (good, tampered, stale, rotated, missing), dedupe,
 * mapping to signals through correlations, unknown types, oversize and
 * malformed bodies, the webhook counters on /metrics, and the committer's
 * connection breaking under a batch.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "http_fixture.h"
#include "http/st_http_int.h"
#include "store/st_store.h"
#include "http_flows.h"
#include "http/st_webhook_sig.h"

#define INST "00000000-0000-7000-8000-0000000000a1"

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* An instance correlated with invoice in_1 and customer cus_1. */
static void setup_waiter(fx_t *f)
{
    PQclear(st_test_exec(f->pg, "INSERT INTO programs (hash, name, format_version, source_name,"
                                " source, program) VALUES (repeat('a', 64), 'w', 1, 'w', '',"
                                " '\\x00'::bytea)"));
    PQclear(st_test_exec(f->pg, "INSERT INTO instances (id, flow, program_hash, state, state_name,"
                                " status, vars, created_at, updated_at) VALUES ('" INST "', 'w',"
                                " repeat('a', 64), 0, 'wait', 'waiting', '{}', now(), now())"));
    PQclear(st_test_exec(f->pg,
                         "INSERT INTO correlations (key, value, instance_id) VALUES"
                         " ('invoice', 'in_1', '" INST "'), ('customer', 'cus_1', '" INST "')"));
}

static void event(char *buf, size_t cap, const char *id, const char *type, const char *object)
{
    snprintf(buf, cap,
             "{\"id\":\"%s\",\"object\":\"event\",\"type\":\"%s\",\"api_version\":\"2024-06-20\","
             "\"created\":1700000000,\"data\":{\"object\":%s},\"livemode\":false}",
             id, type, object);
}

static const char INVOICE[] = "{\"id\":\"in_1\",\"object\":\"invoice\",\"customer\":\"cus_1\","
                              "\"status\":\"paid\",\"amount_paid\":4990}";

START_TEST(genuine_event_is_stored_and_signals_the_correlated_flow)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024];
    event(ev, sizeof ev, "evt_good", "invoice.paid", INVOICE);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body);
    ck_assert_str_eq(fx_json_str(&r, "duplicate"), "false");
    ck_assert_str_eq(fx_json_str(&r, "signals"), "1");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events WHERE event_id = "
                                   "'evt_good' AND type = 'invoice.paid' AND processed_at IS NOT "
                                   "NULL"),
                     1);
    /* One signal although both invoice and customer correlate: one per instance. */
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 1);
    ck_assert_str_eq(fx_text(&f, "SELECT name || ' ' || source || ' ' || (payload->>'status')"
                                 " || ' ' || instance_id FROM signals"),
                     "invoice.paid webhook:evt_good paid " INST);
    /* The raw payload is stored as sent. */
    ck_assert_str_eq(fx_text(&f, "SELECT payload->'data'->'object'->>'amount_paid' FROM "
                                 "webhook_events"),
                     "4990");
    fx_close(&f);
}
END_TEST

START_TEST(redelivery_is_acknowledged_and_changes_nothing)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024];
    event(ev, sizeof ev, "evt_dup", "invoice.paid", INVOICE);
    fx_resp_t r;
    for (int i = 0; i < 3; i++) {
        fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(fx_json_str(&r, "duplicate"), i == 0 ? "false" : "true");
        fx_resp_free(&r);
    }
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events"), 1);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 1);
    fx_close(&f);
}
END_TEST

typedef struct par {
    fx_t *f;
    const char *payload;
    int is_new;
} par_t;

static void *send_one(void *ud)
{
    par_t *p = ud;
    fx_resp_t r;
    fx_webhook(p->f, FX_SECRET_NEW, now_s(), p->payload, &r);
    p->is_new = r.status == 200 && strstr(r.body, "\"duplicate\":false") != NULL;
    fx_resp_free(&r);
    return NULL;
}

START_TEST(concurrent_redeliveries_store_one_event)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024];
    event(ev, sizeof ev, "evt_race", "invoice.paid", INVOICE);
    enum { N = 16 };
    pthread_t th[N];
    par_t p[N];
    for (int i = 0; i < N; i++) {
        p[i] = (par_t){&f, ev, 0};
        pthread_create(&th[i], NULL, send_one, &p[i]);
    }
    int fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        fresh += p[i].is_new;
    }
    ck_assert_int_eq(fresh, 1);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events"), 1);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 1);
    fx_close(&f);
}
END_TEST

/* The committer's connection dies while a batch waits in PostgreSQL (the
 * pair lock is held by the test): the store drops it, reconnects and sends
 * the batch again on the fresh connection; every delivery is answered 200
 * and stored exactly once (issue 15: the broken connection was kept and
 * the jobs retried on it). */
START_TEST(broken_committer_connection_is_replaced_and_events_stored_once)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    PGconn *holder = st_test_connect(f.dsn);
    PQclear(st_test_exec(holder, "BEGIN"));
    PQclear(st_test_exec(holder, "SELECT settle_corr_lock('{invoice}', '{in_1}')"));
    enum { N = 4 };
    char ev[N][1024], id[32];
    pthread_t th[N];
    par_t p[N];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "evt_break_%d", i);
        event(ev[i], sizeof ev[i], id, "invoice.paid", INVOICE);
        p[i] = (par_t){&f, ev[i], 0};
        pthread_create(&th[i], NULL, send_one, &p[i]);
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'"
             " AND wait_event_type = 'Lock' AND wait_event = 'advisory'",
             f.db);
    long long killed = 0;
    for (int i = 0; i < 500 && killed == 0; i++) {
        killed = fx_scalar(&f, sql);
        if (killed == 0)
            usleep(10000);
    }
    ck_assert_int_eq(killed, 1);
    usleep(100000);
    PQclear(st_test_exec(holder, "COMMIT"));
    PQfinish(holder);
    int fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        fresh += p[i].is_new;
    }
    ck_assert_int_eq(fresh, N);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events"), N);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), N);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(DISTINCT source) FROM signals"), N);
    ck_assert_uint_ge(atomic_load(&f.srv->wh.io_retries), 1);
    ck_assert_uint_eq(atomic_load(&f.srv->wh.reconnects), 1);
    fx_close(&f);
}
END_TEST

static void assert_nothing_stored(fx_t *f)
{
    ck_assert_int_eq(fx_scalar(f, "SELECT count(*) FROM webhook_events"), 0);
    ck_assert_int_eq(fx_scalar(f, "SELECT count(*) FROM signals"), 0);
}

START_TEST(tampered_payload_is_rejected)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024], sig[128], hdr[200];
    event(ev, sizeof ev, "evt_t", "invoice.paid", INVOICE);
    st_webhook_sig_sign(FX_SECRET_NEW, now_s(), ev, strlen(ev), sig, sizeof sig);
    snprintf(hdr, sizeof hdr, "Stripe-Signature: %s", sig);
    char *amount = strstr(ev, "4990");
    amount[0] = '9'; /* 9990 */
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    fx_resp_t r;
    fx_request(&f, "POST", "/webhooks/stripe", h, ev, strlen(ev), &r);
    fx_assert_error(&r, 400, "signature_invalid");
    ck_assert_ptr_null(strstr(r.body, sig + 2)); /* the signature is not echoed */
    fx_resp_free(&r);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

START_TEST(stale_and_future_timestamps_are_rejected)
{
    fx_t f;
    fx_open(&f, 1);
    char ev[1024];
    event(ev, sizeof ev, "evt_old", "invoice.paid", INVOICE);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s() - 400, ev, &r);
    fx_assert_error(&r, 400, "signature_invalid");
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s() + 400, ev, &r);
    fx_assert_error(&r, 400, "signature_invalid");
    fx_resp_free(&r);
    /* Inside the default 300 s tolerance it passes. */
    fx_webhook(&f, FX_SECRET_NEW, now_s() - 200, ev, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

START_TEST(configured_tolerance_applies)
{
    fx_t f;
    st_http_cfg_t cfg = {.tolerance_s = 10};
    fx_open_cfg(&f, 1, &cfg);
    char ev[1024];
    event(ev, sizeof ev, "evt_tol", "invoice.paid", INVOICE);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s() - 60, ev, &r);
    fx_assert_error(&r, 400, "signature_invalid");
    fx_resp_free(&r);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

START_TEST(rotated_secrets_are_accepted)
{
    fx_t f;
    fx_open(&f, 1);
    char ev[1024];
    fx_resp_t r;
    /* Signed with the old secret only. */
    event(ev, sizeof ev, "evt_rot1", "invoice.paid", INVOICE);
    fx_webhook(&f, FX_SECRET_OLD, now_s(), ev, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    /* Stripe rolling its secret: two v1 entries, only the second matches. */
    event(ev, sizeof ev, "evt_rot2", "invoice.paid", INVOICE);
    char good[128], bad[128], hdr[400];
    int64_t t = now_s();
    st_webhook_sig_sign("whsec_unknown_elsewhere", t, ev, strlen(ev), bad, sizeof bad);
    st_webhook_sig_sign(FX_SECRET_NEW, t, ev, strlen(ev), good, sizeof good);
    snprintf(hdr, sizeof hdr, "Stripe-Signature: t=%lld,%s,%s", (long long)t, strstr(bad, "v1="),
             strstr(good, "v1="));
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    fx_request(&f, "POST", "/webhooks/stripe", h, ev, strlen(ev), &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    fx_resp_free(&r);
    /* A secret we do not hold is refused. */
    event(ev, sizeof ev, "evt_rot3", "invoice.paid", INVOICE);
    fx_webhook(&f, "whsec_unknown_elsewhere", now_s(), ev, &r);
    fx_assert_error(&r, 400, "signature_invalid");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events"), 2);
    fx_close(&f);
}
END_TEST

START_TEST(missing_or_malformed_signature_is_rejected)
{
    fx_t f;
    fx_open(&f, 1);
    char ev[1024];
    event(ev, sizeof ev, "evt_nosig", "invoice.paid", INVOICE);
    fx_resp_t r;
    const char *h0[] = {"Content-Type: application/json", NULL};
    fx_request(&f, "POST", "/webhooks/stripe", h0, ev, strlen(ev), &r);
    fx_assert_error(&r, 400, "signature_missing");
    fx_resp_free(&r);
    const char *h1[] = {"Content-Type: application/json", "Stripe-Signature: t=abc,v1=zz", NULL};
    fx_request(&f, "POST", "/webhooks/stripe", h1, ev, strlen(ev), &r);
    fx_assert_error(&r, 400, "signature_invalid");
    fx_resp_free(&r);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

START_TEST(malformed_bodies_are_rejected_even_when_signed)
{
    fx_t f;
    fx_open(&f, 1);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), "{\"id\": \"evt_x\", ", &r);
    fx_assert_error(&r, 400, "invalid_json");
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s(), "[1,2,3]", &r);
    fx_assert_error(&r, 400, "invalid_event");
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s(), "{\"id\":\"evt_y\",\"type\":\"x\",\"data\":{}}", &r);
    fx_assert_error(&r, 400, "invalid_event");
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s(), "{\"id\":7,\"type\":\"x\",\"data\":{\"object\":{}}}",
               &r);
    fx_assert_error(&r, 400, "invalid_event");
    fx_resp_free(&r);
    /* Not JSON at all, and the wrong media type. */
    const char *h[] = {"Content-Type: text/plain", "Stripe-Signature: t=1,v1=00", NULL};
    fx_request(&f, "POST", "/webhooks/stripe", h, "hello", 5, &r);
    fx_assert_error(&r, 415, "unsupported_media_type");
    fx_resp_free(&r);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

START_TEST(oversize_bodies_are_refused)
{
    fx_t f;
    fx_open(&f, 1);
    size_t n = FX_BODY_LIMIT + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"id\":\"evt_big\",\"type\":\"x.y\",\"data\":{\"object\":{}}}", 49);
    big[n] = '\0';
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), big, &r);
    fx_assert_error(&r, 413, "payload_too_large");
    fx_resp_free(&r);
    /* Chunked, so the size is only known while reading. */
    char sig[128], hdr[200];
    st_webhook_sig_sign(FX_SECRET_NEW, now_s(), big, n, sig, sizeof sig);
    snprintf(hdr, sizeof hdr, "Stripe-Signature: %s", sig);
    const char *h[] = {"Content-Type: application/json", "Transfer-Encoding: chunked", hdr, NULL};
    fx_request(&f, "POST", "/webhooks/stripe", h, big, n, &r);
    fx_assert_error(&r, 413, "payload_too_large");
    fx_resp_free(&r);
    free(big);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

START_TEST(unknown_types_are_stored_and_acknowledged)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024];
    event(ev, sizeof ev, "evt_unknown", "radar.early_fraud_warning.created",
          "{\"id\":\"issfr_1\",\"object\":\"radar.early_fraud_warning\",\"charge\":\"ch_9\"}");
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(fx_json_str(&r, "signals"), "0");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events WHERE processed_at IS "
                                   "NULL"),
                     1);
    /* No flow has it: parked under the object's own key, delivered to none. */
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals WHERE instance_id IS NOT NULL"),
                     0);
    ck_assert_str_eq(fx_text(&f, "SELECT corr_key || ' ' || corr_value FROM signals"),
                     "radar.early_fraud_warning issfr_1");
    fx_close(&f);
}
END_TEST

START_TEST(related_ids_map_to_flows)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    /* A charge about invoice in_1 (related field), and a payment intent whose
     * customer is expanded into an object. */
    char ev[1024];
    event(ev, sizeof ev, "evt_ch", "charge.succeeded",
          "{\"id\":\"ch_1\",\"object\":\"charge\",\"invoice\":\"in_1\",\"payment_intent\":null}");
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_str_eq(fx_json_str(&r, "signals"), "1");
    fx_resp_free(&r);
    event(ev, sizeof ev, "evt_pi", "payment_intent.succeeded",
          "{\"id\":\"pi_1\",\"object\":\"payment_intent\",\"customer\":{\"id\":\"cus_1\","
          "\"object\":\"customer\"}}");
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_str_eq(fx_json_str(&r, "signals"), "1");
    fx_resp_free(&r);
    /* Out of order: both stay queued for the instance, in arrival order. */
    ck_assert_str_eq(fx_text(&f, "SELECT string_agg(name, ',' ORDER BY id) FROM signals WHERE "
                                 "instance_id = '" INST "' AND consumed_at IS NULL"),
                     "charge.succeeded,payment_intent.succeeded");
    fx_close(&f);
}
END_TEST

/* The webhook beats the checkpoint that records the PaymentIntent id: the
 * signal is parked and the instance takes it over when it learns the key. */
START_TEST(early_event_waits_for_its_correlation)
{
    fx_t f;
    fx_open(&f, 1);
    setup_waiter(&f);
    char ev[1024];
    event(ev, sizeof ev, "evt_early", "payment_intent.succeeded",
          "{\"id\":\"pi_late\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}");
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(fx_json_str(&r, "signals"), "0");
    ck_assert_str_eq(fx_json_str(&r, "parked"), "true");
    fx_resp_free(&r);
    /* The flow saves pi_late as its payment_intent key (as a checkpoint or
     * st_store_correlate does). */
    struct ev_loop *loop = ev_loop_new(0);
    st_store_conn_cfg_t cfg = {.dsn = f.dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    ck_assert_ptr_nonnull(c);
    st_store_uuid_t id;
    ck_assert_int_eq(st_store_uuid_parse(INST, &id), 0);
    ck_assert_int_eq(st_store_correlate(c, &id, "payment_intent", "pi_late", &err), 0);
    st_store_signals_t pending = {0};
    ck_assert_int_eq(st_store_signals_pending(c, &id, &pending, &err), 0);
    ck_assert_uint_eq(pending.n, 1);
    ck_assert_str_eq(pending.v[0].name, "payment_intent.succeeded");
    ck_assert_str_eq(pending.v[0].source, "webhook:evt_early");
    st_store_signals_free(&pending);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    /* A redelivery now changes nothing: still one signal. */
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_str_eq(fx_json_str(&r, "duplicate"), "true");
    fx_resp_free(&r);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 1);
    fx_close(&f);
}
END_TEST

START_TEST(metrics_count_received_duplicate_rejected)
{
    fx_t f;
    fx_open(&f, 1);
    char ev[1024];
    event(ev, sizeof ev, "evt_m", "invoice.paid", INVOICE);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    fx_resp_free(&r);
    fx_webhook(&f, FX_SECRET_NEW, now_s() - 1000, ev, &r);
    fx_resp_free(&r);
    fx_request(&f, "GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "settle_webhook_events_total{result=\"received\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "settle_webhook_events_total{result=\"duplicate\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(r.body, "settle_webhook_events_total{result=\"rejected\"} 1\n"));
    ck_assert_ptr_null(strstr(r.body, FX_SECRET_NEW));
    fx_resp_free(&r);
    fx_close(&f);
}
END_TEST

START_TEST(no_secret_configured_answers_503)
{
    fx_t f;
    static const char *const none[] = {NULL};
    st_http_cfg_t cfg = {.webhook_secrets = none, .n_webhook_secrets = 0};
    fx_open_cfg(&f, 1, &cfg);
    char ev[1024];
    event(ev, sizeof ev, "evt_n", "invoice.paid", INVOICE);
    fx_resp_t r;
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    fx_assert_error(&r, 503, "not_configured");
    fx_resp_free(&r);
    assert_nothing_stored(&f);
    fx_close(&f);
}
END_TEST

typedef struct logbuf {
    pthread_mutex_t mu;
    char text[16384];
} logbuf_t;

static void capture(void *ctx, const char *line)
{
    logbuf_t *l = ctx;
    pthread_mutex_lock(&l->mu);
    size_t used = strlen(l->text);
    snprintf(l->text + used, sizeof l->text - used, "%s\n", line);
    pthread_mutex_unlock(&l->mu);
}

/* The database drops every connection: deliveries in flight may get 503
 * (Stripe retries), the next ones are stored; secrets never reach the log. */
START_TEST(database_restart_is_survived_and_logs_hold_no_secret)
{
    fx_t f;
    static logbuf_t log = {PTHREAD_MUTEX_INITIALIZER, ""};
    st_http_cfg_t cfg = {.log = capture, .log_ctx = &log};
    fx_open_cfg(&f, 1, &cfg);
    setup_waiter(&f);
    char ev[1024];
    fx_resp_t r;
    event(ev, sizeof ev, "evt_before", "invoice.paid", INVOICE);
    fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
    ck_assert_int_eq(r.status, 200);
    fx_resp_free(&r);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s' "
             "AND pid <> pg_backend_pid()",
             f.db);
    PQclear(st_test_exec(f.pg, sql));
    event(ev, sizeof ev, "evt_after", "invoice.paid", INVOICE);
    long status = 0;
    for (int i = 0; i < 3 && status != 200; i++) {
        fx_webhook(&f, FX_SECRET_NEW, now_s(), ev, &r);
        status = r.status;
        if (status != 200)
            fx_assert_error(&r, 503, "unavailable");
        fx_resp_free(&r);
    }
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events"), 2);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM signals"), 2);
    /* Rejections are not logged with their signatures either. */
    fx_webhook(&f, "whsec_wrong", now_s(), ev, &r);
    fx_resp_free(&r);
    fx_close(&f);
    ck_assert_ptr_null(strstr(log.text, FX_SECRET_NEW));
    ck_assert_ptr_null(strstr(log.text, FX_SECRET_OLD));
    ck_assert_ptr_null(strstr(log.text, FX_TOKEN_WRITE));
    ck_assert_ptr_null(strstr(log.text, "v1="));
}
END_TEST

START_TEST(wrong_dsn_fails_at_start)
{
    static const char *const secrets[] = {FX_SECRET_NEW};
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s dbname=no_such_db_settle", st_test_dsn());
    st_http_cfg_t cfg = {.dsn = dsn, .webhook_secrets = secrets, .n_webhook_secrets = 1};
    st_err_t err;
    ck_assert_ptr_null(st_http_server_new(&cfg, &err));
    ck_assert_int_eq(err.code, ST_DB);
    ck_assert_ptr_null(strstr(err.msg, FX_SECRET_NEW));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_webhook");
    TCase *tc = tcase_create("webhook");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, genuine_event_is_stored_and_signals_the_correlated_flow);
    tcase_add_test(tc, redelivery_is_acknowledged_and_changes_nothing);
    tcase_add_test(tc, concurrent_redeliveries_store_one_event);
    tcase_add_test(tc, broken_committer_connection_is_replaced_and_events_stored_once);
    tcase_add_test(tc, tampered_payload_is_rejected);
    tcase_add_test(tc, stale_and_future_timestamps_are_rejected);
    tcase_add_test(tc, configured_tolerance_applies);
    tcase_add_test(tc, rotated_secrets_are_accepted);
    tcase_add_test(tc, missing_or_malformed_signature_is_rejected);
    tcase_add_test(tc, malformed_bodies_are_rejected_even_when_signed);
    tcase_add_test(tc, oversize_bodies_are_refused);
    tcase_add_test(tc, unknown_types_are_stored_and_acknowledged);
    tcase_add_test(tc, related_ids_map_to_flows);
    tcase_add_test(tc, early_event_waits_for_its_correlation);
    tcase_add_test(tc, metrics_count_received_duplicate_rejected);
    tcase_add_test(tc, no_secret_configured_answers_503);
    tcase_add_test(tc, database_restart_is_survived_and_logs_hold_no_secret);
    tcase_add_test(tc, wrong_dsn_fails_at_start);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
