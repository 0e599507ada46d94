/*
 * test_core_step.c — the step on a dunning flow: every state kind, every
 * event kind (stale ones included), arms, bindings, cancel, determinism.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define OP(x) SETTLE__V1__OP__OP_##x

/*
 * charge (do) → paid | ask_for_card | tell | stuck
 * tell (do, attempt += 1) → wait
 * wait (sleep smart, guard attempt >= 3 → give_up; signal pm_updated) → charge
 * ask_for_card (await pm_updated 14d) → charge | give_up
 * give_up (decide: attempt > 10 → stuck, else lost)
 * void (do; the cancel path) → voided
 */
static st_core_program_t *dunning(int with_cancel)
{
    cb_t *b = cb_new("dunning");
    cb_input(b, "invoice", ST_CORE_T_STRING);
    cb_input(b, "customer", ST_CORE_T_STRING);
    cb_input(b, "amount", ST_CORE_T_MONEY);
    cb_var(b, "attempt", ST_CORE_T_INT, cb_int(0));
    cb_var(b, "pi", ST_CORE_T_STRING, cb_str(""));
    cb_var(b, "new_pm", ST_CORE_T_STRING, NULL);

    cb_act_t *a =
        cb_do(b, cb_state(b, "charge", ST_CORE_KIND_DO), "stripe.pay_invoice", 30 * SEC, 5);
    cb_arg(a, "invoice", cb_ref(b, "invoice"));
    cb_arg(a, "amount", cb_ref(b, "amount"));
    cb_arm_save(b, cb_arm(b, a, "succeeded", NULL, "paid"), "payment_intent.id", "pi");
    cb_arm(b, a, "declined", "expired_card,lost_card,stolen_card", "ask_for_card");
    cb_arm(b, a, "declined", NULL, "tell");
    cb_arm(b, a, "failed", NULL, "stuck");

    cb_state_t *tell = cb_state(b, "tell", ST_CORE_KIND_DO);
    cb_assign(b, tell, "attempt", cb_bin(OP(ADD), ST_CORE_T_INT, cb_ref(b, "attempt"), cb_int(1)));
    a = cb_do(b, tell, "email.send", 10 * SEC, 3);
    cb_arg(a, "to", cb_ref(b, "customer"));
    cb_arg(a, "attempt", cb_ref(b, "attempt"));
    cb_arm(b, a, "sent", NULL, "wait");
    cb_arm(b, a, "failed", NULL, "wait");

    cb_state_t *wait = cb_state(b, "wait", ST_CORE_KIND_SLEEP);
    cb_guard(b, wait, cb_bin(OP(GE), ST_CORE_T_BOOL, cb_ref(b, "attempt"), cb_int(3)), "give_up");
    cb_sleep_smart(b, wait, 21 * DAY, 1 * DAY, "charge");
    cb_sig_save(b, cb_on_signal(b, wait, "pm_updated", "charge"), "pm", "new_pm");

    cb_state_t *ask = cb_state(b, "ask_for_card", ST_CORE_KIND_AWAIT);
    cb_await(b, ask, "pm_updated,customer_gone", 14 * DAY, "give_up", NULL);
    cb_sig_save(b, cb_on_signal(b, ask, "pm_updated", "charge"), "pm", "new_pm");
    cb_on_signal(b, ask, "customer_gone", "lost");

    cb_state_t *give_up = cb_state(b, "give_up", ST_CORE_KIND_DECIDE);
    cb_guard(b, give_up, cb_bin(OP(GT), ST_CORE_T_BOOL, cb_ref(b, "attempt"), cb_int(10)), "stuck");
    cb_else(b, give_up, "lost");

    a = cb_do(b, cb_state(b, "void", ST_CORE_KIND_DO), "stripe.void_invoice", 30 * SEC, 1);
    cb_arg(a, "invoice", cb_ref(b, "invoice"));
    cb_arm(b, a, "succeeded", NULL, "voided");
    cb_arm(b, a, "failed", NULL, "stuck");

    cb_state(b, "paid", ST_CORE_KIND_FINAL);
    cb_state(b, "lost", ST_CORE_KIND_FINAL);
    cb_state(b, "voided", ST_CORE_KIND_FINAL);
    cb_fail_reason(cb_state(b, "stuck", ST_CORE_KIND_FAIL), "needs an operator");
    cb_initial(b, "charge");
    if (with_cancel)
        cb_cancel(b, "void");
    st_core_program_t *p = cb_load_ok(b);
    cb_free(b);
    return p;
}

static const char *INPUTS = "{\"invoice\":\"in_1\",\"customer\":\"cus_1\",\"amount\":{\"minor\":"
                            "1999,\"currency\":\"eur\"}}";

/* Start a dunning instance; it is left in `charge` waiting on task 1. */
static st_core_instance_t *started(const st_core_program_t *p)
{
    st_core_instance_t *inst = inst_new(p);
    st_core_output_t out;
    json_t *in = js(INPUTS);
    st_core_event_t ev = ev_start(T0, in);
    step_ok(p, inst, &ev, &out);
    st_core_output_release(&out);
    json_decref(in);
    return inst;
}

static void result(const st_core_program_t *p, st_core_instance_t *inst, int64_t now,
                   const char *outcome, const char *code, const char *res, st_core_output_t *out)
{
    json_t *r = res ? js(res) : NULL;
    st_core_event_t ev = ev_result(now, inst->task_seq, outcome, code, r);
    step_ok(p, inst, &ev, out);
    json_decref(r);
}

START_TEST(start_runs_first_activity)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = inst_new(p);
    st_core_output_t out;
    json_t *in = js(INPUTS);
    st_err_t err;
    ck_assert_int_eq(st_core_inputs_check(p, in, &err), 0);
    st_core_event_t ev = ev_start(T0, in);
    step_ok(p, inst, &ev, &out);
    ck_assert(out.consumed);
    ck_assert_int_eq(inst->seq, 1);
    ck_assert_int_eq(inst->status, ST_CORE_RUNNING);
    ck_assert_str_eq(state_of(p, inst), "charge");
    ck_assert_int_eq(inst->task_seq, 1);
    ck_assert_uint_eq(out.n_cmds, 1);
    const st_core_cmd_t *c = &out.cmds[0];
    ck_assert_int_eq(c->kind, ST_CORE_CMD_RUN_ACTIVITY);
    ck_assert_str_eq(c->activity, "stripe.pay_invoice");
    ck_assert_str_eq(c->idem_key, "settle_018f3c2a-7b10-7c00-8000-123456789abc_1");
    ck_assert_int_eq(c->task_seq, 1);
    ck_assert_int_eq(c->timeout_us, 30 * SEC);
    ck_assert_uint_eq(c->max_attempts, 5);
    char *args = json_dumps(c->args, JSON_COMPACT);
    ck_assert_str_eq(args,
                     "{\"invoice\":\"in_1\",\"amount\":{\"minor\":1999,\"currency\":\"eur\"}}");
    free(args);
    ck_assert_uint_eq(out.n_history, 1);
    ck_assert_str_eq(out.history[0].kind, "start");
    ck_assert_int_eq(out.history[0].from, -1);
    ck_assert_str_eq(st_core_program_state_name(p, (uint32_t)out.history[0].to), "charge");
    ck_assert_int_eq(var_of(p, inst, "attempt")->i, 0);
    ck_assert_str_eq(var_of(p, inst, "new_pm")->s, ""); /* no init: zero value */
    ck_assert_str_eq(var_of(p, inst, "amount")->currency, "eur");
    char *text = out_text(p, &out);
    ck_assert_str_eq(text,
                     "{\"consumed\":true,\"note\":\"\",\"commands\":[{\"kind\":\"run_activity\","
                     "\"activity\":\"stripe.pay_invoice\",\"args\":{\"invoice\":\"in_1\","
                     "\"amount\":{\"minor\":1999,\"currency\":\"eur\"}},\"timeout_us\":30000000,"
                     "\"max_attempts\":5,\"backoff_min_us\":2000000,\"backoff_max_us\":"
                     "300000000,\"task_seq\":1,\"idempotency_key\":\"settle_018f3c2a-7b10-"
                     "7c00-8000-123456789abc_1\"}],\"history\":[{\"seq\":1,\"from\":null,"
                     "\"to\":\"charge\",\"kind\":\"start\",\"detail\":{}}]}");
    free(text);
    st_core_output_release(&out);
    json_decref(in);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(start_rejects_bad_inputs)
{
    static const char *bad[] = {
        "{\"invoice\":\"in_1\",\"customer\":\"cus_1\"}", /* missing */
        "{\"invoice\":\"in_1\",\"customer\":\"cus_1\",\"amount\":{\"minor\":1,\"currency\":"
        "\"eur\"},\"x\":1}", /* extra */
        "{\"invoice\":5,\"customer\":\"cus_1\",\"amount\":{\"minor\":1,\"currency\":\"eur\"}}",
        "{\"invoice\":\"i\",\"customer\":\"c\",\"amount\":{\"minor\":1,\"currency\":\"EUR\"}}",
        "{\"invoice\":\"i\",\"customer\":\"c\",\"amount\":1999}",
        "[1,2]",
    };
    static const char *what[] = {"missing input amount", "not an input",
                                 "input invoice",        "currency",
                                 "input amount",         "object"};
    st_core_program_t *p = dunning(0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        st_core_instance_t *inst = inst_new(p);
        st_core_output_t out;
        st_err_t err;
        json_t *in = js(bad[i]);
        st_core_event_t ev = ev_start(T0, in);
        ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_INVAL);
        ck_assert_msg(strstr(err.msg, what[i]) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_int_eq(st_core_inputs_check(p, in, &err), ST_INVAL);
        ck_assert_msg(strstr(err.msg, what[i]) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_int_eq(inst->seq, 0);
        ck_assert_int_eq(inst->vars[0].type, ST_CORE_T_NONE);
        ck_assert_uint_eq(out.n_cmds, 0);
        json_decref(in);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(events_before_start_and_double_start)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = inst_new(p);
    st_core_output_t out;
    st_err_t err;
    st_core_event_t ev = ev_cancel(T0);
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_STATE);
    st_core_instance_free(inst);
    inst = started(p);
    json_t *in = js(INPUTS);
    ev = ev_start(T0, in);
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_STATE);
    ck_assert_int_eq(inst->seq, 1);
    ev = ev_result(T0, 1, NULL, NULL, NULL);
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_INVAL);
    ev = ev_signal(T0, NULL, NULL);
    ck_assert_int_eq(st_core_step(p, inst, &ev, &out, &err), ST_INVAL);
    json_decref(in);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(success_binds_dotted_field_and_completes)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0 + SEC, "succeeded", NULL,
           "{\"payment_intent\":{\"id\":\"pi_42\",\"status\":\"succeeded\"}}", &out);
    ck_assert_int_eq(inst->seq, 2);
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    ck_assert_str_eq(state_of(p, inst), "paid");
    ck_assert_str_eq(var_of(p, inst, "pi")->s, "pi_42");
    ck_assert_int_eq(inst->task_seq, ST_CORE_NO_SEQ);
    ck_assert_uint_eq(out.n_cmds, 1);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_COMPLETE);
    ck_assert_uint_eq(out.n_history, 1);
    ck_assert_str_eq(out.history[0].kind, "outcome");
    ck_assert_int_eq(out.history[0].seq, 2);
    st_core_output_release(&out);
    /* everything after the end is ignored */
    st_core_event_t ev = ev_cancel(T0);
    step_ignored(p, inst, &ev, "completed");
    ev = ev_signal(T0, "pm_updated", NULL);
    step_ignored(p, inst, &ev, "completed");
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(decline_code_arm_beats_catch_all)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0 + SEC, "declined", "lost_card", NULL, &out);
    ck_assert_str_eq(state_of(p, inst), "ask_for_card");
    ck_assert_int_eq(inst->status, ST_CORE_WAITING);
    ck_assert_uint_eq(out.n_cmds, 1);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_SET_WAKE);
    ck_assert_int_eq(out.cmds[0].wake_at_us, T0 + SEC + 14 * DAY);
    ck_assert_int_eq(out.cmds[0].wake_seq, 2);
    ck_assert(inst->has_wake);
    ck_assert_int_eq(inst->wake_seq, 2);
    const char *const *names;
    ck_assert_uint_eq(st_core_instance_signals(p, inst, &names), 2);
    ck_assert_str_eq(names[0], "pm_updated");
    ck_assert_ptr_nonnull(strstr(inst->reason, "awaiting signal pm_updated, customer_gone"));
    st_core_output_release(&out);
    st_core_instance_free(inst);

    /* other codes and no code at all go to the catch-all */
    const char *codes[] = {"insufficient_funds", NULL};
    for (int i = 0; i < 2; i++) {
        inst = started(p);
        result(p, inst, T0 + SEC, "declined", codes[i], NULL, &out);
        ck_assert_str_eq(state_of(p, inst), "tell");
        ck_assert_int_eq(var_of(p, inst, "attempt")->i, 1); /* entry assign ran */
        ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_RUN_ACTIVITY);
        ck_assert_str_eq(out.cmds[0].idem_key, "settle_018f3c2a-7b10-7c00-8000-123456789abc_2");
        ck_assert_int_eq(json_integer_value(json_object_get(out.cmds[0].args, "attempt")), 1);
        st_core_output_release(&out);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(unhandled_outcome_fails_visibly)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0 + SEC, "requires_action", NULL, NULL, &out);
    ck_assert(out.consumed);
    ck_assert_int_eq(inst->seq, 2);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_uint_eq(out.n_cmds, 1);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_FAIL);
    ck_assert_ptr_nonnull(strstr(out.cmds[0].reason, "requires_action"));
    ck_assert_ptr_nonnull(strstr(inst->reason, "no arm handles it"));
    ck_assert_str_eq(out.history[out.n_history - 1].kind, "error");
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(binding_errors_fail_visibly)
{
    static const char *res[] = {"{\"payment_intent\":{\"id\":42}}", "{\"payment_intent\":{}}",
                                "{\"payment_intent\":\"pi_1\"}", NULL};
    st_core_program_t *p = dunning(0);
    for (int i = 0; i < 4; i++) {
        st_core_instance_t *inst = started(p);
        st_core_output_t out;
        result(p, inst, T0 + SEC, "succeeded", NULL, res[i], &out);
        ck_assert_int_eq(inst->status, ST_CORE_FAILED);
        ck_assert_msg(strstr(inst->reason, "payment_intent.id") != NULL, "%s", inst->reason);
        st_core_output_release(&out);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(stale_activity_results_are_ignored)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_event_t ev = ev_result(T0, 7, "succeeded", NULL, NULL);
    step_ignored(p, inst, &ev, "stale activity result for task 7");
    st_core_output_t out;
    result(p, inst, T0 + SEC, "declined", "expired_card", NULL, &out);
    st_core_output_release(&out);
    ev = ev_result(T0, 1, "succeeded", NULL, NULL); /* the old task, answered twice */
    step_ignored(p, inst, &ev, "stale activity result");
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

/* charge → declined → tell → sent → wait (sleep smart) */
static st_core_instance_t *sleeping(const st_core_program_t *p)
{
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0 + SEC, "declined", "insufficient_funds", NULL, &out);
    st_core_output_release(&out);
    result(p, inst, T0 + 2 * SEC, "sent", NULL, "{}", &out);
    ck_assert_str_eq(state_of(p, inst), "wait");
    st_core_output_release(&out);
    return inst;
}

START_TEST(smart_sleep_wakes_at_earliest_then_timer_fires)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = sleeping(p);
    ck_assert_int_eq(inst->status, ST_CORE_WAITING);
    ck_assert_int_eq(inst->seq, 3);
    ck_assert_int_eq(inst->wake_at_us, T0 + 2 * SEC + DAY);
    ck_assert_int_eq(inst->wake_seq, 3);
    const char *const *names;
    ck_assert_uint_eq(st_core_instance_signals(p, inst, &names), 1);
    ck_assert_str_eq(names[0], "pm_updated");

    st_core_event_t ev = ev_timer(T0 + 2 * SEC + DAY, 2);
    step_ignored(p, inst, &ev, "stale timer");
    ev = ev_timer(T0 + 2 * SEC, 3);
    step_ignored(p, inst, &ev, "before its wake time");

    st_core_output_t out;
    ev = ev_timer(T0 + 2 * SEC + DAY, 3);
    step_ok(p, inst, &ev, &out);
    ck_assert_str_eq(state_of(p, inst), "charge");
    ck_assert_int_eq(inst->status, ST_CORE_RUNNING);
    ck_assert(!inst->has_wake);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_RUN_ACTIVITY);
    ck_assert_str_eq(out.cmds[0].idem_key, "settle_018f3c2a-7b10-7c00-8000-123456789abc_4");
    ck_assert_str_eq(out.history[0].kind, "wake");
    st_core_output_release(&out);
    /* the same timer again is stale now */
    step_ignored(p, inst, &ev, "stale timer");
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

static int late_hook(void *ctx, const st_core_smart_req_t *req, int64_t *wake, st_err_t *err)
{
    *wake = req->earliest_us + *(int64_t *)ctx;
    return 0;
}

START_TEST(smart_sleep_hook_is_clamped)
{
    st_core_program_t *p = dunning(0);
    int64_t extra[] = {3 * DAY, 400 * DAY, -5 * DAY};
    int64_t want[] = {DAY + 3 * DAY, 21 * DAY, DAY};
    for (int i = 0; i < 3; i++) {
        st_core_instance_t *inst = started(p);
        st_core_env_t env = {.smart = late_hook, .smart_ctx = &extra[i]};
        st_core_output_t out;
        st_err_t err;
        result(p, inst, T0 + SEC, "declined", "insufficient_funds", NULL, &out);
        st_core_output_release(&out);
        st_core_event_t ev = ev_result(T0 + 2 * SEC, inst->task_seq, "sent", NULL, NULL);
        ck_assert_int_eq(st_core_step_env(p, &env, inst, &ev, &out, &err), 0);
        ck_assert_int_eq(inst->wake_at_us, T0 + 2 * SEC + want[i]);
        st_core_output_release(&out);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

static int failing_hook(void *ctx, const st_core_smart_req_t *req, int64_t *wake, st_err_t *err)
{
    return st_err_set(err, *(int *)ctx, "model unavailable");
}

START_TEST(smart_sleep_hook_errors)
{
    st_core_program_t *p = dunning(0);
    int codes[] = {ST_AGAIN, ST_CHECK};
    for (int i = 0; i < 2; i++) {
        st_core_instance_t *inst = started(p);
        st_core_env_t env = {.smart = failing_hook, .smart_ctx = &codes[i]};
        st_core_output_t out;
        st_err_t err;
        result(p, inst, T0 + SEC, "declined", "insufficient_funds", NULL, &out);
        st_core_output_release(&out);
        char *before = inst_text(p, inst);
        st_core_event_t ev = ev_result(T0 + 2 * SEC, inst->task_seq, "sent", NULL, NULL);
        int rc = st_core_step_env(p, &env, inst, &ev, &out, &err);
        char *after = inst_text(p, inst);
        if (codes[i] == ST_AGAIN) { /* try later: nothing happened */
            ck_assert_int_eq(rc, ST_AGAIN);
            ck_assert_str_eq(before, after);
            ck_assert_uint_eq(out.n_cmds + out.n_history, 0);
        } else { /* the flow cannot go on: visible failure */
            ck_assert_int_eq(rc, 0);
            ck_assert_int_eq(inst->status, ST_CORE_FAILED);
            ck_assert_ptr_nonnull(strstr(inst->reason, "model unavailable"));
        }
        free(before);
        free(after);
        st_core_output_release(&out);
        st_core_instance_free(inst);
    }
    st_core_program_free(p);
}
END_TEST

START_TEST(signal_interrupts_sleep_with_payload_binding)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = sleeping(p);
    st_core_event_t ev = ev_signal(T0 + 3 * SEC, "unrelated", NULL);
    step_ignored(p, inst, &ev, "does not wait for signal unrelated");
    json_t *pl = js("{\"pm\":\"pm_card_visa\"}");
    st_core_output_t out;
    ev = ev_signal(T0 + 3 * SEC, "pm_updated", pl);
    step_ok(p, inst, &ev, &out);
    ck_assert(out.consumed);
    ck_assert_str_eq(state_of(p, inst), "charge");
    ck_assert_str_eq(var_of(p, inst, "new_pm")->s, "pm_card_visa");
    ck_assert_str_eq(out.history[0].kind, "signal");
    ck_assert(!inst->has_wake);
    st_core_output_release(&out);
    /* the sleep's timer is stale once the signal moved the flow on */
    ev = ev_timer(T0 + 2 * SEC + DAY, 3);
    step_ignored(p, inst, &ev, "stale timer");
    /* a running DO state waits for no signal: not consumed, kept by the store */
    ev = ev_signal(T0 + 4 * SEC, "pm_updated", pl);
    step_ignored(p, inst, &ev, "does not wait for signal pm_updated");
    json_decref(pl);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(guard_leaves_before_the_sleep)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = sleeping(p);
    st_core_output_t out;
    for (int round = 2; round <= 3; round++) {
        st_core_event_t ev = ev_timer(inst->wake_at_us, inst->wake_seq);
        step_ok(p, inst, &ev, &out);
        st_core_output_release(&out);
        result(p, inst, T0, "declined", "do_not_honor", NULL, &out);
        ck_assert_int_eq(var_of(p, inst, "attempt")->i, round);
        st_core_output_release(&out);
        result(p, inst, T0, "failed", NULL, NULL, &out);
        if (round < 3) {
            ck_assert_str_eq(state_of(p, inst), "wait");
            st_core_output_release(&out);
        }
    }
    /* attempt == 3: wait's guard → give_up (decide, else) → lost, in one step */
    ck_assert_str_eq(state_of(p, inst), "lost");
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    ck_assert_uint_eq(out.n_history, 3);
    ck_assert_str_eq(out.history[0].kind, "outcome");
    ck_assert_str_eq(out.history[1].kind, "guard");
    ck_assert_str_eq(out.history[2].kind, "else");
    ck_assert_int_eq(out.history[2].seq, inst->seq);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(await_timeout_and_signal)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0, "declined", "expired_card", NULL, &out);
    st_core_output_release(&out);
    st_core_instance_t *copy = NULL;
    st_err_t err;
    ck_assert_int_eq(st_core_instance_clone(inst, &copy, &err), 0);

    st_core_event_t ev = ev_timer(T0 + 14 * DAY, inst->wake_seq);
    step_ok(p, inst, &ev, &out);
    ck_assert_str_eq(out.history[0].kind, "timeout");
    ck_assert_str_eq(state_of(p, inst), "lost"); /* give_up → else → lost */
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_COMPLETE);
    st_core_output_release(&out);

    ev = ev_signal(T0 + DAY, "customer_gone", NULL);
    step_ok(p, copy, &ev, &out);
    ck_assert_str_eq(state_of(p, copy), "lost");
    st_core_output_release(&out);
    st_core_instance_free(copy);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(cancel_without_cancel_path)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = sleeping(p);
    st_core_output_t out;
    st_core_event_t ev = ev_cancel(T0);
    step_ok(p, inst, &ev, &out);
    ck_assert_int_eq(inst->status, ST_CORE_CANCELLED);
    ck_assert(!inst->has_wake);
    ck_assert_uint_eq(out.n_cmds, 1);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_CANCELLED);
    ck_assert_str_eq(out.history[0].kind, "cancel");
    st_core_output_release(&out);
    step_ignored(p, inst, &ev, "cancelled");
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(cancel_runs_the_cancel_path)
{
    st_core_program_t *p = dunning(1);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    st_core_event_t ev = ev_cancel(T0 + SEC);
    step_ok(p, inst, &ev, &out);
    ck_assert_str_eq(state_of(p, inst), "void");
    ck_assert(inst->cancel_requested);
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_RUN_ACTIVITY);
    ck_assert_str_eq(out.cmds[0].activity, "stripe.void_invoice");
    ck_assert_int_eq(inst->task_seq, 2);
    st_core_output_release(&out);
    step_ignored(p, inst, &ev, "cancel already in progress");
    /* the charge's late answer is stale */
    st_core_event_t late = ev_result(T0, 1, "succeeded", NULL, NULL);
    step_ignored(p, inst, &late, "stale");
    result(p, inst, T0 + 2 * SEC, "succeeded", NULL, NULL, &out);
    ck_assert_str_eq(state_of(p, inst), "voided");
    ck_assert_int_eq(inst->status, ST_CORE_COMPLETED);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(fail_state_and_suspended)
{
    st_core_program_t *p = dunning(0);
    st_core_instance_t *inst = started(p);
    st_core_output_t out;
    result(p, inst, T0, "failed", NULL, NULL, &out);
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_str_eq(inst->reason, "needs an operator");
    ck_assert_int_eq(out.cmds[0].kind, ST_CORE_CMD_FAIL);
    ck_assert_str_eq(out.cmds[0].reason, "needs an operator");
    st_core_output_release(&out);
    st_core_instance_free(inst);

    inst = sleeping(p);
    inst->status = ST_CORE_SUSPENDED; /* set by an operator through the store */
    st_core_event_t ev = ev_timer(inst->wake_at_us, inst->wake_seq);
    step_ignored(p, inst, &ev, "suspended");
    ev = ev_cancel(T0);
    step_ok(p, inst, &ev, &out);
    ck_assert_int_eq(inst->status, ST_CORE_CANCELLED);
    st_core_output_release(&out);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

/* Run a fixed event script and return the concatenated outputs + instance. */
static char *script(const st_core_program_t *p)
{
    st_core_instance_t *inst = inst_new(p);
    json_t *in = js(INPUTS), *pl = js("{\"pm\":\"pm_x\"}");
    st_core_event_t evs[] = {
        ev_start(T0, in),
        ev_result(T0 + 1, 1, "declined", "card_declined", NULL),
        ev_result(T0 + 2, 2, "sent", NULL, NULL),
        ev_signal(T0 + 3, "pm_updated", pl),
        ev_result(T0 + 4, 4, "declined", "expired_card", NULL),
        ev_timer(T0 + 14 * DAY + 4, 5),
    };
    size_t cap = 1 << 16, n = 0;
    char *all = calloc(1, cap);
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        st_core_output_t out;
        step_ok(p, inst, &evs[i], &out);
        ck_assert(out.consumed);
        char *o = out_text(p, &out), *s = inst_text(p, inst);
        n += (size_t)snprintf(all + n, cap - n, "%s\n%s\n", o, s);
        free(o);
        free(s);
        st_core_output_release(&out);
    }
    ck_assert_str_eq(state_of(p, inst), "lost");
    json_decref(in);
    json_decref(pl);
    st_core_instance_free(inst);
    return all;
}

START_TEST(same_inputs_give_identical_outputs)
{
    st_core_program_t *p = dunning(0);
    st_core_program_t *q = dunning(0);
    ck_assert_str_eq(st_core_program_hash(p), st_core_program_hash(q));
    char *a = script(p), *b = script(q);
    ck_assert_str_eq(a, b);
    ck_assert_ptr_nonnull(strstr(a, "settle_018f3c2a-7b10-7c00-8000-123456789abc_4"));
    free(a);
    free(b);
    st_core_program_free(p);
    st_core_program_free(q);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_step");
    TCase *tc = tcase_create("step");
    tcase_add_test(tc, start_runs_first_activity);
    tcase_add_test(tc, start_rejects_bad_inputs);
    tcase_add_test(tc, events_before_start_and_double_start);
    tcase_add_test(tc, success_binds_dotted_field_and_completes);
    tcase_add_test(tc, decline_code_arm_beats_catch_all);
    tcase_add_test(tc, unhandled_outcome_fails_visibly);
    tcase_add_test(tc, binding_errors_fail_visibly);
    tcase_add_test(tc, stale_activity_results_are_ignored);
    tcase_add_test(tc, smart_sleep_wakes_at_earliest_then_timer_fires);
    tcase_add_test(tc, smart_sleep_hook_is_clamped);
    tcase_add_test(tc, smart_sleep_hook_errors);
    tcase_add_test(tc, signal_interrupts_sleep_with_payload_binding);
    tcase_add_test(tc, guard_leaves_before_the_sleep);
    tcase_add_test(tc, await_timeout_and_signal);
    tcase_add_test(tc, cancel_without_cancel_path);
    tcase_add_test(tc, cancel_runs_the_cancel_path);
    tcase_add_test(tc, fail_state_and_suspended);
    tcase_add_test(tc, same_inputs_give_identical_outputs);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
