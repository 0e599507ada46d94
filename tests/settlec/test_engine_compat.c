/*
 * test_engine_compat.c — what settlec emits, the engine accepts: every
 * shipped workflow and the all-constructs flow load through
 * st_core_program_load (the engine's own validation), under the same hash.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "core/st_core.h"
#include "flowc_test.h"
#include "st_test.h"

static const char *const sources[] = {
    "workflows/charge.flow",
    "workflows/dunning.flow",
    "workflows/refund.flow",
    "tests/settlec/roundtrip/features.flow",
};

START_TEST(test_engine_loads_program)
{
    const char *rel = sources[_i];
    char *src = ft_read(rel, NULL);
    st_flowc_result_t *r = ft_compile(rel, src, 1);
    const Settle__V1__Program *p = st_flowc_result_program(r);
    ck_assert_msg(p != NULL, "%s does not compile", rel);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char hex[65];
    ck_assert_int_eq(st_flowc_program_pack(p, &bytes, &len, NULL), 0);
    ck_assert_int_eq(st_flowc_hash_hex(bytes, len, hex, NULL), 0);
    st_core_program_t *cp = NULL;
    st_err_t err;
    st_err_clear(&err);
    int rc = st_core_program_load(bytes, len, &cp, &err);
    ck_assert_msg(rc == 0, "%s: engine refuses the Program: %s", rel, err.msg);
    ck_assert_str_eq(st_core_program_hash(cp), hex);
    ck_assert_str_eq(st_core_program_name(cp), p->name);
    ck_assert_uint_eq(st_core_program_state_count(cp), p->n_states);
    ck_assert_uint_eq(st_core_program_var_count(cp), p->n_vars);
    st_core_program_free(cp);
    free(bytes);
    st_flowc_result_free(r);
    free(src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("settlec_engine_compat");
    TCase *tc = tcase_create("engine_compat");
    tcase_add_loop_test(tc, test_engine_loads_program, 0,
                        (int)(sizeof sources / sizeof sources[0]));
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
