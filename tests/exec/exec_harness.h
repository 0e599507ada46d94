/*
 * exec_harness.h — run a real executor in-process against a fresh database:
 * migrate, deploy flows from source text, start instances, turn the loop
 * until a SQL condition holds.
 */
#ifndef EXEC_HARNESS_H
#define EXEC_HARNESS_H

#include <ev.h>
#include <libpq-fe.h>

#include "exec/st_exec.h"
#include "st_test.h"

typedef struct harness {
    char dsn[512];
    char db[128];
    PGconn *pg;           /* plain connection for assertions */
    struct ev_loop *loop; /* the executor's loop */
    st_exec_t *x;
    struct ev_loop *ops_loop; /* private loop of the ops connection */
    st_store_conn_t *ops;     /* deploy / start / signals */
    ev_timer tick;            /* keeps ev_run(ONCE) from blocking forever */
    st_metrics_t *metrics;    /* the registry the executor feeds */
    char log[32768];          /* the executor's log lines, '\n'-separated */
    size_t log_len;
} harness_t;

/* Fresh database, migrated; no executor yet. */
void h_init(harness_t *h);
/* Compile and deploy a flow given as text; fails the test on errors. */
void h_deploy(harness_t *h, const char *name, const char *src);
/* Start the executor (virtual: a virtual clock at a fixed start time). */
void h_exec_start(harness_t *h, int virtual_clock, const char *crash_at);
/* Stop and free the executor (graceful when graceful != 0). */
void h_exec_stop(harness_t *h, int graceful);
/* Start an instance; returns its id in a static buffer. */
const char *h_start(harness_t *h, const char *flow, const char *inputs, const char *key);
/* Store a signal for an instance. */
void h_signal(harness_t *h, const char *id, const char *name, const char *payload);
/* The executor's log lines so far contain all of the given strings on one
 * line (NULL-terminated list); returns 1 if some line does. */
int h_logged(const harness_t *h, const char *const *parts);
/* Integer result of a one-value query. */
long long h_scalar(harness_t *h, const char *sql);
/* Text result of a one-value query (static buffer). */
const char *h_text(harness_t *h, const char *sql);
/* Turn the loop until `sql` returns `want` or the timeout passes; returns 1 on success. */
int h_until(harness_t *h, const char *sql, long long want, double timeout_s);
/* Every instance's history covers seq 0..seq with no gap. */
void h_assert_gapless(harness_t *h);
void h_fini(harness_t *h);

#endif
