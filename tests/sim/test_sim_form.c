/*
 * test_sim_form.c — the form decoder: nested keys, arrays, percent
 * decoding, and every malformed input it must refuse without leaking.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_form.h"
#include "st_test.h"

static json_t *decode_ok(const char *body)
{
    json_t *out = NULL;
    st_err_t err;
    int rc = st_sim_form_decode(body, strlen(body), &out, &err);
    ck_assert_msg(rc == 0, "decode '%s' failed: %s", body, err.msg);
    return out;
}

static void assert_tree(const char *body, const char *want_json)
{
    json_t *got = decode_ok(body);
    json_t *want = json_loads(want_json, 0, NULL);
    ck_assert_ptr_nonnull(want);
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(got, want), "'%s' decoded to %s, want %s", body, g, want_json);
    free(g);
    json_decref(got);
    json_decref(want);
}

static void assert_refused(const char *body)
{
    json_t *out = (json_t *)1;
    st_err_t err;
    int rc = st_sim_form_decode(body, strlen(body), &out, &err);
    ck_assert_msg(rc == ST_PARSE, "'%s' should be refused, rc=%d", body, rc);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(err.code, ST_PARSE);
}

START_TEST(flat_pairs)
{
    assert_tree("amount=1099&currency=usd", "{\"amount\":\"1099\",\"currency\":\"usd\"}");
    assert_tree("", "{}");
    assert_tree("a=1&&b=2&", "{\"a\":\"1\",\"b\":\"2\"}");
    assert_tree("flag", "{\"flag\":\"\"}");
    assert_tree("a=1&a=2", "{\"a\":\"2\"}");
}
END_TEST

START_TEST(nested_objects)
{
    assert_tree("metadata[plan]=pro&metadata[seats]=3",
                "{\"metadata\":{\"plan\":\"pro\",\"seats\":\"3\"}}");
    assert_tree("payment_method_options[card][request_three_d_secure]=any",
                "{\"payment_method_options\":{\"card\":{\"request_three_d_secure\":\"any\"}}}");
    assert_tree("metadata[plan]=", "{\"metadata\":{\"plan\":\"\"}}");
}
END_TEST

START_TEST(arrays)
{
    assert_tree("expand[]=customer&expand[]=latest_charge",
                "{\"expand\":[\"customer\",\"latest_charge\"]}");
    assert_tree("expand[0]=customer&expand[1]=latest_charge",
                "{\"expand\":[\"customer\",\"latest_charge\"]}");
    assert_tree("items[0][price]=p1&items[0][quantity]=2&items[1][price]=p2",
                "{\"items\":[{\"price\":\"p1\",\"quantity\":\"2\"},{\"price\":\"p2\"}]}");
    assert_tree("a[0]=x&a[0]=y", "{\"a\":[\"y\"]}");
}
END_TEST

START_TEST(percent_decoding)
{
    assert_tree("email=jenny%2Brosen%40example.com&name=Jenny+Rosen",
                "{\"email\":\"jenny+rosen@example.com\",\"name\":\"Jenny Rosen\"}");
    assert_tree("metadata%5Bplan%5D=pro", "{\"metadata\":{\"plan\":\"pro\"}}");
    assert_tree("d=caf%C3%A9", "{\"d\":\"caf\\u00e9\"}");
    assert_tree("bad=%zz%4", "{\"bad\":\"%zz%4\"}");
}
END_TEST

START_TEST(malformed)
{
    assert_refused("=value");
    assert_refused("[a]=1");
    assert_refused("a[b=1");
    assert_refused("a[b]c=1");
    assert_refused("a=1&a[b]=2");      /* string then object */
    assert_refused("a[b]=1&a[]=2");    /* object then array */
    assert_refused("a[]=1&a[x]=2");    /* array then object */
    assert_refused("a[5]=1");          /* index skips */
    assert_refused("a[1234567890]=1"); /* absurd index */
    assert_refused("v=%00");           /* NUL byte */
    assert_refused("v=%ff");           /* not UTF-8 */
    assert_refused("%ff=1");
    assert_refused("a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r]=1");
}
END_TEST

START_TEST(put_into_existing)
{
    json_t *root = json_object();
    st_err_t err;
    ck_assert_int_eq(st_sim_form_put(root, "expand[]", "customer", &err), 0);
    ck_assert_int_eq(st_sim_form_put(root, "limit", "3", &err), 0);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(root, "expand"), 0)),
                     "customer");
    ck_assert_int_eq(st_sim_form_put(root, "limit[x]", "3", &err), ST_PARSE);
    json_decref(root);
}
END_TEST

START_TEST(long_key_refused)
{
    char key[ST_SIM_FORM_MAX_KEY + 10];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_t *root = json_object();
    st_err_t err;
    ck_assert_int_eq(st_sim_form_put(root, key, "v", &err), ST_PARSE);
    json_decref(root);
}
END_TEST

/* Every prefix of a tricky body decodes or fails cleanly (ASan checks leaks). */
START_TEST(prefixes_never_crash)
{
    const char *body = "a[b][0][c]=%41%4&x[]=1&x[]=2&m[k]=v+w&z[0]=1&z[1][q]=2";
    for (size_t n = 0; n <= strlen(body); n++) {
        json_t *out = NULL;
        st_err_t err;
        if (st_sim_form_decode(body, n, &out, &err) == 0)
            json_decref(out);
        else
            ck_assert_ptr_null(out);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_form");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, flat_pairs);
    tcase_add_test(tc, nested_objects);
    tcase_add_test(tc, arrays);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, put_into_existing);
    tcase_add_test(tc, long_key_refused);
    tcase_add_test(tc, prefixes_never_crash);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
