/*
 * st_err.h — error codes and the caller-owned error record.
 *
 * Layer: common (depends on libc only).
 *
 * Every fallible function in settle returns 0 on success or a negative
 * st_code_t, and, when the caller passes a non-NULL st_err_t, fills it with
 * a message (what happened), an optional detail and a hint (what to do next).
 * Library code never prints and never exits; the edges (commands, daemon)
 * decide how to report. Messages must never contain secrets: callers pass
 * redacted text only.
 *
 * Ownership: st_err_t is a plain value with fixed-size buffers; it owns no
 * heap memory and needs no release.
 */
#ifndef ST_ERR_H
#define ST_ERR_H

#include <stdarg.h>

/* One X-macro table gives the enum, the names and the default messages. */
#define ST_ERR_MAP(X)                                           \
    X(OK, 0, "ok")                                              \
    X(AGAIN, -1, "not ready yet; try again later")              \
    X(NOMEM, -2, "out of memory")                               \
    X(INVAL, -3, "invalid argument")                            \
    X(IO, -4, "input/output error")                             \
    X(DB, -5, "database error")                                 \
    X(CONFLICT, -6, "conflicting concurrent update")            \
    X(NOTFOUND, -7, "not found")                                \
    X(SCHEMA, -8, "database schema mismatch")                   \
    X(PARSE, -9, "malformed input")                             \
    X(CHECK, -10, "check failed")                               \
    X(AUTH, -11, "authentication failed")                       \
    X(LIMIT, -12, "limit exceeded")                             \
    X(STATE, -13, "operation not allowed in the current state") \
    X(INTERNAL, -14, "internal error")

typedef enum {
#define ST_ERR_ENUM(name, value, msg) ST_##name = value,
    ST_ERR_MAP(ST_ERR_ENUM)
#undef ST_ERR_ENUM
} st_code_t;

#define ST_ERR_MSG_MAX  512
#define ST_ERR_HINT_MAX 256

typedef struct st_err {
    int code;                    /* st_code_t, negative on error, 0 if none */
    char msg[ST_ERR_MSG_MAX];    /* what happened, one line */
    char detail[ST_ERR_MSG_MAX]; /* optional: underlying cause (e.g. libpq) */
    char hint[ST_ERR_HINT_MAX];  /* optional: what the user should do next */
} st_err_t;

/* Name of a code ("ST_DB") and its default message. Never NULL. */
const char *st_code_name(int code);
const char *st_code_message(int code);

/* Reset to "no error". Accepts NULL. */
void st_err_clear(st_err_t *err);

/*
 * Record an error and return `code`, so callers can write
 *   return st_err_set(err, ST_DB, "cannot connect to %s", where);
 * Accepts err == NULL (the code is still returned).
 */
int st_err_set(st_err_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int st_err_vset(st_err_t *err, int code, const char *fmt, va_list ap);

/* Attach detail / hint to an already-set error. Accept NULL err. */
void st_err_detail(st_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void st_err_hint(st_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the message with context ("migration 0002: ..."). Accepts NULL. */
void st_err_prefix(st_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Format "error: msg\n  detail: ...\n  hint: ...\n" into buf (always NUL
 * terminated). Returns buf.
 */
const char *st_err_format(const st_err_t *err, char *buf, unsigned long cap);

#endif
