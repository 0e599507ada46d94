/*
 * test_catalog.c — the compiler's activity catalog and the activity
 * runner's agree: every activity a flow may `do` has a driver, and the
 * driver produces exactly the outcomes the compiler makes flows handle.
 */
#include <stdio.h>
#include <string.h>

#include "activity/st_act.h"
#include "st_flowc.h"
#include "st_test.h"

static int listed(const char *const *list, const char *name)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

START_TEST(every_compiled_activity_has_a_driver_with_the_same_outcomes)
{
    size_t n = 0;
    for (const st_flowc_activity_t *a; (a = st_flowc_activity_at(n)) != NULL; n++) {
        const char *const *driver = st_act_outcomes(a->name);
        ck_assert_msg(driver != NULL, "%s compiles but has no driver", a->name);
        for (size_t i = 0; a->outcomes[i] != NULL; i++)
            ck_assert_msg(listed(driver, a->outcomes[i]), "%s: the driver never says '%s'", a->name,
                          a->outcomes[i]);
        for (size_t i = 0; driver[i] != NULL; i++)
            ck_assert_msg(listed(a->outcomes, driver[i]),
                          "%s: the driver can say '%s', which flows are not made to handle",
                          a->name, driver[i]);
    }
    ck_assert_uint_ge(n, 14);
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
    tcase_add_test(tc, every_compiled_activity_has_a_driver_with_the_same_outcomes);
    tcase_add_test(tc, default_template_dir_holds_the_shipped_templates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
