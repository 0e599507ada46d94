/*
 * st_core.h — the pure engine core: (program, instance, event) → (instance′, commands).
 *
 * Layer: core, pure. No I/O, no clock reads (the event carries `now`), no
 * globals, no threads. Allowed dependencies: libc, jansson, protobuf-c and
 * OpenSSL's SHA-256 (program hash) only.
 *
 * Ownership, once for the whole API: every object made by a `_new`, `_load`
 * or `_from_json` function is owned by the caller and freed with the
 * matching `_free` (which accepts NULL); every struct filled by a function
 * (st_core_output_t, st_core_value_t held by an instance) owns what it points
 * to and is emptied with its `_release`. Pointers *into* a program (names,
 * activity names) are borrowed and live as long as the program. json_t
 * arguments are borrowed (never stolen); json_t results are new references.
 * The step allocates only what it hands back: variable strings owned by the
 * instance, and command args / history details owned by the output.
 *
 * Invariants kept by st_core_step:
 *   * a consumed event bumps inst->seq by exactly 1; an event that is not
 *     consumed (stale, irrelevant, not awaited) leaves the instance untouched;
 *   * a negative return leaves the instance untouched as well;
 *   * the same (program, instance, event) always gives byte-identical output;
 *   * after a step, RUNNING implies a DO state with task_seq == seq, and
 *     WAITING implies a SLEEP/AWAIT state with wake_seq == seq: the store can
 *     rebuild both from the row's seq. The idempotency key of an activity is
 *     settle_<uuid>_<task_seq>.
 *
 * Which events are consumed:
 *   START           only on a fresh instance (seq 0); otherwise ST_STATE.
 *   ACTIVITY_RESULT when RUNNING in a DO state and task_seq matches.
 *   TIMER_FIRED     when WAITING, wake_seq matches and now >= wake_at (an
 *                   early or stale timer is not consumed).
 *   SIGNAL          when WAITING in a state with an arm for that name; else
 *                   not consumed, so the store keeps the signal for later.
 *   CANCEL          unless the instance ended or its cancel path already runs.
 * A SUSPENDED instance consumes only CANCEL; an ended one (completed, failed,
 * cancelled) consumes nothing.
 *
 * Built-in functions in expressions: now() → time (the event's now_us),
 * min(a, b) / max(a, b) on int, duration, time or money, abs(x) on int,
 * duration or money, minor(m: money) → int.
 */
#ifndef ST_CORE_H
#define ST_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/st_err.h"

/* ---------------------------------------------------------------- types */

/* Value types; the numbers equal settle.v1.Type. */
typedef enum st_core_type {
    ST_CORE_T_NONE = 0,
    ST_CORE_T_INT = 1,
    ST_CORE_T_STRING = 2,
    ST_CORE_T_BOOL = 3,
    ST_CORE_T_DURATION = 4, /* int64 microseconds */
    ST_CORE_T_TIME = 5,     /* int64 microseconds since the Unix epoch, UTC */
    ST_CORE_T_MONEY = 6,    /* int64 minor units + 3-letter lower-case currency */
} st_core_type_t;

/*
 * A tagged value. A value stored in an instance owns `s`; a value produced
 * by expression evaluation borrows `s` from the program or the instance.
 */
typedef struct st_core_value {
    st_core_type_t type; /* ST_CORE_T_NONE: no value yet */
    int64_t i;           /* INT, DURATION, TIME, MONEY (minor units) */
    bool b;              /* BOOL */
    char *s;             /* STRING (never NULL for a STRING value) */
    char currency[4];    /* MONEY: "eur", NUL terminated */
} st_core_value_t;

const char *st_core_type_name(st_core_type_t t);

/* Free an owned string and reset to ST_CORE_T_NONE. Accepts NULL. */
void st_core_value_release(st_core_value_t *v);
/* Deep copy (dst gets its own string). dst must be empty or released. */
int st_core_value_copy(st_core_value_t *dst, const st_core_value_t *src, st_err_t *err);
/* JSON encoding: int/duration/time → integer, string, bool, money → {"minor","currency"}. */
json_t *st_core_value_to_json(const st_core_value_t *v);
/* Decode a JSON value of type t into an owned value; `what` names it in errors. */
int st_core_value_from_json(st_core_type_t t, const json_t *j, const char *what,
                            st_core_value_t *out, st_err_t *err);
/* A `time` given as RFC 3339 text ("2026-12-24T10:00:00Z",
 * "2026-12-24T11:00:00+01:00", fractional seconds to the microsecond) as
 * microseconds since the epoch; ST_INVAL naming `what`, with a hint that
 * shows both accepted forms. (st_core_value_from_json takes either form.) */
int st_core_time_parse(const char *text, const char *what, int64_t *us, st_err_t *err);
/* true when c is a 3-letter lower-case currency code. */
bool st_core_currency_ok(const char *c);

/* -------------------------------------------------------------- program */

/* A loaded, validated Program (opaque). */
typedef struct st_core_program st_core_program_t;

/* State kinds; the numbers equal settle.v1.StateKind. */
typedef enum st_core_kind {
    ST_CORE_KIND_DO = 1,
    ST_CORE_KIND_SLEEP = 2,
    ST_CORE_KIND_AWAIT = 3,
    ST_CORE_KIND_DECIDE = 4,
    ST_CORE_KIND_FINAL = 5,
    ST_CORE_KIND_FAIL = 6,
} st_core_kind_t;

#define ST_CORE_HASH_HEX 65 /* 64 hex digits + NUL */

/*
 * Decode protobuf bytes, validate every invariant of program.proto and
 * build lookup tables. A bad Program is refused with ST_CHECK (or ST_PARSE
 * when the bytes are not a Program) and an error naming the spot.
 */
int st_core_program_load(const void *bytes, size_t len, st_core_program_t **out, st_err_t *err);
void st_core_program_free(st_core_program_t *p);

const char *st_core_program_name(const st_core_program_t *p);
const char *st_core_program_hash(const st_core_program_t *p); /* hex SHA-256 of the bytes */
size_t st_core_program_state_count(const st_core_program_t *p);
size_t st_core_program_var_count(const st_core_program_t *p);
size_t st_core_program_input_count(const st_core_program_t *p);
/* Index by name, or -1. */
int st_core_program_state_index(const st_core_program_t *p, const char *name);
int st_core_program_var_index(const st_core_program_t *p, const char *name);
/* Name / kind / type by index; NULL / 0 when out of range. */
const char *st_core_program_state_name(const st_core_program_t *p, uint32_t state);
st_core_kind_t st_core_program_state_kind(const st_core_program_t *p, uint32_t state);
const char *st_core_program_var_name(const st_core_program_t *p, uint32_t var);
st_core_type_t st_core_program_var_type(const st_core_program_t *p, uint32_t var);
/* Signal names a SLEEP/AWAIT state waits for (borrowed); 0 for other kinds. */
size_t st_core_program_state_signals(const st_core_program_t *p, uint32_t state,
                                     const char *const **names);
const char *st_core_kind_name(st_core_kind_t k);
/*
 * Retry policy of a DO state (for re-dispatching a task after a restart):
 * returns max_attempts (>= 1) and fills the backoff bounds; returns 0 and
 * zeroes them when `state` is not a DO state.
 */
/*
 * Correlation keys the flow declares (`correlate KEY = VAR`): the i-th key
 * ("payment_intent", "invoice", ...) is returned and *var gets the variable
 * whose value names the object; NULL past the end. Borrowed from p.
 */
size_t st_core_program_correlation_count(const st_core_program_t *p);
const char *st_core_program_correlation(const st_core_program_t *p, size_t i, uint32_t *var);
uint32_t st_core_program_retry(const st_core_program_t *p, uint32_t state, int64_t *backoff_min_us,
                               int64_t *backoff_max_us);

/* ------------------------------------------------------------- instance */

typedef enum st_core_status {
    ST_CORE_RUNNING = 0,   /* an activity is in flight (DO state) */
    ST_CORE_WAITING = 1,   /* sleeping or awaiting a signal; wake_at set */
    ST_CORE_COMPLETED = 2, /* reached a FINAL state */
    ST_CORE_FAILED = 3,    /* reached a FAIL state or a runtime error */
    ST_CORE_CANCELLED = 4, /* cancelled without a cancel path */
    ST_CORE_SUSPENDED = 5, /* held by an operator; only CANCEL is consumed */
} st_core_status_t;

const char *st_core_status_name(st_core_status_t s); /* "running", ... */
int st_core_status_parse(const char *name, st_core_status_t *out);
bool st_core_status_final(st_core_status_t s); /* completed, failed, cancelled */

#define ST_CORE_REASON_MAX 256
#define ST_CORE_NO_SEQ     (-1) /* task_seq / wake_seq when there is none */

typedef struct st_core_instance {
    uint8_t id[16];                  /* UUID, given by the caller */
    uint32_t state;                  /* index into the program's states */
    st_core_status_t status;         /* see above */
    int64_t seq;                     /* committed steps; 0 = not started */
    size_t n_vars;                   /* == program var count */
    st_core_value_t *vars;           /* owned; ST_CORE_T_NONE before START */
    bool has_wake;                   /* wake_at_us is meaningful */
    int64_t wake_at_us;              /* when a SLEEP/AWAIT state wants its timer */
    int64_t wake_seq;                /* seq of the step that set the wake (timer token) */
    int64_t task_seq;                /* task a DO state waits on, or ST_CORE_NO_SEQ */
    bool cancel_requested;           /* cancel path entered; persist it, or a second
                                        CANCEL would enter the path again */
    char reason[ST_CORE_REASON_MAX]; /* wait / failure reason for operators */
} st_core_instance_t;

/* A fresh, not-yet-started instance (seq 0) of program p. */
int st_core_instance_new(const st_core_program_t *p, const uint8_t id[16], st_core_instance_t **out,
                         st_err_t *err);
void st_core_instance_free(st_core_instance_t *inst);
/* Deep copy. */
int st_core_instance_clone(const st_core_instance_t *src, st_core_instance_t **out, st_err_t *err);
/* Signals the instance waits for now (borrowed from p); 0 unless WAITING. */
size_t st_core_instance_signals(const st_core_program_t *p, const st_core_instance_t *inst,
                                const char *const **names);
/* "01234567-89ab-cdef-0123-456789abcdef" into buf[37]. Both delegate to
 * common/st_uuid.h (canonical 8-4-4-4-12 form only); parse returns 0 or
 * ST_INVAL. */
void st_core_uuid_format(const uint8_t id[16], char buf[37]);
int st_core_uuid_parse(const char *s, uint8_t id[16]);

/*
 * Inputs the core accepted (st_core_instance_new + vars), judged for
 * plausibility with the limits of common/st_input.h: money, durations and
 * times of the Program's inputs. Inputs absent from `inputs` are skipped
 * (the core judges presence). Returns 0 or ST_INVAL with the input named.
 */
int st_core_inputs_plausible(const st_core_program_t *prog, const json_t *inputs, st_err_t *err);

/*
 * Variables as the JSON object the store saves in instances.vars, keyed by
 * variable name (inputs included). from_json requires exactly the program's
 * variables with the right types and replaces inst->vars only on success.
 */
json_t *st_core_vars_to_json(const st_core_program_t *p, const st_core_instance_t *inst);
int st_core_vars_from_json(const st_core_program_t *p, const json_t *obj, st_core_instance_t *inst,
                           st_err_t *err);

/*
 * The whole instance: {"id","state","state_name","status","seq","vars",
 * "wake_at","wake_seq","task_seq","cancel_requested","reason"}; absent wake
 * and task are null. from_json checks everything against the program.
 */
json_t *st_core_instance_to_json(const st_core_program_t *p, const st_core_instance_t *inst);
int st_core_instance_from_json(const st_core_program_t *p, const json_t *j,
                               st_core_instance_t **out, st_err_t *err);

/*
 * Check START inputs without an instance (for the API edge, before a start
 * is acknowledged): exactly the program's inputs, each of its type.
 * ST_INVAL with a message naming the input otherwise.
 */
int st_core_inputs_check(const st_core_program_t *p, const json_t *inputs, st_err_t *err);
/* A copy of inputs (new reference; NULL when out of memory) as a start
 * stores them: each `time` input given as RFC 3339 text becomes integer
 * microseconds, everything else is unchanged. Call after the check. */
json_t *st_core_inputs_stored(const st_core_program_t *p, const json_t *inputs);

/* --------------------------------------------------------------- events */

typedef enum st_core_event_kind {
    ST_CORE_EV_START = 0,
    ST_CORE_EV_ACTIVITY_RESULT = 1,
    ST_CORE_EV_TIMER_FIRED = 2,
    ST_CORE_EV_SIGNAL = 3,
    ST_CORE_EV_CANCEL = 4,
} st_core_event_kind_t;

const char *st_core_event_name(st_core_event_kind_t k);

/* Everything is borrowed for the duration of the call. */
typedef struct st_core_event {
    st_core_event_kind_t kind;
    int64_t now_us;        /* the event's time; now() in expressions */
    const json_t *inputs;  /* START: object, exactly the program's inputs */
    int64_t task_seq;      /* ACTIVITY_RESULT: the task it answers */
    const char *outcome;   /* ACTIVITY_RESULT: "succeeded", "declined", ... */
    const char *code;      /* ACTIVITY_RESULT: decline code or NULL */
    const json_t *result;  /* ACTIVITY_RESULT: object or NULL */
    int64_t wake_seq;      /* TIMER_FIRED: the wake_seq the timer was set for */
    const char *signal;    /* SIGNAL: name */
    const json_t *payload; /* SIGNAL: object or NULL */
} st_core_event_t;

/* ------------------------------------------------------------- commands */

typedef enum st_core_cmd_kind {
    ST_CORE_CMD_RUN_ACTIVITY = 0,
    ST_CORE_CMD_SET_WAKE = 1,
    ST_CORE_CMD_COMPLETE = 2,
    ST_CORE_CMD_FAIL = 3,
    ST_CORE_CMD_CANCELLED = 4, /* ended by cancel without a cancel path */
} st_core_cmd_kind_t;

const char *st_core_cmd_name(st_core_cmd_kind_t k);

/* "settle_" + 36-char uuid + "_" + int64 + NUL */
#define ST_CORE_IDEM_MAX 72

typedef struct st_core_cmd {
    st_core_cmd_kind_t kind;
    /* RUN_ACTIVITY */
    const char *activity;  /* borrowed from the program */
    json_t *args;          /* owned by the output: object of evaluated args */
    int64_t timeout_us;    /* per attempt */
    uint32_t max_attempts; /* >= 1 */
    int64_t backoff_min_us;
    int64_t backoff_max_us;
    int64_t task_seq;                /* == the step's seq; results must carry it */
    char idem_key[ST_CORE_IDEM_MAX]; /* settle_<uuid>_<seq> */
    /* SET_WAKE */
    int64_t wake_at_us;
    int64_t wake_seq; /* put it on the timer; TIMER_FIRED must carry it back */
    /* FAIL */
    char reason[ST_CORE_REASON_MAX];
} st_core_cmd_t;

/* One state transition, as the store writes it to `history`. */
typedef struct st_core_history {
    int64_t seq;      /* the step's seq */
    int32_t from;     /* state index, -1 for START */
    int32_t to;       /* state index */
    const char *kind; /* static: start guard else outcome wake timeout signal cancel error */
    json_t *detail;   /* owned by the output; an object */
} st_core_history_t;

#define ST_CORE_MAX_CMDS  2
#define ST_CORE_NOTE_MAX  160
#define ST_CORE_CHAIN_CAP 1000

typedef struct st_core_output {
    bool consumed;               /* false: instance untouched, see note */
    char note[ST_CORE_NOTE_MAX]; /* why an event was not consumed */
    size_t n_cmds;
    st_core_cmd_t cmds[ST_CORE_MAX_CMDS];
    size_t n_history;
    size_t cap_history;
    st_core_history_t *history; /* owned */
} st_core_output_t;

void st_core_output_init(st_core_output_t *out);
/* Free args, details and the history array; leaves an initialised output. Accepts NULL. */
void st_core_output_release(st_core_output_t *out);
/* The whole output as JSON (for logs, tests and determinism checks). */
json_t *st_core_output_to_json(const st_core_program_t *p, const st_core_output_t *out);

/* ----------------------------------------------------------------- step */

/* Input of the retry-timing hook for `sleep smart(...)`. */
typedef struct st_core_smart_req {
    int64_t now_us;
    int64_t earliest_us; /* now + min_gap */
    int64_t latest_us;   /* now + within */
    const char *state;   /* the sleeping state's name */
    const st_core_instance_t *inst;
} st_core_smart_req_t;

/* Must be pure too. The core clamps its answer into [earliest, latest]. */
typedef int (*st_core_smart_fn)(void *ctx, const st_core_smart_req_t *req, int64_t *wake_at_us,
                                st_err_t *err);

/*
 * The step's environment. A smart hook that returns ST_CHECK fails the flow
 * visibly like any runtime fault; another negative code is returned by the
 * step with the instance unchanged (try again later).
 */
typedef struct st_core_env {
    st_core_smart_fn smart; /* NULL: wake at the earliest allowed time */
    void *smart_ctx;
    uint32_t chain_cap; /* state entries per step; 0: ST_CORE_CHAIN_CAP */
} st_core_env_t;

/*
 * Apply one event. `out` is (re)initialised by the call; release it after
 * use. Returns 0 — including when the event is not consumed, or when the
 * flow fails at run time (division by zero, chain cap, missing outcome
 * arm...: the instance becomes FAILED with the reason, visibly) — or a
 * negative st_code_t for a bad event (ST_INVAL, ST_STATE) or no memory, in
 * which case the instance is unchanged.
 */
int st_core_step(const st_core_program_t *p, st_core_instance_t *inst, const st_core_event_t *ev,
                 st_core_output_t *out, st_err_t *err);
int st_core_step_env(const st_core_program_t *p, const st_core_env_t *env, st_core_instance_t *inst,
                     const st_core_event_t *ev, st_core_output_t *out, st_err_t *err);

#endif
