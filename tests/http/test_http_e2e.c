/*
 * test_http_e2e.c — a flow woken by a Stripe webhook, end to end: the
 * executor runs in-process against stripe-sim; the flow creates a
 * PaymentIntent at the simulator through the stripe activity, then waits
 * for payment_intent.succeeded; stripe-sim signs and delivers the event to
 * the settle HTTP server, which verifies it, stores it and hands it to the
 * instance as a signal; the executor consumes it and the flow completes.
 *
 * Built only when the executor (engine/exec) is part of the build.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>

#include "exec/st_exec.h"
#include "http_fixture.h"

static const char FLOW_PAY[] =
    "flow pay_and_wait\n"
    "input customer: string\n"
    "input payment_method: string\n"
    "input amount: money\n"
    "var pi_id: string\n"
    "correlate payment_intent = pi_id\n"
    "state create {\n"
    "  do stripe.create_payment(customer: customer, amount: amount,\n"
    "                           payment_method: payment_method, description: \"e2e\")\n"
    "  timeout 10s\n"
    "  on succeeded -> wait_for_stripe save pi_id = id\n"
    "  on processing -> wait_for_stripe save pi_id = id\n"
    "  on requires_action -> wait_for_stripe save pi_id = id\n"
    "  on declined -> not_paid\n"
    "  on failed -> not_paid\n"
    "}\n"
    "state wait_for_stripe {\n"
    "  await timeout 1h\n"
    "  on signal payment_intent.succeeded -> paid\n"
    "  on timeout -> not_paid\n"
    "}\n"
    "final paid\n"
    "final not_paid\n";

/* A customer at the simulator; its id into out. */
static void sim_customer(const fx_sim_t *s, char *out, size_t cap)
{
    json_t *j = fx_sim_post(s, "/v1/customers", "email=e2e%40example.com");
    ck_assert_msg(json_string_value(json_object_get(j, "id")) != NULL, "customer without id");
    snprintf(out, cap, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Turn the executor's loop until sql returns want (up to 30 s). */
static int until(fx_t *f, struct ev_loop *loop, const char *sql, long long want)
{
    for (int i = 0; i < 3000; i++) {
        if (fx_scalar(f, sql) == want)
            return 1;
        ev_run(loop, EVRUN_ONCE);
    }
    return 0;
}

START_TEST(flow_is_woken_by_a_stripe_webhook)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "pay_and_wait.flow", FLOW_PAY);
    fx_sim_t s;
    fx_sim_start(&s, &f, STRIPE_SIM_BIN);
    char cus[128];
    sim_customer(&s, cus, sizeof cus);

    struct ev_loop *loop = ev_loop_new(0);
    ev_timer t;
    ev_timer_init(&t, tick, 0.01, 0.01);
    ev_timer_start(loop, &t);
    static st_act_config_t act;
    st_act_config_defaults(&act);
    snprintf(act.stripe_base, sizeof act.stripe_base, "http://127.0.0.1:%u", s.port);
    snprintf(act.stripe_key, sizeof act.stripe_key, "sk_test_settle_http_0000000000000000");
    st_exec_cfg_t cfg = {
        .dsn = f.dsn, .node_name = "http-e2e", .claim_interval_ms = 50, .act = &act};
    st_exec_t *x = NULL;
    st_err_t err;
    ck_assert_msg(st_exec_new(loop, &cfg, &x, &err) == 0, "exec: %s", err.msg);
    ck_assert_msg(st_exec_start(x, &err) == 0, "exec start: %s", err.msg);

    char body[512];
    snprintf(body, sizeof body,
             "{\"flow\":\"pay_and_wait\",\"inputs\":{\"customer\":\"%s\","
             "\"payment_method\":\"pm_card_visa\",\"amount\":{\"minor\":4990,"
             "\"currency\":\"eur\"}}}",
             cus);
    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE, body, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    char id[64], sql[512];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);

    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND status = 'completed' AND "
             "state_name = 'paid'",
             id);
    int done = until(&f, loop, sql, 1);
    snprintf(sql, sizeof sql,
             "SELECT state_name || ' ' || status || ' ' || coalesce(wait_reason, "
             "'') FROM instances WHERE id = '%s'",
             id);
    ck_assert_msg(done, "the flow did not complete: %s", fx_text(&f, sql));
    /* It was the webhook that woke it: the consumed signal came from Stripe. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM signals s JOIN webhook_events e ON s.source = 'webhook:' || "
             "e.event_id WHERE s.instance_id = '%s' AND s.name = 'payment_intent.succeeded' "
             "AND s.consumed_at IS NOT NULL AND e.payload->'data'->'object'->>'id' = "
             "(SELECT vars->>'pi_id' FROM instances WHERE id = '%s')",
             id, id);
    ck_assert_int_eq(fx_scalar(&f, sql), 1);
    /* The API shows the outcome. */
    char path[128];
    snprintf(path, sizeof path, "/v1/instances/%s", id);
    fx_api(&f, "GET", path, FX_TOKEN_READ, NULL, &r);
    ck_assert_str_eq(fx_json_str(&r, "state"), "paid");
    ck_assert_str_eq(fx_json_str(&r, "status"), "completed");
    fx_resp_free(&r);

    st_exec_shutdown(x);
    for (int i = 0; i < 2000 && !st_exec_stopped(x); i++)
        ev_run(loop, EVRUN_ONCE);
    st_exec_free(x);
    ev_timer_stop(loop, &t);
    ev_loop_destroy(loop);
    fx_sim_stop(&s);
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_e2e");
    TCase *tc = tcase_create("e2e");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, flow_is_woken_by_a_stripe_webhook);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
