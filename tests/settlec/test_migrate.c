/*
 * test_migrate.c — migration maps between two Programs: existing targets
 * of the same kind pass; missing targets, kind changes, unmapped live
 * states, new inputs and type changes are errors at the exact spot.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flowc_test.h"
#include "st_test.h"

static const char *v1 =
    "flow m\ninput who: string\nvar n: int = 0\n"
    "state ask {\n  do email.send(to: who, template: \"a\")\n  on sent -> pause\n"
    "  on failed -> pause\n}\n"
    "state pause {\n  sleep 1d\n  on wake -> check\n}\n"
    "state check {\n  if n > 3 -> done\n  else -> ask\n}\n"
    "final done\n";

static const char *v2 =
    "flow m\ninput who: string\nvar n: int = 0\n"
    "state ask2 {\n  do email.send(to: who, template: \"b\")\n  on sent -> rest\n"
    "  on failed -> rest\n}\n"
    "state rest {\n  sleep 2d\n  on wake -> check\n}\n"
    "state check {\n  if n > 3 -> done\n  else -> ask2\n}\n"
    "final done\n";

/* Compile both, check `map`, return the diagnostics text; caller frees. */
static char *migrate(const char *old_src, const char *new_src, const char *map)
{
    st_flowc_result_t *a = ft_compile("old.flow", old_src, 1);
    st_flowc_result_t *b = ft_compile("new.flow", new_src, 1);
    ck_assert_ptr_nonnull(st_flowc_result_program(a));
    ck_assert_ptr_nonnull(st_flowc_result_program(b));
    st_flowc_result_t *r = NULL;
    ck_assert_int_eq(st_flowc_migrate_check(st_flowc_result_program(a), st_flowc_result_program(b),
                                            "m.map", map, strlen(map), &r, NULL),
                     0);
    ck_assert_ptr_null(st_flowc_result_program(r));
    char *text = ft_diag_text(r);
    st_flowc_result_free(r);
    st_flowc_result_free(a);
    st_flowc_result_free(b);
    return text;
}

START_TEST(test_migrate_good_map)
{
    char *t = migrate(v1, v2, "# rename\nask -> ask2\npause -> rest\n");
    ck_assert_str_eq(t, "");
    free(t);
    t = migrate(v1, v1, "");
    ck_assert_str_eq(t, "");
    free(t);
}
END_TEST

START_TEST(test_migrate_missing_target)
{
    char *t = migrate(v1, v2, "ask -> ask3\npause -> rest\n");
    ck_assert_str_eq(t, "m.map:1:8: error: state 'ask3' does not exist in the new program\n"
                        "hint: did you mean 'ask2'?\n");
    free(t);
}
END_TEST

START_TEST(test_migrate_kind_change)
{
    char *t = migrate(v1, v2, "ask -> ask2\npause -> check\n");
    ck_assert_str_eq(t, "m.map:2:10: error: state 'pause' (sleep) would become 'check' "
                        "(decide); a live instance cannot change kind\n"
                        "hint: map it to a state of the same kind\n");
    free(t);
}
END_TEST

START_TEST(test_migrate_unmapped_live_state)
{
    char *t = migrate(v1, v2, "ask -> ask2\n");
    ck_assert_str_eq(t, "m.map: error: live state 'pause' does not exist in the new program\n"
                        "hint: add 'pause -> STATE' to the map\n");
    free(t);
}
END_TEST

START_TEST(test_migrate_unknown_old_state_and_syntax)
{
    char *t = migrate(v1, v2, "ask -> ask2\npause -> rest\nnope -> rest\nask ask2\n");
    ck_assert_str_eq(t, "m.map:4:5: error: expected a state mapping, found name\n"
                        "hint: each line reads OLD_STATE -> NEW_STATE\n"
                        "m.map:3:1: error: state 'nope' does not exist in the old program\n"
                        "hint: did you mean 'done'?\n");
    free(t);
}
END_TEST

START_TEST(test_migrate_variables)
{
    const char *v3 = "flow m\ninput who: string\ninput extra: string\nvar n: string = \"\"\n"
                     "state ask {\n  do email.send(to: who, template: \"a\")\n  on sent -> pause\n"
                     "  on failed -> pause\n}\n"
                     "state pause {\n  sleep 1d\n  on wake -> check\n}\n"
                     "state check {\n  if n == \"x\" -> done\n  else -> ask\n}\n"
                     "final done\n";
    char *t = migrate(v1, v3, "");
    ck_assert_str_eq(t, "m.map: error: new input 'extra' has no value in running instances\n"
                        "hint: make it a var with an initial value\n"
                        "m.map: error: variable 'n' changes type from int to string\n"
                        "hint: give the new variable another name\n");
    free(t);
}
END_TEST

START_TEST(test_migrate_activity_change_warns)
{
    const char *v4 = "flow m\ninput who: string\nvar n: int = 0\n"
                     "state ask {\n  do http.call(url: who)\n  on ok -> pause\n"
                     "  on rejected -> pause\n  on failed -> pause\n}\n"
                     "state pause {\n  sleep 1d\n  on wake -> check\n}\n"
                     "state check {\n  if n > 3 -> done\n  else -> ask\n}\n"
                     "final done\n";
    char *t = migrate(v1, v4, "ask -> ask\n");
    ck_assert_str_eq(t, "m.map:1:8: warning: state 'ask' runs email.send but 'ask' runs "
                        "http.call\nhint: an activity still in flight reports to the new "
                        "state's arms\n");
    free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("settlec_migrate");
    TCase *tc = tcase_create("migrate");
    tcase_add_test(tc, test_migrate_good_map);
    tcase_add_test(tc, test_migrate_missing_target);
    tcase_add_test(tc, test_migrate_kind_change);
    tcase_add_test(tc, test_migrate_unmapped_live_state);
    tcase_add_test(tc, test_migrate_unknown_old_state_and_syntax);
    tcase_add_test(tc, test_migrate_variables);
    tcase_add_test(tc, test_migrate_activity_change_warns);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
