/*
 * st_flowc.h — settlec as a library: compile .flow source into a Program.
 *
 * Layer: engine/flowc, above common (error record, activity catalog);
 * depends on protobuf-c's generated Program types, jansson and OpenSSL,
 * never on the store, the network or the runtime. engine/ops, settlectl and
 * the settlec command use only this header.
 *
 * Ownership, once for the whole API: objects returned through an `out`
 * pointer by a function named `_new`, `compile` or `check` belong to the
 * caller and are released with their `_free` (which accepts NULL); strings
 * and byte buffers returned through `char **` / `uint8_t **` are malloc'd
 * and released with free(). Pointers obtained from a result (diagnostics,
 * the Program) live as long as that result.
 *
 * Errors are values: functions return 0 or a negative st_code_t and fill a
 * caller-owned st_err_t. A flow with mistakes is not an error of the call:
 * compile returns 0 and the result holds the diagnostics; it returns a
 * negative code only when it could not run at all (out of memory, bad
 * arguments). The library never prints and never exits.
 */
#ifndef ST_FLOWC_H
#define ST_FLOWC_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_catalog.h"
#include "common/st_err.h"
#include "settle/program.pb-c.h"

/* Symbols are hidden by default (CMAKE_C_VISIBILITY_PRESET); this API is not. */
#define ST_FLOWC_API __attribute__((visibility("default")))

/* Severity of a diagnostic, in increasing order. */
typedef enum {
    ST_FLOWC_WARNING = 1,
    ST_FLOWC_ERROR = 2,
} st_flowc_severity_t;

/* One diagnostic. Strings are NUL-terminated and never NULL. */
typedef struct st_flowc_diag {
    st_flowc_severity_t severity;
    const char *file;    /* name given to compile (as the user typed it) */
    uint32_t line;       /* 1-based; 0 when the diagnostic has no position */
    uint32_t col;        /* 1-based byte column */
    uint32_t len;        /* bytes underlined, >= 1 */
    const char *message; /* one line, no trailing period */
    const char *hint;    /* "" when there is none */
} st_flowc_diag_t;

/* Options for compile. Zero-initialise for the defaults. */
typedef struct st_flowc_opts {
    int werror;         /* report warnings as errors */
    unsigned max_diags; /* stop collecting after this many (0 = 100) */
} st_flowc_opts_t;

/* The outcome of one compile or migration check: diagnostics + Program. */
typedef struct st_flowc_result st_flowc_result_t;

/*
 * Compile `len` bytes of `src`, named `file` in diagnostics (the Program's
 * source_name is its base name). On return 0, *out holds a result even when
 * the flow has errors; its Program is NULL unless the error count is 0.
 */
ST_FLOWC_API int st_flowc_compile(const char *file, const char *src, size_t len,
                                  const st_flowc_opts_t *opts, st_flowc_result_t **out,
                                  st_err_t *err);
ST_FLOWC_API void st_flowc_result_free(st_flowc_result_t *r);

ST_FLOWC_API size_t st_flowc_result_diag_count(const st_flowc_result_t *r);
ST_FLOWC_API const st_flowc_diag_t *st_flowc_result_diag(const st_flowc_result_t *r, size_t i);
ST_FLOWC_API unsigned st_flowc_result_errors(const st_flowc_result_t *r);
ST_FLOWC_API unsigned st_flowc_result_warnings(const st_flowc_result_t *r);
/* The compiled Program, or NULL when the flow had errors. */
ST_FLOWC_API const Settle__V1__Program *st_flowc_result_program(const st_flowc_result_t *r);

/*
 * Format one diagnostic like a C compiler:
 *   file:line:col: error: message
 *      12 |   on succeeded -> pade
 *         |                   ^~~~
 *   hint: did you mean 'paid'?
 * `src` (may be NULL) is the text the diagnostic refers to; the source line
 * and caret appear only when it is given. *out is malloc'd.
 */
ST_FLOWC_API int st_flowc_diag_render(const st_flowc_diag_t *d, const char *src, size_t len,
                                      char **out, st_err_t *err);
/* The headline only: "file:line:col: severity: message". *out is malloc'd. */
ST_FLOWC_API int st_flowc_diag_headline(const st_flowc_diag_t *d, char **out, st_err_t *err);

/*
 * Serialize a Program deterministically (protobuf-c writes fields in number
 * order; the compiler emits no maps) and name it by content.
 */
ST_FLOWC_API int st_flowc_program_pack(const Settle__V1__Program *p, uint8_t **out, size_t *out_len,
                                       st_err_t *err);
/* hex SHA-256 of bytes: 64 characters plus NUL in `hex`. */
ST_FLOWC_API int st_flowc_hash_hex(const uint8_t *bytes, size_t len, char hex[65], st_err_t *err);
/* pack + hash in one call: the Program's identity as hex SHA-256. */
ST_FLOWC_API int st_flowc_program_hash(const Settle__V1__Program *p, char hex[65], st_err_t *err);
/* Decode serialized bytes; release with st_flowc_program_free. */
ST_FLOWC_API int st_flowc_program_unpack(const uint8_t *bytes, size_t len,
                                         Settle__V1__Program **out, st_err_t *err);
ST_FLOWC_API void st_flowc_program_free(Settle__V1__Program *p);
/*
 * Structural check of a Program from outside the compiler (every state and
 * variable index in range, each kind with its sub-message). unpack already
 * runs it; the engine may run it on Programs it builds or loads otherwise.
 */
ST_FLOWC_API int st_flowc_program_validate(const Settle__V1__Program *p, st_err_t *err);

/* The Program as pretty JSON (2-space indent, fields in a fixed order). */
ST_FLOWC_API int st_flowc_program_to_json(const Settle__V1__Program *p, char **out, st_err_t *err);
/* The Program as a Graphviz digraph. */
ST_FLOWC_API int st_flowc_program_to_dot(const Settle__V1__Program *p, char **out, st_err_t *err);

/*
 * Check a migration map from `old_p` to `new_p`. The map text (named
 * `map_file` in diagnostics) has one `OLD_STATE -> NEW_STATE` per line and
 * `#` comments; a live (non-terminal) old state that the map does not
 * mention maps to the new state of the same name. The result carries only
 * diagnostics (its Program is NULL).
 */
ST_FLOWC_API int st_flowc_migrate_check(const Settle__V1__Program *old_p,
                                        const Settle__V1__Program *new_p, const char *map_file,
                                        const char *map_src, size_t map_len,
                                        st_flowc_result_t **out, st_err_t *err);

/* The activity catalog (common/st_catalog.h) as the language sees it: only
 * the entries a flow may `do`. */
typedef st_catalog_param_t st_flowc_param_t;
typedef st_catalog_activity_t st_flowc_activity_t;

ST_FLOWC_API const st_flowc_activity_t *st_flowc_activity_find(const char *name);
ST_FLOWC_API const st_flowc_activity_t *st_flowc_activity_at(size_t i); /* NULL past the end */
/* Whether `outcome` carries a decline code ("declined"). */
ST_FLOWC_API int st_flowc_outcome_has_codes(const char *outcome);
/* The language type of a catalog parameter. */
ST_FLOWC_API Settle__V1__Type st_flowc_param_type(const st_flowc_param_t *p);

/* Decline-code table (embedded from engine/flowc/data/decline_codes.tsv). */
typedef struct st_flowc_decline {
    const char *code;     /* "insufficient_funds" */
    const char *category; /* soft | hard | fraud | auth */
    const char *retry;    /* yes | later | after_update | with_auth | no */
} st_flowc_decline_t;

/* Fills *out and returns 0, or returns ST_NOTFOUND. Strings are static. */
ST_FLOWC_API int st_flowc_decline_find(const char *code, st_flowc_decline_t *out);
/* The known code nearest to `code` by edit distance, or NULL if none near. */
ST_FLOWC_API const char *st_flowc_decline_nearest(const char *code);

#endif
