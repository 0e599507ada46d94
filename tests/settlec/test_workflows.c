/*
 * test_workflows.c — the shipped flows compile without any warning and
 * have the shape the engine and the demo rely on; DOT marks final and fail
 * states; the activity catalog is consistent.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flowc_test.h"
#include "st_test.h"

#define KIND(x) SETTLE__V1__STATE_KIND__STATE_KIND_##x

static char **flows;
static size_t nflows;

static st_flowc_result_t *compile_workflow(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "workflows/%s", name);
    char *src = ft_read(rel, NULL);
    st_flowc_result_t *r = ft_compile(rel, src, 1);
    free(src);
    return r;
}

static const Settle__V1__State *state_named(const Settle__V1__Program *p, const char *name)
{
    for (size_t i = 0; i < p->n_states; i++)
        if (strcmp(p->states[i]->name, name) == 0)
            return p->states[i];
    ck_abort_msg("no state %s", name);
    return NULL;
}

START_TEST(test_workflow_clean)
{
    st_flowc_result_t *r = compile_workflow(flows[_i]);
    char *text = ft_diag_text(r);
    ck_assert_msg(st_flowc_result_diag_count(r) == 0, "%s:\n%s", flows[_i], text);
    ck_assert_ptr_nonnull(st_flowc_result_program(r));
    char *dot = NULL;
    ck_assert_int_eq(st_flowc_program_to_dot(st_flowc_result_program(r), &dot, NULL), 0);
    ck_assert_ptr_nonnull(strstr(dot, "digraph"));
    ck_assert_ptr_nonnull(strstr(dot, "shape=doublecircle"));
    ck_assert_ptr_nonnull(strstr(dot, "shape=octagon"));
    free(dot);
    free(text);
    st_flowc_result_free(r);
}
END_TEST

START_TEST(test_dunning_shape)
{
    st_flowc_result_t *r = compile_workflow("dunning.flow");
    const Settle__V1__Program *p = st_flowc_result_program(r);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "dunning");
    ck_assert_str_eq(p->states[p->initial]->name, "charge");
    ck_assert(p->has_cancel);
    const Settle__V1__State *wait = state_named(p, "wait");
    ck_assert_int_eq(wait->kind, KIND(SLEEP));
    ck_assert_int_eq(wait->sleep->until_case, SETTLE__V1__SLEEP__UNTIL_SMART);
    ck_assert_int_eq(wait->sleep->smart->within_us, 21LL * 86400 * 1000000);
    ck_assert_uint_eq(wait->n_guards, 1);
    const Settle__V1__State *charge = state_named(p, "charge");
    ck_assert_str_eq(charge->activity->name, "stripe.pay_invoice");
    ck_assert_uint_eq(charge->activity->retry->max_attempts, 6);
    ck_assert_str_eq(state_named(p, "write_off")->activity->name, "erp.write_off");
    ck_assert_int_eq(state_named(p, "stuck")->kind, KIND(FAIL));
    ck_assert_int_eq(state_named(p, "wait_for_card")->kind, KIND(AWAIT));
    st_flowc_result_free(r);
}
END_TEST

START_TEST(test_charge_correlates_payment_intent)
{
    st_flowc_result_t *r = compile_workflow("charge.flow");
    const Settle__V1__Program *p = st_flowc_result_program(r);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->n_correlations, 1);
    ck_assert_str_eq(p->correlations[0]->key, "payment_intent");
    ck_assert_str_eq(p->vars[p->correlations[0]->var]->name, "pi_id");
    const Settle__V1__State *w = state_named(p, "wait_for_authentication");
    ck_assert_int_eq(w->kind, KIND(AWAIT));
    ck_assert_str_eq(w->await->signals[0], "payment_intent.succeeded");
    st_flowc_result_free(r);
}
END_TEST

/* Guards appear on DOT edges as source text, literals formatted back. */
START_TEST(test_dot_guard_labels)
{
    const char *src = "flow g\ninput a: money\ninput n: int\n"
                      "state s {\n  if a > 10.50 eur and n != -3 -> x\n  if a < -0.05 eur -> x\n"
                      "  if a == 1.250 kwd -> x\n  if a >= 500 jpy -> x\n"
                      "  sleep 90m\n  on wake -> x\n}\nfinal x\n";
    st_flowc_result_t *r = ft_compile("g.flow", src, 1);
    char *dot = NULL;
    ck_assert_int_eq(st_flowc_program_to_dot(st_flowc_result_program(r), &dot, NULL), 0);
    ck_assert_ptr_nonnull(strstr(dot, "label=\"if (a > 10.50 eur) and (n != -3)\""));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"if a < -0.05 eur\""));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"if a == 1.250 kwd\""));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"if a >= 500 jpy\""));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"wake\""));
    free(dot);
    st_flowc_result_free(r);
    r = compile_workflow("dunning.flow");
    ck_assert_int_eq(st_flowc_program_to_dot(st_flowc_result_program(r), &dot, NULL), 0);
    ck_assert_ptr_nonnull(strstr(dot, "[label=\"if attempt >= 4\", style=dashed]"));
    ck_assert_ptr_nonnull(strstr(dot, "label=\"declined(fraudulent, highest_risk_level, "
                                      "merchant_blacklist)\""));
    free(dot);
    st_flowc_result_free(r);
}
END_TEST

START_TEST(test_catalog_consistent)
{
    size_t n = 0;
    for (const st_flowc_activity_t *a; (a = st_flowc_activity_at(n)) != NULL; n++) {
        ck_assert_ptr_eq(st_flowc_activity_find(a->name), a);
        ck_assert_ptr_nonnull(a->outcomes[0]);
        ck_assert_int_gt(a->default_timeout_us, 0);
        int has_failed = 0;
        for (size_t i = 0; a->outcomes[i]; i++)
            has_failed |= strcmp(a->outcomes[i], "failed") == 0;
        ck_assert_msg(has_failed, "%s cannot fail", a->name);
    }
    ck_assert_uint_ge(n, 10);
    ck_assert_ptr_null(st_flowc_activity_find("stripe.nothing"));
    ck_assert(st_flowc_outcome_has_codes("declined"));
    ck_assert(!st_flowc_outcome_has_codes("failed"));
}
END_TEST

int main(void)
{
    flows = ft_list("workflows", ".flow", &nflows);
    Suite *s = suite_create("settlec_workflows");
    TCase *tc = tcase_create("workflows");
    tcase_add_loop_test(tc, test_workflow_clean, 0, (int)nflows);
    tcase_add_test(tc, test_dunning_shape);
    tcase_add_test(tc, test_charge_correlates_payment_intent);
    tcase_add_test(tc, test_dot_guard_labels);
    tcase_add_test(tc, test_catalog_consistent);
    suite_add_tcase(s, tc);
    if (nflows < 3) {
        fprintf(stderr, "expected the three shipped workflows, found %zu\n", nflows);
        return EXIT_FAILURE;
    }
    return st_test_run(s);
}
