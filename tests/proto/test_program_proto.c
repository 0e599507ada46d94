/*
 * test_program_proto.c — the compiled Program survives protobuf encoding.
 *
 * Builds a small Program by hand (a DO state with decline-code arms and a
 * retry policy, a SLEEP with a signal arm, a FINAL and a FAIL), packs it,
 * unpacks it and checks every field; packing the decoded message again must
 * give the same bytes, since a Program's identity is the hash of its bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "settle/program.pb-c.h"
#include "st_test.h"

typedef struct fixture {
    Settle__V1__Program prog;
    Settle__V1__Variable var_invoice, var_attempt;
    Settle__V1__Variable *vars[2];
    Settle__V1__Expr init_attempt;
    Settle__V1__Value zero;
    Settle__V1__State charge, wait, done, stuck;
    Settle__V1__State *states[4];
    Settle__V1__Activity act;
    Settle__V1__RetryPolicy retry;
    Settle__V1__Arg arg;
    Settle__V1__Arg *args[1];
    Settle__V1__Expr arg_expr;
    Settle__V1__OutcomeArm ok_arm, lost_arm, declined_arm;
    Settle__V1__OutcomeArm *arms[3];
    char *lost_codes[2];
    Settle__V1__Sleep sleep;
    Settle__V1__Expr sleep_for;
    Settle__V1__Value three_days;
    Settle__V1__SignalArm sig;
    Settle__V1__SignalArm *sigs[1];
} fixture_t;

static void build(fixture_t *f)
{
    memset(f, 0, sizeof *f);
    settle__v1__program__init(&f->prog);
    f->prog.format_version = SETTLE__V1__FORMAT_VERSION__FORMAT_VERSION_1;
    f->prog.name = "dunning";
    f->prog.source_name = "dunning.flow";

    settle__v1__variable__init(&f->var_invoice);
    f->var_invoice.name = "invoice";
    f->var_invoice.type = SETTLE__V1__TYPE__TYPE_STRING;
    f->var_invoice.is_input = 1;
    settle__v1__variable__init(&f->var_attempt);
    f->var_attempt.name = "attempt";
    f->var_attempt.type = SETTLE__V1__TYPE__TYPE_INT;
    settle__v1__expr__init(&f->init_attempt);
    settle__v1__value__init(&f->zero);
    f->zero.v_case = SETTLE__V1__VALUE__V_INT_V;
    f->zero.int_v = 0;
    f->init_attempt.type = SETTLE__V1__TYPE__TYPE_INT;
    f->init_attempt.node_case = SETTLE__V1__EXPR__NODE_LITERAL;
    f->init_attempt.literal = &f->zero;
    f->var_attempt.init = &f->init_attempt;
    f->vars[0] = &f->var_invoice;
    f->vars[1] = &f->var_attempt;
    f->prog.n_vars = 2;
    f->prog.vars = f->vars;

    settle__v1__activity__init(&f->act);
    f->act.name = "stripe.pay_invoice";
    f->act.timeout_us = 30000000;
    settle__v1__retry_policy__init(&f->retry);
    f->retry.max_attempts = 5;
    f->retry.backoff_min_us = 2000000;
    f->retry.backoff_max_us = 300000000;
    f->act.retry = &f->retry;
    settle__v1__arg__init(&f->arg);
    settle__v1__expr__init(&f->arg_expr);
    f->arg.name = "invoice";
    f->arg_expr.type = SETTLE__V1__TYPE__TYPE_STRING;
    f->arg_expr.node_case = SETTLE__V1__EXPR__NODE_VAR;
    f->arg_expr.var = 0;
    f->arg.value = &f->arg_expr;
    f->args[0] = &f->arg;
    f->act.n_args = 1;
    f->act.args = f->args;

    settle__v1__outcome_arm__init(&f->ok_arm);
    f->ok_arm.outcome = "succeeded";
    f->ok_arm.target = 2;
    settle__v1__outcome_arm__init(&f->lost_arm);
    f->lost_arm.outcome = "declined";
    f->lost_codes[0] = "lost_card";
    f->lost_codes[1] = "stolen_card";
    f->lost_arm.n_codes = 2;
    f->lost_arm.codes = f->lost_codes;
    f->lost_arm.target = 3;
    settle__v1__outcome_arm__init(&f->declined_arm);
    f->declined_arm.outcome = "declined";
    f->declined_arm.target = 1;
    f->arms[0] = &f->ok_arm;
    f->arms[1] = &f->lost_arm;
    f->arms[2] = &f->declined_arm;
    f->act.n_arms = 3;
    f->act.arms = f->arms;

    settle__v1__state__init(&f->charge);
    f->charge.name = "charge";
    f->charge.kind = SETTLE__V1__STATE_KIND__STATE_KIND_DO;
    f->charge.activity = &f->act;

    settle__v1__state__init(&f->wait);
    f->wait.name = "wait";
    f->wait.kind = SETTLE__V1__STATE_KIND__STATE_KIND_SLEEP;
    settle__v1__sleep__init(&f->sleep);
    settle__v1__expr__init(&f->sleep_for);
    settle__v1__value__init(&f->three_days);
    f->three_days.v_case = SETTLE__V1__VALUE__V_DURATION_US;
    f->three_days.duration_us = 3LL * 86400 * 1000000;
    f->sleep_for.type = SETTLE__V1__TYPE__TYPE_DURATION;
    f->sleep_for.node_case = SETTLE__V1__EXPR__NODE_LITERAL;
    f->sleep_for.literal = &f->three_days;
    f->sleep.until_case = SETTLE__V1__SLEEP__UNTIL_DURATION;
    f->sleep.duration = &f->sleep_for;
    f->sleep.wake_target = 0;
    f->wait.sleep = &f->sleep;
    settle__v1__signal_arm__init(&f->sig);
    f->sig.signal = "payment_method_updated";
    f->sig.target = 0;
    f->sigs[0] = &f->sig;
    f->wait.n_signals = 1;
    f->wait.signals = f->sigs;

    settle__v1__state__init(&f->done);
    f->done.name = "done";
    f->done.kind = SETTLE__V1__STATE_KIND__STATE_KIND_FINAL;
    settle__v1__state__init(&f->stuck);
    f->stuck.name = "stuck";
    f->stuck.kind = SETTLE__V1__STATE_KIND__STATE_KIND_FAIL;
    f->stuck.fail_reason = "needs an operator";

    f->states[0] = &f->charge;
    f->states[1] = &f->wait;
    f->states[2] = &f->done;
    f->states[3] = &f->stuck;
    f->prog.n_states = 4;
    f->prog.states = f->states;
    f->prog.initial = 0;
}

static uint8_t *pack(const Settle__V1__Program *p, size_t *len)
{
    *len = settle__v1__program__get_packed_size(p);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(settle__v1__program__pack(p, buf), *len);
    return buf;
}

START_TEST(program_round_trips)
{
    fixture_t f;
    size_t len = 0;
    build(&f);
    uint8_t *bytes = pack(&f.prog, &len);

    Settle__V1__Program *d = settle__v1__program__unpack(NULL, len, bytes);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->name, "dunning");
    ck_assert_int_eq(d->format_version, SETTLE__V1__FORMAT_VERSION__FORMAT_VERSION_1);
    ck_assert_uint_eq(d->n_vars, 2);
    ck_assert_int_eq(d->vars[0]->is_input, 1);
    ck_assert_int_eq(d->vars[1]->init->literal->int_v, 0);
    ck_assert_uint_eq(d->n_states, 4);

    const Settle__V1__Activity *a = d->states[0]->activity;
    ck_assert_str_eq(a->name, "stripe.pay_invoice");
    ck_assert_int_eq(a->timeout_us, 30000000);
    ck_assert_uint_eq(a->retry->max_attempts, 5);
    ck_assert_int_eq(a->retry->backoff_max_us, 300000000);
    ck_assert_uint_eq(a->n_args, 1);
    ck_assert_int_eq(a->args[0]->value->node_case, SETTLE__V1__EXPR__NODE_VAR);
    ck_assert_uint_eq(a->n_arms, 3);
    ck_assert_uint_eq(a->arms[1]->n_codes, 2);
    ck_assert_str_eq(a->arms[1]->codes[1], "stolen_card");
    ck_assert_uint_eq(a->arms[2]->n_codes, 0);

    const Settle__V1__State *w = d->states[1];
    ck_assert_int_eq(w->kind, SETTLE__V1__STATE_KIND__STATE_KIND_SLEEP);
    ck_assert_int_eq(w->sleep->until_case, SETTLE__V1__SLEEP__UNTIL_DURATION);
    ck_assert_int_eq(w->sleep->duration->literal->duration_us, 3LL * 86400 * 1000000);
    ck_assert_str_eq(w->signals[0]->signal, "payment_method_updated");
    ck_assert_str_eq(d->states[3]->fail_reason, "needs an operator");

    /* Re-encoding the decoded Program gives identical bytes. */
    size_t len2 = 0;
    uint8_t *again = pack(d, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert_int_eq(memcmp(bytes, again, len), 0);

    settle__v1__program__free_unpacked(d, NULL);
    free(bytes);
    free(again);
}
END_TEST

START_TEST(truncated_bytes_are_rejected)
{
    fixture_t f;
    size_t len = 0;
    build(&f);
    uint8_t *bytes = pack(&f.prog, &len);
    /* Every strict prefix that cuts a field in half must fail to decode. */
    int rejected = 0;
    for (size_t cut = 1; cut < len; cut++) {
        Settle__V1__Program *d = settle__v1__program__unpack(NULL, cut, bytes);
        if (d == NULL)
            rejected++;
        else
            settle__v1__program__free_unpacked(d, NULL);
    }
    ck_assert_int_gt(rejected, (int)len / 2);
    free(bytes);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("program_proto");
    TCase *tc = tcase_create("proto");
    tcase_add_test(tc, program_round_trips);
    tcase_add_test(tc, truncated_bytes_are_rejected);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
