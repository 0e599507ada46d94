/*
 * test_core_mutate.c — mutated Program bytes: the loader refuses them
 * cleanly or, when they still load, the step runs them without crashing and
 * keeps its seq invariant. Deterministic (a fixed LCG), so failures replay;
 * meant to run under ASan/UBSan as well.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP(x)  SETTLE__V1__OP__OP_##x
#define ROUNDS 20000

static uint64_t rng = 0x5e771e5eedULL;

static uint32_t next(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng >> 33);
}

static uint8_t *seed_program(size_t *len)
{
    cb_t *b = cb_new("mutant");
    cb_input(b, "customer", ST_CORE_T_STRING);
    cb_input(b, "amount", ST_CORE_T_MONEY);
    cb_input(b, "gap", ST_CORE_T_DURATION);
    cb_var(b, "n", ST_CORE_T_INT, cb_int(3));
    cb_var(b, "ok", ST_CORE_T_BOOL, cb_bool(0));
    cb_var(b, "pi", ST_CORE_T_STRING, cb_str(""));
    cb_var(b, "due", ST_CORE_T_TIME, cb_call("now", ST_CORE_T_TIME, NULL, NULL));
    cb_var(b, "total", ST_CORE_T_MONEY, cb_money(100, "eur"));

    cb_state_t *c = cb_state(b, "charge", ST_CORE_KIND_DO);
    cb_assign(b, c, "n", cb_bin(OP(SUB), ST_CORE_T_INT, cb_ref(b, "n"), cb_int(1)));
    cb_guard(b, c, cb_bin(OP(LT), ST_CORE_T_BOOL, cb_ref(b, "n"), cb_int(0)), "stuck");
    cb_act_t *a = cb_do(b, c, "stripe.pay", 30 * SEC, 3);
    cb_arg(a, "amount", cb_bin(OP(MUL), ST_CORE_T_MONEY, cb_ref(b, "amount"), cb_int(2)));
    cb_arg(a, "to", cb_ref(b, "customer"));
    cb_arm_save(b, cb_arm(b, a, "succeeded", NULL, "done"), "payment_intent.id", "pi");
    cb_arm(b, a, "declined", "lost_card,expired_card", "ask");
    cb_arm(b, a, "declined", NULL, "nap");
    cb_arm(b, a, "failed", NULL, "stuck");

    cb_state_t *nap = cb_state(b, "nap", ST_CORE_KIND_SLEEP);
    cb_assign(b, nap, "due", cb_bin(OP(ADD), ST_CORE_T_TIME, cb_ref(b, "due"), cb_ref(b, "gap")));
    cb_sleep_until(b, nap, cb_ref(b, "due"), 5 * DAY, "check");
    cb_sig_save(b, cb_on_signal(b, nap, "poke", "check"), "flag", "ok");

    cb_state_t *ask = cb_state(b, "ask", ST_CORE_KIND_AWAIT);
    cb_await(b, ask, "card", DAY, "check", "charge");

    cb_state_t *chk = cb_state(b, "check", ST_CORE_KIND_DECIDE);
    cb_guard(
        b, chk,
        cb_bin(OP(OR), ST_CORE_T_BOOL, cb_ref(b, "ok"),
               cb_bin(OP(GT), ST_CORE_T_BOOL,
                      cb_call("minor", ST_CORE_T_INT, cb_ref(b, "total"), NULL), cb_int(1000))),
        "done");
    cb_else(b, chk, "wait");
    cb_sleep_smart(b, cb_state(b, "wait", ST_CORE_KIND_SLEEP), 3 * DAY, DAY, "charge");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    cb_fail_reason(cb_state(b, "stuck", ST_CORE_KIND_FAIL), "stuck");
    cb_cancel(b, "stuck");
    uint8_t *bytes = cb_pack(b, len);
    cb_free(b);
    return bytes;
}

/* Inputs of the right types for whatever inputs the mutant declares. */
static json_t *inputs_for(const st_core_program_t *p)
{
    json_t *in = json_object();
    for (uint32_t i = 0; i < st_core_program_input_count(p); i++) {
        st_core_value_t v = {.type = st_core_program_var_type(p, i), .i = 7, .s = "x"};
        memcpy(v.currency, "eur", 4);
        json_object_set_new(in, st_core_program_var_name(p, i), st_core_value_to_json(&v));
    }
    return in;
}

/* One event suited to the instance's situation, chosen by the LCG. */
static st_core_event_t pick(const st_core_program_t *p, const st_core_instance_t *inst,
                            const json_t *res, int64_t now)
{
    static const char *outcomes[] = {"succeeded", "declined", "failed", "weird"};
    static const char *codes[] = {"lost_card", "insufficient_funds", NULL};
    const char *const *names;
    size_t n = st_core_instance_signals(p, inst, &names);
    switch (next() % 6) {
    case 0:
        return ev_cancel(now);
    case 1:
        return ev_signal(now, n ? names[next() % n] : "poke", res);
    case 2:
        return ev_timer(inst->has_wake ? inst->wake_at_us : now, inst->wake_seq);
    default:
        return ev_result(now, inst->task_seq, outcomes[next() % 4], codes[next() % 3], res);
    }
}

static void run_mutant(const st_core_program_t *p)
{
    st_core_instance_t *inst = inst_new(p);
    json_t *in = inputs_for(p);
    json_t *res = js("{\"payment_intent\":{\"id\":\"pi_1\"},\"flag\":true}");
    st_core_event_t ev = ev_start(T0, in);
    st_core_output_t out;
    st_err_t err;
    int rc = st_core_step(p, inst, &ev, &out, &err);
    ck_assert_msg(rc == 0, "start of a loaded mutant failed: %s", err.msg);
    ck_assert_int_eq(inst->seq, 1);
    st_core_output_release(&out);
    for (int i = 0; i < 12 && !st_core_status_final(inst->status); i++) {
        int64_t seq = inst->seq;
        ev = pick(p, inst, res, T0 + i * DAY);
        rc = st_core_step(p, inst, &ev, &out, &err);
        ck_assert_msg(rc == 0, "step failed: %s", err.msg);
        ck_assert_int_eq(inst->seq, seq + (out.consumed ? 1 : 0));
        ck_assert(out.consumed ? out.n_history > 0 : out.n_cmds == 0);
        st_core_output_release(&out);
    }
    json_decref(in);
    json_decref(res);
    st_core_instance_free(inst);
}

START_TEST(mutated_programs_load_or_fail_cleanly)
{
    size_t len;
    uint8_t *seed = seed_program(&len);
    uint8_t *buf = malloc(len);
    int loaded = 0, refused = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = len;
        memcpy(buf, seed, len);
        for (uint32_t k = 1 + next() % 3; k > 0; k--) {
            size_t at = next() % len;
            if (next() % 2)
                buf[at] ^= (uint8_t)(1u << (next() % 8));
            else
                buf[at] = (uint8_t)next();
        }
        if (next() % 16 == 0)
            n = next() % len; /* truncated */
        st_core_program_t *p = NULL;
        st_err_t err;
        int rc = st_core_program_load(buf, n, &p, &err);
        if (rc < 0) {
            ck_assert(rc == ST_PARSE || rc == ST_CHECK);
            ck_assert_ptr_null(p);
            ck_assert(err.msg[0] != '\0');
            refused++;
            continue;
        }
        loaded++;
        run_mutant(p);
        st_core_program_free(p);
    }
    fprintf(stderr, "core_mutate: %d mutants loaded and ran, %d refused\n", loaded, refused);
    ck_assert_int_gt(loaded, ROUNDS / 20);
    ck_assert_int_gt(refused, ROUNDS / 20);
    free(buf);
    free(seed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_mutate");
    TCase *tc = tcase_create("mutate");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mutated_programs_load_or_fail_cleanly);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
