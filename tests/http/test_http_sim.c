/*
 * test_http_sim.c — stripe-sim delivers its own signed webhooks to a real
 * settle HTTP server: a PaymentIntent confirmed at the simulator reaches
 * the instance correlated with it as the signal payment_intent.succeeded,
 * whether the webhook arrives before or after the instance learns the
 * PaymentIntent id (parking). Nothing is rejected, nothing is stored twice.
 *
 * The executor that would then move the flow is not part of this test
 * (test_http_e2e has it); the flow's side ends at the stored signal.
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

#include "http_fixture.h"
#include "store/st_store.h"

static const char FLOW_WAIT_PAYMENT[] = "flow wait_payment\n"
                                        "input order: string\n"
                                        "var pi_id: string\n"
                                        "correlate payment_intent = pi_id\n"
                                        "state wait {\n"
                                        "  await timeout 1d\n"
                                        "  on signal payment_intent.succeeded -> paid\n"
                                        "  on timeout -> expired\n"
                                        "}\n"
                                        "final paid\n"
                                        "final expired\n";

/* Create and confirm a PaymentIntent at the simulator; its id into out. */
static void confirm_payment(const fx_sim_t *s, char *out, size_t cap)
{
    json_t *j = fx_sim_post(s, "/v1/payment_intents",
                            "amount=4990&currency=eur&payment_method=pm_card_visa&confirm=true");
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "succeeded");
    snprintf(out, cap, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

/* Poll until sql returns want (up to 20 s). */
static int until(fx_t *f, const char *sql, long long want)
{
    for (int i = 0; i < 200; i++) {
        if (fx_scalar(f, sql) == want)
            return 1;
        usleep(100 * 1000);
    }
    return 0;
}

static void correlate(fx_t *f, const char *id, const char *pi)
{
    struct ev_loop *loop = ev_loop_new(0);
    st_store_conn_cfg_t cfg = {.dsn = f->dsn};
    st_err_t err;
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, &err);
    ck_assert_ptr_nonnull(c);
    st_store_uuid_t u;
    ck_assert_int_eq(st_store_uuid_parse(id, &u), 0);
    ck_assert_int_eq(st_store_correlate(c, &u, "payment_intent", pi, &err), 0);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
}

static void run(int correlate_first_late)
{
    fx_t f;
    fx_open(&f, 1);
    fx_deploy(&f, "wait_payment.flow", FLOW_WAIT_PAYMENT);
    fx_resp_t r;
    fx_api(&f, "POST", "/v1/instances", FX_TOKEN_WRITE,
           "{\"flow\":\"wait_payment\",\"inputs\":{\"order\":\"ord_1\"}}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    char id[64];
    snprintf(id, sizeof id, "%s", fx_json_str(&r, "id"));
    fx_resp_free(&r);
    fx_sim_t s;
    fx_sim_start(&s, &f, STRIPE_SIM_BIN);
    char pi[128], sql[512];
    confirm_payment(&s, pi, sizeof pi);
    if (correlate_first_late) {
        /* The webhook lands first and is parked under the PaymentIntent. */
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM signals WHERE instance_id IS NULL AND corr_key = "
                 "'payment_intent' AND corr_value = '%s' AND name = 'payment_intent.succeeded'",
                 pi);
        ck_assert_msg(until(&f, sql, 1), "no parked payment_intent.succeeded for %s", pi);
    }
    correlate(&f, id, pi);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM signals s JOIN webhook_events e ON s.source = 'webhook:' || "
             "e.event_id WHERE s.instance_id = '%s' AND s.name = 'payment_intent.succeeded' AND "
             "e.payload->'data'->'object'->>'id' = '%s'",
             id, pi);
    ck_assert_msg(until(&f, sql, 1), "payment_intent.succeeded for %s never reached %s", pi, id);
    fx_sim_stop(&s);
    ck_assert_int_eq(fx_scalar(&f, "SELECT count(*) FROM webhook_events WHERE type = "
                                   "'payment_intent.succeeded'"),
                     1);
    fx_request(&f, "GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_ptr_nonnull(strstr(r.body, "settle_webhook_events_total{result=\"rejected\"} 0\n"));
    fx_resp_free(&r);
    fx_close(&f);
}

START_TEST(webhook_after_the_flow_knows_the_payment)
{
    run(0);
}
END_TEST

START_TEST(webhook_before_the_flow_knows_the_payment)
{
    run(1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_sim");
    TCase *tc = tcase_create("sim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, webhook_after_the_flow_knows_the_payment);
    tcase_add_test(tc, webhook_before_the_flow_knows_the_payment);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
