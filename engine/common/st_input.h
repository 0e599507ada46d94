/*
 * st_input.h — the limits every outside input of settle must respect,
 * shared by the flow API, `settled start`/`settled clock` and settlectl, so
 * that the three refuse the same things with the same words.
 *
 * Layer: common. Depends on libc only; no I/O, no threads, no global state.
 * The walk over a Program's inputs that applies the value checks below is
 * st_core_inputs_plausible (engine/core), which knows the input types.
 *
 * Invariants: a check returns 0 or ST_INVAL with a message saying what is
 * wrong and a hint saying what to send; messages never quote more than a
 * short, UTF-8-clean prefix of the offending value. Text that reaches the
 * database is valid UTF-8 without NUL (PostgreSQL refuses anything else,
 * which would otherwise surface as a database error).
 */
#ifndef ST_INPUT_H
#define ST_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"

#define ST_INPUT_KEY_MAX   255                        /* business key bytes */
#define ST_INPUT_NAME_MAX  200                        /* flow and signal name bytes */
#define ST_INPUT_MINOR_MAX 999999999999LL             /* money: minor units */
#define ST_INPUT_SPAN_MAX  (3650LL * 86400 * 1000000) /* 10 years in us */
#define ST_INPUT_TIME_MAX  253402300799999999LL       /* 9999-12-31T23:59:59.999999Z */

/* 1 when s[0..n) is well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) without NUL. */
int st_input_utf8_ok(const char *s, size_t n);
/* Make a NUL-terminated string valid UTF-8 in place: every byte that does
 * not start a well-formed sequence becomes '?'. */
void st_input_utf8_scrub(char *s);
/* A business key (idempotency key): 1..255 bytes of UTF-8. */
int st_input_key_check(const char *key, st_err_t *err);
/* A signal name a client may send: 1..200 bytes of UTF-8 without spaces or
 * control characters, not in the engine's reserved settle.* space. */
int st_input_signal_check(const char *name, st_err_t *err);
/* 1 when code is an ISO 4217 currency code in lower case ("eur"). */
int st_input_currency_known(const char *code);
/* One input value the core has type-checked, judged for plausibility; `name`
 * is the input's name for the message. Money: 0 to ST_INPUT_MINOR_MAX minor
 * units in a known currency. Durations: 0 to 10 years. Times: 1970 to the
 * year 9999. Each returns 0 or ST_INVAL. */
int st_input_money_check(const char *name, int64_t minor, const char *currency, st_err_t *err);
int st_input_duration_check(const char *name, int64_t us, st_err_t *err);
int st_input_time_check(const char *name, int64_t us, st_err_t *err);
/* How far a virtual clock may be moved at once: 0 to 10 years. */
int st_input_advance_check(int64_t us, st_err_t *err);

#endif
