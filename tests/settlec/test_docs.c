/*
 * test_docs.c — the complete example in docs/flow-language.md (the fenced
 * block after `<!-- example:dunning-mini -->`) compiles without a single
 * diagnostic, so the tutorial cannot rot.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flowc_test.h"
#include "st_test.h"

START_TEST(test_docs_example_compiles)
{
    char *doc = ft_read("docs/flow-language.md", NULL);
    const char *mark = strstr(doc, "<!-- example:dunning-mini -->");
    ck_assert_msg(mark != NULL, "example marker missing from docs/flow-language.md");
    const char *open = strstr(mark, "```\n");
    ck_assert_ptr_nonnull(open);
    open += 4;
    const char *close = strstr(open, "\n```");
    ck_assert_ptr_nonnull(close);
    char *src = strndup(open, (size_t)(close - open) + 1);
    st_flowc_result_t *r = ft_compile("dunning-mini.flow", src, 1);
    char *text = ft_diag_text(r);
    ck_assert_msg(st_flowc_result_diag_count(r) == 0, "docs example:\n%s", text);
    const Settle__V1__Program *p = st_flowc_result_program(r);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "dunning_mini");
    ck_assert_uint_eq(p->n_states, 11);
    free(text);
    st_flowc_result_free(r);
    free(src);
    free(doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("settlec_docs");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, test_docs_example_compiles);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
