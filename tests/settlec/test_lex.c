/*
 * test_lex.c — unit tests of the lexer's pieces: durations, money,
 * strings with escapes, numbers, operators and their errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowc/flowc_int.h"
#include "st_test.h"

typedef struct {
    fc_arena_t arena;
    fc_sink_t sink;
    fc_lexer_t lx;
} lex_fixture_t;

static lex_fixture_t *lex_open(const char *src)
{
    lex_fixture_t *f = calloc(1, sizeof *f);
    f->sink.arena = &f->arena;
    f->sink.file = "t.flow";
    f->sink.max = 100;
    fc_lex_init(&f->lx, src, strlen(src), &f->sink);
    return f;
}

static void lex_close(lex_fixture_t *f)
{
    free(f->sink.diags);
    fc_arena_release(&f->arena);
    free(f);
}

/* The single token of `src`, which must be followed by end of file. */
static fc_token_t lex_one(lex_fixture_t *f)
{
    fc_token_t t = fc_lex_next(&f->lx);
    fc_token_t end = fc_lex_next(&f->lx);
    ck_assert_int_eq(end.kind, FC_T_EOF);
    return t;
}

static void expect_duration(const char *src, int64_t us)
{
    lex_fixture_t *f = lex_open(src);
    fc_token_t t = lex_one(f);
    ck_assert_msg(t.kind == FC_T_DURATION, "%s: kind %d", src, t.kind);
    ck_assert_int_eq(t.ival, us);
    ck_assert_uint_eq(f->sink.errors, 0);
    lex_close(f);
}

static void expect_money(const char *src, int64_t minor, const char *cur)
{
    lex_fixture_t *f = lex_open(src);
    fc_token_t t = lex_one(f);
    ck_assert_msg(t.kind == FC_T_MONEY, "%s: kind %d", src, t.kind);
    ck_assert_int_eq(t.ival, minor);
    ck_assert_str_eq(t.text, cur);
    ck_assert_uint_eq(f->sink.errors, 0);
    lex_close(f);
}

static void expect_string(const char *src, const char *value)
{
    lex_fixture_t *f = lex_open(src);
    fc_token_t t = lex_one(f);
    ck_assert_msg(t.kind == FC_T_STRING, "%s: kind %d", src, t.kind);
    ck_assert_str_eq(t.text, value);
    lex_close(f);
}

/* `src` gives one error whose message is `msg` at column `col`. */
static void expect_error(const char *src, uint32_t col, const char *msg)
{
    lex_fixture_t *f = lex_open(src);
    fc_token_t t;
    bool saw_error_token = false;
    while ((t = fc_lex_next(&f->lx)).kind != FC_T_EOF)
        saw_error_token = saw_error_token || t.kind == FC_T_ERROR;
    ck_assert_msg(saw_error_token, "%s: no error token", src);
    ck_assert_uint_eq(f->sink.errors, 1);
    ck_assert_uint_eq(f->sink.diags[0].col, col);
    ck_assert_str_eq(f->sink.diags[0].message, msg);
    lex_close(f);
}

START_TEST(test_durations)
{
    expect_duration("30s", 30000000LL);
    expect_duration("500ms", 500000LL);
    expect_duration("5m", 300000000LL);
    expect_duration("2h", 7200000000LL);
    expect_duration("21d", 21LL * 86400000000LL);
    expect_duration("2w", 14LL * 86400000000LL);
    expect_duration("1h30m", 5400000000LL);
    expect_duration("1d12h", 36LL * 3600000000LL);
    expect_duration("0s", 0);
}
END_TEST

START_TEST(test_duration_errors)
{
    expect_error("5x", 1, "unknown duration unit 'x' in '5x'");
    expect_error("3days", 1, "unknown duration unit 'days' in '3days'");
    expect_error("999999999999w", 1, "duration '999999999999w' is too large");
    expect_error("1h30", 1, "malformed duration '1h30'");
}
END_TEST

START_TEST(test_money)
{
    expect_money("19.99 eur", 1999, "eur");
    expect_money("19.99 EUR", 1999, "eur");
    expect_money("1999 eur", 199900, "eur");
    expect_money("0.5 usd", 50, "usd");
    expect_money("500 jpy", 500, "jpy");
    expect_money("1.234 kwd", 1234, "kwd");
    expect_money("0 gbp", 0, "gbp");
}
END_TEST

START_TEST(test_money_errors)
{
    expect_error("19.999 eur", 1, "'eur' has 2 decimal places, '19.999' has 3");
    expect_error("5.5 jpy", 1, "'jpy' has 0 decimal places, '5.5' has 1");
    expect_error("5 eux", 1, "unknown currency 'eux'");
    expect_error("19.99", 1, "'19.99' is not an integer; settle has no floating point");
    expect_error("92233720368547758.08 eur", 1, "money amount is too large");
}
END_TEST

/* A number before a keyword or a longer word is not money. */
START_TEST(test_money_needs_currency_word)
{
    lex_fixture_t *f = lex_open("4 and 5 max");
    ck_assert_int_eq(fc_lex_next(&f->lx).kind, FC_T_INT);
    ck_assert_int_eq(fc_lex_next(&f->lx).kind, FC_K_AND);
    ck_assert_int_eq(fc_lex_next(&f->lx).kind, FC_T_INT);
    ck_assert_int_eq(fc_lex_next(&f->lx).kind, FC_T_IDENT);
    ck_assert_int_eq(fc_lex_next(&f->lx).kind, FC_T_EOF);
    ck_assert_uint_eq(f->sink.errors, 0);
    lex_close(f);
}
END_TEST

START_TEST(test_strings)
{
    expect_string("\"plain\"", "plain");
    expect_string("\"\"", "");
    expect_string("\"a\\nb\"", "a\nb");
    expect_string("\"tab\\there\"", "tab\there");
    expect_string("\"q\\\"uote\\\\\"", "q\"uote\\");
    expect_string("\"\\x41\\x7a\"", "Az");
    expect_string("\"caf\xc3\xa9\"", "caf\xc3\xa9");
}
END_TEST

START_TEST(test_string_errors)
{
    expect_error("\"bad\\q\"", 5, "invalid escape sequence in string");
    expect_error("\"nul\\x00\"", 5, "invalid escape sequence in string");
    expect_error("\"open", 1, "unterminated string");
    expect_error("\"line\nbreak", 1, "unterminated string");
    expect_error("\"bad\xff\"", 1, "string is not valid UTF-8");
}
END_TEST

START_TEST(test_numbers_and_operators)
{
    lex_fixture_t *f = lex_open("42 -> .. == != <= >= < > = + - * / % ( ) { } , : .");
    fc_tok_kind_t want[] = {FC_T_INT,    FC_T_ARROW,  FC_T_DOTDOT, FC_T_EQ,     FC_T_NE,
                            FC_T_LE,     FC_T_GE,     FC_T_LT,     FC_T_GT,     FC_T_ASSIGN,
                            FC_T_PLUS,   FC_T_MINUS,  FC_T_STAR,   FC_T_SLASH,  FC_T_PERCENT,
                            FC_T_LPAREN, FC_T_RPAREN, FC_T_LBRACE, FC_T_RBRACE, FC_T_COMMA,
                            FC_T_COLON,  FC_T_DOT,    FC_T_EOF};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        fc_token_t t = fc_lex_next(&f->lx);
        ck_assert_msg(t.kind == want[i], "token %zu: %d != %d", i, t.kind, want[i]);
        if (i == 0)
            ck_assert_int_eq(t.ival, 42);
    }
    lex_close(f);
    expect_error("99999999999999999999", 1,
                 "number '99999999999999999999' does not fit in 64 bits");
    expect_error("a ; b", 3, "unexpected character ';'");
}
END_TEST

START_TEST(test_positions_and_comments)
{
    lex_fixture_t *f = lex_open("# comment\nflow  dunning # trailing\n  state");
    fc_token_t t = fc_lex_next(&f->lx);
    ck_assert_int_eq(t.kind, FC_K_FLOW);
    ck_assert_uint_eq(t.pos.line, 2);
    ck_assert_uint_eq(t.pos.col, 1);
    t = fc_lex_next(&f->lx);
    ck_assert_int_eq(t.kind, FC_T_IDENT);
    ck_assert_str_eq(t.text, "dunning");
    ck_assert_uint_eq(t.pos.col, 7);
    ck_assert_uint_eq(t.pos.len, 7);
    t = fc_lex_next(&f->lx);
    ck_assert_int_eq(t.kind, FC_K_STATE);
    ck_assert_uint_eq(t.pos.line, 3);
    ck_assert_uint_eq(t.pos.col, 3);
    lex_close(f);
}
END_TEST

START_TEST(test_edit_distance)
{
    ck_assert_uint_eq(fc_edit_distance("kitten", "sitting", 5), 3);
    ck_assert_uint_eq(fc_edit_distance("same", "same", 2), 0);
    ck_assert_uint_eq(fc_edit_distance("a", "abcdef", 2), 3);
    ck_assert_str_eq(st_flowc_decline_nearest("insufficent_funds"), "insufficient_funds");
    ck_assert_ptr_null(st_flowc_decline_nearest("zzzzzzzzzzzzzzzzzzzzzz"));
    st_flowc_decline_t d;
    ck_assert_int_eq(st_flowc_decline_find("insufficient_funds", &d), 0);
    ck_assert_str_eq(d.category, "soft");
    ck_assert_str_eq(d.retry, "later");
    ck_assert_int_eq(st_flowc_decline_find("expired_card", &d), 0);
    ck_assert_str_eq(d.category, "hard");
    ck_assert_int_eq(st_flowc_decline_find("withdrawal_count_limit_exceeded", &d), 0);
    ck_assert_int_eq(st_flowc_decline_find("decline_code", &d), ST_NOTFOUND);
}
END_TEST

/* The embedded table holds every row of the shipped data file, no more. */
START_TEST(test_decline_table_complete)
{
    char path[1024];
    st_test_src("engine/flowc/data/decline_codes.tsv", path, sizeof path);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    unsigned rows = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\t\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        st_flowc_decline_t d;
        ck_assert_msg(st_flowc_decline_find(line, &d) == 0, "%s not embedded", line);
        ck_assert_str_eq(d.code, line);
        rows++;
    }
    fclose(f);
    ck_assert_uint_ge(rows, 50);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("settlec_lex");
    TCase *tc = tcase_create("lex");
    tcase_add_test(tc, test_durations);
    tcase_add_test(tc, test_duration_errors);
    tcase_add_test(tc, test_money);
    tcase_add_test(tc, test_money_errors);
    tcase_add_test(tc, test_money_needs_currency_word);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_string_errors);
    tcase_add_test(tc, test_numbers_and_operators);
    tcase_add_test(tc, test_positions_and_comments);
    tcase_add_test(tc, test_edit_distance);
    tcase_add_test(tc, test_decline_table_complete);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
