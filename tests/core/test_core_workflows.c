/*
 * test_core_workflows.c — the shipped flows, compiled by settlec at build
 * time, load through the core's validator with settlec's hash, and the
 * dunning flow runs its main paths. Reads build outputs from
 * SETTLE_BINARY_DIR/workflows; a missing file fails the test.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *name, const char *ext, size_t *len)
{
    const char *dir = getenv("SETTLE_BINARY_DIR");
    char path[1024];
    ck_assert_msg(dir != NULL, "SETTLE_BINARY_DIR is not set; run through ctest");
    snprintf(path, sizeof path, "%s/workflows/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (is settlec building the workflows?)", path);
    char *buf = malloc(1 << 20);
    ck_assert_ptr_nonnull(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static st_core_program_t *flow(const char *name)
{
    size_t len, hlen;
    char *bytes = slurp(name, "pb", &len), *hash = slurp(name, "hash", &hlen);
    st_core_program_t *p = NULL;
    st_err_t err;
    ck_assert_msg(st_core_program_load(bytes, len, &p, &err) == 0, "%s: %s", name, err.msg);
    ck_assert_msg(strncmp(hash, st_core_program_hash(p), 64) == 0, "%s: hash differs", name);
    ck_assert_str_eq(st_core_program_name(p), name);
    free(bytes);
    free(hash);
    return p;
}

START_TEST(shipped_flows_load)
{
    const char *names[] = {"charge", "dunning", "refund"};
    for (int i = 0; i < 3; i++)
        st_core_program_free(flow(names[i]));
}
END_TEST

static const char *INPUTS = "{\"invoice\":\"in_1\",\"customer\":\"cus_1\",\"email\":"
                            "\"a@example.com\",\"amount\":{\"minor\":4200,\"currency\":\"eur\"}}";

typedef struct run {
    const st_core_program_t *p;
    st_core_instance_t *inst;
    st_core_output_t out;
    int64_t now;
} run_t;

static void go(run_t *r, st_core_event_t ev)
{
    st_core_output_release(&r->out);
    r->now += 60 * SEC;
    ev.now_us = r->now;
    step_ok(r->p, r->inst, &ev, &r->out);
    ck_assert(r->out.consumed);
}

static void result(run_t *r, const char *outcome, const char *code, const char *res)
{
    json_t *j = res ? js(res) : NULL;
    go(r, ev_result(0, r->inst->task_seq, outcome, code, j));
    json_decref(j);
}

static void expect(run_t *r, const char *state, const char *activity)
{
    ck_assert_str_eq(state_of(r->p, r->inst), state);
    if (activity != NULL) {
        ck_assert_int_eq(r->out.cmds[0].kind, ST_CORE_CMD_RUN_ACTIVITY);
        ck_assert_str_eq(r->out.cmds[0].activity, activity);
    }
}

static run_t begin(void)
{
    run_t r = {.p = flow("dunning"), .now = T0};
    r.inst = inst_new(r.p);
    st_core_output_init(&r.out);
    json_t *in = js(INPUTS);
    go(&r, ev_start(0, in));
    json_decref(in);
    expect(&r, "charge", "stripe.pay_invoice");
    return r;
}

static void end(run_t *r)
{
    st_core_output_release(&r->out);
    st_core_instance_free(r->inst);
    st_core_program_free((st_core_program_t *)r->p);
}

START_TEST(dunning_soft_decline_then_paid_by_webhook)
{
    run_t r = begin();
    result(&r, "declined", "insufficient_funds", NULL);
    expect(&r, "tell_customer", "email.send");
    char *args = json_dumps(r.out.cmds[0].args, JSON_COMPACT);
    ck_assert_str_eq(args,
                     "{\"to\":\"a@example.com\",\"template\":\"payment_failed\",\"attempt\":1}");
    free(args);
    result(&r, "sent", NULL, NULL);
    expect(&r, "wait", NULL);
    ck_assert_int_eq(r.inst->status, ST_CORE_WAITING);
    ck_assert_int_eq(r.out.cmds[0].wake_at_us, r.now + 3 * DAY); /* smart: earliest (min_gap) */
    go(&r, ev_signal(0, "invoice.paid", NULL));
    expect(&r, "paid", "erp.post_payment");
    ck_assert_uint_eq(r.out.cmds[0].max_attempts, 11); /* "retry 10 times" + the first */
    result(&r, "ok", NULL, NULL);
    expect(&r, "done", NULL);
    ck_assert_int_eq(r.inst->status, ST_CORE_COMPLETED);
    end(&r);
}
END_TEST

START_TEST(dunning_card_problem_times_out_and_writes_off)
{
    run_t r = begin();
    result(&r, "declined", "expired_card", NULL);
    expect(&r, "ask_for_card", "email.send");
    result(&r, "failed", NULL, NULL);
    expect(&r, "wait_for_card", NULL);
    const char *const *names;
    ck_assert_uint_eq(st_core_instance_signals(r.p, r.inst, &names), 3);
    r.now = r.inst->wake_at_us;
    go(&r, ev_timer(0, r.inst->wake_seq));
    expect(&r, "give_up", "stripe.void_invoice");
    result(&r, "succeeded", NULL, NULL);
    expect(&r, "write_off", "erp.write_off");
    result(&r, "ok", NULL, NULL);
    expect(&r, "lost", NULL);
    end(&r);
}
END_TEST

START_TEST(dunning_authentication_and_cancel)
{
    run_t r = begin();
    /* The result as the Stripe driver shapes it (tests/activity checks that
     * side): the PaymentIntent's id, and the URL of its next action. */
    result(&r, "requires_action", NULL,
           "{\"payment_intent\":\"pi_9\",\"next_action_type\":\"use_stripe_sdk\","
           "\"next_action_url\":\"https://hooks.stripe.com/3d_secure_2/hosted?pi=pi_9\"}");
    expect(&r, "ask_to_authenticate", "email.send");
    ck_assert_str_eq(var_of(r.p, r.inst, "pi_id")->s, "pi_9");
    ck_assert_str_eq(json_string_value(json_object_get(r.out.cmds[0].args, "payment_intent")),
                     "pi_9");
    ck_assert_str_eq(json_string_value(json_object_get(r.out.cmds[0].args, "action_url")),
                     "https://hooks.stripe.com/3d_secure_2/hosted?pi=pi_9");
    go(&r, ev_cancel(0));
    expect(&r, "cancelled", NULL);
    ck_assert_int_eq(r.inst->status, ST_CORE_COMPLETED); /* the flow's own cancel path */
    ck_assert(r.inst->cancel_requested);
    end(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_workflows");
    TCase *tc = tcase_create("workflows");
    tcase_add_test(tc, shipped_flows_load);
    tcase_add_test(tc, dunning_soft_decline_then_paid_by_webhook);
    tcase_add_test(tc, dunning_card_problem_times_out_and_writes_off);
    tcase_add_test(tc, dunning_authentication_and_cancel);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
