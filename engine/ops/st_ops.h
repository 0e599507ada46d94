/*
 * st_ops.h — operations shared by settled and settlectl: deploy a .flow
 * file, start an instance.
 *
 * Layer: ops (above the store, the core and the compiler library
 * engine/flowc; below the commands).
 * Blocking calls on a store connection; never prints.
 *
 * Invariants: a flow with compile errors is never registered; a start whose
 * inputs do not fit the flow is refused before anything is stored.
 */
#ifndef ST_OPS_H
#define ST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "store/st_store.h"

typedef struct st_ops_deployed {
    char hash[65];  /* the Program's identity */
    char name[128]; /* the flow's name */
    int created;    /* 1: first registration of this hash */
    unsigned warnings;
} st_ops_deployed_t;

/*
 * Compile `src` (named `path` in diagnostics), register the Program and make
 * it the flow's current version. On compile errors returns ST_CHECK and sets
 * *diags (malloc'd, caller frees) to the rendered diagnostics; warnings are
 * rendered there too on success. *diags may be NULL when there is nothing.
 */
int st_ops_deploy(st_store_conn_t *c, const char *path, const char *src, size_t len,
                  st_ops_deployed_t *out, char **diags, st_err_t *err);

typedef struct st_ops_started {
    char id[37];  /* instance UUID */
    int existing; /* 1: the business key already named this instance */
    char hash[65];
} st_ops_started_t;

/*
 * Start `flow` at its current version with `inputs_json` (an object with
 * exactly the flow's inputs) and an optional business key. The inputs are
 * checked against the Program first; a mismatch is ST_INVAL and stores
 * nothing. The new instance is unowned: any settled node picks it up.
 */
int st_ops_start(st_store_conn_t *c, const char *flow, const char *inputs_json,
                 const char *business_key, int64_t now_us, st_ops_started_t *out, st_err_t *err);

/* ---- the virtual clock (settled clock / settlectl clock) ---- */

#include <libpq-fe.h>

/* Parse "3d", "12h", "30m", "45s", "250ms" or sums like "1d12h" into µs. */
int st_ops_duration_parse(const char *text, int64_t *us, st_err_t *err);

typedef struct st_ops_clock {
    int64_t now_us;    /* virtual time the nodes reached */
    int64_t target_us; /* virtual time asked for */
} st_ops_clock_t;

/* Read the virtual clock. ST_NOTFOUND when no virtual node ever ran. */
int st_ops_clock_show(PGconn *c, st_ops_clock_t *out, st_err_t *err);
/* Ask every virtual node to move time forward by delta_us from the current
 * target; returns the new target in out. */
int st_ops_clock_advance(PGconn *c, int64_t delta_us, st_ops_clock_t *out, st_err_t *err);

#endif
