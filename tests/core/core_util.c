/*
 * core_util.c — event constructors and step assertions (see core_util.h).
 */
#include "core_util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

const uint8_t test_uuid[16] = {0x01, 0x8f, 0x3c, 0x2a, 0x7b, 0x10, 0x7c, 0x00,
                               0x80, 0x00, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};

st_core_event_t ev_start(int64_t now, const json_t *inputs)
{
    return (st_core_event_t){.kind = ST_CORE_EV_START, .now_us = now, .inputs = inputs};
}

st_core_event_t ev_result(int64_t now, int64_t task, const char *outcome, const char *code,
                          const json_t *result)
{
    return (st_core_event_t){.kind = ST_CORE_EV_ACTIVITY_RESULT,
                             .now_us = now,
                             .task_seq = task,
                             .outcome = outcome,
                             .code = code,
                             .result = result};
}

st_core_event_t ev_timer(int64_t now, int64_t wake_seq)
{
    return (st_core_event_t){.kind = ST_CORE_EV_TIMER_FIRED, .now_us = now, .wake_seq = wake_seq};
}

st_core_event_t ev_signal(int64_t now, const char *name, const json_t *payload)
{
    return (st_core_event_t){
        .kind = ST_CORE_EV_SIGNAL, .now_us = now, .signal = name, .payload = payload};
}

st_core_event_t ev_cancel(int64_t now)
{
    return (st_core_event_t){.kind = ST_CORE_EV_CANCEL, .now_us = now};
}

st_core_instance_t *inst_new(const st_core_program_t *p)
{
    st_core_instance_t *inst = NULL;
    st_err_t err;
    ck_assert_int_eq(st_core_instance_new(p, test_uuid, &inst, &err), 0);
    return inst;
}

void step_ok(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
             st_core_output_t *out)
{
    st_err_t err;
    st_err_clear(&err);
    int rc = st_core_step(p, inst, ev, out, &err);
    ck_assert_msg(rc == 0, "step %s failed: %s", st_core_event_name(ev->kind), err.msg);
}

void step_ignored(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
                  const char *note_part)
{
    st_core_output_t out;
    char *before = inst_text(p, inst);
    step_ok(p, inst, ev, &out);
    char *after = inst_text(p, inst);
    ck_assert(!out.consumed);
    ck_assert_uint_eq(out.n_cmds, 0);
    ck_assert_uint_eq(out.n_history, 0);
    ck_assert_msg(strstr(out.note, note_part) != NULL, "note \"%s\" lacks \"%s\"", out.note,
                  note_part);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    st_core_output_release(&out);
}

char *inst_text(const st_core_program_t *p, const st_core_instance_t *inst)
{
    json_t *j = st_core_instance_to_json(p, inst);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

char *out_text(const st_core_program_t *p, const st_core_output_t *out)
{
    json_t *j = st_core_output_to_json(p, out);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

json_t *js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, e.text);
    return j;
}

const st_core_value_t *var_of(const st_core_program_t *p, const st_core_instance_t *inst,
                              const char *name)
{
    int i = st_core_program_var_index(p, name);
    ck_assert_msg(i >= 0, "no variable %s", name);
    return &inst->vars[i];
}

const char *state_of(const st_core_program_t *p, const st_core_instance_t *inst)
{
    return st_core_program_state_name(p, inst->state);
}
