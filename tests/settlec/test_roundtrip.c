/*
 * test_roundtrip.c — compile → protobuf → decode → JSON equals the JSON
 * pinned in tests/settlec/roundtrip/NAME.json, for every shipped workflow
 * and for roundtrip/features.flow; decoding and re-encoding gives the same
 * bytes, and compiling twice gives the same hash.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flowc_test.h"
#include "st_test.h"

static const char *const sources[] = {
    "workflows/charge.flow",
    "workflows/dunning.flow",
    "workflows/refund.flow",
    "tests/settlec/roundtrip/features.flow",
};

/* Compile `rel` and pack it; caller frees *bytes and the result. */
static st_flowc_result_t *compile_pack(const char *rel, uint8_t **bytes, size_t *len)
{
    char *src = ft_read(rel, NULL);
    st_flowc_result_t *r = ft_compile(rel, src, 1);
    free(src);
    ck_assert_msg(st_flowc_result_program(r) != NULL, "%s does not compile", rel);
    ck_assert_int_eq(st_flowc_program_pack(st_flowc_result_program(r), bytes, len, NULL), 0);
    return r;
}

START_TEST(test_roundtrip_json)
{
    const char *rel = sources[_i];
    uint8_t *bytes = NULL;
    size_t len = 0;
    st_flowc_result_t *r = compile_pack(rel, &bytes, &len);
    Settle__V1__Program *p = NULL;
    ck_assert_int_eq(st_flowc_program_unpack(bytes, len, &p, NULL), 0);
    char *json = NULL;
    ck_assert_int_eq(st_flowc_program_to_json(p, &json, NULL), 0);
    const char *base = strrchr(rel, '/') + 1;
    char exp_rel[256];
    snprintf(exp_rel, sizeof exp_rel, "tests/settlec/roundtrip/%.*s.json", (int)(strlen(base) - 5),
             base);
    char *expected = ft_read(exp_rel, NULL);
    size_t el = strlen(expected);
    if (el > 0 && expected[el - 1] == '\n')
        expected[el - 1] = '\0';
    ck_assert_msg(strcmp(json, expected) == 0, "%s: JSON differs from %s:\n%s", rel, exp_rel, json);
    /* The JSON straight from the compiler matches the decoded one. */
    char *direct = NULL;
    ck_assert_int_eq(st_flowc_program_to_json(st_flowc_result_program(r), &direct, NULL), 0);
    ck_assert_str_eq(direct, json);
    /* Re-encoding the decoded Program reproduces the bytes exactly. */
    uint8_t *again = NULL;
    size_t again_len = 0;
    ck_assert_int_eq(st_flowc_program_pack(p, &again, &again_len, NULL), 0);
    ck_assert_uint_eq(again_len, len);
    ck_assert_int_eq(memcmp(again, bytes, len), 0);
    free(again);
    free(direct);
    free(expected);
    free(json);
    st_flowc_program_free(p);
    free(bytes);
    st_flowc_result_free(r);
}
END_TEST

START_TEST(test_hash_stable)
{
    const char *rel = sources[_i];
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    st_flowc_result_t *ra = compile_pack(rel, &a, &al);
    st_flowc_result_t *rb = compile_pack(rel, &b, &bl);
    char ha[65], hb[65];
    ck_assert_int_eq(st_flowc_hash_hex(a, al, ha, NULL), 0);
    ck_assert_int_eq(st_flowc_hash_hex(b, bl, hb, NULL), 0);
    ck_assert_str_eq(ha, hb);
    char hc[65];
    ck_assert_int_eq(st_flowc_program_hash(st_flowc_result_program(ra), hc, NULL), 0);
    ck_assert_str_eq(hc, ha);
    ck_assert_uint_eq(strlen(ha), 64);
    ck_assert_uint_eq(strspn(ha, "0123456789abcdef"), 64);
    free(a);
    free(b);
    st_flowc_result_free(ra);
    st_flowc_result_free(rb);
}
END_TEST

START_TEST(test_hash_known_vector)
{
    char hex[65];
    ck_assert_int_eq(st_flowc_hash_hex((const uint8_t *)"abc", 3, hex, NULL), 0);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

/* A change of meaning changes the identity. */
START_TEST(test_hash_changes_with_content)
{
    const char *a = "flow t\nstate s {\n  sleep 1d\n  on wake -> done\n}\nfinal done\n";
    const char *b = "flow t\nstate s {\n  sleep 2d\n  on wake -> done\n}\nfinal done\n";
    char ha[65], hb[65];
    const char *srcs[2] = {a, b};
    char *hashes[2] = {ha, hb};
    for (int i = 0; i < 2; i++) {
        st_flowc_result_t *r = ft_compile("t.flow", srcs[i], 1);
        uint8_t *bytes = NULL;
        size_t len = 0;
        ck_assert_int_eq(st_flowc_program_pack(st_flowc_result_program(r), &bytes, &len, NULL), 0);
        ck_assert_int_eq(st_flowc_hash_hex(bytes, len, hashes[i], NULL), 0);
        free(bytes);
        st_flowc_result_free(r);
    }
    ck_assert_str_ne(ha, hb);
}
END_TEST

START_TEST(test_unpack_rejects_garbage)
{
    Settle__V1__Program *p = (Settle__V1__Program *)1;
    st_err_t err;
    ck_assert_int_eq(st_flowc_program_unpack((const uint8_t *)"\xff\xff\xff", 3, &p, &err),
                     ST_PARSE);
    ck_assert_ptr_null(p);
    /* Well-formed protobuf, but state 0's else points past the end. */
    Settle__V1__Program prog = SETTLE__V1__PROGRAM__INIT;
    Settle__V1__State st = SETTLE__V1__STATE__INIT, *sts[1] = {&st};
    st.name = "s";
    st.kind = SETTLE__V1__STATE_KIND__STATE_KIND_DECIDE;
    st.else_target = 7;
    prog.n_states = 1;
    prog.states = sts;
    uint8_t *bytes = NULL;
    size_t len = 0;
    ck_assert_int_eq(st_flowc_program_pack(&prog, &bytes, &len, NULL), 0);
    ck_assert_int_eq(st_flowc_program_unpack(bytes, len, &p, &err), ST_PARSE);
    ck_assert_ptr_null(p);
    free(bytes);
}
END_TEST

int main(void)
{
    int n = (int)(sizeof sources / sizeof sources[0]);
    Suite *s = suite_create("settlec_roundtrip");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_loop_test(tc, test_roundtrip_json, 0, n);
    tcase_add_loop_test(tc, test_hash_stable, 0, n);
    tcase_add_test(tc, test_hash_known_vector);
    tcase_add_test(tc, test_hash_changes_with_content);
    tcase_add_test(tc, test_unpack_rejects_garbage);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
