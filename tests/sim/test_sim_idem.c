/*
 * test_sim_idem.c — the idempotency store: reserve, replay, mismatch,
 * busy, abandon, expiry by sim time.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_idem.h"
#include "st_test.h"

static void fp_of(const char *method, const char *path, const char *json, char *out)
{
    json_t *p = json_loads(json, 0, NULL);
    st_sim_idem_fingerprint(method, path, p, out, 192);
    json_decref(p);
}

START_TEST(fingerprint_is_canonical)
{
    char a[192], b[192], c[192], d[192];
    fp_of("POST", "/v1/payment_intents", "{\"amount\":\"1\",\"currency\":\"usd\"}", a);
    fp_of("POST", "/v1/payment_intents", "{\"currency\":\"usd\",\"amount\":\"1\"}", b);
    fp_of("POST", "/v1/payment_intents", "{\"currency\":\"usd\",\"amount\":\"2\"}", c);
    fp_of("POST", "/v1/customers", "{\"amount\":\"1\",\"currency\":\"usd\"}", d);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_str_ne(a, d);
}
END_TEST

START_TEST(new_busy_replay)
{
    st_sim_idem_t *s = st_sim_idem_new(86400);
    st_sim_idem_hit_t hit;
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp", 100, &hit), ST_SIM_IDEM_NEW);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp", 101, &hit), ST_SIM_IDEM_BUSY);
    st_sim_idem_finish(s, "k", 402, "{\"error\":{}}", 0);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp", 102, &hit), ST_SIM_IDEM_REPLAY);
    ck_assert_int_eq(hit.status, 402);
    ck_assert_str_eq(hit.body, "{\"error\":{}}");
    ck_assert_int_eq(hit.should_retry, 0);
    st_sim_idem_hit_release(&hit);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "other", 103, &hit), ST_SIM_IDEM_MISMATCH);
    ck_assert_uint_eq(st_sim_idem_count(s), 1);
    st_sim_idem_free(s);
}
END_TEST

START_TEST(abandon_stores_nothing)
{
    st_sim_idem_t *s = st_sim_idem_new(86400);
    st_sim_idem_hit_t hit;
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp", 1, &hit), ST_SIM_IDEM_NEW);
    st_sim_idem_abandon(s, "k");
    ck_assert_uint_eq(st_sim_idem_count(s), 0);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp2", 2, &hit), ST_SIM_IDEM_NEW);
    st_sim_idem_free(s);
}
END_TEST

START_TEST(expiry_follows_sim_time)
{
    st_sim_idem_t *s = st_sim_idem_new(86400);
    st_sim_idem_hit_t hit;
    st_sim_idem_begin(s, "k", "fp", 1000, &hit);
    st_sim_idem_finish(s, "k", 200, "{}", -1);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "fp", 1000 + 86399, &hit), ST_SIM_IDEM_REPLAY);
    st_sim_idem_hit_release(&hit);
    ck_assert_uint_eq(st_sim_idem_expire(s, 1000 + 86399), 0);
    ck_assert_int_eq(st_sim_idem_begin(s, "k", "new", 1000 + 86400, &hit), ST_SIM_IDEM_NEW);
    st_sim_idem_finish(s, "k", 200, "{}", -1);
    st_sim_idem_begin(s, "j", "fp", 5000, &hit); /* in progress: never expired */
    ck_assert_uint_eq(st_sim_idem_expire(s, 1000 + 3 * 86400), 1);
    ck_assert_uint_eq(st_sim_idem_count(s), 1);
    st_sim_idem_free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_idem");
    TCase *tc = tcase_create("idem");
    tcase_add_test(tc, fingerprint_is_canonical);
    tcase_add_test(tc, new_busy_replay);
    tcase_add_test(tc, abandon_stores_nothing);
    tcase_add_test(tc, expiry_follows_sim_time);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
