/*
 * st_core_instance.c — the instance record: life cycle, status names, JSON,
 * and the decoding of START inputs.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc, jansson.
 *
 * Invariants: inst->n_vars equals the program's variable count; a started
 * instance (seq > 0) has a value of the declared type in every variable;
 * task_seq is set only while a DO state waits, wake only while WAITING.
 * The JSON forms here are what the store saves (instances.vars is the
 * "vars" object) and decoding checks every field against the program.
 */
#include "st_core_int.h"
#include "common/st_uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"running", "waiting",   "completed",
                                           "failed",  "cancelled", "suspended"};

const char *st_core_status_name(st_core_status_t s)
{
    return (unsigned)s < 6 ? status_names[s] : "unknown";
}

int st_core_status_parse(const char *name, st_core_status_t *out)
{
    for (int i = 0; name != NULL && i < 6; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (st_core_status_t)i;
            return 0;
        }
    return ST_INVAL;
}

bool st_core_status_final(st_core_status_t s)
{
    return s == ST_CORE_COMPLETED || s == ST_CORE_FAILED || s == ST_CORE_CANCELLED;
}

void st_core_vars_free(st_core_value_t *vars, size_t n)
{
    if (vars == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        st_core_value_release(&vars[i]);
    free(vars);
}

int st_core_vars_copy(st_core_value_t **dst, const st_core_value_t *src, size_t n, st_err_t *err)
{
    st_core_value_t *v = calloc(n + 1, sizeof *v);
    if (v == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory copying variables");
    for (size_t i = 0; i < n; i++)
        if (st_core_value_copy(&v[i], &src[i], err) < 0) {
            st_core_vars_free(v, n);
            return ST_NOMEM;
        }
    *dst = v;
    return 0;
}

int st_core_instance_new(const st_core_program_t *p, const uint8_t id[16], st_core_instance_t **out,
                         st_err_t *err)
{
    st_core_instance_t *inst = calloc(1, sizeof *inst);
    *out = NULL;
    if (inst == NULL || (inst->vars = calloc(p->pb->n_vars + 1, sizeof *inst->vars)) == NULL) {
        free(inst);
        return st_err_set(err, ST_NOMEM, "out of memory creating an instance");
    }
    memcpy(inst->id, id, 16);
    inst->n_vars = p->pb->n_vars;
    inst->state = p->pb->initial;
    inst->status = ST_CORE_RUNNING;
    inst->task_seq = ST_CORE_NO_SEQ;
    inst->wake_seq = ST_CORE_NO_SEQ;
    snprintf(inst->reason, sizeof inst->reason, "not started");
    *out = inst;
    return 0;
}

void st_core_instance_free(st_core_instance_t *inst)
{
    if (inst == NULL)
        return;
    st_core_vars_free(inst->vars, inst->n_vars);
    free(inst);
}

int st_core_instance_clone(const st_core_instance_t *src, st_core_instance_t **out, st_err_t *err)
{
    st_core_instance_t *inst = malloc(sizeof *inst);
    *out = NULL;
    if (inst == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory copying an instance");
    *inst = *src;
    if (st_core_vars_copy(&inst->vars, src->vars, src->n_vars, err) < 0) {
        free(inst);
        return ST_NOMEM;
    }
    *out = inst;
    return 0;
}

size_t st_core_instance_signals(const st_core_program_t *p, const st_core_instance_t *inst,
                                const char *const **names)
{
    if (inst->status != ST_CORE_WAITING) {
        *names = NULL;
        return 0;
    }
    return st_core_program_state_signals(p, inst->state, names);
}

void st_core_uuid_format(const uint8_t id[16], char buf[37])
{
    st_uuid_format(id, buf);
}

int st_core_uuid_parse(const char *s, uint8_t id[16])
{
    return st_uuid_parse(s, id) == 0 ? 0 : ST_INVAL;
}

json_t *st_core_vars_to_json(const st_core_program_t *p, const st_core_instance_t *inst)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj != NULL && i < inst->n_vars; i++) {
        if (inst->vars[i].type == ST_CORE_T_NONE)
            continue; /* not started yet */
        if (json_object_set_new(obj, p->pb->vars[i]->name, st_core_value_to_json(&inst->vars[i])) <
            0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

int st_core_vars_from_json(const st_core_program_t *p, const json_t *obj, st_core_instance_t *inst,
                           st_err_t *err)
{
    st_core_value_t *v;
    const char *key;
    json_t *val;
    char what[ST_CORE_NAME_MAX + 32];
    if (!json_is_object(obj))
        return st_err_set(err, ST_INVAL, "instance vars must be a JSON object");
    json_object_foreach((json_t *)obj, key, val)
    {
        if (st_core_program_var_index(p, key) < 0)
            return st_err_set(err, ST_INVAL, "instance vars: unknown variable \"%s\"", key);
    }
    v = calloc(p->pb->n_vars + 1, sizeof *v);
    if (v == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory decoding vars");
    for (size_t i = 0; i < p->pb->n_vars; i++) {
        const json_t *j = json_object_get(obj, p->pb->vars[i]->name);
        snprintf(what, sizeof what, "instance vars: %s", p->pb->vars[i]->name);
        if (j == NULL) {
            st_core_vars_free(v, p->pb->n_vars);
            return st_err_set(err, ST_INVAL, "%s is missing", what);
        }
        if (st_core_value_from_json((st_core_type_t)p->pb->vars[i]->type, j, what, &v[i], err) <
            0) {
            st_core_vars_free(v, p->pb->n_vars);
            return err ? err->code : ST_INVAL;
        }
    }
    st_core_vars_free(inst->vars, inst->n_vars);
    inst->vars = v;
    inst->n_vars = p->pb->n_vars;
    return 0;
}

json_t *st_core_instance_to_json(const st_core_program_t *p, const st_core_instance_t *inst)
{
    char id[37];
    st_core_uuid_format(inst->id, id);
    json_t *vars = st_core_vars_to_json(p, inst);
    if (vars == NULL)
        return NULL;
    return json_pack("{s:s,s:I,s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:b,s:s}", "id", id, "state",
                     (json_int_t)inst->state, "state_name", p->pb->states[inst->state]->name,
                     "status", st_core_status_name(inst->status), "seq", (json_int_t)inst->seq,
                     "vars", vars, "wake_at",
                     inst->has_wake ? json_integer(inst->wake_at_us) : json_null(), "wake_seq",
                     inst->wake_seq >= 0 ? json_integer(inst->wake_seq) : json_null(), "task_seq",
                     inst->task_seq >= 0 ? json_integer(inst->task_seq) : json_null(),
                     "cancel_requested", inst->cancel_requested, "reason", inst->reason);
}

/* An optional non-negative integer field: null → ST_CORE_NO_SEQ. */
static int opt_int(const json_t *j, const char *key, int64_t *out, st_err_t *err)
{
    const json_t *v = json_object_get(j, key);
    if (v == NULL || json_is_null(v)) {
        *out = ST_CORE_NO_SEQ;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return st_err_set(err, ST_INVAL, "instance: %s must be a non-negative integer or null",
                          key);
    *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Status, state kind and pending wake/task must agree (see st_core.h). */
static int consistent(const st_core_program_t *p, const st_core_instance_t *inst, st_err_t *err)
{
    st_core_kind_t k = st_core_program_state_kind(p, inst->state);
    const char *name = p->pb->states[inst->state]->name;
    if (inst->status == ST_CORE_RUNNING && (k != ST_CORE_KIND_DO || inst->task_seq < 0))
        return st_err_set(err, ST_INVAL,
                          "instance: running needs a do state with a task_seq (state %s is %s)",
                          name, st_core_kind_name(k));
    if (inst->status == ST_CORE_WAITING && (!(k == ST_CORE_KIND_SLEEP || k == ST_CORE_KIND_AWAIT) ||
                                            !inst->has_wake || inst->wake_seq < 0))
        return st_err_set(err, ST_INVAL,
                          "instance: waiting needs a sleep or await state with wake_at and "
                          "wake_seq (state %s is %s)",
                          name, st_core_kind_name(k));
    return 0;
}

static int instance_fields(const st_core_program_t *p, const json_t *j, st_core_instance_t *inst,
                           st_err_t *err)
{
    const json_t *state = json_object_get(j, "state"), *seq = json_object_get(j, "seq");
    const json_t *status = json_object_get(j, "status"), *reason = json_object_get(j, "reason");
    const json_t *cancel = json_object_get(j, "cancel_requested");
    int64_t wake = 0;
    if (st_core_uuid_parse(json_string_value(json_object_get(j, "id")), inst->id) < 0)
        return st_err_set(err, ST_INVAL, "instance: id must be a UUID string");
    if (!json_is_integer(state) || json_integer_value(state) < 0 ||
        (size_t)json_integer_value(state) >= p->pb->n_states)
        return st_err_set(err, ST_INVAL, "instance: state must be a state index of %s",
                          p->pb->name);
    inst->state = (uint32_t)json_integer_value(state);
    if (st_core_status_parse(json_string_value(status), &inst->status) < 0)
        return st_err_set(err, ST_INVAL, "instance: unknown status");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0)
        return st_err_set(err, ST_INVAL, "instance: seq must be a non-negative integer");
    inst->seq = (int64_t)json_integer_value(seq);
    if ((reason != NULL && !json_is_string(reason)) || (cancel != NULL && !json_is_boolean(cancel)))
        return st_err_set(err, ST_INVAL,
                          "instance: reason must be a string, cancel_requested a "
                          "boolean");
    snprintf(inst->reason, sizeof inst->reason, "%s", reason ? json_string_value(reason) : "");
    st_core_utf8_trim(inst->reason);
    inst->cancel_requested = json_is_true(cancel);
    if (opt_int(j, "wake_seq", &inst->wake_seq, err) < 0 ||
        opt_int(j, "task_seq", &inst->task_seq, err) < 0)
        return ST_INVAL;
    const json_t *w = json_object_get(j, "wake_at");
    if (w != NULL && !json_is_null(w) && !json_is_integer(w))
        return st_err_set(err, ST_INVAL, "instance: wake_at must be an integer or null");
    wake = json_is_integer(w) ? (int64_t)json_integer_value(w) : 0;
    inst->has_wake = json_is_integer(w);
    inst->wake_at_us = wake;
    return inst->seq > 0 ? consistent(p, inst, err) : 0;
}

int st_core_instance_from_json(const st_core_program_t *p, const json_t *j,
                               st_core_instance_t **out, st_err_t *err)
{
    st_core_instance_t *inst = NULL;
    uint8_t zero[16] = {0};
    int rc;
    *out = NULL;
    if (!json_is_object(j))
        return st_err_set(err, ST_INVAL, "instance must be a JSON object");
    if ((rc = st_core_instance_new(p, zero, &inst, err)) < 0)
        return rc;
    rc = instance_fields(p, j, inst, err);
    if (rc == 0 && inst->seq > 0)
        rc = st_core_vars_from_json(p, json_object_get(j, "vars"), inst, err);
    if (rc < 0) {
        st_core_instance_free(inst);
        return rc;
    }
    *out = inst;
    return 0;
}

int st_core_inputs_decode(const st_core_program_t *p, const json_t *in, st_core_value_t *vars,
                          st_err_t *err)
{
    const char *key;
    json_t *val;
    char what[ST_CORE_NAME_MAX + 16];
    if (in != NULL && !json_is_object(in))
        return st_err_set(err, ST_INVAL, "start inputs must be a JSON object");
    json_object_foreach((json_t *)in, key, val)
    {
        int i = st_core_program_var_index(p, key);
        if (i < 0 || (size_t)i >= p->n_inputs)
            return st_err_set(err, ST_INVAL, "start: %s is not an input of flow %s", key,
                              p->pb->name);
    }
    for (size_t i = 0; i < p->n_inputs; i++) {
        const Settle__V1__Variable *v = p->pb->vars[i];
        const json_t *j = in ? json_object_get(in, v->name) : NULL;
        snprintf(what, sizeof what, "input %s", v->name);
        if (j == NULL)
            return st_err_set(err, ST_INVAL, "start: missing input %s (%s)", v->name,
                              st_core_type_name((st_core_type_t)v->type));
        st_core_value_release(&vars[i]);
        int rc = st_core_value_from_json((st_core_type_t)v->type, j, what, &vars[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int st_core_inputs_check(const st_core_program_t *p, const json_t *inputs, st_err_t *err)
{
    st_core_value_t *vals = calloc(p->n_inputs + 1, sizeof *vals);
    if (vals == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory checking inputs");
    int rc = st_core_inputs_decode(p, inputs, vals, err);
    st_core_vars_free(vals, p->n_inputs);
    return rc;
}
