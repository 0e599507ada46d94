/*
 * test_sim_machine.c — the simulator's status machines and request
 * semantics, driven through st_sim_dispatch without HTTP: auth, the
 * PaymentIntent machine (confirm, decline, 3-D Secure, capture, cancel),
 * idempotency with the effects counter, invoices, refunds over sim time,
 * the issuer model, and injected faults.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim.h"
#include "st_sim_form.h"
#include "st_test.h"

#define AUTH "Bearer sk_test_unit"

static st_sim_t *sim;

static void setup(void)
{
    st_sim_config_t cfg = {.seed = 42, .clock_start = 1767225600, .clock_frozen = 1, .quiet = 1};
    st_err_t err;
    ck_assert_int_eq(st_sim_new(&cfg, &sim, &err), 0);
}

static void teardown(void)
{
    st_sim_free(sim);
}

/* One request; returns the parsed body (caller decrefs); *status gets the code. */
static json_t *req_full(const char *method, const char *path, const char *form, const char *key,
                        const char *auth, st_sim_resp_t *out)
{
    json_t *params = NULL;
    st_err_t err;
    ck_assert_int_eq(st_sim_form_decode(form ? form : "", form ? strlen(form) : 0, &params, &err),
                     0);
    st_sim_req_t r = {
        .method = method, .path = path, .params = params, .authorization = auth, .idem_key = key};
    st_sim_dispatch(sim, &r, out);
    json_decref(params);
    json_t *body = out->body ? json_loads(out->body, 0, NULL) : NULL;
    st_sim_resp_release(out);
    return body;
}

static json_t *req(const char *method, const char *path, const char *form, int *status)
{
    st_sim_resp_t resp;
    json_t *b = req_full(method, path, form, NULL, AUTH, &resp);
    *status = resp.status;
    return b;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *err_field(json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(o, "error"), k));
}

START_TEST(auth_schemes)
{
    st_sim_resp_t r;
    json_t *b = req_full("GET", "/v1/customers", NULL, NULL, NULL, &r);
    ck_assert_int_eq(r.status, 401);
    json_decref(b);
    b = req_full("GET", "/v1/customers", NULL, NULL, "Bearer sk_live_secretvalue", &r);
    ck_assert_int_eq(r.status, 401);
    char *text = json_dumps(b, 0);
    ck_assert_ptr_null(strstr(text, "secretvalue"));
    free(text);
    json_decref(b);
    /* base64("sk_test_unit:") */
    b = req_full("GET", "/v1/customers", NULL, NULL, "Basic c2tfdGVzdF91bml0Og==", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(str(b, "object"), "list");
    ck_assert_str_ne(r.request_id, "");
    json_decref(b);
}
END_TEST

START_TEST(pi_happy_path)
{
    int st;
    json_t *pi = req("POST", "/v1/payment_intents", "amount=1099&currency=usd", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(pi, "status"), "requires_payment_method");
    char path[128], id[64];
    snprintf(id, sizeof(id), "%s", str(pi, "id"));
    json_decref(pi);
    snprintf(path, sizeof(path), "/v1/payment_intents/%s", id);
    pi = req("POST", path, "payment_method=pm_card_visa", &st);
    ck_assert_str_eq(str(pi, "status"), "requires_confirmation");
    json_decref(pi);
    snprintf(path, sizeof(path), "/v1/payment_intents/%s/confirm", id);
    pi = req("POST", path, NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(pi, "status"), "succeeded");
    ck_assert_int_eq(json_integer_value(json_object_get(pi, "amount_received")), 1099);
    json_decref(pi);
    pi = req("POST", path, NULL, &st);
    ck_assert_int_eq(st, 400);
    ck_assert_str_eq(err_field(pi, "code"), "payment_intent_unexpected_state");
    json_decref(pi);
}
END_TEST

START_TEST(pi_decline_then_retry)
{
    int st;
    json_t *e =
        req("POST", "/v1/payment_intents",
            "amount=500&currency=usd&confirm=true&payment_method=pm_card_chargeDeclined", &st);
    ck_assert_int_eq(st, 402);
    ck_assert_str_eq(err_field(e, "type"), "card_error");
    ck_assert_str_eq(err_field(e, "code"), "card_declined");
    ck_assert_str_eq(err_field(e, "decline_code"), "generic_decline");
    json_t *pi = json_object_get(json_object_get(e, "error"), "payment_intent");
    ck_assert_str_eq(str(pi, "status"), "requires_payment_method");
    char path[128];
    snprintf(path, sizeof(path), "/v1/payment_intents/%s/confirm", str(pi, "id"));
    json_decref(e);
    json_t *ok = req("POST", path, "payment_method=pm_card_visa", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(ok, "status"), "succeeded");
    json_decref(ok);
}
END_TEST

START_TEST(pi_three_d_secure)
{
    int st;
    json_t *pi = req(
        "POST", "/v1/payment_intents",
        "amount=500&currency=usd&confirm=true&payment_method=pm_card_threeDSecure2Required", &st);
    ck_assert_str_eq(str(pi, "status"), "requires_action");
    ck_assert_ptr_nonnull(json_object_get(json_object_get(pi, "next_action"), "type"));
    char path[128];
    snprintf(path, sizeof(path), "/_sim/payment_intents/%s/3ds", str(pi, "id"));
    json_decref(pi);
    pi = req("POST", path, "outcome=succeed", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(pi, "status"), "succeeded");
    json_decref(pi);
    pi = req("POST", path, "outcome=succeed", &st);
    ck_assert_int_eq(st, 400);
    json_decref(pi);
    pi = req("POST", "/v1/payment_intents",
             "amount=500&currency=usd&confirm=true&off_session=true"
             "&payment_method=pm_card_authenticationRequired",
             &st);
    ck_assert_int_eq(st, 402);
    ck_assert_str_eq(err_field(pi, "code"), "authentication_required");
    json_decref(pi);
}
END_TEST

START_TEST(pi_capture_and_cancel)
{
    int st;
    const char *form = "amount=800&currency=usd&confirm=true&capture_method=manual"
                       "&payment_method=pm_card_visa";
    json_t *pi = req("POST", "/v1/payment_intents", form, &st);
    ck_assert_str_eq(str(pi, "status"), "requires_capture");
    char path[128];
    snprintf(path, sizeof(path), "/v1/payment_intents/%s/capture", str(pi, "id"));
    json_decref(pi);
    pi = req("POST", path, "amount_to_capture=900", &st);
    ck_assert_int_eq(st, 400);
    json_decref(pi);
    pi = req("POST", path, "amount_to_capture=600", &st);
    ck_assert_str_eq(str(pi, "status"), "succeeded");
    ck_assert_int_eq(json_integer_value(json_object_get(pi, "amount_received")), 600);
    json_decref(pi);
    pi = req("POST", "/v1/payment_intents", form, &st);
    snprintf(path, sizeof(path), "/v1/payment_intents/%s/cancel", str(pi, "id"));
    json_decref(pi);
    pi = req("POST", path, "cancellation_reason=duplicate", &st);
    ck_assert_str_eq(str(pi, "status"), "canceled");
    json_decref(pi);
    pi = req("POST", path, NULL, &st);
    ck_assert_int_eq(st, 400);
    json_decref(pi);
}
END_TEST

static int64_t effects_for(const char *key)
{
    int st;
    char path[256];
    snprintf(path, sizeof(path), "/_sim/effects");
    json_t *params = json_pack("{s:s}", "idempotency_key", key);
    st_sim_req_t r = {.method = "GET", .path = path, .params = params};
    st_sim_resp_t resp;
    st_sim_dispatch(sim, &r, &resp);
    json_decref(params);
    json_t *b = json_loads(resp.body, 0, NULL);
    st = resp.status;
    st_sim_resp_release(&resp);
    ck_assert_int_eq(st, 200);
    int64_t n = json_integer_value(json_object_get(b, "count_for_key"));
    json_decref(b);
    return n;
}

START_TEST(idempotent_replay_counts_one_charge)
{
    st_sim_resp_t r1, r2, r3;
    const char *form = "amount=100&currency=usd&confirm=true&payment_method=pm_card_visa";
    json_t *a = req_full("POST", "/v1/payment_intents", form, "key-1", AUTH, &r1);
    json_t *b = req_full("POST", "/v1/payment_intents", form, "key-1", AUTH, &r2);
    ck_assert_int_eq(r1.replayed, 0);
    ck_assert_int_eq(r2.replayed, 1);
    ck_assert_str_eq(str(a, "id"), str(b, "id"));
    json_t *c =
        req_full("POST", "/v1/payment_intents", "amount=101&currency=usd", "key-1", AUTH, &r3);
    ck_assert_int_eq(r3.status, 400);
    ck_assert_str_eq(err_field(c, "type"), "idempotency_error");
    ck_assert_int_eq(effects_for("key-1"), 1);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

START_TEST(invoice_machine)
{
    int st;
    json_t *cus = req("POST", "/v1/customers",
                      "payment_method=pm_card_chargeCustomerFail"
                      "&email=d%40example.com",
                      &st);
    ck_assert_int_eq(st, 200);
    char cid[64], form[256], path[128], iid[64];
    snprintf(cid, sizeof(cid), "%s", str(cus, "id"));
    json_decref(cus);
    json_t *pms = NULL;
    snprintf(path, sizeof(path), "/v1/customers/%s/payment_methods", cid);
    pms = req("GET", path, NULL, &st);
    const char *pm = str(json_array_get(json_object_get(pms, "data"), 0), "id");
    snprintf(form, sizeof(form), "invoice_settings[default_payment_method]=%s", pm);
    snprintf(path, sizeof(path), "/v1/customers/%s", cid);
    json_decref(req("POST", path, form, &st));
    ck_assert_int_eq(st, 200);
    json_decref(pms);
    snprintf(form, sizeof(form), "customer=%s&amount=4200&currency=usd", cid);
    json_decref(req("POST", "/v1/invoiceitems", form, &st));
    snprintf(form, sizeof(form), "customer=%s", cid);
    json_t *inv = req("POST", "/v1/invoices", form, &st);
    ck_assert_str_eq(str(inv, "status"), "draft");
    ck_assert_int_eq(json_integer_value(json_object_get(inv, "amount_due")), 4200);
    snprintf(iid, sizeof(iid), "%s", str(inv, "id"));
    json_decref(inv);
    snprintf(path, sizeof(path), "/v1/invoices/%s/pay", iid);
    json_t *e = req("POST", path, NULL, &st);
    ck_assert_int_eq(st, 402);
    json_decref(e);
    snprintf(path, sizeof(path), "/v1/invoices/%s", iid);
    inv = req("GET", path, NULL, &st);
    ck_assert_str_eq(str(inv, "status"), "open");
    ck_assert_int_eq(json_integer_value(json_object_get(inv, "attempt_count")), 1);
    json_decref(inv);
    snprintf(path, sizeof(path), "/v1/invoices/%s/pay", iid);
    inv = req("POST", path, "payment_method=pm_card_visa", &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(inv, "status"), "paid");
    json_decref(inv);
    snprintf(path, sizeof(path), "/v1/invoices/%s/void", iid);
    e = req("POST", path, NULL, &st);
    ck_assert_int_eq(st, 400);
    json_decref(e);
}
END_TEST

START_TEST(refund_transitions_follow_the_clock)
{
    int st;
    json_t *pi =
        req("POST", "/v1/payment_intents",
            "amount=300&currency=usd&confirm=true&payment_method=pm_card_pendingRefund", &st);
    char form[128], path[128];
    snprintf(form, sizeof(form), "payment_intent=%s", str(pi, "id"));
    json_decref(pi);
    json_t *re = req("POST", "/v1/refunds", form, &st);
    ck_assert_str_eq(str(re, "status"), "pending");
    snprintf(path, sizeof(path), "/v1/refunds/%s", str(re, "id"));
    json_decref(re);
    json_decref(req("POST", "/_sim/clock/advance", "hours=23", &st));
    re = req("GET", path, NULL, &st);
    ck_assert_str_eq(str(re, "status"), "pending");
    json_decref(re);
    json_decref(req("POST", "/_sim/clock/advance", "hours=2", &st));
    re = req("GET", path, NULL, &st);
    ck_assert_str_eq(str(re, "status"), "succeeded");
    json_decref(re);
}
END_TEST

START_TEST(issuer_insufficient_funds_until_payday)
{
    int st;
    /* sim time starts 2026-01-01 00:00 UTC; payday on the 15th */
    json_t *cus = req("POST", "/v1/customers", "payment_method=pm_card_visa", &st);
    char cid[64], path[128], form[256];
    snprintf(cid, sizeof(cid), "%s", str(cus, "id"));
    json_decref(cus);
    snprintf(path, sizeof(path), "/_sim/customers/%s/issuer", cid);
    json_t *m = req("POST", path, "kind=insufficient_funds&payday=15", &st);
    ck_assert_int_eq(st, 200);
    json_decref(m);
    snprintf(form, sizeof(form),
             "amount=900&currency=usd&confirm=true&off_session=true&customer=%s"
             "&payment_method=pm_card_visa",
             cid);
    json_t *e = req("POST", "/v1/payment_intents", form, &st);
    ck_assert_int_eq(st, 402);
    ck_assert_str_eq(err_field(e, "decline_code"), "insufficient_funds");
    json_decref(e);
    json_decref(req("POST", "/_sim/clock/advance", "days=13", &st));
    e = req("POST", "/v1/payment_intents", form, &st);
    ck_assert_int_eq(st, 402);
    json_decref(e);
    json_decref(req("POST", "/_sim/clock/advance", "days=1", &st));
    json_t *ok = req("POST", "/v1/payment_intents", form, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(str(ok, "status"), "succeeded");
    json_decref(ok);
}
END_TEST

START_TEST(faults_answer_before_running)
{
    int st;
    json_decref(req("POST", "/_sim/faults", "spec=/v1/customers:5xx=1", &st));
    ck_assert_int_eq(st, 200);
    st_sim_resp_t r;
    json_t *e = req_full("POST", "/v1/customers", NULL, "fk", AUTH, &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert_int_eq(r.should_retry, 1);
    ck_assert_str_eq(err_field(e, "type"), "api_error");
    json_decref(e);
    json_decref(req("POST", "/_sim/faults", "spec=/v1/customers:drop=1", &st));
    e = req_full("POST", "/v1/customers", NULL, "fk", AUTH, &r);
    ck_assert_int_eq(r.drop, 1);
    json_decref(e);
    json_decref(req("POST", "/_sim/faults", "spec=/v1/customers:429=1", &st));
    e = req_full("POST", "/v1/customers", NULL, "fk", AUTH, &r);
    ck_assert_int_eq(r.status, 429);
    json_decref(e);
    json_decref(req("POST", "/_sim/faults", "spec=", &st));
    e = req_full("POST", "/v1/customers", NULL, "fk", AUTH, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.replayed, 0); /* injected faults stored nothing */
    json_decref(e);
    e = req("POST", "/_sim/faults", "spec=nonsense", &st);
    ck_assert_int_eq(st, 400);
    json_decref(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_machine");
    TCase *tc = tcase_create("machine");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, auth_schemes);
    tcase_add_test(tc, pi_happy_path);
    tcase_add_test(tc, pi_decline_then_retry);
    tcase_add_test(tc, pi_three_d_secure);
    tcase_add_test(tc, pi_capture_and_cancel);
    tcase_add_test(tc, idempotent_replay_counts_one_charge);
    tcase_add_test(tc, invoice_machine);
    tcase_add_test(tc, refund_transitions_follow_the_clock);
    tcase_add_test(tc, issuer_insufficient_funds_until_payday);
    tcase_add_test(tc, faults_answer_before_running);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
