/*
 * test_e2e_faults.c — a workload of charges through workflows/charge.flow
 * while stripe-sim misbehaves on /v1/payment_intents: 30 % answered 500,
 * 5 % of connections dropped, and a uniform 0–2.2 s latency that makes
 * about one request in eleven outlive the attempt timeout (the sim still
 * runs it: the retry then meets 409 "key in use" or the replayed answer).
 *
 * The flow is the shipped one with one change made here, in memory: its
 * create step's `timeout 30s` / `retry 4 times backoff 1s..30s` become
 * `timeout 2s` / `retry 12 times backoff 100ms..2s`, so that timeouts
 * happen within the test's time budget and a 45 % failure rate per
 * attempt cannot exhaust the retries (0.45^13 ≈ 3e-5 per flow).
 *
 * Asserts: every flow ends paid; per flow exactly one PaymentIntent and
 * one successful charge at the sim, no failed one; the sim's effects
 * counter holds one effect per idempotency key, each a task's key, N in
 * all; the ERP got one payment per flow.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_check.h"

#define FLOWS 60

static const char FAULTS[] = "/v1/payment_intents*:5xx=0.3,drop=0.05,latency=0-2200";

/* charge.flow with the create step's timing tightened (see above). */
static char *charge_flow_for_faults(void)
{
    char *src = e2e_read_src("workflows/charge.flow");
    static const char from[] = "  timeout 30s\n  retry 4 times backoff 1s..30s\n";
    static const char to[] = "  timeout 2s\n  retry 12 times backoff 100ms..2s\n";
    char *at = strstr(src, from);
    ck_assert_msg(at != NULL, "charge.flow's create step changed: update this test");
    char *out = malloc(strlen(src) + sizeof to);
    ck_assert_ptr_nonnull(out);
    snprintf(out, strlen(src) + sizeof to, "%.*s%s%s", (int)(at - src), src, to,
             at + sizeof from - 1);
    free(src);
    return out;
}

START_TEST(charges_survive_a_faulty_stripe_without_double_charges)
{
    e2e_t e;
    e2e_opts_t o = {.virtual_clock = 0, .faults = FAULTS, .seed = 99};
    e2e_init(&e, &o);
    char *flow = charge_flow_for_faults();
    e2e_deploy_text(&e, "charge.flow (fault timing)", flow);
    free(flow);

    /* One customer with a saved card (the book bypasses the faulty API). */
    CURL *cu = curl_easy_init();
    char *esc = curl_easy_escape(cu, "load@shop.example\tpm_card_visa\t100\teur\tDE\t0\tnone\n", 0);
    char form[512];
    snprintf(form, sizeof form, "tsv=%s", esc);
    curl_free(esc);
    curl_easy_cleanup(cu);
    long st = 0;
    json_t *book = e2e_sim(&e, "POST", "/_sim/book", form, &st);
    ck_assert_int_eq(st, 200);
    json_t *row = json_array_get(json_object_get(book, "created"), 0);
    char cus[64], pm[64];
    snprintf(cus, sizeof cus, "%s", json_string_value(json_object_get(row, "customer")));
    snprintf(pm, sizeof pm, "%s", json_string_value(json_object_get(row, "payment_method")));
    json_decref(book);

    static char ids[FLOWS][40];
    for (int i = 0; i < FLOWS; i++) {
        char in[512];
        snprintf(in, sizeof in,
                 "{\"customer\": \"%s\", \"email\": \"load@shop.example\", \"payment_method\": "
                 "\"%s\", \"amount\": {\"minor\": %d, \"currency\": \"eur\"}, \"order\": "
                 "\"load-%02d\"}",
                 cus, pm, 1000 + i, i);
        snprintf(ids[i], sizeof ids[i], "%s", e2e_start(&e, "charge", in));
    }
    static const char ENDED[] =
        "SELECT count(*) FROM instances WHERE status IN ('completed', 'failed', 'cancelled')";
    int ended = e2e_until(&e, ENDED, FLOWS, 100);
    ck_assert_msg(ended, "%lld of %d flows ended; states: %s", e2e_scalar(&e, "%s", ENDED), FLOWS,
                  e2e_text(&e, "SELECT string_agg(state_name || '/' || status, ', ') FROM "
                               "instances WHERE status NOT IN ('completed')"));
    ck_assert_msg(e2e_scalar(&e, "SELECT count(*) FROM instances WHERE state_name = 'paid'") ==
                      FLOWS,
                  "not all paid: %s",
                  e2e_text(&e, "SELECT string_agg(i.state_name || ': ' || coalesce(t.last_error, "
                               "''), E'\\n') FROM instances i LEFT JOIN tasks t ON "
                               "t.instance_id = i.id WHERE i.state_name <> 'paid'"));
    e2e_assert_gapless(&e);

    /* The sim behaves again for the checks below (its fault rules match
     * any request under /v1/payment_intents, ours included). */
    json_decref(e2e_sim(&e, "POST", "/_sim/faults", "spec=", &st));
    ck_assert_int_eq(st, 200);

    /* Per flow: one PaymentIntent, one successful charge, no failed one. */
    json_t *pis = e2e_sim(&e, "GET", "/v1/payment_intents?limit=100", NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(json_array_size(json_object_get(pis, "data")), FLOWS);
    json_decref(pis);
    for (int i = 0; i < FLOWS; i++) {
        char pi[64];
        snprintf(pi, sizeof pi, "%s",
                 e2e_text(&e, "SELECT vars->>'pi_id' FROM instances WHERE id = '%s'", ids[i]));
        e2e_charges_t c = e2e_pi_charges(&e, pi);
        ck_assert_msg(c.succeeded == 1 && c.failed == 0, "flow %d (%s): %d/%d charges", i, pi,
                      c.succeeded, c.failed);
    }
    long long ok = 0;
    int effects = e2e_check_effects(&e, &ok, NULL);
    ck_assert_int_eq(effects, FLOWS);
    ck_assert_int_eq(ok, FLOWS);

    /* ERP: one payment per order, each under its step's key. */
    ck_assert_int_eq(e2e_check_erp(&e), FLOWS);
    for (int i = 0; i < FLOWS; i++) {
        char order[16];
        e2e_erp_rec_t r;
        snprintf(order, sizeof order, "load-%02d", i);
        ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", order, &r), 1);
        ck_assert_int_eq(r.amount, 1000 + i);
    }

    /* The faults really happened: more attempts than steps. */
    long long attempts = e2e_scalar(&e, "SELECT sum(attempt) FROM tasks WHERE activity = "
                                        "'stripe.create_payment'");
    long long retried = e2e_scalar(&e, "SELECT count(*) FROM tasks WHERE activity = "
                                       "'stripe.create_payment' AND attempt > 1");
    ck_assert_int_gt(attempts, FLOWS);
    long long injected = e2e_scalar(&e, "SELECT count(*) FROM task_attempts WHERE error LIKE "
                                        "'%%Stripe 500%%'");
    long long cut = e2e_scalar(&e, "SELECT count(*) FROM task_attempts WHERE error LIKE "
                                   "'%%timed out%%' OR error LIKE '%%Empty reply%%' OR error LIKE "
                                   "'%%reset%%' OR error LIKE '%%409%%'");
    ck_assert_int_gt(injected, 0);
    ck_assert_int_gt(cut, 0);
    long long replayed = e2e_scalar(&e, "SELECT count(*) FROM tasks WHERE "
                                        "(result->>'idempotent_replayed')::boolean");
    fprintf(stderr,
            "faults: %d flows paid, %lld create attempts (%lld flows retried; %lld injected 500s, "
            "%lld timeouts/drops/409s; %lld answers replayed by key), %d effects, %lld charges "
            "succeeded, 0 double charges\n",
            FLOWS, attempts, retried, injected, cut, replayed, effects, ok);
    fprintf(stderr, "faults: attempt outcomes: %s\n",
            e2e_text(&e, "SELECT string_agg(o || ' ' || n, ', ') FROM (SELECT "
                         "a.outcome || coalesce(' (' || left(a.error, 60) || ')', '') AS o, "
                         "count(*) AS n FROM task_attempts a JOIN tasks t ON t.id = a.task_id "
                         "WHERE t.activity = 'stripe.create_payment' GROUP BY 1 ORDER BY 2 DESC) "
                         "s"));
    e2e_fini(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, charges_survive_a_faulty_stripe_without_double_charges);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
