/*
 * test_e2e_dunning.c — workflows/dunning.flow end to end on the virtual
 * clock: stripe-sim (frozen clock, moved in step with the engine), real
 * SMTP (aiosmtpd), the ERP sink, and settle's HTTP side receiving the sim's
 * signed webhooks and the API's card-update signal.
 *
 * Three customers, loaded through the sim's customer book, each with an
 * open invoice:
 *   recover — pm_card_visa whose issuer answers insufficient_funds until
 *             payday (the 2nd): the first attempt fails, a smart-sleep wake
 *             collects it → done, invoice paid, payment posted to the ERP;
 *   never   — pm_card_chargeCustomerFail: four failed rounds, four
 *             payment_failed emails, the invoice voided, the loss written
 *             off in the ERP → lost;
 *   expired — pm_card_chargeDeclinedExpiredCard: expired_card asks for a
 *             new card (update_card email); the customer attaches
 *             pm_card_visa and makes it the default, the API signal
 *             payment_method_updated arrives → charge → done.
 * Afterwards: no Stripe effect twice under one key, every mail's Message-ID
 * is its task's key, every ERP record's external id is its task's key.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e_check.h"

#define DAY 86400

typedef struct cust {
    const char *name;
    char email[64];
    char customer[64];
    char invoice[64];
    char id[40]; /* the dunning instance */
} cust_t;

static void load_book(e2e_t *e, cust_t *c, int n)
{
    /* email card amount currency country first_failure_days behaviour params */
    const char *rows[] = {
        "recover@shop.example\tpm_card_visa\t1999\teur\tDE\t0\tinsufficient_funds\tpayday=2",
        "never@shop.example\tpm_card_chargeCustomerFail\t4900\teur\tFR\t0\tnone",
        "expired@shop.example\tpm_card_chargeDeclinedExpiredCard\t990\teur\tNL\t0\tnone",
    };
    char tsv[1024] = "", *form;
    for (int i = 0; i < n; i++) {
        strcat(tsv, rows[i]);
        strcat(tsv, "\n");
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
        snprintf(c[i].email, sizeof c[i].email, "%.*s", (int)strcspn(rows[i], "\t"), rows[i]);
        snprintf(c[i].customer, sizeof c[i].customer, "%s",
                 json_string_value(json_object_get(row, "customer")));
        snprintf(c[i].invoice, sizeof c[i].invoice, "%s",
                 json_string_value(json_object_get(row, "invoice")));
    }
    json_decref(j);
}

static const char *amount_json(const cust_t *c)
{
    return strcmp(c->name, "recover") == 0 ? "{\"minor\": 1999, \"currency\": \"eur\"}"
           : strcmp(c->name, "never") == 0 ? "{\"minor\": 4900, \"currency\": \"eur\"}"
                                           : "{\"minor\": 990, \"currency\": \"eur\"}";
}

static const char *where(e2e_t *e, const cust_t *c)
{
    return e2e_text(e,
                    "SELECT state_name || '/' || status || ' ' || coalesce(wait_reason, '') || "
                    "' wake ' || coalesce(wake_at::text, '-') FROM instances WHERE id = '%s'",
                    c->id);
}

/* The engine is idle: no instance mid-step, no task pending or running. */
static const char IDLE[] = "SELECT count(*) FROM instances WHERE status = 'running' OR "
                           "id IN (SELECT instance_id FROM tasks WHERE status IN "
                           "('pending', 'running'))";

/* The customer attaches a new card and makes it the default for invoices. */
static void update_card(e2e_t *e, const cust_t *c)
{
    char path[128], form[160];
    long st = 0;
    snprintf(form, sizeof form, "customer=%s", c->customer);
    json_t *pm = e2e_sim(e, "POST", "/v1/payment_methods/pm_card_visa/attach", form, &st);
    ck_assert_msg(st == 200, "attach: %ld", st);
    snprintf(form, sizeof form, "invoice_settings[default_payment_method]=%s",
             json_string_value(json_object_get(pm, "id")));
    json_decref(pm);
    snprintf(path, sizeof path, "/v1/customers/%s", c->customer);
    json_t *cus = e2e_sim(e, "POST", path, form, &st);
    ck_assert_msg(st == 200, "set default: %ld", st);
    json_decref(cus);
}

START_TEST(dunning_recovers_gives_up_and_asks_for_a_card)
{
    e2e_t e;
    e2e_opts_t o = {.virtual_clock = 1, .seed = 21};
    e2e_init(&e, &o);
    e2e_deploy_file(&e, "workflows/dunning.flow");
    cust_t c[3] = {{.name = "recover"}, {.name = "never"}, {.name = "expired"}};
    load_book(&e, c, 3);
    for (int i = 0; i < 3; i++) {
        char in[512];
        snprintf(in, sizeof in,
                 "{\"invoice\": \"%s\", \"customer\": \"%s\", \"email\": \"%s\", \"amount\": %s}",
                 c[i].invoice, c[i].customer, c[i].email, amount_json(&c[i]));
        snprintf(c[i].id, sizeof c[i].id, "%s", e2e_start(&e, "dunning", in));
    }

    /* Day 0: every first attempt is declined. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE (id = '%s' AND state_name = 'wait') OR "
             "(id = '%s' AND state_name = 'wait') OR (id = '%s' AND state_name = "
             "'wait_for_card')",
             c[0].id, c[1].id, c[2].id);
    ck_assert_msg(e2e_until(&e, sql, 3, 30), "day 0: %s | %s | %s", where(&e, &c[0]),
                  where(&e, &c[1]), where(&e, &c[2]));
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/invoices/%s", c[i].invoice);
        ck_assert_str_eq(e2e_sim_status(&e, path), "open");
    }

    /* Walk the calendar a day at a time; on day 3 the expired card's owner
     * adds a new card and tells us through the API. */
    int day = 0;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE status <> 'completed' AND id IN "
             "('%s', '%s', '%s')",
             c[0].id, c[1].id, c[2].id);
    while (e2e_scalar(&e, "%s", sql) > 0 && day < 120) {
        if (day == 3) {
            ck_assert_str_eq(
                e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", c[2].id),
                "wait_for_card");
            update_card(&e, &c[2]);
            /* A flow that also listens for payment_method.attached (correlated by
             * customer) may already be charging the new card: then the API
             * signal finds it finished, or waits unconsumed. */
            e2e_api_signal(&e, c[2].id, "payment_method_updated", 1);
            char done[256];
            snprintf(done, sizeof done,
                     "SELECT count(*) FROM instances WHERE id = '%s' AND state_name = 'done'",
                     c[2].id);
            ck_assert_msg(e2e_until(&e, done, 1, 30), "card update: %s", where(&e, &c[2]));
        }
        e2e_advance(&e, DAY);
        day++;
        ck_assert_msg(e2e_until(&e, IDLE, 0, 30), "day %d: the engine did not settle: %s | %s", day,
                      where(&e, &c[0]), where(&e, &c[1]));
    }
    fprintf(stderr, "dunning: settled after %d virtual days\n", day);
    ck_assert_msg(e2e_scalar(&e, "%s", sql) == 0, "after %d days: %s | %s | %s\n%s", day,
                  where(&e, &c[0]), where(&e, &c[1]), where(&e, &c[2]),
                  e2e_text(&e, "SELECT string_agg(state_name || ' ' || activity || ' ' || "
                               "coalesce(outcome, '-') || ' ' || coalesce(last_error, ''), E'\\n' "
                               "ORDER BY instance_id, seq) FROM tasks"));
    ck_assert_str_eq(e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", c[0].id),
                     "done");
    ck_assert_str_eq(e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", c[1].id),
                     "lost");
    ck_assert_str_eq(e2e_text(&e, "SELECT state_name FROM instances WHERE id = '%s'", c[2].id),
                     "done");
    ck_assert_int_eq(e2e_scalar(&e,
                                "SELECT (vars->>'attempt')::int FROM instances WHERE id = "
                                "'%s'",
                                c[1].id),
                     4);
    e2e_assert_gapless(&e);

    /* Stripe: invoices paid / void / paid, and the charges behind them. */
    const char *want_inv[3] = {"paid", "void", "paid"};
    for (int i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path, "/v1/invoices/%s", c[i].invoice);
        ck_assert_msg(strcmp(e2e_sim_status(&e, path), want_inv[i]) == 0, "%s: invoice %s",
                      c[i].name, e2e_sim_status(&e, path));
    }
    e2e_charges_t ch0 = e2e_customer_charges(&e, c[0].customer);
    e2e_charges_t ch1 = e2e_customer_charges(&e, c[1].customer);
    e2e_charges_t ch2 = e2e_customer_charges(&e, c[2].customer);
    ck_assert_int_eq(ch0.succeeded, 1);
    ck_assert_int_ge(ch0.failed, 1);
    ck_assert_int_eq(ch1.succeeded, 0);
    ck_assert_int_eq(ch1.failed, 4);
    ck_assert_int_eq(ch2.succeeded, 1);
    /* Each expired_card decline asks for a card once. Usually one; two when
     * a flow that also wakes on payment_method.attached charged between the
     * attach and the customer's choice of default card. */
    ck_assert_int_ge(ch2.failed, 1);
    long long ok = 0;
    int effects = e2e_check_effects(&e, &ok, NULL);
    ck_assert_int_eq(ok, 2);
    /* Every pay_invoice attempt the engine recorded reached Stripe once. */
    ck_assert_int_eq(e2e_scalar(&e, "SELECT count(*) FROM tasks WHERE activity = "
                                    "'stripe.pay_invoice'"),
                     ch0.succeeded + ch0.failed + ch1.failed + ch2.succeeded + ch2.failed);

    /* Mail: one per failed round, one card request, nothing twice. */
    json_t *mail = e2e_check_mail(&e);
    ck_assert_int_eq(e2e_mail_count(mail, c[0].email, "did not go through"), ch0.failed);
    ck_assert_int_eq(e2e_mail_count(mail, c[1].email, "did not go through"), 4);
    ck_assert_int_eq(e2e_mail_count(mail, c[2].email, "Please update your card"), ch2.failed);
    ck_assert_int_eq(e2e_mail_count(mail, c[2].email, "did not go through"), 0);
    ck_assert_int_eq(json_array_size(mail), ch0.failed + 4 + ch2.failed);
    json_decref(mail);

    /* ERP: two payments, one write-off, keyed by the steps' keys. */
    ck_assert_int_eq(e2e_check_erp(&e), 3);
    e2e_erp_rec_t r;
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", c[0].invoice, &r), 1);
    ck_assert_int_eq(r.amount, 1999);
    ck_assert_str_eq(r.type, "payment");
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/payments", c[2].invoice, &r), 1);
    ck_assert_int_eq(r.amount, 990);
    ck_assert_int_eq(e2e_erp_count(&e, "/erp/write-offs", c[1].invoice, &r), 1);
    ck_assert_int_eq(r.amount, 4900);
    ck_assert_str_eq(r.currency, "eur");
    ck_assert_str_eq(r.type, "write_off");
    fprintf(stderr,
            "dunning: %d Stripe effects (%lld charges succeeded), 0 double; %d days; "
            "recover needed %d attempts\n",
            effects, ok, day, ch0.failed + 1);
    e2e_fini(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("e2e_dunning");
    TCase *tc = tcase_create("dunning");
    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, dunning_recovers_gives_up_and_asks_for_a_card);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
