/*
 * st_core_int.h — internals shared by the engine/core file family.
 *
 * Layer: core, pure (no I/O, no clock, no globals). Dependencies: libc,
 * jansson, protobuf-c, OpenSSL SHA-256. Not installed, not for other modules.
 *
 * Invariant: once st_core_program_load returned a program, every index in
 * its protobuf tree is in range and every expression is well typed, so the
 * evaluator and the step may index without re-checking.
 */
#ifndef ST_CORE_INT_H
#define ST_CORE_INT_H

#include "st_core.h"

#include <settle/program.pb-c.h>

#define ST_CORE_EXPR_DEPTH_MAX 64     /* deeper trees are refused on load */
#define ST_CORE_NAME_MAX       128    /* state, variable, signal names */
#define ST_CORE_COUNT_MAX      100000 /* states, variables, arms per list */

typedef Settle__V1__Program pb_program_t;
typedef Settle__V1__State pb_state_t;
typedef Settle__V1__Expr pb_expr_t;
typedef Settle__V1__Binding pb_binding_t;

/* Per-state data derived on load. */
typedef struct st_core_state_info {
    size_t n_signals;     /* signals a SLEEP/AWAIT state waits for */
    const char **signals; /* borrowed from the protobuf tree */
} st_core_state_info_t;

struct st_core_program {
    pb_program_t *pb;             /* owned, unpacked protobuf */
    char hash[ST_CORE_HASH_HEX];  /* hex SHA-256 of the loaded bytes */
    size_t n_inputs;              /* inputs come first in pb->vars */
    uint32_t *state_by_name;      /* state indexes sorted by name */
    uint32_t *var_by_name;        /* var indexes sorted by name */
    st_core_state_info_t *states; /* one per pb->states */
};

/* st_core_validate.c: check the unpacked tree; fills p->n_inputs. */
int st_core_validate(st_core_program_t *p, st_err_t *err);

/* Does expression evaluation need from the step. */
typedef struct st_core_eval_ctx {
    const st_core_program_t *prog;
    const st_core_value_t *vars; /* instance variables */
    int64_t now_us;
} st_core_eval_ctx_t;

/*
 * st_core_expr.c: evaluate a validated expression. The result borrows its
 * string from the program or the variables. Runtime errors (overflow,
 * division by zero, currency mismatch) return ST_CHECK.
 */
int st_core_eval(const st_core_eval_ctx_t *ctx, const pb_expr_t *e, st_core_value_t *out,
                 st_err_t *err);

/* st_core_value.c: type of an expression result, builtin signature check. */
int st_core_builtin_type(const char *fn, size_t n_args, const st_core_type_t *args,
                         st_core_type_t *ret);
/* Follow a dotted path ("charge.id") in an object; NULL when absent. */
const json_t *st_core_json_path(const json_t *root, const char *path);
/* Store value v (borrowed string) into an owned slot, copying the string. */
int st_core_value_assign(st_core_value_t *slot, const st_core_value_t *v, st_err_t *err);

/* Cut an incomplete UTF-8 sequence left at the end by snprintf truncation. */
void st_core_utf8_trim(char *s);

/* st_core_instance.c: copy vars array (n) deep; release an array. */
int st_core_vars_copy(st_core_value_t **dst, const st_core_value_t *src, size_t n, st_err_t *err);
void st_core_vars_free(st_core_value_t *vars, size_t n);
/* Decode START inputs into vars[0 .. n_inputs) (ST_INVAL on any mismatch). */
int st_core_inputs_decode(const st_core_program_t *p, const json_t *in, st_core_value_t *vars,
                          st_err_t *err);

/* st_core_output.c: append a history record (takes ownership of detail). */
int st_core_output_history(st_core_output_t *out, int64_t seq, int32_t from, int32_t to,
                           const char *kind, json_t *detail, st_err_t *err);
st_core_cmd_t *st_core_output_cmd(st_core_output_t *out, st_core_cmd_kind_t kind);

#endif
