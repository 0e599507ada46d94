/*
 * test_act_net.c — the runner end to end on a real libev loop and a real
 * HTTP server (libmicrohttpd, act_sink): the curl-multi client (success,
 * 5xx, timeout, dropped connection, concurrency limit), the Stripe driver's
 * wire format, ERP / CRM / support / http.call against the sink, the test.*
 * family, the retrying wrapper, shutdown, and that no secret leaks.
 */
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "act_sink.h"
#include "activity/act_int.h"
#include "st_test.h"

#define STRIPE_KEY "sk_test_51SecretKeyThatMustNeverLeak0123456789"
#define ERP_TOKEN  "erp-token-never-in-messages"

/* What the callbacks saw. */
typedef struct got {
    int n; /* callbacks so far */
    char outcome[32];
    char code[64];
    char message[ST_ACT_MSG_MAX];
    uint32_t attempt;
    int http_status;
    int64_t retry_after_us;
    int64_t latency_us;
    json_t *result; /* last result (own ref) */
} got_t;

static void on_res(const st_act_result_t *r, void *user)
{
    got_t *g = user;
    g->n++;
    snprintf(g->outcome, sizeof g->outcome, "%s", r->outcome);
    snprintf(g->code, sizeof g->code, "%s", r->code);
    snprintf(g->message, sizeof g->message, "%s", r->message);
    g->attempt = r->attempt;
    g->http_status = r->http_status;
    g->retry_after_us = r->retry_after_us;
    g->latency_us = r->latency_us;
    json_decref(g->result);
    g->result = json_incref(r->result);
    ck_assert_ptr_nonnull(r->result);
}

/* Observer: every attempt's message must be free of secrets. */
typedef struct seen {
    int n;
    uint32_t attempts[16];
} seen_t;

static void observe(const st_act_result_t *r, void *user)
{
    seen_t *s = user;
    ck_assert_ptr_null(strstr(r->message, "SecretKey"));
    ck_assert_ptr_null(strstr(r->message, ERP_TOKEN));
    ck_assert_ptr_null(strstr(r->message, "sk_test_"));
    ck_assert_ptr_nonnull(st_act_outcomes(r->activity));
    ck_assert_int_eq(strncmp(r->idem_key, "settle_", 7), 0);
    if (s->n < 16)
        s->attempts[s->n] = r->attempt;
    s->n++;
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop until *counter reaches want (20 s guard). */
static void run_until(struct ev_loop *loop, const int *counter, int want)
{
    ev_timer t;
    ev_timer_init(&t, tick, 0.02, 0.02);
    ev_timer_start(loop, &t);
    double deadline = ev_time() + 20;
    while (*counter < want && ev_time() < deadline)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &t);
    ck_assert_int_eq(*counter, want);
}

typedef struct fixture {
    struct ev_loop *loop;
    act_sink_t *sink;
    st_act_runner_t *r;
    seen_t seen;
    char base[128];
} fixture_t;

static void setup_rate(fixture_t *f, uint32_t http_conc, double stripe_rate, double stripe_burst);

static void setup(fixture_t *f, uint32_t http_conc)
{
    setup_rate(f, http_conc, 90, 90);
}

static void setup_rate(fixture_t *f, uint32_t http_conc, double stripe_rate, double stripe_burst)
{
    memset(f, 0, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->sink = act_sink_start();
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", act_sink_port(f->sink));
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    snprintf(cfg.stripe_base, sizeof cfg.stripe_base, "%s/", f->base);
    snprintf(cfg.stripe_key, sizeof cfg.stripe_key, "%s", STRIPE_KEY);
    snprintf(cfg.erp_url, sizeof cfg.erp_url, "%s/erp", f->base);
    snprintf(cfg.erp_token, sizeof cfg.erp_token, "%s", ERP_TOKEN);
    snprintf(cfg.crm_url, sizeof cfg.crm_url, "%s/crm/services/data/v59.0", f->base);
    snprintf(cfg.support_url, sizeof cfg.support_url, "%s/support/api/v2", f->base);
    cfg.max_conc_http = http_conc;
    cfg.stripe_rate = stripe_rate;
    cfg.stripe_burst = stripe_burst;
    st_err_t err;
    f->r = st_act_runner_new(f->loop, &cfg, &err);
    ck_assert_msg(f->r != NULL, "%s", err.msg);
    st_act_runner_set_observer(f->r, observe, &f->seen);
}

static void teardown(fixture_t *f)
{
    st_act_runner_free(f->r);
    ev_loop_destroy(f->loop);
    act_sink_stop(f->sink);
}

/* Start one attempt and run until its callback. */
static void run1(fixture_t *f, got_t *g, const char *activity, json_t *args, const char *key,
                 int64_t timeout_us)
{
    st_act_request_t rq = {activity, args, key, timeout_us, {1, 0, 0}, 1};
    st_err_t err;
    int before = g->n;
    ck_assert_int_eq(st_act_start(f->r, &rq, on_res, g, &err), 0);
    ck_assert_int_eq(g->n, before); /* never synchronously */
    run_until(f->loop, &g->n, before + 1);
    json_decref(args);
}

static json_t *call_args(fixture_t *f, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    return json_pack("{s:s,s:s,s:{s:i}}", "url", url, "method", "POST", "body", "n", 1);
}

/* ------------------------------------------------------- the HTTP client */

START_TEST(http_success_5xx_timeout_drop)
{
    fixture_t f;
    setup(&f, 8);
    got_t g = {0};
    run1(&f, &g, "http.call", call_args(&f, "/ok"), "settle_t_1", 0);
    ck_assert_str_eq(g.outcome, "ok");
    ck_assert_int_eq(g.http_status, 200);
    ck_assert(json_is_true(json_object_get(json_object_get(g.result, "body"), "ok")));
    ck_assert_uint_eq(g.attempt, 1);
    ck_assert_int_ge(g.n, 1);

    act_sink_push(f.sink, 503, "{\"error\":\"busy\"}", "Retry-After", "7");
    run1(&f, &g, "http.call", call_args(&f, "/x"), "settle_t_2", 0);
    ck_assert_str_eq(g.outcome, "transient");
    ck_assert_int_eq(g.retry_after_us, 7000000);

    run1(&f, &g, "http.call", call_args(&f, "/slow/1500"), "settle_t_3", 200000);
    ck_assert_str_eq(g.outcome, "transient");
    ck_assert_ptr_nonnull(strstr(g.message, "imed out"));

    run1(&f, &g, "http.call", call_args(&f, "/drop"), "settle_t_4", 0);
    ck_assert_str_eq(g.outcome, "transient");

    act_sink_push(f.sink, 422, "{\"error\":\"bad\"}", NULL, NULL);
    run1(&f, &g, "http.call", call_args(&f, "/x"), "settle_t_5", 0);
    ck_assert_str_eq(g.outcome, "rejected");
    ck_assert_str_eq(g.code, "http_422");

    /* A reply beyond the 4 MiB cap is refused, permanently. */
    size_t big = (5u << 20);
    char *huge = malloc(big + 1);
    memset(huge, 'x', big);
    huge[big] = '\0';
    act_sink_push(f.sink, 200, huge, NULL, NULL);
    free(huge);
    run1(&f, &g, "http.call", call_args(&f, "/x"), "settle_t_5b", 0);
    ck_assert_str_eq(g.outcome, "failed");

    /* Nobody listening: connection refused is transient. */
    json_t *a = json_pack("{s:s}", "url", "http://127.0.0.1:1/");
    run1(&f, &g, "http.call", a, "settle_t_6", 0);
    ck_assert_str_eq(g.outcome, "transient");
    ck_assert_int_eq(f.seen.n, 7);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(http_concurrency_limit_respected)
{
    fixture_t f;
    setup(&f, 3);
    got_t g = {0};
    for (int i = 0; i < 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "settle_c_%d", i);
        json_t *a = call_args(&f, "/slow/150");
        st_act_request_t rq = {"http.call", a, key, 0, {1, 0, 0}, 1};
        ck_assert_int_eq(st_act_start(f.r, &rq, on_res, &g, NULL), 0);
        json_decref(a);
    }
    ck_assert_uint_eq(st_act_runner_inflight(f.r), 10);
    run_until(f.loop, &g.n, 10);
    ck_assert_str_eq(g.outcome, "ok");
    ck_assert_int_eq((int)act_sink_count(f.sink), 10);
    ck_assert_int_le(act_sink_peak(f.sink), 3);
    ck_assert_int_eq((int)f.r->pool_http.peak, 3);
    ck_assert_uint_eq(st_act_runner_inflight(f.r), 0);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(http_connections_reused)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof key, "settle_reuse_%d", i);
        run1(&f, &g, "http.call", call_args(&f, "/ok"), key, 0);
        ck_assert_str_eq(g.outcome, "ok");
    }
    ck_assert_int_eq((int)act_sink_count(f.sink), 4);
    ck_assert_int_eq(act_sink_connections(f.sink), 1); /* one keep-alive connection */
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(stripe_token_bucket_spreads_calls)
{
    fixture_t f;
    setup_rate(&f, 4, 10, 2); /* 10 requests/s, burst 2 */
    got_t g = {0};
    double t0 = ev_time();
    for (int i = 0; i < 6; i++) {
        char key[32];
        snprintf(key, sizeof key, "settle_tb_%d", i);
        act_sink_push(f.sink, 200,
                      "{\"id\":\"pi_1\",\"object\":\"payment_intent\","
                      "\"status\":\"succeeded\"}",
                      NULL, NULL);
        json_t *a = json_pack("{s:s}", "payment_intent", "pi_1");
        st_act_request_t rq = {"stripe.retrieve_payment", a, key, 0, {1, 0, 0}, 1};
        ck_assert_int_eq(st_act_start(f.r, &rq, on_res, &g, NULL), 0);
        json_decref(a);
    }
    run_until(f.loop, &g.n, 6);
    /* Two go at once, the other four wait for tokens at 100 ms each. */
    ck_assert(ev_time() - t0 >= 0.35);
    ck_assert_str_eq(g.outcome, "succeeded");
    ck_assert_int_eq((int)act_sink_count(f.sink), 6);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(attempt_record_json)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    act_sink_push(f.sink, 429,
                  "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                  "\"Too many requests\"}}",
                  "Retry-After", "3");
    json_t *a = json_pack("{s:s}", "payment_intent", "pi_1");
    run1(&f, &g, "stripe.retrieve_payment", a, "settle_rec_1", 0);
    st_act_result_t res;
    memset(&res, 0, sizeof res);
    res.outcome = g.outcome;
    res.activity = "stripe.retrieve_payment";
    res.idem_key = "settle_rec_1";
    res.attempt = g.attempt;
    res.retry_after_us = g.retry_after_us;
    res.http_status = g.http_status;
    snprintf(res.message, sizeof res.message, "%s", g.message);
    res.result = g.result;
    json_t *j = st_act_result_json(&res);
    ck_assert_str_eq(json_string_value(json_object_get(j, "outcome")), "transient");
    ck_assert_str_eq(json_string_value(json_object_get(j, "idem_key")), "settle_rec_1");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "http_status")), 429);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "retry_after_us")), 3000000);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(j, "message")), "Too many"));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "result"), "request_id")),
                     "req_sink");
    json_decref(j);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(http_call_headers_and_external_id)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    char url[256];
    snprintf(url, sizeof url, "%s/hook", f.base);
    json_t *a = json_pack("{s:s,s:s,s:{s:s},s:{s:s},s:s}", "url", url, "method", "PUT", "headers",
                          "X-Test", "yes", "body", "name", "n", "external_id_field", "ext");
    run1(&f, &g, "http.call", a, "settle_h_1", 0);
    ck_assert_str_eq(g.outcome, "ok");
    act_sink_req_t rq = act_sink_req(f.sink, 0);
    ck_assert_str_eq(rq.method, "PUT");
    ck_assert_str_eq(rq.url, "/hook");
    ck_assert_str_eq(rq.idem, "settle_h_1");
    ck_assert_str_eq(rq.extra, "yes");
    ck_assert_str_eq(rq.body, "{\"ext\":\"settle_h_1\",\"name\":\"n\"}");
    free(rq.body);
    /* A flow may not smuggle credentials or break headers. */
    a = json_pack("{s:s,s:{s:s}}", "url", url, "headers", "Authorization", "Bearer x");
    run1(&f, &g, "http.call", a, "settle_h_2", 0);
    ck_assert_str_eq(g.outcome, "failed");
    a = json_pack("{s:s}", "url", "file:///etc/passwd");
    run1(&f, &g, "http.call", a, "settle_h_3", 0);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_int_eq((int)act_sink_count(f.sink), 1);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

/* ------------------------------------------------------------------ ERP */

START_TEST(erp_post_payment_and_write_off)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    json_t *a = json_pack("{s:s,s:{s:i,s:s},s:s}", "reference", "in_42", "amount", "minor", 1999,
                          "currency", "eur", "customer", "cus_1");
    run1(&f, &g, "erp.post_payment", a, "settle_0190_7", 0);
    ck_assert_str_eq(g.outcome, "ok");
    act_sink_req_t rq = act_sink_req(f.sink, 0);
    ck_assert_str_eq(rq.method, "POST");
    ck_assert_str_eq(rq.url, "/erp/payments");
    ck_assert_str_eq(rq.idem, "settle_0190_7");
    ck_assert_str_eq(rq.auth, "Bearer " ERP_TOKEN);
    ck_assert_str_eq(rq.content_type, "application/json");
    json_t *body = json_loads(rq.body, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "external_id")), "settle_0190_7");
    ck_assert_str_eq(json_string_value(json_object_get(body, "reference")), "in_42");
    ck_assert_int_eq(json_integer_value(json_object_get(body, "amount")), 1999);
    ck_assert_str_eq(json_string_value(json_object_get(body, "currency")), "eur");
    ck_assert_str_eq(json_string_value(json_object_get(body, "type")), "payment");
    json_decref(body);
    free(rq.body);

    act_sink_push(f.sink, 409, "{\"error\":\"in progress\"}", NULL, NULL);
    a = json_pack("{s:s,s:{s:i,s:s},s:s}", "reference", "in_43", "amount", "minor", 500, "currency",
                  "usd", "reason", "uncollectible");
    run1(&f, &g, "erp.write_off", a, "settle_0190_8", 0);
    ck_assert_str_eq(g.outcome, "transient");
    act_sink_push(f.sink, 400, "{\"error\":\"closed period\"}", NULL, NULL);
    a = json_pack("{s:s,s:{s:i,s:s}}", "reference", "in_43", "amount", "minor", 500, "currency",
                  "usd");
    run1(&f, &g, "erp.write_off", a, "settle_0190_8", 0);
    ck_assert_str_eq(g.outcome, "rejected");
    ck_assert_ptr_nonnull(strstr(g.message, "closed period"));
    rq = act_sink_req(f.sink, 2);
    ck_assert_str_eq(rq.url, "/erp/write-offs");
    ck_assert_str_eq(rq.idem, "settle_0190_8");
    free(rq.body);

    a = json_pack("{s:i}", "amount", 5); /* no reference */
    run1(&f, &g, "erp.post_payment", a, "settle_0190_9", 0);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_int_eq((int)act_sink_count(f.sink), 3);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(crm_upsert_and_support_ticket)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    act_sink_push(f.sink, 201, "{\"id\":\"003x\",\"created\":true}", NULL, NULL);
    json_t *a = json_pack("{s:s,s:{s:s}}", "object", "Contact", "fields", "Email", "a@b.c");
    run1(&f, &g, "crm.upsert", a, "settle_k_3", 0);
    ck_assert_str_eq(g.outcome, "ok");
    act_sink_req_t rq = act_sink_req(f.sink, 0);
    ck_assert_str_eq(rq.method, "PATCH");
    ck_assert_str_eq(rq.url, "/crm/services/data/v59.0/sobjects/Contact/Settle_Key__c/settle_k_3");
    ck_assert_str_eq(rq.body, "{\"Email\":\"a@b.c\"}");
    free(rq.body);
    a = json_pack("{s:s,s:s,s:s}", "subject", "Payment stuck", "body", "Invoice in_1 needs you",
                  "requester_email", "ops@example.com");
    run1(&f, &g, "support.ticket", a, "settle_k_4", 0);
    ck_assert_str_eq(g.outcome, "ok");
    rq = act_sink_req(f.sink, 1);
    ck_assert_str_eq(rq.url, "/support/api/v2/tickets.json");
    json_t *b = json_loads(rq.body, 0, NULL);
    json_t *t = json_object_get(b, "ticket");
    ck_assert_str_eq(json_string_value(json_object_get(t, "external_id")), "settle_k_4");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(t, "comment"), "body")),
                     "Invoice in_1 needs you");
    json_decref(b);
    free(rq.body);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

/* --------------------------------------------------------------- Stripe */

START_TEST(stripe_wire_format)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    act_sink_push(f.sink, 402,
                  "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                  "\"decline_code\":\"insufficient_funds\",\"message\":\"Your card has "
                  "insufficient funds.\"}}",
                  NULL, NULL);
    json_t *a = json_pack("{s:s,s:{s:s}}", "invoice", "in_1Abc", "metadata", "flow", "dunning");
    run1(&f, &g, "stripe.pay_invoice", a, "settle_0190abcd_3", 0);
    ck_assert_str_eq(g.outcome, "declined");
    ck_assert_str_eq(g.code, "insufficient_funds");
    ck_assert_int_eq(g.http_status, 402);
    ck_assert_str_eq(json_string_value(json_object_get(g.result, "request_id")), "req_sink");
    act_sink_req_t rq = act_sink_req(f.sink, 0);
    ck_assert_str_eq(rq.method, "POST");
    ck_assert_str_eq(rq.url, "/v1/invoices/in_1Abc/pay");
    ck_assert_str_eq(rq.idem, "settle_0190abcd_3");
    ck_assert_str_eq(rq.auth, "Bearer " STRIPE_KEY);
    ck_assert_str_eq(rq.stripe_version, ST_ACT_STRIPE_VERSION);
    ck_assert_str_eq(rq.content_type, "application/x-www-form-urlencoded");
    ck_assert_str_eq(rq.body, "expand[0]=payment_intent&metadata[flow]=dunning&off_session=true");
    free(rq.body);

    act_sink_push(f.sink, 200,
                  "{\"id\":\"pi_9\",\"object\":\"payment_intent\",\"status\":\"requires_action\","
                  "\"next_action\":{\"type\":\"redirect_to_url\",\"redirect_to_url\":{\"url\":"
                  "\"https://hooks.stripe.com/3ds\"}}}",
                  NULL, NULL);
    a = json_pack("{s:{s:i,s:s},s:s,s:s}", "amount", "minor", 1099, "currency", "eur", "customer",
                  "cus_1", "payment_method", "pm_card_threeDSecure2Required");
    run1(&f, &g, "stripe.create_payment", a, "settle_0190abcd_4", 0);
    ck_assert_str_eq(g.outcome, "requires_action");
    ck_assert_str_eq(json_string_value(json_object_get(g.result, "next_action_url")),
                     "https://hooks.stripe.com/3ds");
    rq = act_sink_req(f.sink, 1);
    ck_assert_str_eq(rq.url, "/v1/payment_intents");
    ck_assert_str_eq(rq.body, "amount=1099&confirm=true&customer=cus_1&off_session=true&"
                              "payment_method=pm_card_threeDSecure2Required&currency=eur");
    free(rq.body);

    act_sink_push(f.sink, 200,
                  "{\"id\":\"pi_9\",\"object\":\"payment_intent\",\"status\":"
                  "\"succeeded\"}",
                  NULL, NULL);
    a = json_pack("{s:s,s:[s]}", "payment_intent", "pi_9", "expand", "latest_charge");
    run1(&f, &g, "stripe.retrieve_payment", a, "settle_0190abcd_5", 0);
    ck_assert_str_eq(g.outcome, "succeeded");
    rq = act_sink_req(f.sink, 2);
    ck_assert_str_eq(rq.method, "GET");
    ck_assert_str_eq(rq.url, "/v1/payment_intents/pi_9");
    ck_assert_str_eq(rq.query, "expand[0]=latest_charge");
    free(rq.body);

    /* Ids that would rewrite the path never reach the network. */
    a = json_pack("{s:s}", "payment_intent", "pi_9/../../v1/charges");
    run1(&f, &g, "stripe.cancel_payment", a, "settle_0190abcd_6", 0);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_int_eq((int)act_sink_count(f.sink), 3);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(stripe_retry_same_key_and_retry_after)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    act_sink_push(f.sink, 500, "{\"error\":{\"type\":\"api_error\",\"message\":\"oops\"}}", NULL,
                  NULL);
    act_sink_push(f.sink, 429,
                  "{\"error\":{\"type\":\"invalid_request_error\",\"code\":"
                  "\"rate_limit\",\"message\":\"Too many requests\"}}",
                  "Retry-After", "1");
    act_sink_push(f.sink, 200, "{\"id\":\"re_1\",\"object\":\"refund\",\"status\":\"pending\"}",
                  NULL, NULL);
    json_t *a = json_pack("{s:s,s:i}", "payment_intent", "pi_1", "amount", 500);
    st_act_request_t rq = {"stripe.refund", a, "settle_r_1", 0, {5, 1000, 2000}, 1};
    double t0 = ev_time();
    ck_assert_int_eq(st_act_run_retrying(f.r, &rq, on_res, &g, NULL), 0);
    json_decref(a);
    run_until(f.loop, &g.n, 1);
    ck_assert_str_eq(g.outcome, "pending");
    ck_assert_uint_eq(g.attempt, 3);
    ck_assert(ev_time() - t0 >= 0.95); /* Retry-After: 1 was honoured over a 2 ms cap */
    ck_assert_int_eq((int)act_sink_count(f.sink), 3);
    for (size_t i = 0; i < 3; i++) {
        act_sink_req_t r = act_sink_req(f.sink, i);
        ck_assert_str_eq(r.idem, "settle_r_1");
        ck_assert_str_eq(r.body, "amount=500&payment_intent=pi_1");
        free(r.body);
    }
    ck_assert_int_eq(f.seen.n, 3);
    ck_assert_uint_eq(f.seen.attempts[0], 1);
    ck_assert_uint_eq(f.seen.attempts[2], 3);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(stripe_secrets_never_in_messages)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    /* Stripe echoes part of a wrong key; a hostile server echoes all of it. */
    act_sink_push(f.sink, 401,
                  "{\"error\":{\"type\":\"invalid_request_error\",\"message\":"
                  "\"Invalid API Key provided: " STRIPE_KEY "\"}}",
                  NULL, NULL);
    json_t *a = json_pack("{s:s}", "invoice", "in_1");
    run1(&f, &g, "stripe.void_invoice", a, "settle_s_1", 0);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "Invalid API Key provided"));
    ck_assert_ptr_null(strstr(g.message, "SecretKey"));
    /* Transport errors and a base URL that is down. */
    a = json_pack("{s:s}", "invoice", "in_1");
    json_t *b = json_pack("{s:s}", "url", "http://127.0.0.1:1/" ERP_TOKEN);
    run1(&f, &g, "http.call", b, "settle_s_2", 0);
    ck_assert_ptr_null(strstr(g.message, ERP_TOKEN));
    json_decref(a);
    ck_assert_int_eq(f.seen.n, 2); /* the observer checked every message */
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(stripe_missing_key_is_failed)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    st_act_runner_t *r = st_act_runner_new(loop, &cfg, NULL);
    got_t g = {0};
    json_t *a = json_pack("{s:s}", "invoice", "in_1");
    st_act_request_t rq = {"stripe.pay_invoice", a, "settle_m_1", 0, {1, 0, 0}, 1};
    ck_assert_int_eq(st_act_start(r, &rq, on_res, &g, NULL), 0);
    run_until(loop, &g.n, 1);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "STRIPE_API_KEY"));
    json_decref(a);
    json_decref(g.result);
    st_act_runner_free(r);
    ev_loop_destroy(loop);
}
END_TEST

/* ------------------------------------------------------------- test.* */

START_TEST(test_family_and_exactly_once)
{
    fixture_t f;
    setup(&f, 4);
    got_t g = {0};
    json_t *a = json_pack("{s:s,s:s,s:i}", "outcome", "declined", "code", "lost_card", "n", 7);
    run1(&f, &g, "test.echo", a, "settle_e_1", 0);
    ck_assert_str_eq(g.outcome, "declined");
    ck_assert_str_eq(g.code, "lost_card");
    ck_assert_int_eq(json_integer_value(json_object_get(g.result, "n")), 7);

    run1(&f, &g, "test.sleep", json_pack("{s:i}", "ms", 30), "settle_e_2", 0);
    ck_assert_str_eq(g.outcome, "ok");
    ck_assert_int_ge(g.latency_us, 30000);
    run1(&f, &g, "test.sleep", json_pack("{s:i}", "ms", 5000), "settle_e_2b", 50000);
    ck_assert_str_eq(g.outcome, "transient");
    ck_assert_ptr_nonnull(strstr(g.message, "timed out"));

    /* fail_then_succeed counts per key: two transient attempts, then ok. */
    a = json_pack("{s:i}", "failures", 2);
    st_act_request_t rq = {"test.fail_then_succeed", a, "settle_e_3", 0, {5, 1000, 4000}, 1};
    ck_assert_int_eq(st_act_run_retrying(f.r, &rq, on_res, &g, NULL), 0);
    run_until(f.loop, &g.n, 4);
    ck_assert_str_eq(g.outcome, "ok");
    ck_assert_uint_eq(g.attempt, 3);
    /* Fewer attempts than failures: the wrapper gives up with failed. */
    rq.idem_key = "settle_e_4";
    rq.policy.max_attempts = 2;
    ck_assert_int_eq(st_act_run_retrying(f.r, &rq, on_res, &g, NULL), 0);
    run_until(f.loop, &g.n, 5);
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "gave up after 2 attempts"));
    json_decref(a);

    /* A failed start never calls back. */
    st_err_t err;
    st_act_request_t bad = {"stripe.teleport", NULL, "settle_e_5", 0, {1, 0, 0}, 1};
    ck_assert_int_eq(st_act_start(f.r, &bad, on_res, &g, &err), ST_NOTFOUND);
    bad.activity = "test.echo";
    bad.idem_key = "bad key\r\n";
    ck_assert_int_eq(st_act_start(f.r, &bad, on_res, &g, &err), ST_INVAL);
    bad.idem_key = NULL;
    ck_assert_int_eq(st_act_start(f.r, &bad, on_res, &g, &err), ST_INVAL);

    /* Shutdown finishes what is in flight, once, as transient. */
    got_t late = {0};
    a = json_pack("{s:i}", "ms", 60000);
    st_act_request_t sl = {"test.sleep", a, "settle_e_6", 0, {1, 0, 0}, 1};
    ck_assert_int_eq(st_act_start(f.r, &sl, on_res, &late, NULL), 0);
    json_t *h = call_args(&f, "/slow/300");
    st_act_request_t hc = {"http.call", h, "settle_e_7", 0, {1, 0, 0}, 1};
    ck_assert_int_eq(st_act_start(f.r, &hc, on_res, &late, NULL), 0);
    ev_run(f.loop, EVRUN_NOWAIT);
    json_decref(a);
    json_decref(h);
    ck_assert_int_eq(g.n, 5);
    st_act_runner_free(f.r);
    f.r = NULL;
    ck_assert_int_eq(late.n, 2);
    ck_assert_str_eq(late.outcome, "transient");
    json_decref(late.result);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activity_net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, http_success_5xx_timeout_drop);
    tcase_add_test(tc, http_concurrency_limit_respected);
    tcase_add_test(tc, http_connections_reused);
    tcase_add_test(tc, stripe_token_bucket_spreads_calls);
    tcase_add_test(tc, attempt_record_json);
    tcase_add_test(tc, http_call_headers_and_external_id);
    tcase_add_test(tc, erp_post_payment_and_write_off);
    tcase_add_test(tc, crm_upsert_and_support_ticket);
    tcase_add_test(tc, stripe_wire_format);
    tcase_add_test(tc, stripe_retry_same_key_and_retry_after);
    tcase_add_test(tc, stripe_secrets_never_in_messages);
    tcase_add_test(tc, stripe_missing_key_is_failed);
    tcase_add_test(tc, test_family_and_exactly_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
