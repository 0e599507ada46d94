/*
 * ctl_int.h — private to the settlectl file family (settlectl.c, st_ctl_*.c).
 *
 * Job: the operator's tool: argument parsing and output. It reads and
 * writes the database through the store (engine/store, st_store_admin.h)
 * on a connection and libev loop of its own, so it works while settled is
 * down; every command is an entry of the table in settlectl.c (name,
 * usage, help, run function), one file per family.
 *
 * Layer: tools. Depends on the store, the core (program reader), start,
 * ops, common and the compiler library engine/flowc (compile, DOT, decline
 * table), jansson. No SQL and no libpq here.
 *
 * Invariants:
 *   * a DSN is printed only through st_dsn_redact;
 *   * a repair is one store statement, conditional on the seq, lease epoch
 *     and owner read, that also writes its `repair` history row
 *     (actor = settlectl:<user>@<host>) and, for instances, bumps
 *     lease_epoch and clears owner_node, so a node holding the instance gets
 *     a checkpoint conflict and re-claims it from the row (see
 *     st_ctl_repair.c for why seq is bumped only by `retry`); a row that
 *     moved since it was read is reported as a conflict (exit 4);
 *   * output goes to stdout (human text, or one JSON document with --json),
 *     errors to stderr with what happened and what to do next.
 *
 * Exit codes (CTL_EXIT_*): 0 ok, 1 error (database, file, internal),
 * 2 usage, 3 not found, 4 refused (state does not allow it, compile errors),
 * 5 `stuck` found instances that need a person.
 */
#ifndef CTL_INT_H
#define CTL_INT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/st_err.h"
#include "store/st_store_admin.h"

struct ev_loop;
struct pg_conn;

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_NOTFOUND = 3,
    CTL_EXIT_REFUSED = 4,
    CTL_EXIT_STUCK = 5,
};

typedef struct ctl {
    const char *dsn;      /* from --dsn or $SETTLE_DSN (never printed unredacted) */
    int json;             /* --json: one JSON document on stdout */
    int tty;              /* stdout is a terminal (progress bars) */
    struct ev_loop *loop; /* the store connection's own loop */
    st_store_conn_t *sc;  /* opened on first use by ctl_db */
    char actor[192];      /* settlectl:<user>@<host>, written to history */
    const char *prog;     /* argv[0] base name, for messages */
} ctl_t;

typedef struct ctl_cmd {
    const char *name;
    const char *usage;   /* arguments after the name */
    const char *summary; /* one line for the command list */
    const char *help;    /* the rest of `settlectl NAME --help` */
    int (*run)(ctl_t *c, int argc, char **argv);
} ctl_cmd_t;

/* ---- command families ---- */
int ctl_cmd_deploy(ctl_t *c, int argc, char **argv);
int ctl_cmd_flows(ctl_t *c, int argc, char **argv);
int ctl_cmd_graph(ctl_t *c, int argc, char **argv);
int ctl_cmd_list(ctl_t *c, int argc, char **argv);
int ctl_cmd_show(ctl_t *c, int argc, char **argv);
int ctl_cmd_stuck(ctl_t *c, int argc, char **argv);
int ctl_cmd_stats(ctl_t *c, int argc, char **argv);
int ctl_cmd_signal(ctl_t *c, int argc, char **argv);
int ctl_cmd_cancel(ctl_t *c, int argc, char **argv);
int ctl_cmd_wake(ctl_t *c, int argc, char **argv);
int ctl_cmd_retry(ctl_t *c, int argc, char **argv);
int ctl_cmd_suspend(ctl_t *c, int argc, char **argv);
int ctl_cmd_resume(ctl_t *c, int argc, char **argv);
int ctl_cmd_clock(ctl_t *c, int argc, char **argv);
int ctl_cmd_migrate(ctl_t *c, int argc, char **argv);

/* ---- options ---- */

/* One option a command accepts: --name VALUE (or --name=VALUE), or a flag. */
typedef struct ctl_opt {
    const char *name;   /* without the dashes */
    int takes_value;    /* 0: a flag (*flag set to 1) */
    const char **value; /* where the value goes */
    int *flag;
} ctl_opt_t;

/*
 * Parse argv[1..] against opts (terminated by a NULL name); positional
 * arguments are gathered into pos (at most cap). Returns the number of
 * positionals, or -1 after printing a usage error.
 */
int ctl_opts_parse(ctl_t *c, const char *cmd, int argc, char **argv, const ctl_opt_t *opts,
                   const char **pos, int cap);

/* ---- instance filters (list and the bulk repairs) ---- */

typedef struct ctl_filter {
    const char *flow, *version, *state, *status, *older_than, *key, *waiting_for;
} ctl_filter_t;

/* The options that fill f, for a command's option table (7 entries). */
#define CTL_FILTER_OPTS(f)                                                    \
    {"flow", 1, &(f).flow, NULL}, {"version", 1, &(f).version, NULL},         \
        {"state", 1, &(f).state, NULL}, {"status", 1, &(f).status, NULL},     \
        {"older-than", 1, &(f).older_than, NULL}, {"key", 1, &(f).key, NULL}, \
    {                                                                         \
        "waiting-for", 1, &(f).waiting_for, NULL                              \
    }

int ctl_filter_empty(const ctl_filter_t *f);
/*
 * Instances matching f with id > after (NULL: from the start), at most
 * limit, ordered by id (st_store_instances_find). Bad filter values are
 * ST_INVAL with a hint.
 */
int ctl_filter_query(ctl_t *c, const ctl_filter_t *f, const char *after, int limit,
                     st_store_instances_t *out, st_err_t *err);
/* An instance id from the command line; a usage error naming the expected
 * form when it is not a UUID. */
int ctl_parse_id(const char *text, st_store_uuid_t *id, st_err_t *err);

/* ---- errors and output ---- */

/* Print err (what / detail / hint) to stderr; returns exit_code. */
int ctl_fail(ctl_t *c, int exit_code, const st_err_t *err);
/* Print a one-line error and a hint to stderr; returns exit_code. */
int ctl_failf(ctl_t *c, int exit_code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ctl_usage(ctl_t *c, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print one JSON document (steals j) on stdout; returns CTL_EXIT_OK. */
int ctl_json_out(json_t *j);
/* Exit code for a store / st_err code (NOTFOUND → 3, STATE/CHECK → 4, ...). */
int ctl_exit_for(int code);

/* ---- database ---- */

/* The store connection, opened (schema checked) on first use; NULL after
 * printing why. */
st_store_conn_t *ctl_db(ctl_t *c);
/* Close what ctl_db opened. */
void ctl_db_close(ctl_t *c);

/* The serialized Program of hash (malloc'd into *bytes). ST_NOTFOUND when
 * no such Program is registered. */
int ctl_program_bytes(ctl_t *c, const char *hash, unsigned char **bytes, size_t *len,
                      st_err_t *err);
struct st_core_program;
/* The Program of hash loaded by the core (kinds, signals, retry policy). */
int ctl_core_program(ctl_t *c, const char *hash, struct st_core_program **out, st_err_t *err);

/* ---- formatting ---- */

/* ISO 8601 UTC to the second ("2026-01-02T03:04:05Z") into buf[32];
 * NULL for ST_STORE_NO_TIME. */
const char *ctl_iso(int64_t us, char *buf, size_t cap);
/* "3d4h", "12m", "45s" from microseconds (buf >= 32). */
const char *ctl_fmt_dur(int64_t us, char *buf, size_t cap);
/* Add a string member only when v != NULL. */
void ctl_json_set_str(json_t *o, const char *k, const char *v);
/* Parse JSON text into a value; NULL if it is not JSON. */
json_t *ctl_json_parse(const char *text);

/* ---- progress (bulk repairs) ---- */
void ctl_progress(ctl_t *c, const char *what, size_t done, size_t total);

#endif
