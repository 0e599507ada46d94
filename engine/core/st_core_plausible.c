/*
 * st_core_plausible.c — apply the outside-input limits of common/st_input.h
 * to the inputs of a Program, by their declared types.
 *
 * Layer: core, pure. Depends on common (st_input) and jansson.
 * Invariant: only money, duration and time inputs are judged; other types
 * have no plausibility limit beyond what the core's type check enforces.
 */
#include "common/st_input.h"
#include "core/st_core.h"

/* One input the core has already type-checked. */
static int plausible_value(st_core_type_t t, const char *name, const json_t *v, st_err_t *err)
{
    if (t == ST_CORE_T_MONEY)
        return st_input_money_check(name, json_integer_value(json_object_get(v, "minor")),
                                    json_string_value(json_object_get(v, "currency")), err);
    if (t == ST_CORE_T_DURATION)
        return st_input_duration_check(name, json_integer_value(v), err);
    if (t == ST_CORE_T_TIME) { /* integer or RFC 3339 text, decoded as the core does */
        st_core_value_t tv;
        int rc = st_core_value_from_json(t, v, name, &tv, err);
        return rc != 0 ? rc : st_input_time_check(name, tv.i, err);
    }
    return 0;
}

int st_core_inputs_plausible(const st_core_program_t *prog, const json_t *inputs, st_err_t *err)
{
    size_t n = st_core_program_input_count(prog);
    for (size_t i = 0; i < n; i++) {
        const char *name = st_core_program_var_name(prog, (uint32_t)i);
        const json_t *v = json_object_get(inputs, name);
        if (v == NULL)
            continue; /* the core has judged presence already */
        int rc = plausible_value(st_core_program_var_type(prog, (uint32_t)i), name, v, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}
