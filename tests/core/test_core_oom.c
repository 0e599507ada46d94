/*
 * test_core_oom.c — every allocation of a step or a load fails in turn.
 *
 * Linked with -Wl,--wrap for malloc, calloc, realloc and strdup, and with
 * jansson routed through the same counter, so the Nth allocation made by
 * engine/core (and by jansson on its behalf) can be made to fail. For every
 * N the call must either succeed with exactly the output of an undisturbed
 * run, or return ST_NOMEM leaving the instance byte-identical and the
 * output empty. LeakSanitizer (the ASan build) checks nothing leaks.
 */
#include "core_util.h"
#include "st_test.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP(x) SETTLE__V1__OP__OP_##x

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long countdown = -1; /* < 0: never fail; 0: fail this allocation */
static long failures;

static int fail_now(void)
{
    if (countdown < 0)
        return 0;
    if (countdown-- == 0) {
        failures++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}

static void *json_alloc(size_t n)
{
    return __wrap_malloc(n);
}

static st_core_program_t *program(void)
{
    cb_t *b = cb_new("oom");
    cb_input(b, "customer", ST_CORE_T_STRING);
    cb_input(b, "amount", ST_CORE_T_MONEY);
    cb_var(b, "n", ST_CORE_T_INT, cb_int(0));
    cb_var(b, "pi", ST_CORE_T_STRING, cb_str("none"));
    cb_var(b, "note", ST_CORE_T_STRING, NULL);
    cb_state_t *c = cb_state(b, "charge", ST_CORE_KIND_DO);
    cb_assign(b, c, "n", cb_bin(OP(ADD), ST_CORE_T_INT, cb_ref(b, "n"), cb_int(1)));
    cb_assign(b, c, "note", cb_ref(b, "customer"));
    cb_act_t *a = cb_do(b, c, "stripe.pay", SEC, 2);
    cb_arg(a, "to", cb_ref(b, "customer"));
    cb_arg(a, "amount", cb_ref(b, "amount"));
    cb_arg(a, "n", cb_ref(b, "n"));
    cb_arm_save(b, cb_arm(b, a, "succeeded", NULL, "nap"), "id", "pi");
    cb_arm(b, a, "declined", "lost_card", "ask");
    cb_arm(b, a, "declined", NULL, "check");
    cb_state_t *nap = cb_state(b, "nap", ST_CORE_KIND_SLEEP);
    cb_sleep_for(b, nap, cb_dur(DAY), "done");
    cb_sig_save(b, cb_on_signal(b, nap, "poke", "charge"), "note", "note");
    cb_await(b, cb_state(b, "ask", ST_CORE_KIND_AWAIT), "card,gone", DAY, "done", "check");
    cb_state_t *chk = cb_state(b, "check", ST_CORE_KIND_DECIDE);
    cb_guard(b, chk, cb_bin(OP(GT), ST_CORE_T_BOOL, cb_ref(b, "n"), cb_int(1)), "done");
    cb_assign(b, chk, "n",
              cb_bin(OP(DIV), ST_CORE_T_INT, cb_int(1),
                     cb_bin(OP(SUB), ST_CORE_T_INT, cb_ref(b, "n"), cb_int(2))));
    cb_else(b, chk, "charge");
    cb_state(b, "done", ST_CORE_KIND_FINAL);
    cb_cancel(b, "done");
    st_core_program_t *p = cb_load_ok(b);
    cb_free(b);
    return p;
}

/*
 * Apply ev to a clone of inst with the Nth allocation failing, for every N,
 * and check the all-or-nothing rule. Returns the undisturbed result state.
 */
static st_core_instance_t *every_failure(const st_core_program_t *p, const st_core_instance_t *inst,
                                         const st_core_event_t *ev)
{
    st_core_instance_t *ref = NULL;
    st_core_output_t out;
    st_err_t err;
    ck_assert_int_eq(st_core_instance_clone(inst, &ref, &err), 0);
    step_ok(p, ref, ev, &out);
    char *want_out = out_text(p, &out), *want_inst = inst_text(p, ref);
    char *before = inst_text(p, inst);
    st_core_output_release(&out);
    long n = 0;
    for (;; n++) {
        st_core_instance_t *w = NULL;
        ck_assert_int_eq(st_core_instance_clone(inst, &w, &err), 0);
        failures = 0;
        countdown = n;
        int rc = st_core_step(p, w, ev, &out, &err);
        countdown = -1;
        char *got_inst = inst_text(p, w);
        if (rc == 0) {
            char *got_out = out_text(p, &out);
            ck_assert_str_eq(got_out, want_out);
            ck_assert_str_eq(got_inst, want_inst);
            free(got_out);
        } else {
            ck_assert_msg(rc == ST_NOMEM, "allocation %ld: rc %d (%s)", n, rc, err.msg);
            ck_assert_str_eq(got_inst, before);
            ck_assert_uint_eq(out.n_cmds + out.n_history, 0);
        }
        free(got_inst);
        st_core_output_release(&out);
        st_core_instance_free(w);
        if (failures == 0)
            break; /* the step needed fewer than n allocations: all covered */
    }
    ck_assert_int_gt(n, 1);
    fprintf(stderr, "core_oom: %s: failed each of %ld allocations in turn\n",
            st_core_event_name(ev->kind), n);
    free(want_out);
    free(want_inst);
    free(before);
    return ref;
}

START_TEST(steps_are_all_or_nothing_under_oom)
{
    json_set_alloc_funcs(json_alloc, free);
    st_core_program_t *p = program();
    st_core_instance_t *inst = inst_new(p), *next;
    json_t *in = js("{\"customer\":\"cus_1\",\"amount\":{\"minor\":5,\"currency\":\"eur\"}}");
    json_t *res = js("{\"id\":\"pi_1\"}"), *pl = js("{\"note\":\"hello\"}");
    st_core_event_t evs[] = {
        ev_start(T0, in),                                /* assigns, args */
        ev_result(T0, 1, "succeeded", NULL, res),        /* binding, sleep */
        ev_signal(T0, "poke", pl),                       /* signal binding */
        ev_result(T0, 3, "declined", "lost_card", NULL), /* await */
        ev_signal(T0, "gone", NULL),                     /* decide: 1/(n-2) fails */
    };
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        next = every_failure(p, inst, &evs[i]);
        st_core_instance_free(inst);
        inst = next;
    }
    ck_assert_int_eq(inst->status, ST_CORE_FAILED);
    ck_assert_ptr_nonnull(strstr(inst->reason, "division by zero"));
    json_decref(in);
    json_decref(res);
    json_decref(pl);
    st_core_instance_free(inst);
    st_core_program_free(p);
}
END_TEST

START_TEST(load_and_new_fail_cleanly_under_oom)
{
    json_set_alloc_funcs(json_alloc, free);
    cb_t *b = cb_new("oom");
    cb_input(b, "x", ST_CORE_T_INT);
    cb_state(b, "a", ST_CORE_KIND_FINAL);
    cb_state_t *s = cb_state(b, "s", ST_CORE_KIND_SLEEP);
    cb_sleep_for(b, s, cb_dur(1), "a");
    cb_on_signal(b, s, "x", "a");
    size_t len;
    uint8_t *bytes = cb_pack(b, &len);
    cb_free(b);
    for (long n = 0;; n++) {
        st_core_program_t *p = NULL;
        st_core_instance_t *inst = NULL;
        st_err_t err;
        failures = 0;
        countdown = n;
        int rc = st_core_program_load(bytes, len, &p, &err);
        if (rc == 0)
            rc = st_core_instance_new(p, test_uuid, &inst, &err);
        countdown = -1;
        ck_assert_msg(rc == 0 || rc == ST_NOMEM, "allocation %ld: %d %s", n, rc, err.msg);
        st_core_instance_free(inst);
        st_core_program_free(p);
        if (failures == 0)
            break;
    }
    free(bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core_oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, steps_are_all_or_nothing_under_oom);
    tcase_add_test(tc, load_and_new_fail_cleanly_under_oom);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
