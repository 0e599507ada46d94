/*
 * test_webhook_sig.c — Stripe-Signature verification.
 *
 * The reference vector was computed independently with Python's hmac module:
 *   hmac.new(b"whsec_test_secret", b"1700000000." + PAYLOAD, sha256)
 */
#include <string.h>

#include "http/st_webhook_sig.h"
#include "st_test.h"

static const char PAYLOAD[] = "{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}";
static const char SECRET[] = "whsec_test_secret";
static const char GOOD[] = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";
static const int64_t T = 1700000000;

static int verify(const char *header, const char *payload, const char *const *secrets, unsigned n,
                  int64_t now, st_err_t *err)
{
    return st_webhook_sig_verify(header, payload, strlen(payload), secrets, n, now, 300, err);
}

START_TEST(accepts_reference_vector)
{
    const char *secrets[] = {SECRET};
    char header[256];
    st_err_t err;
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T, GOOD);
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T, &err), 0);
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T + 300, &err), 0);
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T - 300, &err), 0);
}
END_TEST

START_TEST(sign_matches_reference)
{
    char out[128], want[128];
    ck_assert_int_eq(st_webhook_sig_sign(SECRET, T, PAYLOAD, strlen(PAYLOAD), out, sizeof out), 0);
    snprintf(want, sizeof want, "t=%lld,v1=%s", (long long)T, GOOD);
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(st_webhook_sig_sign(SECRET, T, PAYLOAD, strlen(PAYLOAD), out, 10), ST_INVAL);
}
END_TEST

START_TEST(rejects_tampered_payload_and_wrong_secret)
{
    const char *secrets[] = {SECRET};
    const char *wrong[] = {"whsec_other"};
    char header[256];
    st_err_t err;
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T, GOOD);
    char tampered[sizeof PAYLOAD];
    memcpy(tampered, PAYLOAD, sizeof PAYLOAD);
    tampered[10] = 'X';
    ck_assert_int_eq(verify(header, tampered, secrets, 1, T, &err), ST_AUTH);
    ck_assert_str_eq(err.msg, "Stripe-Signature does not match the payload");
    ck_assert_int_eq(verify(header, PAYLOAD, wrong, 1, T, &err), ST_AUTH);
    /* The signature of another payload does not transfer. */
    char other[128];
    st_webhook_sig_sign(SECRET, T, "{}", 2, other, sizeof other);
    ck_assert_int_eq(verify(other, PAYLOAD, secrets, 1, T, &err), ST_AUTH);
    /* A valid signature for another timestamp does not transfer either. */
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T + 1, GOOD);
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T, &err), ST_AUTH);
}
END_TEST

START_TEST(rejects_stale_and_future_timestamps)
{
    const char *secrets[] = {SECRET};
    char header[256];
    st_err_t err;
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T, GOOD);
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T + 301, &err), ST_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "301 s behind now"));
    ck_assert_int_eq(verify(header, PAYLOAD, secrets, 1, T - 301, &err), ST_AUTH);
    ck_assert_ptr_nonnull(strstr(err.msg, "ahead of now"));
    /* A wider tolerance is honoured. */
    ck_assert_int_eq(
        st_webhook_sig_verify(header, PAYLOAD, strlen(PAYLOAD), secrets, 1, T + 900, 1000, &err),
        0);
}
END_TEST

START_TEST(accepts_any_v1_and_any_configured_secret)
{
    char header[512];
    st_err_t err;
    /* Stripe rotating: an old signature first, the good one second, and a v0. */
    snprintf(header, sizeof header, "t=%lld,v1=%064d,v0=abc,v1=%s", (long long)T, 0, GOOD);
    const char *one[] = {SECRET};
    ck_assert_int_eq(verify(header, PAYLOAD, one, 1, T, &err), 0);
    /* Us rotating: the right secret second in the list. */
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T, GOOD);
    const char *two[] = {"whsec_new", SECRET};
    ck_assert_int_eq(verify(header, PAYLOAD, two, 2, T, &err), 0);
    ck_assert_int_eq(verify(header, PAYLOAD, two, 0, T, &err), ST_AUTH);
}
END_TEST

START_TEST(rejects_malformed_headers)
{
    const char *secrets[] = {SECRET};
    st_err_t err;
    char big[ST_WEBHOOK_SIG_HEADER_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    struct {
        const char *header;
        int code;
        const char *msg;
    } cases[] = {
        {NULL, ST_AUTH, "missing Stripe-Signature header"},
        {"", ST_AUTH, "missing Stripe-Signature header"},
        {"garbage", ST_PARSE, "without '='"},
        {"v1=22d8", ST_PARSE, "malformed v1"},
        {"v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31", ST_PARSE,
         "no timestamp"},
        {"t=abc,v1=22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31", ST_PARSE,
         "malformed timestamp"},
        {"t=1700000000", ST_AUTH, "no v1 signature"},
        {"t=1700000000,v0=22d8", ST_AUTH, "no v1 signature"},
        {"t=1700000000,v1=zzd8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31",
         ST_PARSE, "malformed v1"},
        {big, ST_PARSE, "longer than"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(verify(cases[i].header, PAYLOAD, secrets, 1, T, &err), cases[i].code);
        ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL, "case %zu: '%s'", i, err.msg);
    }
}
END_TEST

START_TEST(errors_never_contain_secrets_or_signatures)
{
    const char *secrets[] = {SECRET};
    char header[256];
    st_err_t err;
    snprintf(header, sizeof header, "t=%lld,v1=%s", (long long)T, GOOD);
    ck_assert_int_eq(verify(header, "{}", secrets, 1, T, &err), ST_AUTH);
    char all[2048];
    st_err_format(&err, all, sizeof all);
    ck_assert_ptr_null(strstr(all, SECRET));
    ck_assert_ptr_null(strstr(all, "test_secret"));
    ck_assert_ptr_null(strstr(all, GOOD));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("webhook_sig");
    TCase *tc = tcase_create("sig");
    tcase_add_test(tc, accepts_reference_vector);
    tcase_add_test(tc, sign_matches_reference);
    tcase_add_test(tc, rejects_tampered_payload_and_wrong_secret);
    tcase_add_test(tc, rejects_stale_and_future_timestamps);
    tcase_add_test(tc, accepts_any_v1_and_any_configured_secret);
    tcase_add_test(tc, rejects_malformed_headers);
    tcase_add_test(tc, errors_never_contain_secrets_or_signatures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
