/*
 * test_core_kinds.c — each state kind on small flows: sleeps of every form,
 * DECIDE chains and the chain cap, entry assigns before guards, runtime
 * failures at every point of a step, and call-level errors.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define OP(x) SETTLE__V1__OP__OP_##x
#define I     ST_CORE_T_INT

/* Start p with inputs (JSON text) at T0; returns the instance, out filled. */
static st_core_instance_t *start(const st_core_program_t *p, const char *inputs,
                                 st_core_output_t *out)
{
    st_core_instance_t *inst = inst_new(p);
    json_t *in = js(inputs);
    st_core_event_t ev = ev_start(T0, in);
    step_ok(p, inst, &ev, out);
    json_decref(in);
    return inst;
}

static st_core_program_t *load(cb_t *b)
{
    st_core_program_t *p = cb_load_ok(b);
    cb_free(b);
    return p;
}

/* A sleep of the given form, then done. Input d: duration, at: time. */
static cb_t *sleeper(void)
{
    cb_t *b = cb_new("sleeper");
    cb_input(b, "d", ST_CORE_T_DURATION);
    cb_input(b, "at", ST_CORE_T_TIME);
    return b;
}

START_TEST(sleep_for_a_duration)
{
    cb_t *b = sleeper();
    cb_sleep_for(b, cb_state(b, "nap", ST_CORE_KIND_SLEEP), cb_ref(b, "d"), "done");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    st_core_program_t *p = load(b);
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{\"d\":259200000000,\"at\":0}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_WAITING);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_SET_WAKE);
    ck_assert_int_eq(out.cmds[0].wake_at_us, T0 + 3 * DAY);
    ck_assert_ptr_nonnull(strstr(inst->reason, "state nap: sleeping until 2026-"));
    const char *const *names;
    ck_assert_uint_eq(st_core_instance_signals(p, inst, &names), 0);
    st_core_output_release(&out);
    st_core_event_t ev = ev_timer(T0 + 3 * DAY, 1);
    step_ok(p, inst, &ev, &out);
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    ck_assert_int_eq(inst->seq, 2);
    st_core_output_release(&out);
    st_core_instance_free(inst);

    inst = start(p, "{\"d\":-1,\"at\":0}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_ptr_nonnull(strstr(inst->reason, "negative sleep duration"));
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(sleep_until_is_bounded)
{
    cb_t *b = sleeper();
    cb_sleep_until(b, cb_state(b, "nap", ST_CORE_KIND_SLEEP), cb_ref(b, "at"), 10 * DAY, "done");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    st_core_program_t *p = load(b);
    char in[128];
    int64_t at[] = {T0 + 2 * DAY, T0 + 40 * DAY, T0 - DAY};
    int64_t want[] = {T0 + 2 * DAY, T0 + 10 * DAY, T0};
    for (int i = 0; i < 3; i++) {
        st_core_output_t out;
        snprintf(in, sizeof in, "{\"d\":0,\"at\":%lld}", (long long)at[i]);
        st_core_instance_t *inst = start(p, in, &out);
        ck_assert_int_eq(inst->wake_at_us, want[i]);
        ck_assert_int_eq(out.cmds[0].wake_at_us, want[i]);
        st_core_output_release(&out);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(decide_chain_with_entry_assigns)
{
    cb_t *b = cb_new("chain");
    cb_var(b, "n", I, cb_int(1));
    cb_state_t *a = cb_state(b, "a", ST_CORE_KIND_DECIDE);
    cb_assign(b, a, "n", cb_bin(OP(MUL), I, cb_ref(b, "n"), cb_int(10)));
    cb_guard(b, a, cb_bin(OP(EQ), ST_CORE_T_BOOL, cb_ref(b, "n"), cb_int(5)), "bad");
    cb_else(b, a, "b");
    cb_state_t *s = cb_state(b, "b", ST_CORE_KIND_DECIDE);
    cb_assign(b, s, "n", cb_bin(OP(ADD), I, cb_ref(b, "n"), cb_int(1)));
    /* the guard sees the assignment made on entry to the same state */
    cb_guard(b, s, cb_bin(OP(EQ), ST_CORE_T_BOOL, cb_ref(b, "n"), cb_int(11)), "done");
    cb_else(b, s, "bad");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    cb_state(b, "bad", ST_CORE_KIND_FAIL);
    st_core_program_t *p = load(b);
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    ck_assert_int_eq(var_of(p, inst, "n")->i, 11);
    ck_assert_str_eq(state_of(p, inst), "done");
    ck_assert_uint_eq(out.n_history, 3);
    const char *kinds[] = {"start", "else", "guard"};
    const char *to[] = {"a", "b", "done"};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(out.history[i].kind, kinds[i]);
        ck_assert_str_eq(st_core_program_state_name(p, (uint32_t)out.history[i].to), to[i]);
        ck_assert_int_eq(out.history[i].seq, 1);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(out.history[2].detail, "guard")), 0);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

static st_core_program_t *spinner(void)
{
    cb_t *b = cb_new("spin");
    cb_var(b, "n", I, cb_int(0));
    cb_state_t *a = cb_state(b, "a", ST_CORE_KIND_DECIDE);
    cb_assign(b, a, "n", cb_bin(OP(ADD), I, cb_ref(b, "n"), cb_int(1)));
    cb_else(b, a, "b");
    cb_else(b, cb_state(b, "b", ST_CORE_KIND_DECIDE), "a");
    return load(b);
}

START_TEST(chain_cap_fails_the_flow)
{
    st_core_program_t *p = spinner();
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    ck_assert(out.consumed);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_int_eq(inst->seq, 1);
    ck_assert_ptr_nonnull(strstr(inst->reason, "more than 1000 state entries"));
    ck_assert_int_eq(var_of(p, inst, "n")->i, 500); /* a entered 500 times */
    ck_assert_uint_eq(out.n_history, 1 + 1000 + 1); /* start, 1000 else, error */
    ck_assert_str_eq(out.history[out.n_history - 1].kind, "error");
    ck_assert_uint_eq(out.n_cmds, 1);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_FAIL);
    st_core_output_release(&out);
    st_core_instance_free(inst);

    st_core_env_t env = {.chain_cap = 7};
    inst = inst_new(p);
    json_t *in = js("{}");
    st_core_event_t ev = ev_start(T0, in);
    st_err_t err;
    ck_assert_int_eq(st_core_step_env(p, &env, inst, &ev, &out, &err), 0);
    ck_assert_ptr_nonnull(strstr(inst->reason, "more than 7 state entries"));
    ck_assert_uint_eq(out.n_history, 1 + 7 + 1);
    st_core_output_release(&out);
    json_decref(in);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(final_and_fail_as_first_state)
{
    cb_t *b = cb_new("end");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    st_core_program_t *p = load(b);
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_COMPLETE);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);

    b = cb_new("end");
    cb_state(b, "oops", ST_CORE_KIND_FAIL);
    p = load(b);
    inst = start(p, "{}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_str_eq(out.cmds[0].reason, "reached fail state oops");
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(runtime_failure_in_init_and_mid_chain)
{
    cb_t *b = cb_new("boom");
    cb_input(b, "k", I);
    cb_var(b, "q", I, cb_bin(OP(DIV), I, cb_int(10), cb_ref(b, "k")));
    cb_else(b, cb_state(b, "a", ST_CORE_KIND_DECIDE), "b");
    cb_state_t *s = cb_state(b, "b", ST_CORE_KIND_FINAL);
    cb_assign(b, s, "q",
              cb_bin(OP(DIV), I, cb_ref(b, "q"), cb_bin(OP(SUB), I, cb_ref(b, "k"), cb_int(2))));
    st_core_program_t *p = load(b);
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{\"k\":0}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_int_eq(inst->seq, 1);
    ck_assert_ptr_nonnull(strstr(inst->reason, "init of q"));
    ck_assert_uint_eq(out.n_history, 2);
    ck_assert_str_eq(out.history[1].kind, "error");
    st_core_output_release(&out);
    st_core_instance_free(inst);

    inst = start(p, "{\"k\":2}", &out);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_str_eq(state_of(p, inst), "b");
    ck_assert_str_eq(inst->reason, "state b: assign to q: division by zero");
    ck_assert_uint_eq(out.n_history, 3); /* start, else, error */
    ck_assert_str_eq(json_string_value(json_object_get(out.history[2].detail, "error")),
                     "assign to q: division by zero");
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

static st_core_program_t *awaiter(void)
{
    cb_t *b = cb_new("awaiter");
    cb_var(b, "who", ST_CORE_T_STRING, cb_str(""));
    cb_var(b, "amount", ST_CORE_T_MONEY, cb_money(0, "eur"));
    cb_state_t *w = cb_state(b, "wait", ST_CORE_KIND_AWAIT);
    cb_await(b, w, "approved", DAY, "late", NULL);
    cb_sig_t *arm = cb_on_signal(b, w, "approved", "done");
    cb_sig_save(b, arm, "by.name", "who");
    cb_sig_save(b, arm, "amount", "amount");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    cb_state(b, "late", ST_CORE_KIND_FINAL);
    return load(b);
}

START_TEST(await_signal_bindings)
{
    st_core_program_t *p = awaiter();
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    ck_assert_int_eq(out.cmds[0].wake_at_us, T0 + DAY);
    st_core_output_release(&out);
    json_t *pl = js("{\"by\":{\"name\":\"ops\"},\"amount\":{\"minor\":-300,\"currency\":\"eur\"}}");
    st_core_event_t ev = ev_signal(T0 + SEC, "approved", pl);
    step_ok(p, inst, &ev, &out);
    ck_assert_str_eq(state_of(p, inst), "done");
    ck_assert_str_eq(var_of(p, inst, "who")->s, "ops");
    ck_assert_int_eq(var_of(p, inst, "amount")->i, -300);
    ck_assert_str_eq(json_string_value(json_object_get(out.history[0].detail, "signal")),
                     "approved");
    st_core_output_release(&out);
    json_decref(pl);
    ev = ev_timer(T0 + DAY, 1);
    step_ignored(p, inst, &ev, "completed");
    st_core_instance_free(inst);

    static const char *bad[] = {"{\"by\":{\"name\":7},\"amount\":{\"minor\":1,\"currency\":"
                                "\"eur\"}}",
                                "{\"by\":{}}", NULL};
    for (int i = 0; i < 3; i++) {
        inst = start(p, "{}", &out);
        st_core_output_release(&out);
        pl = bad[i] ? js(bad[i]) : NULL;
        ev = ev_signal(T0 + SEC, "approved", pl);
        step_ok(p, inst, &ev, &out);
        ck_assert_int_eq(inst->status, ST_CORE_FAILED);
        ck_assert_msg(strstr(inst->reason, "signal approved payload") != NULL, "%s", inst->reason);
        st_core_output_release(&out);
        json_decref(pl);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(bad_calls_leave_everything_alone)
{
    st_core_program_t *p = awaiter();
    st_core_program_t *q = spinner();
    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    st_core_output_release(&out);
    char *before = inst_text(p, inst);
    st_err_t err;
    st_core_event_t ev = ev_cancel(T0);
    ck_assert_int_eq(st_core_step(q, inst, &ev, &out, &err), ST_INVAL); /* wrong program */
    ck_assert_ptr_nonnull(strstr(err.msg, "does not belong"));
    ck_assert_int_eq(st_core_step(p, inst, NULL, &out, &err), ST_INVAL);
    ck_assert_int_eq(st_core_step(p, inst, &ev, NULL, &err), ST_INVAL);
    ev.kind = 42;
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_INVAL);
    json_t *arr = js("[1]");
    ev = ev_signal(T0, "approved", arr);
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_INVAL);
    ck_assert_uint_eq(out.n_cmds, 0);
    ck_assert_uint_eq(out.n_history, 0);
    char *after = inst_text(p, inst);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    json_decref(arr);
    st_core_instance_free(inst);
    st_core_instance_free(NULL);
    st_core_output_release(NULL);
    st_core_program_free(p);
    st_core_program_free(q);
}
END_TEST

START_TEST(retry_policy_accessor_and_default)
{
    cb_t *b = cb_new("retry");
    cb_act_t *a = cb_do(b, cb_state(b, "x", ST_CORE_KIND_DO), "http.call", SEC, 4);
    cb_arm(b, a, "ok", NULL, "done");
    a = cb_do(b, cb_state(b, "y", ST_CORE_KIND_DO), "http.call", SEC, 1);
    cb_arm(b, a, "ok", NULL, "done");
    settle__v1__retry_policy__free_unpacked(a->retry, NULL);
    a->retry = NULL; /* no retry clause: one attempt */
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    st_core_program_t *p = load(b);
    int64_t lo, hi;
    ck_assert_uint_eq(st_core_program_retry(p, 0, &lo, &hi), 4);
    ck_assert_int_eq(lo, 2 * SEC);
    ck_assert_int_eq(hi, 300 * SEC);
    ck_assert_uint_eq(st_core_program_retry(p, 1, &lo, &hi), 1);
    ck_assert_uint_eq(st_core_program_retry(p, 2, &lo, &hi), 0);
    ck_assert_int_eq(lo, 0);

    st_core_output_t out;
    st_core_instance_t *inst = start(p, "{}", &out);
    ck_assert_uint_eq(out.cmds[0].max_attempts, 4);
    st_core_output_release(&out);
    st_core_event_t ev = ev_result(T0, 1, "ok", NULL, NULL);
    step_ok(p, inst, &ev, &out);
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_kinds");
    TCase *tc = tcase_create("kinds");
    tcase_add_test(tc, sleep_for_a_duration);
    tcase_add_test(tc, sleep_until_is_bounded);
    tcase_add_test(tc, decide_chain_with_entry_assigns);
    tcase_add_test(tc, chain_cap_fails_the_flow);
    tcase_add_test(tc, final_and_fail_as_first_state);
    tcase_add_test(tc, runtime_failure_in_init_and_mid_chain);
    tcase_add_test(tc, await_signal_bindings);
    tcase_add_test(tc, bad_calls_leave_everything_alone);
    tcase_add_test(tc, retry_policy_accessor_and_default);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
