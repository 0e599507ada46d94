/*
 * test_catalog.c — the one activity catalog (common/st_catalog.h) drives
 * both the compiler and the activity runner:
 *   - every activity the language offers compiles when a flow handles the
 *     catalog's outcomes, and the compiler refuses an arm the catalog does
 *     not list and a flow that leaves a listed outcome unhandled;
 *   - the runner has a driver for every catalog entry, reports the
 *     catalog's outcomes for it, and runs no name the catalog lacks;
 *   - runtime-only entries (in_language == 0) are invisible to flows.
 */
#include <stdio.h>
#include <string.h>

#include "activity/st_act.h"
#include "common/st_catalog.h"
#include "flowc/st_flowc.h"
#include "st_test.h"

static const char *literal_of(st_catalog_type_t t)
{
    switch (t) {
    case ST_CATALOG_INT:
        return "1";
    case ST_CATALOG_BOOL:
        return "true";
    case ST_CATALOG_MONEY:
        return "1.00 eur";
    default:
        return "\"x\"";
    }
}

/* A flow that calls `a` with its required args and handles its outcomes,
 * skipping outcome number `skip` (-1: none) and adding `extra` (NULL: none). */
static void probe_flow(const st_catalog_activity_t *a, int skip, const char *extra, char *out,
                       size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "flow probe\n\nstate s {\n  do %s(", a->name);
    int first = 1;
    for (const st_catalog_param_t *p = a->params; p->name != NULL; p++) {
        if (!p->required)
            continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s: %s", first ? "" : ", ", p->name,
                              literal_of(p->type));
        first = 0;
    }
    n += (size_t)snprintf(out + n, cap - n, ")\n");
    for (int i = 0; a->outcomes[i] != NULL; i++)
        if (i != skip)
            n += (size_t)snprintf(out + n, cap - n, "  on %s -> done\n", a->outcomes[i]);
    if (extra != NULL)
        n += (size_t)snprintf(out + n, cap - n, "  on %s -> done\n", extra);
    snprintf(out + n, cap - n, "}\n\nfinal done\n");
}

static unsigned compile_errors(const char *src)
{
    st_flowc_result_t *r = NULL;
    st_err_t err;
    ck_assert_int_eq(st_flowc_compile("probe.flow", src, strlen(src), NULL, &r, &err), 0);
    unsigned n = st_flowc_result_errors(r);
    st_flowc_result_free(r);
    return n;
}

START_TEST(the_compiler_takes_arms_and_args_from_the_catalog)
{
    char src[2048];
    size_t offered = 0;
    for (size_t i = 0; i < st_catalog_count(); i++) {
        const st_catalog_activity_t *a = st_catalog_at(i);
        if (!a->in_language)
            continue;
        offered++;
        ck_assert_ptr_eq(st_flowc_activity_find(a->name), a);
        probe_flow(a, -1, NULL, src, sizeof src);
        ck_assert_msg(compile_errors(src) == 0, "%s: a flow handling its outcomes fails:\n%s",
                      a->name, src);
        probe_flow(a, -1, "no_such_outcome", src, sizeof src);
        ck_assert_msg(compile_errors(src) > 0, "%s: an arm outside the catalog compiles", a->name);
        probe_flow(a, 0, NULL, src, sizeof src);
        ck_assert_msg(compile_errors(src) > 0, "%s: '%s' may go unhandled", a->name,
                      a->outcomes[0]);
    }
    ck_assert_uint_ge(offered, 15);
}
END_TEST

static int same_list(const char *const *x, const char *const *y)
{
    size_t i = 0;
    for (; x[i] != NULL && y[i] != NULL; i++)
        if (strcmp(x[i], y[i]) != 0)
            return 0;
    return x[i] == NULL && y[i] == NULL;
}

START_TEST(the_runner_has_a_driver_for_every_entry_and_no_other)
{
    for (size_t i = 0; i < st_catalog_count(); i++) {
        const st_catalog_activity_t *a = st_catalog_at(i);
        const char *const *outcomes = st_act_outcomes(a->name);
        ck_assert_msg(outcomes != NULL, "%s is in the catalog but has no driver", a->name);
        ck_assert_msg(same_list(outcomes, a->outcomes), "%s: the runner reports other outcomes",
                      a->name);
    }
    for (size_t i = 0; i < st_act_catalog_size(); i++)
        ck_assert_msg(st_catalog_find(st_act_catalog_name(i)) != NULL,
                      "driver %s has no catalog entry", st_act_catalog_name(i));
    ck_assert_uint_eq(st_act_catalog_size(), st_catalog_count());
    ck_assert_ptr_null(st_act_outcomes("no.such_activity"));
}
END_TEST

START_TEST(runtime_only_entries_are_not_in_the_language)
{
    size_t hidden = 0;
    for (size_t i = 0; i < st_catalog_count(); i++) {
        const st_catalog_activity_t *a = st_catalog_at(i);
        if (a->in_language)
            continue;
        hidden++;
        ck_assert_ptr_null(st_flowc_activity_find(a->name));
        char src[512];
        probe_flow(a, -1, NULL, src, sizeof src);
        ck_assert_msg(compile_errors(src) > 0, "%s compiles although runtime-only", a->name);
    }
    ck_assert_uint_ge(hidden, 1);
    for (size_t i = 0; st_flowc_activity_at(i) != NULL; i++)
        ck_assert(st_flowc_activity_at(i)->in_language);
}
END_TEST

/* A settled started without SETTLE_TEMPLATE_DIR finds the shipped
 * templates, for every email the shipped flows send. */
START_TEST(default_template_dir_holds_the_shipped_templates)
{
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    const char *names[] = {"payment_failed", "update_card", "authenticate_payment"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.txt", cfg.template_dir, names[i]);
        FILE *f = fopen(path, "r");
        ck_assert_msg(f != NULL, "no %s", path);
        fclose(f);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("catalog");
    tcase_add_test(tc, the_compiler_takes_arms_and_args_from_the_catalog);
    tcase_add_test(tc, the_runner_has_a_driver_for_every_entry_and_no_other);
    tcase_add_test(tc, runtime_only_entries_are_not_in_the_language);
    tcase_add_test(tc, default_template_dir_holds_the_shipped_templates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
