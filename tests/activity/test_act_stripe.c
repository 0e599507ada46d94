/*
 * test_act_stripe.c — the pure Stripe parts: form encoding and the
 * classification of replies, as tables built from Stripe's documented error
 * shapes, decline codes and test cards.
 */
#include <stdlib.h>
#include <string.h>

#include "activity/act_int.h"
#include "st_test.h"

/* ------------------------------------------------------------ encoding */

static char *form(const char *json, const char *const *skip)
{
    json_t *j = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(j);
    st_buf_t b = {0};
    st_err_t err;
    ck_assert_int_eq(st_act_stripe_form(j, skip, &b, &err), 0);
    json_decref(j);
    return st_buf_detach(&b);
}

START_TEST(form_nested_keys_sorted_and_escaped)
{
    char *s = form("{\"amount\":1099,\"currency\":\"eur\",\"metadata\":{\"order\":\"A&B 1\","
                   "\"n\":3},\"payment_method_options\":{\"card\":{\"request_three_d_secure\":"
                   "\"any\"}},\"off_session\":true,\"confirm\":false,\"description\":null}",
                   NULL);
    ck_assert_str_eq(s, "amount=1099&confirm=false&currency=eur&description=&metadata[n]=3&"
                        "metadata[order]=A%26B%201&off_session=true&"
                        "payment_method_options[card][request_three_d_secure]=any");
    free(s);
}
END_TEST

START_TEST(form_arrays_money_and_skip)
{
    static const char *const skip[] = {"invoice", NULL};
    char *s = form("{\"invoice\":\"in_1\",\"expand\":[\"payment_intent\",\"charges\"],"
                   "\"amount\":{\"minor\":2500,\"currency\":\"EUR\"},\"items\":[{\"price\":"
                   "\"p_1\",\"quantity\":2}]}",
                   skip);
    ck_assert_str_eq(s, "amount=2500&expand[0]=payment_intent&expand[1]=charges&"
                        "items[0][price]=p_1&items[0][quantity]=2&currency=eur");
    free(s);
    /* An explicit currency wins over the money value's. */
    s = form("{\"amount\":{\"minor\":5,\"currency\":\"usd\"},\"currency\":\"gbp\"}", NULL);
    ck_assert_str_eq(s, "amount=5&currency=gbp");
    free(s);
    s = form("{\"k\":\"\\u00e9=/?\"}", NULL);
    ck_assert_str_eq(s, "k=%C3%A9%3D%2F%3F");
    free(s);
}
END_TEST

START_TEST(form_refuses_floats)
{
    json_t *j = json_pack("{s:f}", "amount", 10.5);
    st_buf_t b = {0};
    st_err_t err;
    ck_assert_int_eq(st_act_stripe_form(j, NULL, &b, &err), ST_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "amount"));
    st_buf_release(&b);
    json_decref(j);
}
END_TEST

/* ------------------------------------------------------ classification */

typedef struct row {
    const char *name;
    st_act_stripe_kind_t kind;
    int curl_code;
    long status;
    const char *should_retry;
    const char *retry_after;
    const char *body;
    const char *outcome;
    const char *code;       /* expected res.code */
    const char *result_key; /* a result field to check, or NULL */
    const char *result_value;
} row_t;

#define PI(status, extra) \
    "{\"id\":\"pi_1\",\"object\":\"payment_intent\",\"status\":\"" status "\"" extra "}"
#define ERR(type, code, decline, extra)                                                          \
    "{\"error\":{\"type\":\"" type "\",\"code\":\"" code "\"" decline ",\"message\":\"msg " code \
    "\",\"doc_url\":\"https://stripe.com/docs/error-codes/" code "\"" extra "}}"

static const row_t rows[] = {
    {"pi succeeded", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 200, NULL, NULL,
     PI("succeeded", ",\"amount\":1099,\"currency\":\"eur\",\"latest_charge\":\"ch_1\""),
     "succeeded", "", "latest_charge", "ch_1"},
    {"pi requires_capture", ST_ACT_STRIPE_CONFIRM_PAYMENT, 0, 200, NULL, NULL,
     PI("requires_capture", ""), "succeeded", "", "status", "requires_capture"},
    {"pi processing", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 200, NULL, NULL, PI("processing", ""),
     "processing", "", "id", "pi_1"},
    {"pi requires_action", ST_ACT_STRIPE_CONFIRM_PAYMENT, 0, 200, NULL, NULL,
     PI("requires_action", ",\"next_action\":{\"type\":\"redirect_to_url\",\"redirect_to_url\":"
                           "{\"url\":\"https://hooks.stripe.com/3ds/x\",\"return_url\":null}}"),
     "requires_action", "", "next_action_url", "https://hooks.stripe.com/3ds/x"},
    {"pi use_stripe_sdk", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 200, NULL, NULL,
     PI("requires_action", ",\"next_action\":{\"type\":\"use_stripe_sdk\",\"use_stripe_sdk\":{}}"),
     "requires_action", "", "next_action_type", "use_stripe_sdk"},
    {"pi use_stripe_sdk 3ds url", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 200, NULL, NULL,
     PI("requires_action", ",\"next_action\":{\"type\":\"use_stripe_sdk\",\"use_stripe_sdk\":"
                           "{\"type\":\"three_d_secure_redirect\",\"stripe_js\":"
                           "\"https://hooks.stripe.com/3d_secure_2/hosted?pi=1\"}}"),
     "requires_action", "", "next_action_url", "https://hooks.stripe.com/3d_secure_2/hosted?pi=1"},
    {"pi declined in object", ST_ACT_STRIPE_CONFIRM_PAYMENT, 0, 200, NULL, NULL,
     PI("requires_payment_method",
        ",\"last_payment_error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
        "\"decline_code\":\"insufficient_funds\",\"message\":\"Your card has insufficient "
        "funds.\"}"),
     "declined", "insufficient_funds", "id", "pi_1"},
    {"pi canceled on confirm", ST_ACT_STRIPE_CONFIRM_PAYMENT, 0, 200, NULL, NULL,
     PI("canceled", ""), "failed", "", NULL, NULL},
    {"cancel -> canceled", ST_ACT_STRIPE_CANCEL_PAYMENT, 0, 200, NULL, NULL, PI("canceled", ""),
     "succeeded", "", "status", "canceled"},
    {"retrieve succeeded", ST_ACT_STRIPE_RETRIEVE_PAYMENT, 0, 200, NULL, NULL, PI("succeeded", ""),
     "succeeded", "", NULL, NULL},
    {"invoice paid", ST_ACT_STRIPE_PAY_INVOICE, 0, 200, NULL, NULL,
     "{\"id\":\"in_1\",\"object\":\"invoice\",\"status\":\"paid\",\"payment_intent\":"
     "{\"id\":\"pi_9\",\"status\":\"succeeded\"}}",
     "succeeded", "", "payment_intent", "pi_9"},
    {"invoice open, pi needs action", ST_ACT_STRIPE_PAY_INVOICE, 0, 200, NULL, NULL,
     "{\"id\":\"in_1\",\"object\":\"invoice\",\"status\":\"open\",\"hosted_invoice_url\":"
     "\"https://invoice.stripe.com/i/x\",\"payment_intent\":{\"id\":\"pi_9\",\"status\":"
     "\"requires_action\",\"next_action\":{\"type\":\"redirect_to_url\",\"redirect_to_url\":"
     "{\"url\":\"https://hooks.stripe.com/r\"}}}}",
     "requires_action", "", "next_action_url", "https://hooks.stripe.com/r"},
    {"invoice void", ST_ACT_STRIPE_VOID_INVOICE, 0, 200, NULL, NULL,
     "{\"id\":\"in_1\",\"object\":\"invoice\",\"status\":\"void\"}", "succeeded", "", "status",
     "void"},
    {"refund succeeded", ST_ACT_STRIPE_REFUND, 0, 200, NULL, NULL,
     "{\"id\":\"re_1\",\"object\":\"refund\",\"status\":\"succeeded\",\"payment_intent\":\"pi_1\"}",
     "succeeded", "", "payment_intent", "pi_1"},
    {"refund pending", ST_ACT_STRIPE_REFUND, 0, 200, NULL, NULL,
     "{\"id\":\"re_1\",\"object\":\"refund\",\"status\":\"pending\"}", "pending", "", "id", "re_1"},
    {"refund failed", ST_ACT_STRIPE_REFUND, 0, 200, NULL, NULL,
     "{\"id\":\"re_1\",\"object\":\"refund\",\"status\":\"failed\",\"failure_reason\":"
     "\"expired_or_canceled_card\"}",
     "failed", "", "failure_reason", "expired_or_canceled_card"},
    {"402 generic decline", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 402, NULL, NULL,
     ERR("card_error", "card_declined", ",\"decline_code\":\"generic_decline\"",
         ",\"payment_intent\":{\"id\":\"pi_2\",\"status\":\"requires_payment_method\"}"),
     "declined", "generic_decline", "payment_intent", "pi_2"},
    {"402 expired_card (no decline_code)", ST_ACT_STRIPE_PAY_INVOICE, 0, 402, NULL, NULL,
     ERR("card_error", "expired_card", "", ""), "declined", "expired_card", NULL, NULL},
    {"402 authentication_required off-session", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 402, NULL, NULL,
     ERR("card_error", "authentication_required", ",\"decline_code\":\"authentication_required\"",
         ",\"payment_intent\":{\"id\":\"pi_3\",\"status\":\"requires_payment_method\"}"),
     "declined", "authentication_required", NULL, NULL},
    {"402 invoice needs action", ST_ACT_STRIPE_PAY_INVOICE, 0, 402, NULL, NULL,
     ERR("card_error", "invoice_payment_intent_requires_action", "",
         ",\"payment_intent\":{\"id\":\"pi_4\",\"status\":\"requires_action\",\"next_action\":"
         "{\"type\":\"redirect_to_url\",\"redirect_to_url\":{\"url\":\"https://h/3ds\"}}}"),
     "requires_action", "", "next_action_url", "https://h/3ds"},
    {"400 invalid request", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 400, NULL, NULL,
     ERR("invalid_request_error", "parameter_missing", "", ",\"param\":\"amount\""), "failed",
     "parameter_missing", NULL, NULL},
    {"400 idempotency mismatch", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 400, NULL, NULL,
     ERR("idempotency_error", "idempotency_key_in_use", "", ""), "failed", "idempotency_key_in_use",
     NULL, NULL},
    {"401 authentication", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 401, NULL, NULL,
     "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"Invalid API Key provided\"}}",
     "failed", "", NULL, NULL},
    {"404 resource missing", ST_ACT_STRIPE_RETRIEVE_PAYMENT, 0, 404, NULL, NULL,
     ERR("invalid_request_error", "resource_missing", "", ""), "failed", "resource_missing", NULL,
     NULL},
    {"409 concurrent key", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 409, NULL, NULL,
     ERR("idempotency_error", "idempotency_key_in_use", "", ""), "transient", "", NULL, NULL},
    {"429 rate limit", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 429, NULL, "2",
     ERR("invalid_request_error", "rate_limit", "", ""), "transient", "", NULL, NULL},
    {"500 api_error", ST_ACT_STRIPE_REFUND, 0, 500, NULL, NULL, ERR("api_error", "x", "", ""),
     "transient", "", NULL, NULL},
    {"500 should-retry false", ST_ACT_STRIPE_REFUND, 0, 500, "false", NULL,
     ERR("api_error", "x", "", ""), "failed", "x", NULL, NULL},
    {"400 should-retry true (lock_timeout)", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 400, "true", NULL,
     ERR("invalid_request_error", "lock_timeout", "", ""), "transient", "", NULL, NULL},
    {"503 html from a proxy", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 503, NULL, NULL,
     "<html>bad gateway</html>", "transient", "", NULL, NULL},
    {"200 torn body", ST_ACT_STRIPE_CREATE_PAYMENT, 0, 200, NULL, NULL, "{\"id\":", "transient", "",
     NULL, NULL},
    {"timeout", ST_ACT_STRIPE_CREATE_PAYMENT, CURLE_OPERATION_TIMEDOUT, 0, NULL, NULL, NULL,
     "transient", "", NULL, NULL},
    {"connection refused", ST_ACT_STRIPE_PAY_INVOICE, CURLE_COULDNT_CONNECT, 0, NULL, NULL, NULL,
     "transient", "", NULL, NULL},
    {"empty reply", ST_ACT_STRIPE_PAY_INVOICE, CURLE_GOT_NOTHING, 0, NULL, NULL, NULL, "transient",
     "", NULL, NULL},
    {"bad url", ST_ACT_STRIPE_PAY_INVOICE, CURLE_URL_MALFORMAT, 0, NULL, NULL, NULL, "failed", "",
     NULL, NULL},
};

START_TEST(classify_table)
{
    const row_t *r = &rows[_i];
    st_act_stripe_reply_t rp = {r->curl_code,   "curl text",     r->status, r->body,
                                r->retry_after, r->should_retry, "req_123", NULL};
    st_act_result_t res;
    memset(&res, 0, sizeof res);
    st_act_stripe_classify(r->kind, &rp, 1700000000LL * 1000000, &res);
    ck_assert_msg(strcmp(res.outcome, r->outcome) == 0, "%s: outcome %s, want %s", r->name,
                  res.outcome, r->outcome);
    ck_assert_msg(res.permanent == (strcmp(r->outcome, "transient") != 0), "%s: permanent",
                  r->name);
    ck_assert_msg(strcmp(res.code, r->code) == 0, "%s: code '%s', want '%s'", r->name, res.code,
                  r->code);
    if (r->result_key) {
        const char *v = json_string_value(json_object_get(res.result, r->result_key));
        ck_assert_msg(v && strcmp(v, r->result_value) == 0, "%s: result.%s = %s", r->name,
                      r->result_key, v ? v : "(none)");
    }
    if (r->curl_code == 0)
        ck_assert_str_eq(json_string_value(json_object_get(res.result, "request_id")), "req_123");
    if (r->status >= 400 && r->body && r->body[0] == '{')
        ck_assert_msg(strstr(res.message, "msg ") || strstr(res.message, "Invalid API Key"),
                      "%s: Stripe's message kept: %s", r->name, res.message);
    if (r->retry_after)
        ck_assert_int_eq(res.retry_after_us, 2000000);
    else
        ck_assert_int_eq(res.retry_after_us, -1);
    json_decref(res.result);
}
END_TEST

/* Decline codes from Stripe's table: every one classifies as declined(code),
 * and error codes without a decline_code (test cards) map to declined(code). */
static const char *const decline_codes[] = {"approve_with_id",
                                            "authentication_required",
                                            "call_issuer",
                                            "card_not_supported",
                                            "card_velocity_exceeded",
                                            "currency_not_supported",
                                            "do_not_honor",
                                            "do_not_try_again",
                                            "duplicate_transaction",
                                            "expired_card",
                                            "fraudulent",
                                            "generic_decline",
                                            "incorrect_number",
                                            "incorrect_cvc",
                                            "insufficient_funds",
                                            "invalid_account",
                                            "invalid_amount",
                                            "issuer_not_available",
                                            "lost_card",
                                            "merchant_blacklist",
                                            "new_account_information_available",
                                            "no_action_taken",
                                            "not_permitted",
                                            "pickup_card",
                                            "processing_error",
                                            "reenter_transaction",
                                            "restricted_card",
                                            "revocation_of_authorization",
                                            "security_violation",
                                            "service_not_allowed",
                                            "stolen_card",
                                            "stop_payment_order",
                                            "testmode_decline",
                                            "transaction_not_allowed",
                                            "try_again_later",
                                            "withdrawal_count_limit_exceeded",
                                            NULL};

START_TEST(classify_every_decline_code)
{
    for (size_t i = 0; decline_codes[i]; i++) {
        char body[512];
        snprintf(body, sizeof body,
                 "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                 "\"decline_code\":\"%s\",\"message\":\"Your card was declined.\"}}",
                 decline_codes[i]);
        st_act_stripe_reply_t rp = {0, NULL, 402, body, NULL, NULL, NULL, NULL};
        st_act_result_t res;
        memset(&res, 0, sizeof res);
        st_act_stripe_classify(ST_ACT_STRIPE_PAY_INVOICE, &rp, 0, &res);
        ck_assert_str_eq(res.outcome, "declined");
        ck_assert_str_eq(res.code, decline_codes[i]);
        ck_assert_str_eq(res.decline_code, decline_codes[i]);
        ck_assert_str_eq(res.error_code, "card_declined");
        json_decref(res.result);
    }
}
END_TEST

/* Rows of the test-card table: error code, decline code, expected res.code. */
static const char *const cards[][3] = {
    {"card_declined", "generic_decline", "generic_decline"},       /* 4000000000000002 */
    {"card_declined", "insufficient_funds", "insufficient_funds"}, /* ...9995 */
    {"card_declined", "lost_card", "lost_card"},                   /* ...9987 */
    {"card_declined", "stolen_card", "stolen_card"},               /* ...9979 */
    {"card_declined", "card_velocity_exceeded", "card_velocity_exceeded"},
    {"expired_card", "", "expired_card"},                       /* ...0069 */
    {"incorrect_cvc", "", "incorrect_cvc"},                     /* ...0127 */
    {"processing_error", "", "processing_error"},               /* ...0119 */
    {"incorrect_number", "", "incorrect_number"},               /* 4242424242424241 */
    {"authentication_required", "", "authentication_required"}, /* ...3184 */
    {"card_declined", "fraudulent", "fraudulent"},              /* radar block */
    {"card_declined", "highest_risk_level", "highest_risk_level"},
    {"card_declined", "", "card_declined"}, /* 3DS then declined */
};

START_TEST(classify_test_cards)
{
    for (size_t i = 0; i < sizeof cards / sizeof cards[0]; i++) {
        char body[512], dc[96] = "";
        if (cards[i][1][0])
            snprintf(dc, sizeof dc, ",\"decline_code\":\"%s\"", cards[i][1]);
        snprintf(body, sizeof body,
                 "{\"error\":{\"type\":\"card_error\",\"code\":\"%s\"%s,\"message\":\"m\","
                 "\"payment_intent\":{\"id\":\"pi_c\",\"status\":\"requires_payment_method\"}}}",
                 cards[i][0], dc);
        st_act_stripe_reply_t rp = {0, NULL, 402, body, NULL, NULL, NULL, NULL};
        st_act_result_t res;
        memset(&res, 0, sizeof res);
        st_act_stripe_classify(ST_ACT_STRIPE_CREATE_PAYMENT, &rp, 0, &res);
        ck_assert_str_eq(res.outcome, "declined");
        ck_assert_str_eq(res.code, cards[i][2]);
        ck_assert_str_eq(json_string_value(json_object_get(res.result, "payment_intent")), "pi_c");
        json_decref(res.result);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activity_stripe");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, form_nested_keys_sorted_and_escaped);
    tcase_add_test(tc, form_arrays_money_and_skip);
    tcase_add_test(tc, form_refuses_floats);
    tcase_add_loop_test(tc, classify_table, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, classify_every_decline_code);
    tcase_add_test(tc, classify_test_cards);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
