/*
 * test_timer_clock.c — real and virtual clocks.
 */
#include <check.h>
#include <time.h>

#include "st_test.h"
#include "timer/st_clock.h"

START_TEST(virtual_moves_only_when_told)
{
    st_clock_t c;
    st_err_t err;
    st_clock_init_virtual(&c, 1000);
    ck_assert(st_clock_is_virtual(&c));
    ck_assert_int_eq(st_clock_now_us(&c), 1000);
    ck_assert_int_eq(st_clock_mono_us(&c), 0);
    ck_assert_int_eq(st_clock_now_us(&c), 1000);
    ck_assert_int_eq(st_clock_advance(&c, 500, &err), 0);
    ck_assert_int_eq(st_clock_now_us(&c), 1500);
    ck_assert_int_eq(st_clock_mono_us(&c), 500);
    ck_assert_int_eq(st_clock_set(&c, 86400 * INT64_C(1000000), &err), 0);
    ck_assert_int_eq(st_clock_now_us(&c), 86400 * INT64_C(1000000));
    ck_assert_int_eq(st_clock_set(&c, 5, &err), ST_INVAL);
    ck_assert_int_eq(err.code, ST_INVAL);
    ck_assert_int_eq(st_clock_advance(&c, -1, &err), ST_INVAL);
    ck_assert_int_eq(st_clock_advance(&c, INT64_MAX, &err), ST_INVAL);
    ck_assert_int_eq(st_clock_now_us(&c), 86400 * INT64_C(1000000));
}
END_TEST

START_TEST(real_reads_the_os)
{
    st_clock_t c;
    st_err_t err;
    st_clock_init_real(&c);
    ck_assert(!st_clock_is_virtual(&c));
    int64_t now = st_clock_now_us(&c);
    int64_t sys = (int64_t)time(NULL) * 1000000;
    ck_assert_int_lt(now > sys ? now - sys : sys - now, 2000000);
    int64_t m1 = st_clock_mono_us(&c);
    int64_t m2 = st_clock_mono_us(&c);
    ck_assert_int_ge(m2, m1);
    ck_assert_int_eq(st_clock_advance(&c, 1, &err), ST_STATE);
    ck_assert_int_eq(st_clock_set(&c, now + 10, &err), ST_STATE);
}
END_TEST

START_TEST(parse_kind)
{
    st_clock_kind_t k;
    st_err_t err;
    ck_assert_int_eq(st_clock_parse_kind("virtual", &k, &err), 0);
    ck_assert_int_eq(k, ST_CLOCK_VIRTUAL);
    ck_assert_int_eq(st_clock_parse_kind("real", &k, &err), 0);
    ck_assert_int_eq(k, ST_CLOCK_REAL);
    ck_assert_str_eq(st_clock_kind_name(ST_CLOCK_VIRTUAL), "virtual");
    ck_assert_int_eq(st_clock_parse_kind("fast", &k, &err), ST_INVAL);
    ck_assert(err.hint[0] != '\0');
    ck_assert_int_eq(st_clock_parse_kind(NULL, &k, &err), ST_INVAL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("timer_clock");
    TCase *tc = tcase_create("clock");
    tcase_add_test(tc, virtual_moves_only_when_told);
    tcase_add_test(tc, real_reads_the_os);
    tcase_add_test(tc, parse_kind);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
