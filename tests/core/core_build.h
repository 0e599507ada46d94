/*
 * core_build.h — build settle.v1.Program messages in C for the core tests.
 *
 * Test support only. The tests cannot wait for settlec, so they assemble
 * Programs here, pack them to bytes and load them through the engine's
 * validator exactly like real ones. Every node is heap allocated and owned
 * by the tree; cb_free releases the whole tree. State targets are given by
 * name and resolved when packing (an unknown name becomes index 9999, which
 * is how tests make out-of-range targets). Failures abort the test (ck_assert).
 */
#ifndef CORE_BUILD_H
#define CORE_BUILD_H

#include <stdint.h>

#include "core/st_core.h"
#include <settle/program.pb-c.h>

typedef Settle__V1__Expr cb_expr_t;
typedef Settle__V1__State cb_state_t;
typedef Settle__V1__Activity cb_act_t;
typedef Settle__V1__OutcomeArm cb_arm_t;
typedef Settle__V1__SignalArm cb_sig_t;

typedef struct cb cb_t;

cb_t *cb_new(const char *flow);
void cb_free(cb_t *b);
Settle__V1__Program *cb_pb(cb_t *b); /* raw access, to break invariants on purpose */

uint32_t cb_input(cb_t *b, const char *name, st_core_type_t t);
uint32_t cb_var(cb_t *b, const char *name, st_core_type_t t, cb_expr_t *init);

/* Expressions (attach each one exactly once). */
cb_expr_t *cb_int(int64_t v);
cb_expr_t *cb_str(const char *s);
cb_expr_t *cb_bool(int v);
cb_expr_t *cb_dur(int64_t us);
cb_expr_t *cb_time(int64_t us);
cb_expr_t *cb_money(int64_t minor, const char *currency);
cb_expr_t *cb_ref(cb_t *b, const char *var); /* typed as the variable */
cb_expr_t *cb_bin(Settle__V1__Op op, st_core_type_t t, cb_expr_t *l, cb_expr_t *r);
cb_expr_t *cb_un(Settle__V1__Op op, st_core_type_t t, cb_expr_t *x);
cb_expr_t *cb_call(const char *fn, st_core_type_t t, cb_expr_t *a0, cb_expr_t *a1);

/* States and their bodies. The first state added is the initial one. */
cb_state_t *cb_state(cb_t *b, const char *name, st_core_kind_t kind);
void cb_assign(cb_t *b, cb_state_t *st, const char *var, cb_expr_t *e);
void cb_guard(cb_t *b, cb_state_t *st, cb_expr_t *cond, const char *target);
void cb_else(cb_t *b, cb_state_t *st, const char *target);
void cb_fail_reason(cb_state_t *st, const char *reason);
cb_act_t *cb_do(cb_t *b, cb_state_t *st, const char *activity, int64_t timeout_us,
                uint32_t attempts);
void cb_arg(cb_act_t *a, const char *name, cb_expr_t *e);
/* codes: comma-separated decline codes, or NULL for the catch-all. */
cb_arm_t *cb_arm(cb_t *b, cb_act_t *a, const char *outcome, const char *codes, const char *target);
void cb_arm_save(cb_t *b, cb_arm_t *arm, const char *field, const char *var);
void cb_sleep_for(cb_t *b, cb_state_t *st, cb_expr_t *d, const char *wake);
void cb_sleep_until(cb_t *b, cb_state_t *st, cb_expr_t *at, int64_t max_us, const char *wake);
void cb_sleep_smart(cb_t *b, cb_state_t *st, int64_t within_us, int64_t gap_us, const char *wake);
/* signals: comma-separated; each gets an arm to `target` unless target is NULL. */
void cb_await(cb_t *b, cb_state_t *st, const char *signals, int64_t timeout_us,
              const char *timeout_target, const char *target);
cb_sig_t *cb_on_signal(cb_t *b, cb_state_t *st, const char *signal, const char *target);
void cb_sig_save(cb_t *b, cb_sig_t *arm, const char *field, const char *var);

void cb_initial(cb_t *b, const char *state);
void cb_cancel(cb_t *b, const char *state);

/* Resolve targets and serialize; caller frees the bytes. */
uint8_t *cb_pack(cb_t *b, size_t *len);
/* Pack and load through st_core_program_load; returns its code. */
int cb_load(cb_t *b, st_core_program_t **out, st_err_t *err);
/* cb_load that must succeed (fails the test with the error otherwise). */
st_core_program_t *cb_load_ok(cb_t *b);

#endif
