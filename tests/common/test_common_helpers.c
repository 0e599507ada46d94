/*
 * test_common_helpers.c — the shared helpers of engine/common: the strict
 * UUID (the only spelling is 8-4-4-4-12), hex, the growable buffer (sticky
 * failure, NUL-terminated, detach) and the file reader (bounds, errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/st_buf.h"
#include "common/st_file.h"
#include "common/st_hex.h"
#include "common/st_uuid.h"
#include "st_test.h"

static const char CANON[] = "0190f0f0-0000-7000-8000-00000000000a";

START_TEST(uuid_accepts_only_the_canonical_form)
{
    uint8_t id[16], again[16];
    char text[37];
    ck_assert_int_eq(st_uuid_parse(CANON, id), 0);
    ck_assert_str_eq(st_uuid_format(id, text), CANON);
    ck_assert_int_eq(st_uuid_parse("0190F0F0-0000-7000-8000-00000000000A", again), 0);
    ck_assert_mem_eq(id, again, 16);
    const char *bad[] = {
        "0190f0f0000070008000000000000000a",      /* no hyphens, 33 */
        "0190f0f0000070008000000000000000",       /* no hyphens, 32 */
        "0-190f0f0-000-7000-8000-00000000000a",   /* stray hyphen, right length */
        "01-90f0f00000-7000-8000-00000000000a",   /* hyphens between digit pairs */
        "0190f0f0-0000-7000-8000-00000000000a-",  /* trailing hyphen */
        "0190f0f0-0000-7000-8000-00000000000",    /* short */
        "{0190f0f0-0000-7000-8000-00000000000a}", /* braces */
        "0190f0f0-0000-7000-8000-00000000000g",   /* not hex */
        "0190f0f0-0000-7000-8000-0000000000 a",   /* space */
        "0190f0f00-000-7000-8000-00000000000a",   /* hyphen moved */
        "",
    };
    memset(again, 0x5a, sizeof again);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(st_uuid_parse(bad[i], id) == ST_PARSE, "accepted '%s'", bad[i]);
        ck_assert_msg(!st_uuid_text_ok(bad[i]), "text_ok '%s'", bad[i]);
    }
    ck_assert_int_eq(st_uuid_parse(NULL, id), ST_PARSE);
    /* A refused text leaves the output alone. */
    ck_assert_int_eq(st_uuid_parse("0190f0f0-0000-7000-8000-00000000000g", again), ST_PARSE);
    for (size_t i = 0; i < 16; i++)
        ck_assert_uint_eq(again[i], 0x5a);
}
END_TEST

START_TEST(hex_round_trips_and_refuses_non_digits)
{
    const uint8_t bytes[] = {0x00, 0x7f, 0x80, 0xff, 0x12};
    char text[11];
    uint8_t back[5];
    ck_assert_str_eq(st_hex_encode(bytes, 5, text), "007f80ff12");
    ck_assert_int_eq(st_hex_decode("007F80fF12", back, 5), 0);
    ck_assert_mem_eq(back, bytes, 5);
    ck_assert_int_eq(st_hex_decode("007g", back, 2), ST_PARSE);
    ck_assert_int_eq(st_hex_decode("0", back, 1), ST_PARSE); /* NUL is not a digit */
    ck_assert_int_eq(st_hex_digit('a'), 10);
    ck_assert_int_eq(st_hex_digit('F'), 15);
    ck_assert_int_eq(st_hex_digit(0xe9), -1);
    ck_assert_int_eq(st_hex_digit(-23), -1);
}
END_TEST

START_TEST(buffer_appends_detaches_and_keeps_a_failure)
{
    st_buf_t b = {0};
    ck_assert_str_eq(st_buf_str(&b), "");
    ck_assert_int_eq(st_buf_adds(&b, "abc"), 0);
    ck_assert_int_eq(st_buf_addf(&b, "-%d-", 42), 0);
    ck_assert_int_eq(st_buf_add(&b, "xyz", 2), 0);
    ck_assert_str_eq(b.p, "abc-42-xy");
    ck_assert_uint_eq(b.len, 9);
    for (int i = 0; i < 1000; i++) /* growth keeps the content */
        ck_assert_int_eq(st_buf_adds(&b, "0123456789"), 0);
    ck_assert_uint_eq(b.len, 10009);
    ck_assert_int_eq(strncmp(b.p, "abc-42-xy0123", 13), 0);
    ck_assert_uint_eq(strlen(b.p), b.len);
    st_buf_reset(&b);
    ck_assert_str_eq(st_buf_str(&b), "");
    /* An impossible size fails, and the failure sticks until reset. */
    ck_assert_int_eq(st_buf_reserve(&b, (size_t)-1 / 2), ST_NOMEM);
    ck_assert_int_eq(st_buf_adds(&b, "x"), ST_NOMEM);
    ck_assert_ptr_null(st_buf_str(&b));
    ck_assert_ptr_null(st_buf_detach(&b));
    ck_assert_int_eq(st_buf_adds(&b, "again"), 0); /* detach made it reusable */
    char *text = st_buf_detach(&b);
    ck_assert_str_eq(text, "again");
    free(text);
    ck_assert_ptr_null(b.p);
    text = st_buf_detach(&b); /* empty: "" the caller frees */
    ck_assert_str_eq(text, "");
    free(text);
    st_buf_release(&b);
    st_buf_release(NULL);
}
END_TEST

START_TEST(file_reader_reads_bounds_and_names_the_path)
{
    char path[] = "/tmp/st_file_testXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    ck_assert_int_eq(write(fd, big, sizeof big), (int)sizeof big);
    close(fd);
    char *out = NULL;
    size_t len = 0;
    st_err_t err;
    ck_assert_int_eq(st_file_read(path, 0, &out, &len, &err), 0);
    ck_assert_uint_eq(len, sizeof big);
    ck_assert_mem_eq(out, big, sizeof big);
    ck_assert_int_eq(out[len], '\0');
    free(out);
    ck_assert_int_eq(st_file_read(path, sizeof big, &out, NULL, &err), 0);
    free(out);
    ck_assert_int_eq(st_file_read(path, sizeof big - 1, &out, &len, &err), ST_LIMIT);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    unlink(path);
    ck_assert_int_eq(st_file_read(path, 0, &out, &len, &err), ST_IO);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    /* A directory opens but cannot be read. */
    ck_assert_int_eq(st_file_read("/tmp", 0, &out, &len, &err), ST_IO);
    ck_assert_ptr_null(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("common_helpers");
    TCase *tc = tcase_create("helpers");
    tcase_add_test(tc, uuid_accepts_only_the_canonical_form);
    tcase_add_test(tc, hex_round_trips_and_refuses_non_digits);
    tcase_add_test(tc, buffer_appends_detaches_and_keeps_a_failure);
    tcase_add_test(tc, file_reader_reads_bounds_and_names_the_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
