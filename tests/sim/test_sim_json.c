/*
 * test_sim_json.c — the fast serialiser writes what jansson writes: same
 * compact text for ordinary trees, and text that parses back to an equal
 * tree for escapes, control characters, UTF-8, numbers and nesting; the
 * sorted variant writes what JSON_SORT_KEYS writes; the scratch buffer is
 * lent to one user at a time.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_json.h"
#include "st_test.h"

static void assert_same_as_jansson(json_t *v)
{
    char *ours = st_sim_json_dumps(v);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_ptr_nonnull(ours);
    ck_assert_str_eq(ours, theirs);
    json_t *back = json_loads(ours, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    ck_assert_msg(json_equal(back, v), "round trip differs: %s", ours);
    json_decref(back);
    free(ours);
    free(theirs);
    json_decref(v);
}

START_TEST(objects_keep_insertion_order)
{
    assert_same_as_jansson(json_pack("{s:s, s:i, s:n, s:b, s:b, s:[i, s, {}], s:{s:{s:I}}}", "id",
                                     "pi_123", "amount", 1099, "customer", "livemode", 0,
                                     "captured", 1, "list", -7, "x", "deep", "a", "b",
                                     (json_int_t)-9223372036854775807LL));
    assert_same_as_jansson(json_object());
    assert_same_as_jansson(json_array());
}
END_TEST

START_TEST(strings_are_escaped)
{
    assert_same_as_jansson(json_string("quote \" backslash \\ slash / tab \t nl \n cr \r"));
    assert_same_as_jansson(json_string("\x01\x1f bell \b ff \f"));
    assert_same_as_jansson(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xb3"));
    assert_same_as_jansson(json_stringn("nul\0inside", 10));
    assert_same_as_jansson(json_pack("{s:s}", "k\"ey\n", "v"));
}
END_TEST

START_TEST(numbers)
{
    assert_same_as_jansson(json_integer(0));
    assert_same_as_jansson(json_integer(-1));
    assert_same_as_jansson(json_integer(99999999));
    json_t *r = json_real(0.25);
    char *t = st_sim_json_dumps(r);
    ck_assert_str_eq(t, "0.25");
    free(t);
    json_decref(r);
    r = json_real(3.0);
    t = st_sim_json_dumps(r);
    ck_assert_str_eq(t, "3.0");
    free(t);
    json_decref(r);
}
END_TEST

START_TEST(large_strings_grow_the_buffer)
{
    char *big = malloc(100001);
    memset(big, 'x', 100000);
    big[100000] = '\0';
    big[500] = '"';
    assert_same_as_jansson(json_pack("[s, s]", big, big));
    free(big);
}
END_TEST

/* Keys sorted at every level, as jansson's JSON_SORT_KEYS writes them (the
 * idempotency fingerprint's canonical form); 40 keys go past the stack. */
START_TEST(sorted_matches_jansson_sort_keys)
{
    json_t *v = json_pack("{s:s, s:{s:s, s:[{s:s, s:s}, s]}, s:[], s:s, s:{}}", "zeta", "1",
                          "metadata", "b", "x", "a", "y", "q", "2", "p", "3", "z", "amount",
                          "expand", "Customer", "é", "");
    json_t *wide = json_object();
    for (int i = 39; i >= 0; i--) {
        char k[8];
        snprintf(k, sizeof(k), "k%02d", i);
        json_object_set_new(wide, k, json_string(k));
    }
    json_object_set_new(v, "wide", wide);
    st_buf_t b = {0};
    st_sim_buf_json_sorted(&b, v);
    char *theirs = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_ptr_nonnull(b.p);
    ck_assert_str_eq(b.p, theirs);
    free(theirs);
    st_buf_release(&b);
    json_decref(v);
}
END_TEST

/* The per-thread scratch buffer is lent once at a time and starts empty. */
START_TEST(scratch_is_lent_once)
{
    st_buf_t *a = st_sim_buf_scratch();
    ck_assert_ptr_nonnull(a);
    st_buf_adds(a, "first");
    ck_assert_ptr_null(st_sim_buf_scratch());
    json_t *o = json_pack("{s:i}", "n", 1);
    json_t *s = st_sim_json_string_of(o); /* falls back to its own buffer */
    ck_assert_str_eq(json_string_value(s), "{\"n\":1}");
    json_decref(s);
    json_decref(o);
    st_sim_buf_scratch_done(a);
    st_buf_t *again = st_sim_buf_scratch();
    ck_assert_ptr_eq(again, a);
    ck_assert_uint_eq(again->len, 0);
    st_sim_buf_scratch_done(again);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_json");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, objects_keep_insertion_order);
    tcase_add_test(tc, strings_are_escaped);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, large_strings_grow_the_buffer);
    tcase_add_test(tc, sorted_matches_jansson_sort_keys);
    tcase_add_test(tc, scratch_is_lent_once);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
