/*
 * st_ops.h — operations shared by settled and settlectl: deploy a .flow
 * file; parse durations and read or move the virtual clock for commands.
 * Starting an instance is st_start.h (below this layer: it needs no
 * compiler), included here for the commands.
 *
 * Layer: ops (above the store, the core, the start layer and the compiler
 * library engine/flowc; below the commands). Blocking calls on a store
 * connection; never prints.
 *
 * Invariant: a flow with compile errors is never registered.
 */
#ifndef ST_OPS_H
#define ST_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "start/st_start.h"
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

/* ---- durations (settled clock / settlectl clock) ---- */

/* Parse "3d", "12h", "30m", "45s", "250ms" or sums like "1d12h" into µs. */
int st_ops_duration_parse(const char *text, int64_t *us, st_err_t *err);

#endif
