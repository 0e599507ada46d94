/*
 * test_http_keys.c — webhook secrets and API tokens from variables and
 * files; errors never quote a secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/st_http.h"
#include "st_test.h"

START_TEST(parses_lists_and_roles)
{
    st_http_keys_t k = {0};
    st_err_t err;
    ck_assert_int_eq(st_http_keys_add_secrets(&k, " whsec_a , ,whsec_b", ',', &err), 0);
    ck_assert_uint_eq(k.n_secrets, 2);
    ck_assert_str_eq(k.secrets[0], "whsec_a");
    ck_assert_str_eq(k.secrets[1], "whsec_b");
    ck_assert_int_eq(st_http_keys_add_tokens(&k, "t1,t2:read,t3:write", ',', &err), 0);
    ck_assert_uint_eq(k.n_tokens, 3);
    ck_assert_str_eq(k.tokens[0].token, "t1");
    ck_assert_int_eq(k.tokens[0].role, ST_HTTP_ROLE_WRITE);
    ck_assert_str_eq(k.tokens[1].token, "t2");
    ck_assert_int_eq(k.tokens[1].role, ST_HTTP_ROLE_READ);
    ck_assert_int_eq(k.tokens[2].role, ST_HTTP_ROLE_WRITE);
    st_http_keys_release(&k);
    ck_assert_uint_eq(k.n_tokens, 0);
}
END_TEST

START_TEST(bad_role_error_hides_the_token)
{
    st_http_keys_t k = {0};
    st_err_t err;
    ck_assert_int_eq(st_http_keys_add_tokens(&k, "ok1,supersecret-token:admin", ',', &err),
                     ST_INVAL);
    ck_assert_ptr_null(strstr(err.msg, "supersecret"));
    ck_assert_ptr_null(strstr(err.hint, "supersecret"));
    ck_assert_ptr_nonnull(strstr(err.msg, "token 2"));
    st_http_keys_release(&k);
}
END_TEST

START_TEST(reads_env_and_files)
{
    char path[] = "/tmp/settle_keys_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char text[] = "# rotated on 2026-01-01\nwhsec_file_1\n\n  whsec_file_2  \r\n";
    ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    setenv("SETTLE_WEBHOOK_SECRETS", "whsec_env", 1);
    setenv("SETTLE_WEBHOOK_SECRETS_FILE", path, 1);
    setenv("SETTLE_API_TOKENS", "reader:read", 1);
    unsetenv("SETTLE_API_TOKENS_FILE");
    st_http_keys_t k;
    st_err_t err;
    ck_assert_int_eq(st_http_keys_from_env(&k, &err), 0);
    ck_assert_uint_eq(k.n_secrets, 3);
    ck_assert_str_eq(k.secrets[2], "whsec_file_2");
    ck_assert_uint_eq(k.n_tokens, 1);
    ck_assert_int_eq(k.tokens[0].role, ST_HTTP_ROLE_READ);
    st_http_keys_release(&k);
    unlink(path);
    ck_assert_int_eq(st_http_keys_from_env(&k, &err), ST_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "SETTLE_WEBHOOK_SECRETS_FILE"));
    ck_assert_uint_eq(k.n_secrets, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_keys");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, parses_lists_and_roles);
    tcase_add_test(tc, bad_role_error_hides_the_token);
    tcase_add_test(tc, reads_env_and_files);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
