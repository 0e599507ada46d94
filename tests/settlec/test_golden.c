/*
 * test_golden.c — every tests/settlec/golden/NN_name.flow compiles to
 * exactly the diagnostics in NN_name.expected (file:line:col: severity:
 * message, then the hint line when there is one), in order.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flowc_test.h"
#include "st_test.h"

static char **cases;
static size_t ncases;

START_TEST(test_golden_case)
{
    const char *name = cases[_i];
    char rel[512], exp_rel[512];
    snprintf(rel, sizeof rel, "tests/settlec/golden/%s", name);
    snprintf(exp_rel, sizeof exp_rel, "tests/settlec/golden/%.*s.expected", (int)(strlen(name) - 5),
             name);
    char *src = ft_read(rel, NULL);
    char *expected = ft_read(exp_rel, NULL);
    st_flowc_result_t *r = ft_compile(name, src, 0);
    char *got = ft_diag_text(r);
    ck_assert_msg(strcmp(got, expected) == 0, "%s:\n--- expected\n%s--- got\n%s", name, expected,
                  got);
    ck_assert_msg(st_flowc_result_diag_count(r) > 0, "%s: a golden case must diagnose something",
                  name);
    if (st_flowc_result_errors(r) > 0)
        ck_assert_ptr_null(st_flowc_result_program(r));
    else
        ck_assert_ptr_nonnull(st_flowc_result_program(r));
    free(got);
    st_flowc_result_free(r);
    free(src);
    free(expected);
}
END_TEST

/* Warnings turn into errors, and the Program disappears, with werror. */
START_TEST(test_golden_werror)
{
    char *src = ft_read("tests/settlec/golden/20_unknown_decline_code.flow", NULL);
    st_flowc_result_t *r = ft_compile("w.flow", src, 0);
    ck_assert_uint_eq(st_flowc_result_errors(r), 0);
    ck_assert_uint_eq(st_flowc_result_warnings(r), 1);
    ck_assert_ptr_nonnull(st_flowc_result_program(r));
    st_flowc_result_free(r);
    r = ft_compile("w.flow", src, 1);
    ck_assert_uint_eq(st_flowc_result_errors(r), 1);
    ck_assert_ptr_null(st_flowc_result_program(r));
    ck_assert_int_eq(st_flowc_result_diag(r, 0)->severity, ST_FLOWC_ERROR);
    st_flowc_result_free(r);
    free(src);
}
END_TEST

/* The rendered form carries the source line and a caret under the span. */
START_TEST(test_render_caret)
{
    const char *src = "flow t\nstate a {\n  else -> dnoe\n}\nfinal done\n";
    st_flowc_result_t *r = ft_compile("c.flow", src, 0);
    ck_assert_uint_eq(st_flowc_result_diag_count(r), 1);
    char *text = NULL;
    ck_assert_int_eq(
        st_flowc_diag_render(st_flowc_result_diag(r, 0), src, strlen(src), &text, NULL), 0);
    ck_assert_str_eq(text, "c.flow:3:11: error: unknown state 'dnoe'\n"
                           "    3 |   else -> dnoe\n"
                           "      |           ^~~~\n"
                           "hint: did you mean 'done'?\n");
    free(text);
    st_flowc_result_free(r);
}
END_TEST

int main(void)
{
    cases = ft_list("tests/settlec/golden", ".flow", &ncases);
    Suite *s = suite_create("settlec_golden");
    TCase *tc = tcase_create("golden");
    tcase_add_loop_test(tc, test_golden_case, 0, (int)ncases);
    tcase_add_test(tc, test_golden_werror);
    tcase_add_test(tc, test_render_caret);
    suite_add_tcase(s, tc);
    if (ncases < 40) {
        fprintf(stderr, "only %zu golden cases found; expected at least 40\n", ncases);
        return EXIT_FAILURE;
    }
    return st_test_run(s);
}
