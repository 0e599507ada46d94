/*
 * st_store_vclock.h — the durable virtual clock as store calls: read it,
 * move its target.
 *
 * Layer: store (public). Blocking calls on a store connection (they run
 * the connection's loop nested, like every blocking store call); never on
 * an executor's loop while it runs.
 *
 * settle_clock holds one row once a node ran with --clock virtual on the
 * database (engine/exec/st_exec_clock.c writes it): now_us is the virtual
 * time the nodes reached, target_us the time they were asked to reach.
 * Without the row there is no virtual clock: ST_NOTFOUND.
 */
#ifndef ST_STORE_VCLOCK_H
#define ST_STORE_VCLOCK_H

#include <stdint.h>

#include "common/st_err.h"
#include "store/st_store.h"

typedef struct st_store_vclock {
    int64_t now_us;    /* virtual time the nodes reached */
    int64_t target_us; /* virtual time asked for */
} st_store_vclock_t;

/* Read the virtual clock. ST_NOTFOUND (with a hint) when there is none. */
int st_store_clock_read(st_store_conn_t *c, st_store_vclock_t *out, st_err_t *err);

/* Move the target forward by delta_us (> 0, else ST_INVAL) from
 * max(target, now); the nodes follow (settle_clock NOTIFY). ST_NOTFOUND
 * when there is no virtual clock. out gets the clock after the move. */
int st_store_clock_advance(st_store_conn_t *c, int64_t delta_us, st_store_vclock_t *out,
                           st_err_t *err);

#endif
