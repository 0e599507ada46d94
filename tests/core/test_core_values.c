/*
 * test_core_values.c — values, expressions (typing, overflow, money), and
 * the JSON forms of values, variables and instances.
 */
#include "core/st_core_int.h"
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define OP(x) SETTLE__V1__OP__OP_##x
#define I     ST_CORE_T_INT
#define B     ST_CORE_T_BOOL
#define D     ST_CORE_T_DURATION
#define TM    ST_CORE_T_TIME
#define MN    ST_CORE_T_MONEY

/* A builder with inputs big (int), eur (money), usd (money), name (string), at (time). */
static cb_t *eb(st_core_type_t result)
{
    cb_t *b = cb_new("expr");
    cb_input(b, "big", I);
    cb_input(b, "eur", MN);
    cb_input(b, "usd", MN);
    cb_input(b, "name", ST_CORE_T_STRING);
    cb_input(b, "at", TM);
    cb_var(b, "r", result, result == MN ? cb_money(0, "eur") : NULL);
    return b;
}

static const char *EXPR_INPUTS = "{\"big\":9223372036854775807,\"eur\":{\"minor\":500,"
                                 "\"currency\":\"eur\"},\"usd\":{\"minor\":700,\"currency\":"
                                 "\"usd\"},\"name\":\"bob\",\"at\":1000}";

typedef struct run {
    int rc;                   /* load code: < 0 when refused */
    int failed;               /* 1: the flow failed at run time */
    char why[ST_ERR_MSG_MAX]; /* load error or failure reason */
    st_core_value_t r;        /* the result (owned) */
} run_t;

/* `set r = e` on entry of a final state, started at T0. Frees b. */
static run_t run_expr(cb_t *b, cb_expr_t *e)
{
    run_t run;
    memset(&run, 0, sizeof run);
    cb_assign(b, cb_state(b, "s", ST_CORE_KIND_FINAL), "r", e);
    st_core_program_t *p = NULL;
    st_err_t err;
    run.rc = cb_load(b, &p, &err);
    cb_free(b);
    if (run.rc < 0) {
        snprintf(run.why, sizeof run.why, "%s", err.msg);
        return run;
    }
    st_core_instance_t *inst = inst_new(p);
    json_t *in = js(EXPR_INPUTS);
    st_core_event_t ev = ev_start(T0, in);
    st_core_output_t out;
    step_ok(p, inst, &ev, &out);
    run.failed = inst->status == ST_CORE_FAILED;
    snprintf(run.why, sizeof run.why, "%s", inst->reason);
    if (!run.failed)
        ck_assert_int_eq(st_core_value_copy(&run.r, var_of(p, inst, "r"), &err), 0);
    st_core_output_release(&out);
    json_decref(in);
    st_core_instance_free(inst);
    st_core_program_free(p);
    return run;
}

static int64_t int_of(cb_t *b, cb_expr_t *e)
{
    run_t r = run_expr(b, e);
    ck_assert_msg(r.rc == 0 && !r.failed, "expression failed: %s", r.why);
    return r.r.i;
}

static void fails_with(cb_t *b, cb_expr_t *e, const char *words)
{
    run_t r = run_expr(b, e);
    ck_assert_msg(r.rc == 0, "refused on load: %s", r.why);
    ck_assert_msg(r.failed, "expected a runtime failure");
    ck_assert_msg(strstr(r.why, words) != NULL, "\"%s\" lacks \"%s\"", r.why, words);
    ck_assert_ptr_nonnull(strstr(r.why, "assign to r")); /* the spot is named */
}

static void refused(cb_t *b, cb_expr_t *e)
{
    run_t r = run_expr(b, e);
    ck_assert_int_eq(r.rc, ST_CHECK);
}

START_TEST(integer_arithmetic)
{
    cb_t *b;
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_bin(OP(DIV), I, cb_int(7), cb_int(2))), 3);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_bin(OP(DIV), I, cb_int(-7), cb_int(2))), -3);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_bin(OP(MOD), I, cb_int(7), cb_int(3))), 1);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_bin(OP(SUB), I, cb_int(2), cb_int(5))), -3);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_bin(OP(MUL), I, cb_int(-4), cb_int(5))), -20);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_un(OP(NEG), I, cb_int(9))), -9);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_call("abs", I, cb_int(-9), NULL)), 9);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_call("min", I, cb_int(4), cb_int(-1))), -1);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_call("max", I, cb_int(4), cb_int(-1))), 4);
    b = eb(I);
    ck_assert_int_eq(int_of(b, cb_call("minor", I, cb_ref(b, "eur"), NULL)), 500);
}
END_TEST

START_TEST(overflow_and_division_fail_visibly)
{
    cb_t *b;
    b = eb(I);
    fails_with(b, cb_bin(OP(ADD), I, cb_ref(b, "big"), cb_int(1)), "overflow in addition");
    b = eb(I);
    fails_with(b, cb_bin(OP(SUB), I, cb_un(OP(NEG), I, cb_ref(b, "big")), cb_int(2)),
               "overflow in subtraction");
    b = eb(I);
    fails_with(b, cb_bin(OP(MUL), I, cb_ref(b, "big"), cb_int(2)), "overflow in multiplication");
    b = eb(I);
    fails_with(b, cb_bin(OP(DIV), I, cb_int(1), cb_int(0)), "division by zero");
    b = eb(I);
    fails_with(b, cb_bin(OP(MOD), I, cb_int(1), cb_int(0)), "division by zero");
    b = eb(I);
    cb_expr_t *min = cb_bin(OP(SUB), I, cb_un(OP(NEG), I, cb_ref(b, "big")), cb_int(1));
    fails_with(b, cb_bin(OP(DIV), I, min, cb_int(-1)), "overflow in division");
    b = eb(I);
    min = cb_bin(OP(SUB), I, cb_un(OP(NEG), I, cb_ref(b, "big")), cb_int(1));
    fails_with(b, cb_un(OP(NEG), I, min), "overflow in negation");
    b = eb(D);
    fails_with(b, cb_bin(OP(MUL), D, cb_dur(DAY), cb_ref(b, "big")), "overflow");
}
END_TEST

START_TEST(time_and_duration)
{
    cb_t *b = eb(TM);
    ck_assert_int_eq(int_of(b, cb_bin(OP(ADD), TM, cb_call("now", TM, NULL, NULL), cb_dur(DAY))),
                     T0 + DAY);
    b = eb(TM);
    ck_assert_int_eq(int_of(b, cb_bin(OP(ADD), TM, cb_dur(5), cb_ref(b, "at"))), 1005);
    b = eb(D);
    ck_assert_int_eq(int_of(b, cb_bin(OP(SUB), D, cb_call("now", TM, NULL, NULL), cb_ref(b, "at"))),
                     T0 - 1000);
    b = eb(D);
    ck_assert_int_eq(int_of(b, cb_bin(OP(MUL), D, cb_int(3), cb_dur(DAY))), 3 * DAY);
    b = eb(D);
    ck_assert_int_eq(int_of(b, cb_bin(OP(DIV), D, cb_dur(DAY), cb_int(24))), DAY / 24);
    b = eb(TM);
    refused(b, cb_bin(OP(ADD), TM, cb_ref(b, "at"), cb_ref(b, "at"))); /* time + time */
    b = eb(I);
    refused(b, cb_bin(OP(ADD), I, cb_int(1), cb_dur(1)));
}
END_TEST

START_TEST(money_stays_in_one_currency)
{
    cb_t *b = eb(MN);
    run_t r = run_expr(b, cb_bin(OP(ADD), MN, cb_ref(b, "eur"), cb_money(250, "eur")));
    ck_assert_int_eq(r.r.i, 750);
    ck_assert_str_eq(r.r.currency, "eur");
    b = eb(MN);
    r = run_expr(b, cb_bin(OP(MUL), MN, cb_int(3), cb_ref(b, "usd")));
    ck_assert_int_eq(r.r.i, 2100);
    ck_assert_str_eq(r.r.currency, "usd");
    b = eb(MN);
    r = run_expr(b, cb_un(OP(NEG), MN, cb_ref(b, "eur")));
    ck_assert_int_eq(r.r.i, -500);
    b = eb(MN);
    fails_with(b, cb_bin(OP(ADD), MN, cb_ref(b, "eur"), cb_ref(b, "usd")),
               "different currencies (eur and usd)");
    b = eb(MN);
    fails_with(b, cb_call("max", MN, cb_ref(b, "eur"), cb_ref(b, "usd")), "different currencies");
    b = eb(B);
    fails_with(b, cb_bin(OP(LT), B, cb_ref(b, "eur"), cb_ref(b, "usd")), "different currencies");
    b = eb(B);
    r = run_expr(b, cb_bin(OP(EQ), B, cb_money(500, "usd"), cb_ref(b, "eur")));
    ck_assert(!r.failed && !r.r.b); /* equality just says no */
    b = eb(MN);
    refused(b, cb_bin(OP(ADD), MN, cb_ref(b, "eur"), cb_int(1)));
}
END_TEST

START_TEST(comparisons_and_logic)
{
    cb_t *b = eb(B);
    run_t r = run_expr(b, cb_bin(OP(EQ), B, cb_ref(b, "name"), cb_str("bob")));
    ck_assert(r.r.b);
    b = eb(B);
    r = run_expr(b, cb_bin(OP(LT), B, cb_str("alice"), cb_ref(b, "name")));
    ck_assert(r.r.b);
    b = eb(B);
    r = run_expr(b, cb_bin(OP(GE), B, cb_dur(1), cb_dur(2)));
    ck_assert(!r.failed && !r.r.b);
    b = eb(B);
    r = run_expr(b, cb_un(OP(NOT), B, cb_bin(OP(NE), B, cb_bool(1), cb_bool(0))));
    ck_assert(!r.failed && !r.r.b);
    /* short-circuit: the division by zero on the right never runs */
    cb_expr_t *boom;
    b = eb(B);
    boom = cb_bin(OP(EQ), B, cb_bin(OP(DIV), I, cb_int(1), cb_int(0)), cb_int(1));
    r = run_expr(b, cb_bin(OP(OR), B, cb_bool(1), boom));
    ck_assert(!r.failed && r.r.b);
    b = eb(B);
    boom = cb_bin(OP(EQ), B, cb_bin(OP(DIV), I, cb_int(1), cb_int(0)), cb_int(1));
    r = run_expr(b, cb_bin(OP(AND), B, cb_bool(0), boom));
    ck_assert(!r.failed && !r.r.b);
    b = eb(B);
    boom = cb_bin(OP(EQ), B, cb_bin(OP(DIV), I, cb_int(1), cb_int(0)), cb_int(1));
    fails_with(b, cb_bin(OP(AND), B, cb_bool(1), boom), "division by zero");
}
END_TEST

START_TEST(string_result_is_copied)
{
    cb_t *b = eb(ST_CORE_T_STRING);
    run_t r = run_expr(b, cb_ref(b, "name"));
    ck_assert_str_eq(r.r.s, "bob");
    st_core_value_release(&r.r);
    ck_assert_int_eq(r.r.type, ST_CORE_T_NONE);
    st_core_value_release(NULL);
}
END_TEST

/* ------------------------------------------------------------ value JSON */

START_TEST(value_json_round_trip)
{
    static const struct {
        st_core_type_t t;
        const char *json;
    } ok[] = {{I, "-42"},
              {ST_CORE_T_STRING, "\"h\\u00e9\""},
              {B, "true"},
              {D, "86400000000"},
              {TM, "1790000000000000"},
              {MN, "{\"minor\": 1999, \"currency\": \"eur\"}"}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        json_t *j = json_loads(ok[i].json, JSON_DECODE_ANY, NULL);
        st_core_value_t v;
        st_err_t err;
        ck_assert_int_eq(st_core_value_from_json(ok[i].t, j, "x", &v, &err), 0);
        ck_assert_int_eq(v.type, ok[i].t);
        json_t *back = st_core_value_to_json(&v);
        ck_assert_msg(json_equal(j, back), "case %zu", i);
        json_decref(back);
        json_decref(j);
        st_core_value_release(&v);
    }
}
END_TEST

START_TEST(value_json_errors)
{
    static const struct {
        st_core_type_t t;
        const char *json;
        const char *words;
    } bad[] = {
        {I, "1.5", "expected an integer for type int, got a real number"},
        {I, "\"7\"", "got a string"},
        {ST_CORE_T_STRING, "7", "expected a string"},
        {B, "0", "expected a boolean"},
        {TM, "null", "got null"},
        {MN, "1999", "expected an object"},
        {MN, "{\"minor\":1}", "expected an object"},
        {MN, "{\"minor\":1,\"currency\":\"eur\",\"x\":1}", "expected an object"},
        {MN, "{\"minor\":\"1\",\"currency\":\"eur\"}", "expected an object"},
        {MN, "{\"minor\":1,\"currency\":\"euro\"}", "not a 3-letter"},
        {MN, "{\"minor\":1,\"currency\":\"EUR\"}", "not a 3-letter"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        st_core_value_t v;
        st_err_t err;
        ck_assert_int_eq(st_core_value_from_json(bad[i].t, j, "field f", &v, &err), ST_INVAL);
        ck_assert_msg(strstr(err.msg, bad[i].words) && strstr(err.msg, "field f"), "case %zu: %s",
                      i, err.msg);
        json_decref(j);
    }
    ck_assert(st_core_currency_ok("usd"));
    ck_assert(!st_core_currency_ok("us"));
    ck_assert(!st_core_currency_ok(NULL));
}
END_TEST

/* ---------------------------------------------------- vars and instances */

static st_core_program_t *two_var_program(void)
{
    cb_t *b = cb_new("vars");
    cb_input(b, "amount", MN);
    cb_var(b, "count", I, cb_int(2));
    cb_var(b, "label", ST_CORE_T_STRING, cb_str("x"));
    cb_var(b, "ok", B, cb_bool(1));
    cb_var(b, "gap", D, cb_dur(5));
    cb_var(b, "when", TM, cb_call("now", TM, NULL, NULL));
    cb_state_t *s = cb_state(b, "nap", ST_CORE_KIND_SLEEP);
    cb_sleep_for(b, s, cb_ref(b, "gap"), "end");
    cb_state(b, "end", ST_CORE_KIND_FINAL);
    st_core_program_t *p = cb_load_ok(b);
    cb_free(b);
    return p;
}

static st_core_instance_t *started_vars(const st_core_program_t *p)
{
    st_core_instance_t *inst = inst_new(p);
    json_t *in = js("{\"amount\":{\"minor\":5,\"currency\":\"chf\"}}");
    st_core_event_t ev = ev_start(T0, in);
    st_core_output_t out;
    step_ok(p, inst, &ev, &out);
    ck_assert_int_eq(inst->wake_at_us, T0 + 5);
    st_core_output_release(&out);
    json_decref(in);
    return inst;
}

START_TEST(vars_json_round_trip)
{
    st_core_program_t *p = two_var_program();
    st_core_instance_t *inst = started_vars(p);
    json_t *v = st_core_vars_to_json(p, inst);
    char *text = json_dumps(v, JSON_COMPACT);
    ck_assert_str_eq(text, "{\"amount\":{\"minor\":5,\"currency\":\"chf\"},\"count\":2,\"label\":"
                           "\"x\",\"ok\":true,\"gap\":5,\"when\":1790000000000000}");
    free(text);
    st_core_instance_t *other = inst_new(p);
    st_err_t err;
    ck_assert_int_eq(st_core_vars_from_json(p, v, other, &err), 0);
    json_t *again = st_core_vars_to_json(p, other);
    ck_assert(json_equal(v, again));
    json_decref(again);
    json_decref(v);
    st_core_instance_free(other);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(vars_json_errors_leave_vars_alone)
{
    static const struct {
        const char *json;
        const char *words;
    } bad[] = {
        {"[]", "must be a JSON object"},
        {"{\"amount\":{\"minor\":5,\"currency\":\"chf\"},\"count\":2,\"label\":\"x\",\"ok\":true,"
         "\"gap\":5}",
         "when is missing"},
        {"{\"amount\":{\"minor\":5,\"currency\":\"chf\"},\"count\":2,\"label\":\"x\",\"ok\":true,"
         "\"gap\":5,\"when\":1,\"extra\":1}",
         "unknown variable \"extra\""},
        {"{\"amount\":{\"minor\":5,\"currency\":\"chf\"},\"count\":\"2\",\"label\":\"x\",\"ok\":"
         "true,\"gap\":5,\"when\":1}",
         "count: expected an integer"},
        {"{\"amount\":5,\"count\":2,\"label\":\"x\",\"ok\":true,\"gap\":5,\"when\":1}",
         "amount: expected an object"},
    };
    st_core_program_t *p = two_var_program();
    st_core_instance_t *inst = started_vars(p);
    char *before = inst_text(p, inst);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *j = json_loads(bad[i].json, 0, NULL);
        st_err_t err;
        ck_assert_int_eq(st_core_vars_from_json(p, j, inst, &err), ST_INVAL);
        ck_assert_msg(strstr(err.msg, bad[i].words) != NULL, "case %zu: %s", i, err.msg);
        json_decref(j);
    }
    char *after = inst_text(p, inst);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(instance_json_round_trip)
{
    st_core_program_t *p = two_var_program();
    st_core_instance_t *inst = started_vars(p);
    json_t *j = st_core_instance_to_json(p, inst);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "waiting");
    ck_assert_str_eq(json_string_value(json_object_get(j, "state_name")), "nap");
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")),
                     "018f3c2a-7b10-7c00-8000-123456789abc");
    ck_assert(json_is_null(json_object_get(j, "task_seq")));
    st_core_instance_t *back = NULL;
    st_err_t err;
    ck_assert_int_eq(st_core_instance_from_json(p, j, &back, &err), 0);
    ck_assert_mem_eq(back->id, inst->id, 16);
    char *a = inst_text(p, inst), *c = inst_text(p, back);
    ck_assert_str_eq(a, c);
    free(a);
    free(c);
    /* and it keeps running: the timer set before the round trip fires */
    st_core_event_t ev = ev_timer(T0 + 5, back->wake_seq);
    st_core_output_t out;
    step_ok(p, back, &ev, &out);
    ck_assert_int_eq(back->status, ST_CORE_COMPLETED);
    st_core_output_release(&out);
    st_core_instance_free(back);

    static const struct {
        const char *key, *value, *words;
    } bad[] = {
        {"state", "99", "state must be a state index"},
        {"status", "\"sleeping\"", "unknown status"},
        {"id", "\"not-a-uuid\"", "id must be a UUID"},
        {"seq", "-1", "seq must be"},
        {"wake_at", "\"soon\"", "wake_at must be"},
        {"task_seq", "true", "task_seq must be"},
        {"vars", "{}", "is missing"},
        {"status", "\"running\"", "running needs a do state"},
        {"wake_at", "null", "waiting needs a sleep or await state"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *broken = json_deep_copy(j);
        json_object_set_new(broken, bad[i].key, json_loads(bad[i].value, JSON_DECODE_ANY, NULL));
        back = (void *)1;
        ck_assert_int_eq(st_core_instance_from_json(p, broken, &back, &err), ST_INVAL);
        ck_assert_ptr_null(back);
        ck_assert_msg(strstr(err.msg, bad[i].words) != NULL, "case %zu: %s", i, err.msg);
        json_decref(broken);
    }
    json_decref(j);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(names_and_uuids)
{
    st_core_status_t s;
    for (int i = ST_CORE_RUNNING; i <= ST_CORE_SUSPENDED; i++) {
        ck_assert_int_eq(st_core_status_parse(st_core_status_name((st_core_status_t)i), &s), 0);
        ck_assert_int_eq(s, i);
    }
    ck_assert_int_eq(st_core_status_parse("nope", &s), ST_INVAL);
    ck_assert(st_core_status_final(ST_CORE_CANCELLED) && !st_core_status_final(ST_CORE_WAITING));
    ck_assert_str_eq(st_core_cmd_name(ST_CORE_CMD_SET_WAKE), "set_wake");
    ck_assert_str_eq(st_core_event_name(ST_CORE_EV_TIMER_FIRED), "timer_fired");
    ck_assert_str_eq(st_core_kind_name(ST_CORE_KIND_AWAIT), "await");
    ck_assert_str_eq(st_core_type_name(MN), "money");
    uint8_t id[16];
    char buf[37];
    ck_assert_int_eq(st_core_uuid_parse("018F3C2A-7B10-7C00-8000-123456789ABC", id), 0);
    ck_assert_mem_eq(id, test_uuid, 16);
    st_core_uuid_format(id, buf);
    ck_assert_str_eq(buf, "018f3c2a-7b10-7c00-8000-123456789abc");
    ck_assert_int_eq(st_core_uuid_parse("018f3c2a-7b10-7c00-8000-123456789ab", id), ST_INVAL);
    ck_assert_int_eq(st_core_uuid_parse("018f3c2a+7b10-7c00-8000-123456789abc", id), ST_INVAL);
    ck_assert_int_eq(st_core_uuid_parse("018f3c2a-7b10-7c00-8000-123456789abg", id), ST_INVAL);
}
END_TEST

START_TEST(utf8_trim_cuts_only_broken_tails)
{
    char a[] = "caf\xc3\xa9", b[] = "caf\xc3", c[] = "x\xe2\x82", d[] = "\xf0\x9f\x98\x80";
    st_core_utf8_trim(a);
    st_core_utf8_trim(b);
    st_core_utf8_trim(c);
    st_core_utf8_trim(d);
    ck_assert_str_eq(a, "caf\xc3\xa9");
    ck_assert_str_eq(b, "caf");
    ck_assert_str_eq(c, "x");
    ck_assert_str_eq(d, "\xf0\x9f\x98\x80");
}
END_TEST

/* `time` values: integer microseconds or RFC 3339 text, to the microsecond. */
static int64_t time_of(const char *text)
{
    json_t *j = json_string(text);
    st_core_value_t v;
    st_err_t err;
    int rc = st_core_value_from_json(TM, j, "at", &v, &err);
    json_decref(j);
    ck_assert_msg(rc == 0, "%s: %s", text, err.msg);
    ck_assert_int_eq(v.type, TM);
    return v.i;
}

START_TEST(time_accepts_rfc3339)
{
    const int64_t xmas = 1798106400LL * 1000000; /* 2026-12-24T10:00:00Z */
    ck_assert_int_eq(time_of("2026-12-24T10:00:00Z"), xmas);
    ck_assert_int_eq(time_of("2026-12-24T11:00:00+01:00"), xmas);
    ck_assert_int_eq(time_of("2026-12-24T04:30:00-05:30"), xmas);
    ck_assert_int_eq(time_of("2026-12-24t10:00:00z"), xmas);
    ck_assert_int_eq(time_of("2026-12-24T10:00:00.5Z"), xmas + 500000);
    ck_assert_int_eq(time_of("2026-12-24T10:00:00.123456789Z"), xmas + 123456);
    ck_assert_int_eq(time_of("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(time_of("2024-02-29T00:00:00Z"), 1709164800LL * 1000000);
    ck_assert_int_eq(time_of("1969-12-31T23:59:59Z"), -1000000);
    /* the integer form is unchanged */
    json_t *j = json_integer(xmas);
    st_core_value_t v;
    st_err_t err;
    ck_assert_int_eq(st_core_value_from_json(TM, j, "at", &v, &err), 0);
    ck_assert_int_eq(v.i, xmas);
    json_decref(j);
}
END_TEST

START_TEST(time_refuses_other_text_clearly)
{
    static const char *const bad[] = {
        "2026-12-24",
        "2026-12-24T10:00:00",
        "2026-12-24T10:00Z",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-12-24T24:00:00Z",
        "2026-12-24T10:00:00+1:00",
        "2026-12-24T10:00:00.Z",
        "tomorrow",
        "2026-12-24T10:00:00Zjunk",
        "",
        "2026-12-24T10:00:00+01:00 ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_string(bad[i]);
        st_core_value_t v;
        st_err_t err;
        ck_assert_msg(st_core_value_from_json(TM, j, "due", &v, &err) == ST_INVAL, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(err.msg, "due"));
        ck_assert_ptr_nonnull(strstr(err.msg, "RFC 3339"));
        ck_assert_ptr_nonnull(strstr(err.hint, "2026-12-24T10:00:00Z"));
        ck_assert_ptr_nonnull(strstr(err.hint, "microseconds"));
        json_decref(j);
    }
    json_t *r = json_real(1.5);
    st_core_value_t v;
    st_err_t err;
    ck_assert_int_eq(st_core_value_from_json(TM, r, "due", &v, &err), ST_INVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "RFC 3339"));
    json_decref(r);
}
END_TEST

START_TEST(inputs_are_stored_with_times_in_microseconds)
{
    cb_t *b = eb(I);
    cb_assign(b, cb_state(b, "s", ST_CORE_KIND_FINAL), "r", cb_int(1));
    st_core_program_t *p = NULL;
    st_err_t err;
    ck_assert_int_eq(cb_load(b, &p, &err), 0);
    cb_free(b);
    json_t *in = js("{\"big\":1,\"eur\":{\"minor\":5,\"currency\":\"eur\"},\"usd\":{\"minor\":7,"
                    "\"currency\":\"usd\"},\"name\":\"2026-12-24T10:00:00Z\","
                    "\"at\":\"2026-12-24T11:00:00+01:00\"}");
    ck_assert_int_eq(st_core_inputs_check(p, in, &err), 0);
    json_t *stored = st_core_inputs_stored(p, in);
    ck_assert_int_eq(json_integer_value(json_object_get(stored, "at")), 1798106400LL * 1000000);
    /* a string input that looks like a time stays a string */
    ck_assert_str_eq(json_string_value(json_object_get(stored, "name")), "2026-12-24T10:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(in, "at")), "2026-12-24T11:00:00+01:00");
    json_decref(stored);
    json_decref(in);
    st_core_program_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_values");
    TCase *tc = tcase_create("values");
    tcase_add_test(tc, integer_arithmetic);
    tcase_add_test(tc, overflow_and_division_fail_visibly);
    tcase_add_test(tc, time_and_duration);
    tcase_add_test(tc, money_stays_in_one_currency);
    tcase_add_test(tc, comparisons_and_logic);
    tcase_add_test(tc, string_result_is_copied);
    tcase_add_test(tc, value_json_round_trip);
    tcase_add_test(tc, value_json_errors);
    tcase_add_test(tc, vars_json_round_trip);
    tcase_add_test(tc, vars_json_errors_leave_vars_alone);
    tcase_add_test(tc, instance_json_round_trip);
    tcase_add_test(tc, names_and_uuids);
    tcase_add_test(tc, utf8_trim_cuts_only_broken_tails);
    tcase_add_test(tc, time_accepts_rfc3339);
    tcase_add_test(tc, time_refuses_other_text_clearly);
    tcase_add_test(tc, inputs_are_stored_with_times_in_microseconds);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
