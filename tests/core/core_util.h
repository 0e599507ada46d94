/*
 * core_util.h — event constructors and step assertions for the core tests.
 *
 * Test support only: events borrow their JSON (the caller keeps ownership);
 * failures abort the running test through Check.
 */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H

#include "core_build.h"

#define SEC INT64_C(1000000)
#define DAY (INT64_C(86400) * SEC)
#define T0  INT64_C(1790000000000000) /* a fixed "now" in 2026 */

extern const uint8_t test_uuid[16];

st_core_event_t ev_start(int64_t now, const json_t *inputs);
st_core_event_t ev_result(int64_t now, int64_t task, const char *outcome, const char *code,
                          const json_t *result);
st_core_event_t ev_timer(int64_t now, int64_t wake_seq);
st_core_event_t ev_signal(int64_t now, const char *name, const json_t *payload);
st_core_event_t ev_cancel(int64_t now);

/* A new instance with test_uuid. */
st_core_instance_t *inst_new(const st_core_program_t *p);
/* Step that must return 0; out is left filled for inspection. */
void step_ok(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
             st_core_output_t *out);
/* Step that must return 0 and not consume; checks the instance is unchanged. */
void step_ignored(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
                  const char *note_part);
/* Compact JSON text of the instance / output (caller frees). */
char *inst_text(const st_core_program_t *p, const st_core_instance_t *inst);
char *out_text(const st_core_program_t *p, const st_core_output_t *out);
/* Parse JSON text or fail the test (new reference). */
json_t *js(const char *text);
/* Value of a variable by name. */
const st_core_value_t *var_of(const st_core_program_t *p, const st_core_instance_t *inst,
                              const char *name);
/* Name of the instance's current state. */
const char *state_of(const st_core_program_t *p, const st_core_instance_t *inst);

#endif
