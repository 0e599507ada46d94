/*
 * test_core_program.c — loading and validating Programs: a good one loads
 * with its hash and name tables, every broken invariant is refused.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define OP(x) SETTLE__V1__OP__OP_##x

/* A small valid program touching every state kind. */
static cb_t *good(void)
{
    cb_t *b = cb_new("small");
    cb_input(b, "customer", ST_CORE_T_STRING);
    cb_var(b, "n", ST_CORE_T_INT, cb_int(0));
    cb_var(b, "total", ST_CORE_T_MONEY, cb_money(0, "eur"));
    cb_state_t *d = cb_state(b, "go", ST_CORE_KIND_DO);
    cb_act_t *a = cb_do(b, d, "email.send", SEC, 1);
    cb_arg(a, "to", cb_ref(b, "customer"));
    cb_arm(b, a, "sent", NULL, "nap");
    cb_arm(b, a, "failed", NULL, "bad");
    cb_state_t *s = cb_state(b, "nap", ST_CORE_KIND_SLEEP);
    cb_sleep_for(b, s, cb_dur(DAY), "listen");
    cb_on_signal(b, s, "poke", "choose");
    cb_await(b, cb_state(b, "listen", ST_CORE_KIND_AWAIT), "poke", DAY, "choose", "choose");
    cb_state_t *c = cb_state(b, "choose", ST_CORE_KIND_DECIDE);
    cb_guard(b, c, cb_bin(OP(GT), ST_CORE_T_BOOL, cb_ref(b, "n"), cb_int(1)), "bad");
    cb_else(b, c, "done");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    cb_fail_reason(cb_state(b, "bad", ST_CORE_KIND_FAIL), "gave up");
    cb_initial(b, "go");
    return b;
}

START_TEST(good_program_loads_with_hash_and_tables)
{
    cb_t *b = good();
    size_t len;
    uint8_t *bytes = cb_pack(b, &len);
    st_core_program_t *p = NULL;
    st_err_t err;
    ck_assert_int_eq(st_core_program_load(bytes, len, &p, &err), 0);
    unsigned char md[32];
    unsigned int n;
    char hex[65];
    EVP_Digest(bytes, len, md, &n, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    ck_assert_str_eq(st_core_program_hash(p), hex);
    ck_assert_str_eq(st_core_program_name(p), "small");
    ck_assert_uint_eq(st_core_program_state_count(p), 6);
    ck_assert_uint_eq(st_core_program_var_count(p), 3);
    ck_assert_uint_eq(st_core_program_input_count(p), 1);
    ck_assert_int_eq(st_core_program_state_index(p, "choose"), 3);
    ck_assert_int_eq(st_core_program_state_index(p, "bad"), 5);
    ck_assert_int_eq(st_core_program_state_index(p, "nope"), -1);
    ck_assert_int_eq(st_core_program_var_index(p, "total"), 2);
    ck_assert_int_eq(st_core_program_var_index(p, "customer"), 0);
    ck_assert_int_eq(st_core_program_var_index(p, ""), -1);
    ck_assert_int_eq(st_core_program_state_kind(p, 2), ST_CORE_KIND_AWAIT);
    ck_assert_int_eq(st_core_program_var_type(p, 2), ST_CORE_T_MONEY);
    ck_assert_ptr_null(st_core_program_state_name(p, 99));
    const char *const *names;
    ck_assert_uint_eq(st_core_program_state_signals(p, 1, &names), 1);
    ck_assert_str_eq(names[0], "poke");
    ck_assert_uint_eq(st_core_program_state_signals(p, 0, &names), 0);
    st_core_program_free(p);
    st_core_program_free(NULL);
    /* one changed byte, another identity */
    cb_pb(b)->name[0] = 'S';
    free(bytes);
    p = cb_load_ok(b);
    ck_assert_str_ne(st_core_program_hash(p), hex);
    st_core_program_free(p);
    cb_free(b);
}
END_TEST

START_TEST(garbage_bytes_are_a_parse_error)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    st_core_program_t *p = (void *)1;
    st_err_t err;
    ck_assert_int_eq(st_core_program_load(junk, sizeof junk, &p, &err), ST_PARSE);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a settle.v1.Program"));
    /* empty bytes decode to an empty Program, which fails validation */
    ck_assert_int_eq(st_core_program_load("", 0, &p, &err), ST_CHECK);
}
END_TEST

/* One broken invariant per case: a mutation of good() and the expected words. */
typedef struct bad_case {
    const char *words;
    void (*mutate)(cb_t *b);
} bad_case_t;

#define PB      cb_pb(b)
#define ST(i)   (PB->states[i])
#define M(name) static void name(cb_t *b)

M(m_version)
{
    PB->format_version = 0;
}
M(m_no_name)
{
    PB->name[0] = '\0';
}
M(m_initial)
{
    cb_initial(b, "nowhere");
}
M(m_cancel)
{
    cb_cancel(b, "nowhere");
}
M(m_dup_state)
{
    cb_state(b, "done", ST_CORE_KIND_FINAL);
}
M(m_dup_var)
{
    cb_var(b, "n", ST_CORE_T_INT, cb_int(1));
}
M(m_input_late)
{
    cb_input(b, "late", ST_CORE_T_INT);
}
M(m_input_init)
{
    PB->vars[0]->init = cb_str("x");
}
M(m_var_no_type)
{
    PB->vars[1]->type = 0;
}
M(m_money_no_init)
{
    cb_var(b, "m2", ST_CORE_T_MONEY, NULL);
}
M(m_init_order)
{
    cb_var(b, "early", ST_CORE_T_INT, NULL);
    settle__v1__expr__free_unpacked(PB->vars[1]->init, NULL);
    PB->vars[1]->init = cb_ref(b, "early");
}
M(m_init_type)
{
    PB->vars[1]->init->type = SETTLE__V1__TYPE__TYPE_STRING;
}
M(m_guard_target)
{
    cb_guard(b, ST(0), cb_bool(1), "nowhere");
}
M(m_guard_type)
{
    cb_guard(b, ST(0), cb_int(1), "done");
}
M(m_assign_input)
{
    cb_assign(b, ST(0), "customer", cb_str("x"));
}
M(m_assign_type)
{
    cb_assign(b, ST(0), "n", cb_str("x"));
}
M(m_var_range)
{
    cb_expr_t *e = cb_ref(b, "n");
    e->var = 42;
    cb_assign(b, ST(0), "n", e);
}
M(m_var_type)
{
    cb_expr_t *e = cb_ref(b, "n");
    e->type = SETTLE__V1__TYPE__TYPE_BOOL;
    cb_guard(b, ST(0), e, "done");
}
M(m_bin_type)
{
    cb_assign(b, ST(0), "n", cb_bin(OP(ADD), ST_CORE_T_INT, cb_int(1), cb_str("a")));
}
M(m_bin_result)
{
    cb_assign(b, ST(0), "n", cb_bin(OP(LT), ST_CORE_T_INT, cb_int(1), cb_int(2)));
}
M(m_money_mul)
{
    cb_assign(b, ST(0), "total",
              cb_bin(OP(MUL), ST_CORE_T_MONEY, cb_money(1, "eur"), cb_money(1, "eur")));
}
M(m_bool_order)
{
    cb_guard(b, ST(0), cb_bin(OP(LT), ST_CORE_T_BOOL, cb_bool(0), cb_bool(1)), "done");
}
M(m_not_int)
{
    cb_assign(b, ST(0), "n", cb_un(OP(NOT), ST_CORE_T_INT, cb_int(1)));
}
M(m_literal)
{
    cb_expr_t *e = cb_int(1);
    e->type = SETTLE__V1__TYPE__TYPE_DURATION;
    cb_sleep_for(b, cb_state(b, "z", ST_CORE_KIND_SLEEP), e, "done");
}
M(m_currency)
{
    cb_assign(b, ST(0), "total", cb_money(5, "EUR"));
}
M(m_builtin)
{
    cb_assign(b, ST(0), "n", cb_call("rand", ST_CORE_T_INT, NULL, NULL));
}
M(m_builtin_args)
{
    cb_assign(b, ST(0), "n", cb_call("min", ST_CORE_T_INT, cb_int(1), cb_dur(2)));
}
M(m_depth)
{
    cb_expr_t *e = cb_bool(1);
    for (int i = 0; i < 70; i++)
        e = cb_un(OP(NOT), ST_CORE_T_BOOL, e);
    cb_guard(b, ST(0), e, "done");
}
M(m_do_no_body)
{
    ST(0)->kind = SETTLE__V1__STATE_KIND__STATE_KIND_DECIDE;
}
M(m_final_body)
{
    ST(4)->activity = ST(0)->activity;
    ST(0)->activity = NULL;
    ST(0)->kind = SETTLE__V1__STATE_KIND__STATE_KIND_FINAL;
}
M(m_timeout)
{
    ST(0)->activity->timeout_us = 0;
}
M(m_attempts)
{
    ST(0)->activity->retry->max_attempts = 0;
}
M(m_backoff)
{
    ST(0)->activity->retry->backoff_max_us = 1;
}
M(m_no_arms)
{
    ST(0)->activity->n_arms = 0;
}
M(m_arm_target)
{
    cb_arm(b, ST(0)->activity, "x", NULL, "nowhere");
}
M(m_two_catch_all)
{
    cb_arm(b, ST(0)->activity, "sent", NULL, "done");
}
M(m_bind_input)
{
    cb_arm_save(b, ST(0)->activity->arms[0], "id", "customer");
}
M(m_bind_field)
{
    cb_arm_save(b, ST(0)->activity->arms[0], "", "n");
}
M(m_dup_arg)
{
    cb_arg(ST(0)->activity, "to", cb_str("x"));
}
M(m_sleep_type)
{
    settle__v1__expr__free_unpacked(ST(1)->sleep->duration, NULL);
    ST(1)->sleep->duration = cb_time(1);
}
M(m_sleep_none)
{
    settle__v1__expr__free_unpacked(ST(1)->sleep->duration, NULL);
    ST(1)->sleep->until_case = 0;
}
M(m_until_max)
{
    cb_sleep_until(b, cb_state(b, "z", ST_CORE_KIND_SLEEP), cb_time(1), 0, "done");
}
M(m_smart)
{
    cb_sleep_smart(b, cb_state(b, "z", ST_CORE_KIND_SLEEP), DAY, 2 * DAY, "done");
}
M(m_wake_target)
{
    cb_sleep_for(b, cb_state(b, "z", ST_CORE_KIND_SLEEP), cb_dur(1), "nowhere");
}
M(m_sig_dup)
{
    cb_on_signal(b, ST(1), "poke", "done");
}
M(m_sig_do)
{
    cb_on_signal(b, ST(0), "poke", "done");
}
M(m_await_timeout)
{
    ST(2)->await->timeout_us = 0;
}
M(m_await_unarmed)
{
    cb_await(b, cb_state(b, "z", ST_CORE_KIND_AWAIT), "a", DAY, "done", NULL);
}
M(m_await_extra)
{
    cb_on_signal(b, ST(2), "other", "done");
}
M(m_decide_else)
{
    cb_else(b, ST(3), "nowhere");
}
M(m_correlation)
{
    Settle__V1__Correlation *c = calloc(1, sizeof *c);
    settle__v1__correlation__init(c);
    c->key = strdup("invoice");
    c->var = 1; /* an int variable */
    PB->correlations = calloc(1, sizeof *PB->correlations);
    PB->correlations[0] = c;
    PB->n_correlations = 1;
}
M(m_utf8_name)
{
    free(PB->vars[2]->name);
    PB->vars[2]->name = strdup("total\xc3");
}
M(m_utf8_literal)
{
    cb_expr_t *lit = cb_str("\xed\xa0\x80"); /* a UTF-16 surrogate */
    cb_guard(b, ST(0), cb_bin(OP(EQ), ST_CORE_T_BOOL, lit, cb_str("x")), "done");
}
M(m_kind)
{
    ST(5)->kind = 9;
}

static const bad_case_t bad_cases[] = {
    {"format version", m_version},
    {"without a flow name", m_no_name},
    {"initial target 9999", m_initial},
    {"cancel target", m_cancel},
    {"duplicate state name done", m_dup_state},
    {"duplicate variable name n", m_dup_var},
    {"inputs must come first", m_input_late},
    {"has an initial value", m_input_init},
    {"variable n: no type", m_var_no_type},
    {"needs an initial value", m_money_no_init},
    {"not set yet", m_init_order},
    {"variable n: init", m_init_type},
    {"guard target", m_guard_target},
    {"bool required", m_guard_type},
    {"read-only", m_assign_input},
    {"string, int required", m_assign_type},
    {"variable index 42", m_var_range},
    {"variable n is int", m_var_type},
    {"on int and string", m_bin_type},
    {"does not give int", m_bin_result},
    {"on money and money", m_money_mul},
    {"on bool and bool", m_bool_order},
    {"unary op", m_not_int},
    {"literal does not hold a duration", m_literal},
    {"currency", m_currency},
    {"unknown builtin rand", m_builtin},
    {"unknown builtin min", m_builtin_args},
    {"deeper than 64", m_depth},
    {"lacks its own", m_do_no_body},
    {"lacks its own", m_final_body},
    {"timeout must be > 0", m_timeout},
    {"max_attempts must be >= 1", m_attempts},
    {"min <= max", m_backoff},
    {"no outcome arms", m_no_arms},
    {"outcome arm target", m_arm_target},
    {"two catch-all arms", m_two_catch_all},
    {"input customer is read-only", m_bind_input},
    {"empty field path or not UTF-8", m_bind_field},
    {"duplicate argument to", m_dup_arg},
    {"duration required", m_sleep_type},
    {"without duration, until or smart", m_sleep_none},
    {"upper bound", m_until_max},
    {"min_gap <= within", m_smart},
    {"wake target", m_wake_target},
    {"two arms for signal poke", m_sig_dup},
    {"only sleep and await", m_sig_do},
    {"await timeout must be > 0", m_await_timeout},
    {"awaited signal a has no arm", m_await_unarmed},
    {"does not await", m_await_extra},
    {"else target", m_decide_else},
    {"correlation 0", m_correlation},
    {"unknown state kind 9", m_kind},
    {"variable 2: missing or overlong name", m_utf8_name},
    {"string literal is not UTF-8", m_utf8_literal},
};

START_TEST(bad_programs_are_refused)
{
    const bad_case_t *c = &bad_cases[_i];
    cb_t *b = good();
    c->mutate(b);
    st_core_program_t *p = (void *)1;
    st_err_t err;
    st_err_clear(&err);
    int rc = cb_load(b, &p, &err);
    ck_assert_msg(rc == ST_CHECK, "case %d (%s): rc %d, %s", _i, c->words, rc, err.msg);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(err.msg, c->words) != NULL, "case %d: \"%s\" lacks \"%s\"", _i, err.msg,
                  c->words);
    ck_assert_msg(strncmp(err.msg, "invalid program", 15) == 0, "%s", err.msg);
    /* m_final_body moved a pointer: undo so the tree frees once */
    if (c->mutate == m_final_body) {
        ST(0)->activity = ST(4)->activity;
        ST(4)->activity = NULL;
    }
    if (c->mutate == m_no_arms)
        ST(0)->activity->n_arms = 2;
    cb_free(b);
}
END_TEST

START_TEST(the_good_program_loads)
{
    cb_t *b = good();
    st_core_program_free(cb_load_ok(b));
    cb_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_program");
    TCase *tc = tcase_create("program");
    tcase_add_test(tc, the_good_program_loads);
    tcase_add_test(tc, good_program_loads_with_hash_and_tables);
    tcase_add_test(tc, garbage_bytes_are_a_parse_error);
    tcase_add_loop_test(tc, bad_programs_are_refused, 0,
                        (int)(sizeof bad_cases / sizeof *bad_cases));
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
