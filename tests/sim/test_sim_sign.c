/*
 * test_sim_sign.c — webhook signatures against vectors computed
 * independently (Python hmac) and the header format Stripe's verifiers read.
 */
#include <check.h>
#include <string.h>

#include "st_sim_sign.h"
#include "st_test.h"

START_TEST(known_vector)
{
    char hex[65];
    const char *payload = "{\"id\":\"evt_1\"}";
    ck_assert_int_eq(st_sim_sign_v1("whsec_test_secret", 1700000000, payload, strlen(payload), hex,
                                    sizeof(hex), NULL),
                     0);
    ck_assert_str_eq(hex, "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
}
END_TEST

START_TEST(header_format)
{
    char h[256];
    const char *payload = "{\"id\":\"evt_1\"}";
    ck_assert_int_eq(st_sim_sign_header("whsec_test_secret", 1700000000, payload, strlen(payload),
                                        h, sizeof(h), NULL),
                     0);
    ck_assert_str_eq(h, "t=1700000000,v1="
                        "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a");
}
END_TEST

START_TEST(any_change_changes_the_signature)
{
    char a[65], b[65], c[65], d[65];
    ck_assert_int_eq(st_sim_sign_v1("whsec_a", 1, "x", 1, a, sizeof(a), NULL), 0);
    ck_assert_int_eq(st_sim_sign_v1("whsec_b", 1, "x", 1, b, sizeof(b), NULL), 0);
    ck_assert_int_eq(st_sim_sign_v1("whsec_a", 2, "x", 1, c, sizeof(c), NULL), 0);
    ck_assert_int_eq(st_sim_sign_v1("whsec_a", 1, "y", 1, d, sizeof(d), NULL), 0);
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
}
END_TEST

START_TEST(small_buffer_refused)
{
    char hex[10];
    st_err_t err;
    ck_assert_int_eq(st_sim_sign_v1("k", 1, "x", 1, hex, sizeof(hex), &err), ST_INVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_sign");
    TCase *tc = tcase_create("sign");
    tcase_add_test(tc, known_vector);
    tcase_add_test(tc, header_format);
    tcase_add_test(tc, any_change_changes_the_signature);
    tcase_add_test(tc, small_buffer_refused);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
