/*
 * test_e2e_daemon.c — the shipped flows through the product's own entry
 * points: `settled deploy` and `settled clock advance` on the command line,
 * `settled run --clock virtual --http` as a child process configured only
 * by its flags and environment (STRIPE_API_BASE, SETTLE_SMTP_URL,
 * SETTLE_ERP_URL, SETTLE_WEBHOOK_SECRETS, SETTLE_API_TOKENS, ...), instances
 * started and signalled through its flow API, and stripe-sim's webhooks
 * delivered to its /webhooks/stripe.
 *
 *   dunning never  — pm_card_chargeCustomerFail: four rounds across virtual
 *                    days, then the invoice is voided and written off;
 *   dunning expired — expired_card: update_card mail; the new card arrives
 *                    as an API signal → paid;
 *   charge 3ds     — requires_action, the challenge completed at the sim,
 *                    payment_intent.succeeded reaches settled by webhook.
 *
 * The sim's frozen clock and settled's virtual clock both start at the
 * wall-clock time and move by the same steps. settled checks webhook
 * signatures with its default 300 s tolerance against the wall clock, so
 * the webhook-driven part (3-D Secure) runs before any clock advance; the
 * dunning flows need no webhook.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_check.h"

static const char IDLE[] = "SELECT count(*) FROM instances WHERE status = 'running' OR "
                           "id IN (SELECT instance_id FROM tasks WHERE status IN "
                           "('pending', 'running'))";

static json_t *book(e2e_t *e, const char *tsv)
{
    CURL *cu = curl_easy_init();
    char *esc = curl_easy_escape(cu, tsv, 0), *form;
    ck_assert_int_ge(asprintf(&form, "tsv=%s", esc), 0);
    curl_free(esc);
    curl_easy_cleanup(cu);
    long st = 0;
    json_t *j = e2e_sim(e, "POST", "/_sim/book", form, &st);
    free(form);
    ck_assert_msg(st == 200, "book: %ld", st);
    json_t *created = json_incref(json_object_get(j, "created"));
    json_decref(j);
    return created;
}

static const char *field(json_t *created, size_t i, const char *name)
{
    return json_string_value(json_object_get(json_array_get(created, i), name));
}

static const char *state_of(e2e_t *e, const char *id)
{
    return e2e_text(e,
                    "SELECT state_name || '/' || status || ' ' || coalesce(wait_reason, '') "
                    "FROM instances WHERE id = '%s'",
                    id);
}

static int reaches(e2e_t *e, const char *id, const char *state, double timeout_s)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND state_name = '%s'", id, state);
    return e2e_until(e, sql, 1, timeout_s);
}

START_TEST(shipped_flows_through_settled_run)
{
    e2e_t e;
    e2e_opts_t o = {.virtual_clock = 1, .seed = 3, .daemon = 1};
    e2e_init(&e, &o);
    char path[1024];
    const char *flows[] = {"workflows/dunning.flow", "workflows/charge.flow"};
    for (int i = 0; i < 2; i++) {
        const char *args[] = {"deploy", st_test_src(flows[i], path, sizeof path), NULL};
        ck_assert_int_eq(e2e_settled(&e, args), 0);
    }

    json_t *c =
        book(&e, "never@shop.example\tpm_card_chargeCustomerFail\t4900\teur\tFR\t0\tnone\n"
                 "expired@shop.example\tpm_card_chargeDeclinedExpiredCard\t990\teur\tNL\t0"
                 "\tnone\n"
                 "tds@shop.example\tpm_card_threeDSecure2Required\t100\teur\tDE\t0\tnone\n");
    char in[512], never[40], expired[40], tds[40];
    snprintf(in, sizeof in,
             "{\"invoice\": \"%s\", \"customer\": \"%s\", \"email\": \"never@shop.example\", "
             "\"amount\": {\"minor\": 4900, \"currency\": \"eur\"}}",
             field(c, 0, "invoice"), field(c, 0, "customer"));
    snprintf(never, sizeof never, "%s", e2e_start(&e, "dunning", in));
    snprintf(in, sizeof in,
             "{\"invoice\": \"%s\", \"customer\": \"%s\", \"email\": \"expired@shop.example\", "
             "\"amount\": {\"minor\": 990, \"currency\": \"eur\"}}",
             field(c, 1, "invoice"), field(c, 1, "customer"));
    snprintf(expired, sizeof expired, "%s", e2e_start(&e, "dunning", in));
    snprintf(in, sizeof in,
             "{\"customer\": \"%s\", \"email\": \"tds@shop.example\", \"payment_method\": \"%s\", "
             "\"amount\": {\"minor\": 7500, \"currency\": \"eur\"}, \"order\": \"order-d3ds\"}",
             field(c, 2, "customer"), field(c, 2, "payment_method"));
    snprintf(tds, sizeof tds, "%s", e2e_start(&e, "charge", in));

    /* 3-D Secure: the challenge is passed; the webhook wakes the flow. */
    ck_assert_msg(reaches(&e, tds, "wait_for_authentication", 30), "3ds: %s", state_of(&e, tds));
    char pi[64];
    snprintf(pi, sizeof pi, "%s",
             e2e_text(&e, "SELECT vars->>'pi_id' FROM instances WHERE id = '%s'", tds));
    snprintf(path, sizeof path, "/_sim/payment_intents/%s/3ds", pi);
    long st = 0;
    json_decref(e2e_sim(&e, "POST", path, "outcome=succeed", &st));
    ck_assert_int_eq(st, 200);
    ck_assert_msg(reaches(&e, tds, "paid", 30), "3ds after the challenge: %s", state_of(&e, tds));
    ck_assert_int_eq(e2e_scalar(&e,
                                "SELECT count(*) FROM signals s JOIN webhook_events w ON "
                                "s.source = 'webhook:' || w.event_id WHERE s.instance_id = '%s' "
                                "AND s.name = 'payment_intent.succeeded' AND s.consumed_at IS "
                                "NOT NULL",
                                tds),
                     1);

    /* The expired card is replaced; the customer's new card comes in through
     * the API. */
    ck_assert_msg(reaches(&e, expired, "wait_for_card", 30), "expired: %s", state_of(&e, expired));
    char form[160];
    snprintf(form, sizeof form, "customer=%s", field(c, 1, "customer"));
    json_t *pm = e2e_sim(&e, "POST", "/v1/payment_methods/pm_card_visa/attach", form, &st);
    ck_assert_int_eq(st, 200);
    snprintf(form, sizeof form, "invoice_settings[default_payment_method]=%s",
             json_string_value(json_object_get(pm, "id")));
    json_decref(pm);
    snprintf(path, sizeof path, "/v1/customers/%s", field(c, 1, "customer"));
    json_decref(e2e_sim(&e, "POST", path, form, &st));
    ck_assert_int_eq(st, 200);
    /* A flow that also listens for payment_method.attached (correlated by
     * customer) may already be charging the new card. */
    e2e_api_signal(&e, expired, "payment_method_updated", 1);
    ck_assert_msg(reaches(&e, expired, "done", 30), "expired after new card: %s",
                  state_of(&e, expired));

    /* The card that never recovers: walk the days with `settled clock advance`. */
    int day = 0;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND status = "
             "'completed'",
             never);
    while (e2e_scalar(&e, "%s", sql) == 0 && day < 90) {
        e2e_advance(&e, 86400);
        day++;
        ck_assert_msg(e2e_until(&e, IDLE, 0, 30), "day %d: %s", day, state_of(&e, never));
    }
    ck_assert_msg(e2e_scalar(&e, "%s", sql) == 1, "never after %d days: %s", day,
                  state_of(&e, never));
    ck_assert_str_eq(e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", never),
                     "lost");
    e2e_assert_gapless(&e);

    snprintf(path, sizeof path, "/v1/invoices/%s", field(c, 0, "invoice"));
    ck_assert_str_eq(e2e_sim_status(&e, path), "void");
    snprintf(path, sizeof path, "/v1/invoices/%s", field(c, 1, "invoice"));
    ck_assert_str_eq(e2e_sim_status(&e, path), "paid");
    ck_assert_int_eq(e2e_customer_charges(&e, field(c, 0, "customer")).failed, 4);
    ck_assert_int_eq(e2e_customer_charges(&e, field(c, 0, "customer")).succeeded, 0);
    ck_assert_int_eq(e2e_pi_charges(&e, pi).succeeded, 1);
    long long ok = 0;
    json_t *keyless = NULL;
    int effects = e2e_check_effects(&e, &ok, &keyless);
    ck_assert_int_eq(json_array_size(keyless), 1); /* the 3-D Secure completion's charge */
    json_decref(keyless);
    ck_assert_int_eq(ok, 2);

    json_t *mail = e2e_check_mail(&e);
    ck_assert_int_eq(e2e_mail_count(mail, "never@shop.example", "did not go through"), 4);
    e2e_charges_t exp = e2e_customer_charges(&e, field(c, 1, "customer"));
    ck_assert_int_eq(exp.succeeded, 1);
    ck_assert_int_ge(exp.failed, 1); /* see test_e2e_dunning.c */
    ck_assert_int_eq(e2e_mail_count(mail, "expired@shop.example", "Please update your card"),
                     exp.failed);
    ck_assert_int_eq(e2e_mail_count(mail, "tds@shop.example", "Please confirm your payment"), 1);
    ck_assert_int_eq(json_array_size(mail), 5 + exp.failed);
    json_decref(mail);

    ck_assert_int_eq(e2e_check_erp(&e), 3);
    e2e_erp_rec_t r;
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/write-offs", field(c, 0, "invoice"), &r), 1);
    ck_assert_int_eq(r.amount, 4900);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", field(c, 1, "invoice"), NULL), 1);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", "order-d3ds", &r), 1);
    ck_assert_int_eq(r.amount, 7500);
    fprintf(stderr,
            "daemon: %d virtual days, %d Stripe effects, %lld charges succeeded, 0 double\n", day,
            effects, ok);
    json_decref(c);
    e2e_fini(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_daemon");
    TCase *tc = tcase_create("daemon");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, shipped_flows_through_settled_run);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
