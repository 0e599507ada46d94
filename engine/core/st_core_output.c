/*
 * st_core_output.c — the step's output: commands, history records, names.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc, jansson.
 *
 * Invariants: the output owns every json_t it holds and its history array;
 * st_core_output_release frees them and leaves an initialised output, so a
 * released output can be passed to the next step.
 */
#include "st_core_int.h"

#include <stdlib.h>
#include <string.h>

const char *st_core_event_name(st_core_event_kind_t k)
{
    static const char *const names[] = {"start", "activity_result", "timer_fired", "signal",
                                        "cancel"};
    return (unsigned)k < 5 ? names[k] : "unknown";
}

const char *st_core_cmd_name(st_core_cmd_kind_t k)
{
    static const char *const names[] = {"run_activity", "set_wake", "complete", "fail",
                                        "cancelled"};
    return (unsigned)k < 5 ? names[k] : "unknown";
}

void st_core_output_init(st_core_output_t *out)
{
    memset(out, 0, sizeof *out);
}

void st_core_output_release(st_core_output_t *out)
{
    if (out == NULL)
        return;
    for (size_t i = 0; i < out->n_cmds; i++)
        json_decref(out->cmds[i].args);
    for (size_t i = 0; i < out->n_history; i++)
        json_decref(out->history[i].detail);
    free(out->history);
    st_core_output_init(out);
}

int st_core_output_history(st_core_output_t *out, int64_t seq, int32_t from, int32_t to,
                           const char *kind, json_t *detail, st_err_t *err)
{
    if (detail == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory building a history record");
    if (out->n_history == out->cap_history) {
        size_t cap = out->cap_history ? out->cap_history * 2 : 4;
        st_core_history_t *h = realloc(out->history, cap * sizeof *h);
        if (h == NULL) {
            json_decref(detail);
            return st_err_set(err, ST_NOMEM, "out of memory building a history record");
        }
        out->history = h;
        out->cap_history = cap;
    }
    out->history[out->n_history++] =
        (st_core_history_t){.seq = seq, .from = from, .to = to, .kind = kind, .detail = detail};
    return 0;
}

st_core_cmd_t *st_core_output_cmd(st_core_output_t *out, st_core_cmd_kind_t kind)
{
    if (out->n_cmds == ST_CORE_MAX_CMDS)
        return NULL;
    st_core_cmd_t *c = &out->cmds[out->n_cmds++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

static json_t *cmd_json(const st_core_cmd_t *c)
{
    json_t *j = json_pack("{s:s}", "kind", st_core_cmd_name(c->kind));
    if (j == NULL)
        return NULL;
    switch (c->kind) {
    case ST_CORE_CMD_RUN_ACTIVITY:
        json_object_set_new(j, "activity", json_string(c->activity));
        json_object_set(j, "args", c->args);
        json_object_set_new(j, "timeout_us", json_integer(c->timeout_us));
        json_object_set_new(j, "max_attempts", json_integer(c->max_attempts));
        json_object_set_new(j, "backoff_min_us", json_integer(c->backoff_min_us));
        json_object_set_new(j, "backoff_max_us", json_integer(c->backoff_max_us));
        json_object_set_new(j, "task_seq", json_integer(c->task_seq));
        json_object_set_new(j, "idempotency_key", json_string(c->idem_key));
        break;
    case ST_CORE_CMD_SET_WAKE:
        json_object_set_new(j, "wake_at", json_integer(c->wake_at_us));
        json_object_set_new(j, "wake_seq", json_integer(c->wake_seq));
        break;
    case ST_CORE_CMD_FAIL:
        json_object_set_new(j, "reason", json_string(c->reason));
        break;
    default:
        break;
    }
    return j;
}

static json_t *state_json(const st_core_program_t *p, int32_t s)
{
    return s < 0 ? json_null() : json_string(st_core_program_state_name(p, (uint32_t)s));
}

json_t *st_core_output_to_json(const st_core_program_t *p, const st_core_output_t *out)
{
    json_t *cmds = json_array(), *hist = json_array();
    json_t *j = json_pack("{s:b,s:s,s:o,s:o}", "consumed", out->consumed, "note", out->note,
                          "commands", cmds, "history", hist);
    if (j == NULL)
        return NULL;
    for (size_t i = 0; i < out->n_cmds; i++)
        json_array_append_new(cmds, cmd_json(&out->cmds[i]));
    for (size_t i = 0; i < out->n_history; i++) {
        const st_core_history_t *h = &out->history[i];
        json_array_append_new(hist,
                              json_pack("{s:I,s:o,s:o,s:s,s:O}", "seq", (json_int_t)h->seq, "from",
                                        state_json(p, h->from), "to", state_json(p, h->to), "kind",
                                        h->kind, "detail", h->detail));
    }
    return j;
}
