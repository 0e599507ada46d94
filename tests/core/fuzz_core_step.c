/*
 * fuzz_core_step.c — libFuzzer target: arbitrary bytes as a Program.
 *
 * Bytes that load must start and run a few events (chosen by the input's
 * tail) without a crash, leak or sanitizer report, and keep the seq rule.
 * Built only with -DSETTLE_FUZZ=ON and clang; how to seed and run it is in
 * tests/core/CMakeLists.txt.
 */
#include "core/st_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static st_core_event_t pick(const st_core_program_t *p, const st_core_instance_t *inst, uint8_t b,
                            const json_t *res, int64_t now)
{
    static const char *outcomes[] = {"succeeded", "declined", "failed", "ok"};
    const char *const *names;
    size_t n = st_core_instance_signals(p, inst, &names);
    st_core_event_t ev = {.now_us = now};
    switch (b % 5) {
    case 0:
        ev.kind = ST_CORE_EV_CANCEL;
        break;
    case 1:
        ev.kind = ST_CORE_EV_SIGNAL;
        ev.signal = n ? names[(b >> 3) % n] : "x";
        ev.payload = res;
        break;
    case 2:
        ev.kind = ST_CORE_EV_TIMER_FIRED;
        ev.wake_seq = inst->wake_seq;
        ev.now_us = inst->has_wake ? inst->wake_at_us : now;
        break;
    default:
        ev.kind = ST_CORE_EV_ACTIVITY_RESULT;
        ev.task_seq = inst->task_seq;
        ev.outcome = outcomes[(b >> 3) % 4];
        ev.code = (b & 0x80) ? "lost_card" : NULL;
        ev.result = res;
        break;
    }
    return ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t id[16] = {1, 2, 3};
    st_core_program_t *p = NULL;
    st_core_instance_t *inst = NULL;
    st_core_output_t out;
    st_err_t err;
    if (st_core_program_load(data, size, &p, &err) != 0)
        return 0;
    if (st_core_instance_new(p, id, &inst, &err) != 0)
        abort();
    json_t *in = inputs_for(p),
           *res = json_pack("{s:s,s:{s:s}}", "id", "x", "payment_intent", "id", "pi");
    st_core_event_t ev = {
        .kind = ST_CORE_EV_START, .now_us = INT64_C(1790000000000000), .inputs = in};
    if (st_core_step(p, inst, &ev, &out, &err) != 0 || inst->seq != 1)
        abort();
    st_core_output_release(&out);
    for (size_t i = 0; i < 16 && i < size; i++) {
        int64_t seq = inst->seq;
        ev = pick(p, inst, data[size - 1 - i], res, INT64_C(1790000000000000) + (int64_t)i);
        if (st_core_step(p, inst, &ev, &out, &err) != 0)
            abort();
        if (inst->seq != seq + (out.consumed ? 1 : 0))
            abort();
        json_t *j = st_core_output_to_json(p, &out);
        json_t *k = st_core_instance_to_json(p, inst);
        if (j == NULL || k == NULL)
            abort(); /* every string the core emits must be valid JSON text */
        json_decref(j);
        json_decref(k);
        st_core_output_release(&out);
    }
    json_decref(in);
    json_decref(res);
    st_core_instance_free(inst);
    st_core_program_free(p);
    return 0;
}
