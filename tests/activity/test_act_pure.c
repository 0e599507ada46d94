/*
 * test_act_pure.c — the activity layer's pure parts: retry timing, the token
 * bucket, generic HTTP classification, templates, the email message,
 * redaction and the catalog.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activity/act_int.h"
#include "st_test.h"

/* ------------------------------------------------------------- backoff */

START_TEST(backoff_cap_doubles_up_to_max)
{
    st_act_policy_t p = {5, 2000000, 300000000};
    ck_assert_int_eq(st_act_backoff_cap(&p, 1), 2000000);
    ck_assert_int_eq(st_act_backoff_cap(&p, 2), 4000000);
    ck_assert_int_eq(st_act_backoff_cap(&p, 3), 8000000);
    ck_assert_int_eq(st_act_backoff_cap(&p, 8), 256000000);
    ck_assert_int_eq(st_act_backoff_cap(&p, 9), 300000000);
    ck_assert_int_eq(st_act_backoff_cap(&p, 4000000000u), 300000000);
    st_act_policy_t big = {5, INT64_MAX / 3, INT64_MAX};
    ck_assert_int_eq(st_act_backoff_cap(&big, 64), INT64_MAX);
    st_act_policy_t zero = {1, 0, 0};
    ck_assert_int_eq(st_act_backoff_cap(&zero, 3), 0);
}
END_TEST

START_TEST(backoff_full_jitter_within_bounds)
{
    st_act_policy_t p = {10, 1000, 64000};
    uint64_t x = 88172645463325252ull;
    bool low = false, high = false;
    for (uint32_t attempt = 1; attempt <= 10; attempt++) {
        int64_t cap = st_act_backoff_cap(&p, attempt);
        for (int i = 0; i < 2000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t d = st_act_backoff_delay(&p, attempt, -1, x);
            ck_assert_int_ge(d, 0);
            ck_assert_int_le(d, cap);
            low = low || d < cap / 10;
            high = high || d > cap - cap / 10;
        }
    }
    ck_assert(low && high); /* the whole range [0, cap] is used */
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, -1, 0), 0);
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, -1, 1000), 1000);
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, -1, 1001), 0);
}
END_TEST

START_TEST(backoff_honours_retry_after)
{
    st_act_policy_t p = {5, 1000, 2000};
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, 5000000, 7), 5000000);
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, 0, 700), 700); /* jitter larger than hint */
    ck_assert_int_eq(st_act_backoff_delay(&p, 1, INT64_MAX, 7), ST_ACT_RETRY_AFTER_MAX_US);
}
END_TEST

START_TEST(retry_after_parsing)
{
    int64_t v = -1, now = 1445412480LL * 1000000; /* Wed, 21 Oct 2015 07:28:00 GMT */
    ck_assert_int_eq(st_act_parse_retry_after("120", now, &v), 0);
    ck_assert_int_eq(v, 120000000);
    ck_assert_int_eq(st_act_parse_retry_after(" 0 ", now, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(st_act_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &v), 0);
    ck_assert_int_eq(v, 30000000);
    ck_assert_int_eq(st_act_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, &v), 0);
    ck_assert_int_eq(v, 0); /* a date in the past means now */
    ck_assert_int_eq(st_act_parse_retry_after("soon", now, &v), ST_PARSE);
    ck_assert_int_eq(st_act_parse_retry_after("12x", now, &v), ST_PARSE);
    ck_assert_int_eq(st_act_parse_retry_after(NULL, now, &v), ST_PARSE);
    ck_assert_int_eq(st_act_parse_retry_after("99999999999999999999", now, &v), 0);
    ck_assert_int_gt(v, ST_ACT_RETRY_AFTER_MAX_US); /* saturates, never wraps */
}
END_TEST

START_TEST(next_attempt_decision)
{
    st_act_policy_t p = {3, 1000000, 8000000};
    st_act_result_t r;
    memset(&r, 0, sizeof r);
    r.outcome = ST_ACT_TRANSIENT;
    r.retry_after_us = -1;
    r.attempt = 1;
    int64_t at = 0;
    ck_assert(st_act_next_attempt(&p, &r, 1000, 500000, &at));
    ck_assert_int_eq(at, 1000 + 500000);
    r.attempt = 2;
    r.retry_after_us = 30000000; /* Retry-After: 30 beats the 2 s cap */
    ck_assert(st_act_next_attempt(&p, &r, 0, 5, &at));
    ck_assert_int_eq(at, 30000000);
    r.attempt = 3; /* attempts spent */
    ck_assert(!st_act_next_attempt(&p, &r, 0, 5, &at));
    r.attempt = 1;
    r.outcome = ST_ACT_DECLINED;
    r.permanent = true;
    ck_assert(!st_act_next_attempt(&p, &r, 0, 5, &at));
}
END_TEST

START_TEST(token_bucket_limits_rate)
{
    st_act_bucket_t b;
    st_act_bucket_init(&b, 10, 3, 0);
    ck_assert_int_eq(st_act_bucket_take(&b, 0), 0);
    ck_assert_int_eq(st_act_bucket_take(&b, 0), 0);
    ck_assert_int_eq(st_act_bucket_take(&b, 0), 0);
    int64_t w = st_act_bucket_take(&b, 0);
    ck_assert_int_gt(w, 99000);
    ck_assert_int_le(w, 100001);
    ck_assert_int_eq(st_act_bucket_take(&b, 100001), 0); /* one token after 100 ms */
    ck_assert_int_gt(st_act_bucket_take(&b, 100001), 0);
    ck_assert_int_gt(st_act_bucket_take(&b, 50), 0); /* time going back adds nothing */
    for (int i = 0; i < 3; i++)                      /* refills only up to burst */
        ck_assert_int_eq(st_act_bucket_take(&b, 10000000), 0);
    ck_assert_int_gt(st_act_bucket_take(&b, 10000000), 0);
}
END_TEST

/* ------------------------------------------------------- HTTP classify */

START_TEST(http_classify_table)
{
    static const struct {
        int curl;
        long status;
        const char *outcome;
    } t[] = {
        {0, 200, "ok"},        {0, 201, "ok"},        {0, 204, "ok"},        {0, 400, "rejected"},
        {0, 404, "rejected"},  {0, 422, "rejected"},  {0, 408, "transient"}, {0, 409, "transient"},
        {0, 429, "transient"}, {0, 500, "transient"}, {0, 503, "transient"}, {28, 0, "transient"},
        {7, 0, "transient"},   {52, 0, "transient"},  {3, 0, "failed"},      {1, 0, "failed"}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        st_act_result_t r;
        memset(&r, 0, sizeof r);
        st_act_http_classify(t[i].curl, NULL, t[i].status, "{\"id\":\"x\"}", "3", 0, &r);
        ck_assert_msg(strcmp(r.outcome, t[i].outcome) == 0, "curl %d status %ld: %s", t[i].curl,
                      t[i].status, r.outcome);
        if (t[i].curl == 0) {
            ck_assert_int_eq(r.retry_after_us, 3000000);
            ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(r.result, "body"), "id")), "x");
        }
        json_decref(r.result);
    }
}
END_TEST

/* ------------------------------------------------------------ templates */

static char *render(const char *tmpl, const char *vars, bool html, int want_rc)
{
    json_t *v = json_loads(vars, 0, NULL);
    st_buf_t b = {0};
    st_err_t err;
    st_err_clear(&err);
    ck_assert_int_eq(st_act_template_render(tmpl, v, html, &b, &err), want_rc);
    json_decref(v);
    if (want_rc != 0) {
        st_buf_release(&b);
        return strdup(err.msg);
    }
    return st_buf_detach(&b);
}

START_TEST(template_substitution_and_escaping)
{
    const char *vars = "{\"name\":\"Ann <b>&\\\"Co\\\"'\",\"n\":3,\"ok\":true,"
                       "\"amount\":{\"minor\":123456,\"currency\":\"eur\"},"
                       "\"yen\":{\"minor\":500,\"currency\":\"JPY\"},"
                       "\"neg\":{\"minor\":-5,\"currency\":\"usd\"}}";
    char *s =
        render("Hi {{name}}, {{ n }} {{ok}} {{amount}} {{yen}} {{neg}}{{x|!}}", vars, false, 0);
    ck_assert_str_eq(s, "Hi Ann <b>&\"Co\"', 3 true 1234.56 EUR 500 JPY -0.05 USD!");
    free(s);
    s = render("<p>{{name}} {{x|a<b}}</p>", vars, true, 0);
    ck_assert_str_eq(s, "<p>Ann &lt;b&gt;&amp;&quot;Co&quot;&#39; a&lt;b</p>");
    free(s);
    s = render("no vars at all", "{}", false, 0);
    ck_assert_str_eq(s, "no vars at all");
    free(s);
}
END_TEST

START_TEST(template_errors_name_the_variable)
{
    char *m = render("Hello {{who}}", "{}", false, ST_PARSE);
    ck_assert_ptr_nonnull(strstr(m, "{{who}}"));
    free(m);
    m = render("Hello {{who", "{\"who\":\"x\"}", false, ST_PARSE);
    ck_assert_ptr_nonnull(strstr(m, "unterminated"));
    free(m);
    m = render("{{list}}", "{\"list\":[1]}", false, ST_PARSE);
    ck_assert_ptr_nonnull(strstr(m, "list"));
    free(m);
    st_buf_t b = {0};
    st_err_t err;
    char dir[512];
    st_test_src("engine/activity/templates", dir, sizeof dir);
    ck_assert_int_eq(st_act_template_load(dir, "../etc/passwd", "txt", &b, &err), ST_INVAL);
    ck_assert_int_eq(st_act_template_load(dir, "nope", "txt", &b, &err), ST_NOTFOUND);
    ck_assert_int_eq(st_act_template_load(dir, "payment_failed", "txt", &b, &err), 0);
    ck_assert_ptr_nonnull(strstr(b.p, "Subject:"));
    st_buf_release(&b);
}
END_TEST

START_TEST(shipped_templates_render_with_flow_args)
{
    /* Each shipped template renders with the args the dunning flow passes. */
    static const char *const names[] = {"payment_failed", "update_card", "authenticate_payment",
                                        "refund_issued"};
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    st_test_src("engine/activity/templates", cfg.template_dir, sizeof cfg.template_dir);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *args = json_pack("{s:s,s:s,s:i,s:s,s:{s:i,s:s}}", "to", "a@example.com", "template",
                                 names[i], "attempt", 2, "action_url", "https://x/y", "amount",
                                 "minor", 1000, "currency", "eur");
        st_buf_t m = {0};
        st_err_t err;
        int rc = st_act_email_build(&cfg, "settle_k_1", args, 0, &m, &err);
        ck_assert_msg(rc == 0, "%s: %s", names[i], err.msg);
        ck_assert_ptr_nonnull(strstr(m.p, "Subject: "));
        ck_assert_ptr_null(strstr(m.p, "{{"));
        st_buf_release(&m);
        json_decref(args);
    }
}
END_TEST

START_TEST(email_message_shape)
{
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    st_test_src("engine/activity/templates", cfg.template_dir, sizeof cfg.template_dir);
    snprintf(cfg.mail_domain, sizeof cfg.mail_domain, "mail.example");
    snprintf(cfg.smtp_from, sizeof cfg.smtp_from, "Billing <billing@example.com>");
    json_t *args =
        json_pack("{s:[s,s],s:s,s:s,s:s,s:i}", "to", "a@example.com", "b@example.com", "template",
                  "payment_failed", "name", "Zoë <x>", "invoice", "in_42", "attempt", 3);
    st_buf_t m = {0};
    st_err_t err;
    ck_assert_int_eq(st_act_email_build(&cfg, "settle_abc_7", args, 1445412480, &m, &err), 0);
    ck_assert_ptr_nonnull(strstr(m.p, "From: Billing <billing@example.com>\r\n"));
    ck_assert_ptr_nonnull(strstr(m.p, "To: a@example.com, b@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(m.p, "Message-ID: <settle_abc_7@mail.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(m.p, "Date: Wed, 21 Oct 2015 07:28:00 +0000\r\n"));
    ck_assert_ptr_nonnull(strstr(m.p, "Subject: Your payment for in_42 did not go through\r\n"));
    ck_assert_ptr_nonnull(strstr(m.p, "multipart/alternative; boundary=\"=_settle_settle_abc_7\""));
    ck_assert_ptr_nonnull(strstr(m.p, "Content-Type: text/plain; charset=utf-8"));
    ck_assert_ptr_nonnull(strstr(m.p, "Content-Type: text/html; charset=utf-8"));
    ck_assert_ptr_nonnull(strstr(m.p, "Hello Zoë <x>,"));       /* text part: as is */
    ck_assert_ptr_nonnull(strstr(m.p, "Hello Zoë &lt;x&gt;,")); /* HTML part: escaped */
    ck_assert_ptr_nonnull(strstr(m.p, "(attempt 3)"));
    ck_assert_ptr_nonnull(strstr(m.p, "--=_settle_settle_abc_7--\r\n"));
    for (const char *p = m.p; (p = strchr(p, '\n')) != NULL; p++)
        ck_assert_msg(p > m.p && p[-1] == '\r', "bare LF in the message");
    st_buf_release(&m);
    json_decref(args);

    /* Header injection through args is refused. */
    args =
        json_pack("{s:s,s:s}", "to", "a@example.com\r\nBcc: x@evil", "template", "payment_failed");
    ck_assert_int_eq(st_act_email_build(&cfg, "k", args, 0, &m, &err), ST_INVAL);
    st_buf_release(&m);
    json_decref(args);
}
END_TEST

/* ------------------------------------------------------------ redaction */

START_TEST(redaction_removes_secrets)
{
    const char *secrets[] = {"hunter2-secret-token"};
    char s[256];
    snprintf(s, sizeof s,
             "auth failed with hunter2-secret-token and sk_test_51Habc and "
             "Bearer abc.def-ghi; rk_live_X; end");
    st_act_redact(s, sizeof s, secrets, 1);
    ck_assert_str_eq(s, "auth failed with [REDACTED] and [REDACTED] and Bearer [REDACTED]; "
                        "[REDACTED]; end");
    char tiny[16];
    snprintf(tiny, sizeof tiny, "key sk_test_12345");
    st_act_redact(tiny, sizeof tiny, NULL, 0);
    ck_assert_ptr_null(strstr(tiny, "12345"));
    snprintf(s, sizeof s, "Invalid API Key provided: sk_test_****1234");
    st_act_redact(s, sizeof s, NULL, 0);
    ck_assert_ptr_null(strstr(s, "1234"));
}
END_TEST

START_TEST(config_reads_key_file_and_env)
{
    char path[] = "/tmp/st_act_keyXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "sk_test_fromfile\n", 17), 17);
    close(fd);
    setenv("STRIPE_API_KEY", "sk_test_fromenv", 1);
    setenv("STRIPE_API_BASE", "http://127.0.0.1:1", 1);
    st_act_config_t cfg;
    st_err_t err;
    ck_assert_int_eq(st_act_config_from_env(&cfg, &err), 0);
    ck_assert_str_eq(cfg.stripe_key, "sk_test_fromenv");
    ck_assert_str_eq(cfg.stripe_base, "http://127.0.0.1:1");
    setenv("STRIPE_API_KEY_FILE", path, 1);
    ck_assert_int_eq(st_act_config_from_env(&cfg, &err), 0);
    ck_assert_str_eq(cfg.stripe_key, "sk_test_fromfile");
    unlink(path);
    ck_assert_int_eq(st_act_config_from_env(&cfg, &err), ST_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "STRIPE_API_KEY_FILE"));
    ck_assert_ptr_null(strstr(err.msg, "fromfile"));
    unsetenv("STRIPE_API_KEY_FILE");
    unsetenv("STRIPE_API_KEY");
    unsetenv("STRIPE_API_BASE");
    ck_assert_int_eq(st_act_config_from_env(&cfg, &err), 0);
    ck_assert_str_eq(cfg.stripe_base, "https://api.stripe.com");
    ck_assert_str_eq(cfg.stripe_key, "");
}
END_TEST

START_TEST(catalog_lists_outcomes)
{
    const char *const *o = st_act_outcomes("stripe.pay_invoice");
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(o[0], "succeeded");
    ck_assert_ptr_null(st_act_outcomes("stripe.nope"));
    ck_assert_str_eq(st_act_outcomes("email.send")[0], "sent");
    ck_assert_str_eq(st_act_outcomes("erp.post_payment")[1], "rejected");
    ck_assert_str_eq(st_act_outcomes("stripe.refund")[1], "pending");
    bool seen_http = false;
    for (size_t i = 0; i < st_act_catalog_size(); i++)
        seen_http = seen_http || strcmp(st_act_catalog_name(i), "http.call") == 0;
    ck_assert(seen_http);
    ck_assert_ptr_null(st_act_catalog_name(st_act_catalog_size()));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activity_pure");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, backoff_cap_doubles_up_to_max);
    tcase_add_test(tc, backoff_full_jitter_within_bounds);
    tcase_add_test(tc, backoff_honours_retry_after);
    tcase_add_test(tc, retry_after_parsing);
    tcase_add_test(tc, next_attempt_decision);
    tcase_add_test(tc, token_bucket_limits_rate);
    tcase_add_test(tc, http_classify_table);
    tcase_add_test(tc, template_substitution_and_escaping);
    tcase_add_test(tc, template_errors_name_the_variable);
    tcase_add_test(tc, shipped_templates_render_with_flow_args);
    tcase_add_test(tc, email_message_shape);
    tcase_add_test(tc, redaction_removes_secrets);
    tcase_add_test(tc, config_reads_key_file_and_env);
    tcase_add_test(tc, catalog_lists_outcomes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
