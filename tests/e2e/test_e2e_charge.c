/*
 * test_e2e_charge.c — workflows/charge.flow and workflows/refund.flow end
 * to end on the real clock: stripe-sim delivers its signed webhooks to
 * settle's HTTP side, which turns them into the flows' signals.
 *
 *   plain   — pm_card_visa: created and succeeded at once → record → paid;
 *   3ds     — pm_card_threeDSecure2Required: requires_action, the customer
 *             gets the authentication link by mail, completes the challenge
 *             (the sim's admin endpoint), payment_intent.succeeded arrives
 *             as a webhook → record → paid;
 *   3ds-fail — the challenge fails: payment_intent.payment_failed by
 *             webhook → the customer is told → not_paid;
 *   refund  — the plain payment refunded at once → ERP refund → refunded;
 *   pending — pm_card_pendingRefund: the refund is pending; a sim day later
 *             refund.updated (succeeded) arrives by webhook → refunded.
 * Afterwards: one charge per paid PaymentIntent, no effect twice under a
 * key, mail and ERP records keyed by their steps. A second case (virtual
 * clock) abandons one authentication and cancels another through the API.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_check.h"

typedef struct cust {
    char email[64];
    char customer[64];
    char pm[64];
} cust_t;

static void load_book(e2e_t *e, cust_t *c, const char *const *cards, int n)
{
    char tsv[2048] = "", *form, line[256];
    for (int i = 0; i < n; i++) {
        snprintf(c[i].email, sizeof c[i].email, "buyer%d@shop.example", i);
        snprintf(line, sizeof line, "%s\t%s\t100\teur\tDE\t0\tnone\n", c[i].email, cards[i]);
        strcat(tsv, line);
    }
    CURL *cu = curl_easy_init();
    char *esc = curl_easy_escape(cu, tsv, 0);
    ck_assert_int_ge(asprintf(&form, "tsv=%s", esc), 0);
    curl_free(esc);
    curl_easy_cleanup(cu);
    long st = 0;
    json_t *j = e2e_sim(e, "POST", "/_sim/book", form, &st);
    free(form);
    ck_assert_msg(st == 200, "book: %ld", st);
    json_t *created = json_object_get(j, "created");
    ck_assert_int_eq(json_array_size(created), n);
    for (int i = 0; i < n; i++) {
        json_t *row = json_array_get(created, i);
        snprintf(c[i].customer, sizeof c[i].customer, "%s",
                 json_string_value(json_object_get(row, "customer")));
        snprintf(c[i].pm, sizeof c[i].pm, "%s",
                 json_string_value(json_object_get(row, "payment_method")));
    }
    json_decref(j);
}

static const char *start_charge(e2e_t *e, const cust_t *c, long minor, const char *order)
{
    char in[512];
    snprintf(in, sizeof in,
             "{\"customer\": \"%s\", \"email\": \"%s\", \"payment_method\": \"%s\", "
             "\"amount\": {\"minor\": %ld, \"currency\": \"eur\"}, \"order\": \"%s\"}",
             c->customer, c->email, c->pm, minor, order);
    return e2e_start(e, "charge", in);
}

static const char *where(e2e_t *e, const char *id)
{
    return e2e_text(e,
                    "SELECT state_name || '/' || status || ' ' || coalesce(wait_reason, '') || "
                    "' task: ' || coalesce((SELECT activity || ' ' || coalesce(last_error, '') "
                    "FROM tasks WHERE instance_id = i.id ORDER BY seq DESC LIMIT 1), '-') "
                    "FROM instances i WHERE id = '%s'",
                    id);
}

static int reaches(e2e_t *e, const char *id, const char *state, double timeout_s)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE id = '%s' AND state_name = '%s'", id, state);
    return e2e_until(e, sql, 1, timeout_s);
}

static const char *var(e2e_t *e, const char *id, const char *name)
{
    return e2e_text(e, "SELECT vars->>'%s' FROM instances WHERE id = '%s'", name, id);
}

/* The signal that moved the instance came from a verified Stripe webhook. */
static void assert_webhook_signal(e2e_t *e, const char *id, const char *name)
{
    ck_assert_msg(e2e_scalar(e,
                             "SELECT count(*) FROM signals s JOIN webhook_events w ON s.source = "
                             "'webhook:' || w.event_id WHERE s.instance_id = '%s' AND s.name = "
                             "'%s' AND s.consumed_at IS NOT NULL",
                             id, name) == 1,
                  "%s did not consume one %s webhook", id, name);
}

START_TEST(charges_with_and_without_3ds_and_refunds)
{
    e2e_t e;
    e2e_opts_t o = {.virtual_clock = 0, .seed = 5};
    e2e_init(&e, &o);
    e2e_deploy_file(&e, "workflows/charge.flow");
    e2e_deploy_file(&e, "workflows/refund.flow");
    static const char *const cards[] = {"pm_card_visa", "pm_card_threeDSecure2Required",
                                        "pm_card_threeDSecure2Required", "pm_card_pendingRefund"};
    cust_t c[4];
    load_book(&e, c, cards, 4);

    char plain[40], tds[40], tds_fail[40], pend[40];
    snprintf(plain, sizeof plain, "%s", start_charge(&e, &c[0], 4990, "order-plain"));
    snprintf(tds, sizeof tds, "%s", start_charge(&e, &c[1], 12000, "order-3ds"));
    snprintf(tds_fail, sizeof tds_fail, "%s", start_charge(&e, &c[2], 3000, "order-3ds-fail"));
    snprintf(pend, sizeof pend, "%s", start_charge(&e, &c[3], 2500, "order-pending"));

    ck_assert_msg(reaches(&e, plain, "paid", 30), "plain: %s", where(&e, plain));
    ck_assert_msg(reaches(&e, pend, "paid", 30), "pending card: %s", where(&e, pend));
    ck_assert_msg(reaches(&e, tds, "wait_for_authentication", 30), "3ds: %s", where(&e, tds));
    ck_assert_msg(reaches(&e, tds_fail, "wait_for_authentication", 30), "3ds: %s",
                  where(&e, tds_fail));

    /* The customer got the link to the bank's page, then passes (or fails)
     * the challenge; Stripe tells us by webhook. */
    char pi3[64], pi3f[64], path[160];
    snprintf(pi3, sizeof pi3, "%s", var(&e, tds, "pi_id"));
    snprintf(pi3f, sizeof pi3f, "%s", var(&e, tds_fail, "pi_id"));
    ck_assert_msg(strncmp(pi3, "pi_", 3) == 0, "3ds pi_id '%s'", pi3);
    snprintf(path, sizeof path, "/v1/payment_intents/%s", pi3);
    ck_assert_str_eq(e2e_sim_status(&e, path), "requires_action");
    json_t *mail = e2e_check_mail(&e);
    ck_assert_int_eq(e2e_mail_count(mail, c[1].email, "Please confirm your payment"), 1);
    ck_assert_int_eq(e2e_mail_count(mail, c[2].email, "Please confirm your payment"), 1);
    json_decref(mail);
    long st = 0;
    snprintf(path, sizeof path, "/_sim/payment_intents/%s/3ds", pi3);
    json_decref(e2e_sim(&e, "POST", path, "outcome=succeed", &st));
    ck_assert_int_eq(st, 200);
    snprintf(path, sizeof path, "/_sim/payment_intents/%s/3ds", pi3f);
    json_decref(e2e_sim(&e, "POST", path, "outcome=fail", &st));
    ck_assert_int_eq(st, 200);
    ck_assert_msg(reaches(&e, tds, "paid", 30), "3ds after challenge: %s", where(&e, tds));
    ck_assert_msg(reaches(&e, tds_fail, "not_paid", 30), "3ds after failed challenge: %s",
                  where(&e, tds_fail));
    assert_webhook_signal(&e, tds, "payment_intent.succeeded");
    assert_webhook_signal(&e, tds_fail, "payment_intent.payment_failed");

    /* Refunds: the plain payment at once, the pending card's a day later. */
    char pi_plain[64], pi_pend[64], in[512], ref1[40], ref2[40];
    snprintf(pi_plain, sizeof pi_plain, "%s", var(&e, plain, "pi_id"));
    snprintf(pi_pend, sizeof pi_pend, "%s", var(&e, pend, "pi_id"));
    snprintf(in, sizeof in,
             "{\"payment_intent\": \"%s\", \"amount\": {\"minor\": 4990, \"currency\": "
             "\"eur\"}, \"reason\": \"requested_by_customer\", \"order\": \"order-plain\"}",
             pi_plain);
    snprintf(ref1, sizeof ref1, "%s", e2e_start(&e, "refund", in));
    snprintf(in, sizeof in,
             "{\"payment_intent\": \"%s\", \"amount\": {\"minor\": 1000, \"currency\": "
             "\"eur\"}, \"reason\": \"requested_by_customer\", \"order\": \"order-pending\"}",
             pi_pend);
    snprintf(ref2, sizeof ref2, "%s", e2e_start(&e, "refund", in));
    ck_assert_msg(reaches(&e, ref1, "refunded", 30), "refund: %s", where(&e, ref1));
    ck_assert_msg(reaches(&e, ref2, "wait_for_refund", 30), "pending refund: %s", where(&e, ref2));
    char re_pend[64];
    snprintf(re_pend, sizeof re_pend, "%s", var(&e, ref2, "refund_id"));
    snprintf(path, sizeof path, "/v1/refunds/%s", re_pend);
    ck_assert_str_eq(e2e_sim_status(&e, path), "pending");
    json_decref(e2e_sim(&e, "POST", "/_sim/clock/advance", "hours=25", &st));
    ck_assert_int_eq(st, 200);
    ck_assert_msg(reaches(&e, ref2, "refunded", 30), "pending refund after a day: %s",
                  where(&e, ref2));
    ck_assert_str_eq(e2e_sim_status(&e, path), "succeeded");
    ck_assert_str_eq(var(&e, ref2, "refund_status"), "succeeded");
    assert_webhook_signal(&e, ref2, "refund.updated");
    e2e_assert_gapless(&e);

    /* Stripe: one successful charge per paid PaymentIntent, none for the
     * failed challenge; every effect under its own key. */
    ck_assert_int_eq(e2e_pi_charges(&e, pi_plain).succeeded, 1);
    ck_assert_int_eq(e2e_pi_charges(&e, pi_plain).failed, 0);
    ck_assert_int_eq(e2e_pi_charges(&e, pi3).succeeded, 1);
    ck_assert_int_eq(e2e_pi_charges(&e, pi_pend).succeeded, 1);
    ck_assert_int_eq(e2e_pi_charges(&e, pi3f).succeeded, 0);
    long long ok = 0;
    json_t *keyless = NULL;
    int effects = e2e_check_effects(&e, &ok, &keyless);
    /* The only charge no request of ours made: the one the customer's
     * 3-D Secure completion triggered. */
    ck_assert_int_eq(json_array_size(keyless), 1);
    snprintf(path, sizeof path, "/v1/payment_intents/%s", pi3);
    json_t *pi = e2e_sim(&e, "GET", path, NULL, &st);
    ck_assert_str_eq(json_string_value(json_array_get(keyless, 0)),
                     json_string_value(json_object_get(pi, "latest_charge")));
    json_decref(pi);
    json_decref(keyless);
    ck_assert_int_eq(ok, 3);
    snprintf(path, sizeof path, "/v1/payment_intents/%s", pi_plain);
    pi = e2e_sim(&e, "GET", path, NULL, &st);
    ck_assert_int_eq(json_integer_value(json_object_get(pi, "amount_received")), 4990);
    json_decref(pi);

    /* Mail: the two authentication requests and the decline notice. */
    mail = e2e_check_mail(&e);
    ck_assert_int_eq(e2e_mail_count(mail, c[2].email, ""), 2);
    ck_assert_int_eq(e2e_mail_count(mail, c[0].email, ""), 0);
    ck_assert_int_eq(json_array_size(mail), 3);
    json_decref(mail);

    /* ERP: three payments, two refunds, each once under its step's key. */
    ck_assert_int_eq(e2e_check_erp(&e), 5);
    e2e_erp_rec_t r;
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", "order-plain", &r), 1);
    ck_assert_int_eq(r.amount, 4990);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", "order-3ds", &r), 1);
    ck_assert_int_eq(r.amount, 12000);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", "order-pending", NULL), 1);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", "order-3ds-fail", NULL), 0);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/refunds", "order-plain", &r), 1);
    ck_assert_str_eq(r.type, "refund");
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/refunds", "order-pending", &r), 1);
    ck_assert_int_eq(r.amount, 1000);
    fprintf(stderr, "charge/refund: %d Stripe effects (%lld charges succeeded), 0 double\n",
            effects, ok);
    e2e_fini(&e);
}
END_TEST

/*
 * Abandoned and cancelled authentications, on the virtual clock: one
 * customer never opens the 3-D Secure link, so a day later the flow cancels
 * the PaymentIntent; another's charge is cancelled through the flow API
 * while it waits. Both end not_paid with the PaymentIntent canceled at the
 * sim (`cancellation_reason` abandoned) and nothing charged.
 */
START_TEST(abandoned_and_cancelled_authentications_release_the_payment)
{
    e2e_t e;
    e2e_opts_t o = {.virtual_clock = 1, .seed = 8};
    e2e_init(&e, &o);
    e2e_deploy_file(&e, "workflows/charge.flow");
    static const char *const cards[] = {"pm_card_threeDSecure2Required",
                                        "pm_card_threeDSecure2Required"};
    cust_t c[2];
    load_book(&e, c, cards, 2);
    char gone[40], cancel[40];
    snprintf(gone, sizeof gone, "%s", start_charge(&e, &c[0], 5000, "order-gone"));
    snprintf(cancel, sizeof cancel, "%s", start_charge(&e, &c[1], 6000, "order-cancel"));
    ck_assert_msg(reaches(&e, gone, "wait_for_authentication", 30), "%s", where(&e, gone));
    ck_assert_msg(reaches(&e, cancel, "wait_for_authentication", 30), "%s", where(&e, cancel));

    char url[160];
    snprintf(url, sizeof url, "/v1/instances/%s/cancel", cancel);
    long st = e2e_api_post(&e, url, "{\"reason\": \"customer changed their mind\"}");
    ck_assert_int_eq(st, 202);
    ck_assert_msg(reaches(&e, cancel, "not_paid", 30), "cancelled: %s", where(&e, cancel));
    ck_assert_str_eq(e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", gone),
                     "wait_for_authentication");

    e2e_advance(&e, 86400 + 60); /* the 1d authentication window lapses */
    ck_assert_msg(reaches(&e, gone, "not_paid", 30), "abandoned: %s", where(&e, gone));
    e2e_assert_gapless(&e);

    const char *ids[2] = {gone, cancel};
    for (int i = 0; i < 2; i++) {
        char path[160];
        snprintf(path, sizeof path, "/v1/payment_intents/%s", var(&e, ids[i], "pi_id"));
        long s2 = 0;
        json_t *pi = e2e_sim(&e, "GET", path, NULL, &s2);
        ck_assert_int_eq(s2, 200);
        ck_assert_str_eq(json_string_value(json_object_get(pi, "status")), "canceled");
        ck_assert_str_eq(json_string_value(json_object_get(pi, "cancellation_reason")),
                         "abandoned");
        json_decref(pi);
        e2e_charges_t ch = e2e_customer_charges(&e, c[i].customer);
        ck_assert_int_eq(ch.succeeded, 0);
    }
    long long ok = 0;
    e2e_check_effects(&e, &ok, NULL);
    ck_assert_int_eq(ok, 0);
    ck_assert_int_eq(e2e_check_erp(&e), 0);
    json_t *mail = e2e_check_mail(&e);
    ck_assert_int_eq(json_array_size(mail), 2); /* the two authentication links */
    json_decref(mail);
    e2e_fini(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_charge");
    TCase *tc = tcase_create("charge");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, charges_with_and_without_3ds_and_refunds);
    tcase_add_test(tc, abandoned_and_cancelled_authentications_release_the_payment);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
