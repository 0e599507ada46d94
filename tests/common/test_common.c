/*
 * test_common.c — the error record and DSN redaction.
 */
#include <stdlib.h>
#include <string.h>

#include "common/st_dsn.h"
#include "common/st_err.h"
#include "st_test.h"

START_TEST(err_records_message_detail_hint)
{
    st_err_t e;
    ck_assert_int_eq(st_err_set(&e, ST_DB, "cannot reach %s", "db1"), ST_DB);
    st_err_detail(&e, "socket %d", 5);
    st_err_hint(&e, "start it");
    st_err_prefix(&e, "migration %s", "0001");
    ck_assert_str_eq(e.msg, "migration 0001: cannot reach db1");
    char buf[512];
    ck_assert_str_eq(st_err_format(&e, buf, sizeof buf),
                     "error: migration 0001: cannot reach db1\n  detail: socket 5\n"
                     "  hint: start it\n");
    ck_assert_str_eq(st_code_name(ST_SCHEMA), "ST_SCHEMA");
    ck_assert_str_eq(st_code_name(12345), "ST_UNKNOWN");
    /* NULL error records are allowed everywhere and the code still flows. */
    ck_assert_int_eq(st_err_set(NULL, ST_INVAL, "x"), ST_INVAL);
    st_err_hint(NULL, "x");
    st_err_clear(&e);
    ck_assert_int_eq(e.code, 0);
    ck_assert_str_eq(e.msg, "");
}
END_TEST

START_TEST(dsn_redaction_hides_passwords)
{
    char b[256];
    ck_assert_str_eq(st_dsn_redact("host=/tmp port=5 password=hunter2 dbname=x", b, sizeof b),
                     "host=/tmp port=5 password=*** dbname=x");
    ck_assert_str_eq(st_dsn_redact("password='a b\\' c' user=u", b, sizeof b),
                     "password=*** user=u");
    ck_assert_str_eq(st_dsn_redact("postgresql://alice:s3cret@db:5432/settle", b, sizeof b),
                     "postgresql://alice:***@db:5432/settle");
    ck_assert_str_eq(
        st_dsn_redact("postgresql://db/settle?user=a&password=zz&sslmode=require", b, sizeof b),
        "postgresql://db/settle?user=a&password=***&sslmode=require");
    ck_assert_str_eq(st_dsn_redact("host=/tmp dbname=settle", b, sizeof b),
                     "host=/tmp dbname=settle");
    ck_assert_ptr_null(strstr(st_dsn_redact("password=hunter2", b, 12), "hunter"));
}
END_TEST

START_TEST(dsn_pick_prefers_flag_then_env)
{
    setenv("SETTLE_DSN", "host=/env", 1);
    ck_assert_str_eq(st_dsn_pick("host=/flag"), "host=/flag");
    ck_assert_str_eq(st_dsn_pick(NULL), "host=/env");
    unsetenv("SETTLE_DSN");
    ck_assert_ptr_null(st_dsn_pick(NULL));
    ck_assert_ptr_null(st_dsn_pick(""));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc = tcase_create("common");
    tcase_add_test(tc, err_records_message_detail_hint);
    tcase_add_test(tc, dsn_redaction_hides_passwords);
    tcase_add_test(tc, dsn_pick_prefers_flag_then_env);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
