/*
 * test_act_sim.c — the Stripe driver end to end against stripe-sim (the
 * project's Stripe emulator, run in-process on its real HTTP server): test
 * cards give succeeded / declined(code), the same idempotency key replays
 * the same PaymentIntent, refunds and cancels, invoices paid and voided, a
 * wrong key is a permanent failure that leaks no key.
 */
#include <curl/curl.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "activity/act_int.h"
#include "st_sim.h"
#include "st_sim_server.h"
#include "st_test.h"

#define KEY "sk_test_activitySimKey123"

typedef struct sim_fixture {
    st_sim_t *sim;
    st_sim_server_t *srv;
    char base[64];
    struct ev_loop *loop;
    st_act_runner_t *r;
} sim_fixture_t;

typedef struct got {
    int n;
    char outcome[32];
    char code[64];
    char message[ST_ACT_MSG_MAX];
    json_t *result;
} got_t;

static void on_res(const st_act_result_t *r, void *user)
{
    got_t *g = user;
    g->n++;
    snprintf(g->outcome, sizeof g->outcome, "%s", r->outcome);
    snprintf(g->code, sizeof g->code, "%s", r->code);
    snprintf(g->message, sizeof g->message, "%s", r->message);
    json_decref(g->result);
    g->result = json_incref(r->result);
}

static st_act_runner_t *runner(sim_fixture_t *f, const char *key)
{
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    snprintf(cfg.stripe_base, sizeof cfg.stripe_base, "%s", f->base);
    snprintf(cfg.stripe_key, sizeof cfg.stripe_key, "%s", key);
    st_act_runner_t *r = st_act_runner_new(f->loop, &cfg, NULL);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void setup(sim_fixture_t *f)
{
    memset(f, 0, sizeof *f);
    st_sim_config_t sc = {.seed = 7, .quiet = 1};
    st_err_t err;
    ck_assert_msg(st_sim_new(&sc, &f->sim, &err) == 0, "%s", err.msg);
    ck_assert_msg(st_sim_server_start(f->sim, 0, 2, 1, &f->srv, &err) == 0, "%s", err.msg);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%u", st_sim_server_port(f->srv));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->r = runner(f, KEY);
}

static void teardown(sim_fixture_t *f)
{
    st_act_runner_free(f->r);
    ev_loop_destroy(f->loop);
    st_sim_server_stop(f->srv);
    st_sim_free(f->sim);
}

static size_t collect(char *p, size_t size, size_t n, void *userp)
{
    st_buf_add(userp, p, size * n);
    return size * n;
}

/* Test setup outside the catalog (customers, invoices): a blocking POST
 * returning the new object's id. */
static void sim_post(sim_fixture_t *f, const char *path, const char *form, char *id, size_t cap)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", f->base, path);
    st_buf_t body = {0};
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " KEY);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    ck_assert_msg(status == 200, "%s -> %ld %s", path, status, body.p);
    json_t *j = json_loads(body.p, 0, NULL);
    snprintf(id, cap, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    st_buf_release(&body);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void run1(sim_fixture_t *f, st_act_runner_t *r, got_t *g, const char *activity, json_t *args,
                 const char *key)
{
    st_act_request_t rq = {activity, args, key, 10000000, {1, 0, 0}, 1};
    int want = g->n + 1;
    ck_assert_int_eq(st_act_start(r, &rq, on_res, g, NULL), 0);
    ev_timer t;
    ev_timer_init(&t, tick, 0.02, 0.02);
    ev_timer_start(f->loop, &t);
    double deadline = ev_time() + 20;
    while (g->n < want && ev_time() < deadline)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &t);
    ck_assert_int_eq(g->n, want);
    json_decref(args);
}

static json_t *payment(const char *cus, const char *pm)
{
    return json_pack("{s:{s:i,s:s},s:s,s:s,s:{s:s}}", "amount", "minor", 2500, "currency", "eur",
                     "customer", cus, "payment_method", pm, "metadata", "flow", "charge");
}

START_TEST(sim_payments_declines_and_replay)
{
    sim_fixture_t f;
    setup(&f);
    got_t g = {0};
    char cus[64], pi[64];
    sim_post(&f, "/v1/customers", "email=ann%40example.com", cus, sizeof cus);

    run1(&f, f.r, &g, "stripe.create_payment", payment(cus, "pm_card_visa"), "settle_sim_1");
    ck_assert_msg(strcmp(g.outcome, "succeeded") == 0, "%s %s", g.outcome, g.message);
    snprintf(pi, sizeof pi, "%s", json_string_value(json_object_get(g.result, "id")));
    ck_assert_int_eq(strncmp(pi, "pi_", 3), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(g.result, "amount")), 2500);

    /* The same key replays the first PaymentIntent: one effect. */
    run1(&f, f.r, &g, "stripe.create_payment", payment(cus, "pm_card_visa"), "settle_sim_1");
    ck_assert_str_eq(g.outcome, "succeeded");
    ck_assert_str_eq(json_string_value(json_object_get(g.result, "id")), pi);
    ck_assert(json_is_true(json_object_get(g.result, "idempotent_replayed")));

    static const char *const declines[][2] = {
        {"pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds"},
        {"pm_card_chargeDeclinedExpiredCard", "expired_card"},
        {"pm_card_visa_chargeDeclinedLostCard", "lost_card"},
        {"pm_card_authenticationRequired", "authentication_required"},
    };
    for (size_t i = 0; i < sizeof declines / sizeof declines[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "settle_sim_d%zu", i);
        run1(&f, f.r, &g, "stripe.create_payment", payment(cus, declines[i][0]), key);
        ck_assert_msg(strcmp(g.outcome, "declined") == 0, "%s: %s %s", declines[i][0], g.outcome,
                      g.message);
        ck_assert_str_eq(g.code, declines[i][1]);
    }

    run1(&f, f.r, &g, "stripe.refund", json_pack("{s:s,s:i}", "payment_intent", pi, "amount", 500),
         "settle_sim_2");
    ck_assert_msg(strcmp(g.outcome, "succeeded") == 0, "%s %s", g.outcome, g.message);

    run1(&f, f.r, &g, "stripe.retrieve_payment", json_pack("{s:s}", "payment_intent", pi),
         "settle_sim_3");
    ck_assert_str_eq(g.outcome, "succeeded");

    /* Unconfirmed PaymentIntent, then cancelled. */
    json_t *a = payment(cus, "pm_card_visa");
    json_object_set_new(a, "confirm", json_false());
    json_object_set_new(a, "off_session", json_false());
    run1(&f, f.r, &g, "stripe.create_payment", a, "settle_sim_4");
    ck_assert_str_eq(g.outcome, "failed"); /* requires_confirmation is not a success */
    snprintf(pi, sizeof pi, "%s", json_string_value(json_object_get(g.result, "id")));
    run1(&f, f.r, &g, "stripe.cancel_payment", json_pack("{s:s}", "payment_intent", pi),
         "settle_sim_5");
    ck_assert_msg(strcmp(g.outcome, "succeeded") == 0, "%s %s", g.outcome, g.message);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

START_TEST(sim_invoices_and_bad_key)
{
    sim_fixture_t f;
    setup(&f);
    got_t g = {0};
    char cus[64], pm[64], form[256], inv[64], ii[64];
    sim_post(&f, "/v1/customers", "email=bob%40example.com", cus, sizeof cus);
    snprintf(form, sizeof form, "customer=%s", cus);
    sim_post(&f, "/v1/payment_methods/pm_card_visa/attach", form, pm, sizeof pm);
    snprintf(form, sizeof form, "invoice_settings[default_payment_method]=%s", pm);
    char path[128];
    snprintf(path, sizeof path, "/v1/customers/%s", cus);
    sim_post(&f, path, form, ii, sizeof ii);
    snprintf(form, sizeof form, "customer=%s&amount=1200&currency=eur", cus);
    sim_post(&f, "/v1/invoiceitems", form, ii, sizeof ii);
    snprintf(form, sizeof form, "customer=%s", cus);
    sim_post(&f, "/v1/invoices", form, inv, sizeof inv);
    snprintf(path, sizeof path, "/v1/invoices/%s/finalize", inv);
    sim_post(&f, path, "", ii, sizeof ii);

    run1(&f, f.r, &g, "stripe.pay_invoice", json_pack("{s:s}", "invoice", inv), "settle_sim_i1");
    ck_assert_msg(strcmp(g.outcome, "succeeded") == 0, "%s %s", g.outcome, g.message);
    ck_assert_str_eq(json_string_value(json_object_get(g.result, "status")), "paid");

    /* A second open invoice, voided. */
    snprintf(form, sizeof form, "customer=%s&amount=700&currency=eur", cus);
    sim_post(&f, "/v1/invoiceitems", form, ii, sizeof ii);
    snprintf(form, sizeof form, "customer=%s", cus);
    sim_post(&f, "/v1/invoices", form, inv, sizeof inv);
    snprintf(path, sizeof path, "/v1/invoices/%s/finalize", inv);
    sim_post(&f, path, "", ii, sizeof ii);
    run1(&f, f.r, &g, "stripe.void_invoice", json_pack("{s:s}", "invoice", inv), "settle_sim_i2");
    ck_assert_msg(strcmp(g.outcome, "succeeded") == 0, "%s %s", g.outcome, g.message);
    ck_assert_str_eq(json_string_value(json_object_get(g.result, "status")), "void");

    /* A wrong key: permanent, Stripe's message kept, the key nowhere. */
    st_act_runner_t *bad = runner(&f, "sk_live_wrongKeyThatIsSecret99");
    run1(&f, bad, &g, "stripe.pay_invoice", json_pack("{s:s}", "invoice", inv), "settle_sim_i3");
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "Invalid API Key"));
    ck_assert_ptr_null(strstr(g.message, "wrongKey"));
    ck_assert_ptr_null(strstr(g.message, "ret99"));
    st_act_runner_free(bad);
    json_decref(g.result);
    teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activity_sim");
    TCase *tc = tcase_create("sim");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sim_payments_declines_and_replay);
    tcase_add_test(tc, sim_invoices_and_bad_key);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
