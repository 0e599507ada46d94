/*
 * e2e_bench.h — what the end-to-end benchmark's phases share: the options,
 * the flows they deploy, and the way figures are reported.
 *
 * Every figure is printed twice: in a sentence as the phase ends, and as a
 * line "figure <name> <value>" that scripts read (compare_e2e.py). A phase
 * that cannot measure what it claims (nothing completed, no step seen)
 * stops the program with exit status 1 instead of printing a figure.
 */
#ifndef E2E_BENCH_H
#define E2E_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "e2e_stack.h"

enum {
    PH_THROUGHPUT = 1, /* single starts, then completion */
    PH_BATCH = 2,      /* batch starts, then completion */
    PH_LIGHT = 4,      /* one flow at a time */
    PH_WAKE = 8,       /* sleepers and their lateness */
    PH_RECOVERY = 16,  /* kill -9 and restart */
};

typedef struct e2e_opts {
    const char *settled, *dsn;
    int phases; /* PH_* bits */
    size_t flows, steps, sleepers, asleep, in_flight, light, per_batch;
    unsigned clients, batch_clients;
    unsigned kill_after_ms;
    unsigned sleep_max_s; /* sleepers sleep 1..sleep_max_s seconds */
    const char *node;     /* `settled run --node` in every phase */
    const char *run_args[32];
    unsigned seed;
    int keep_asleep; /* keep the database of --asleep for the next run */
} e2e_opts_t;

/* Flow sources, deployed by the phases that use them. */
extern const char E2E_FLOW_STEPS[]; /* e2e: n test.echo steps */
extern const char E2E_FLOW_PACED[]; /* e2e_paced: n steps, 1 s apart */
extern const char E2E_FLOW_WAKE[];  /* e2e_wake: sleep until due, one step */
extern const char E2E_FLOW_NAP[];   /* e2e_nap: sleep until due (days ahead) */

void e2e_phase_load(e2e_stack_t *st, const e2e_opts_t *o, int batch);
void e2e_phase_light(e2e_stack_t *st, const e2e_opts_t *o);
void e2e_phase_wake(e2e_stack_t *st, const e2e_opts_t *o);
void e2e_phase_recovery(e2e_stack_t *st, const e2e_opts_t *o);

/* Puts o->asleep flows of e2e_nap to sleep for days in the stack's
 * database (see e2e_asleep.c). settled must not be running. */
void e2e_asleep_fill(e2e_stack_t *st, size_t n);

/* ---- reporting (e2e_report.c) ---- */

/* Print "figure <name> <value>" (value with up to 3 decimals). */
void e2e_figure(const char *name, double value);
/* p-th percentile (0..100) of v[0..n-1], which it sorts; n > 0. */
double e2e_pct(int64_t *v, size_t n, double p);
/* When > 0, every wait for flows gives up after this many seconds
 * (--patience) instead of its own limit. */
extern double e2e_patience_s;
/* Wait until the number `sql` selects reaches want; dies after limit_s. */
void e2e_wait_count(e2e_stack_t *st, const char *sql, double want, double limit_s,
                    const char *what);
/* For flows of `flow` whose business key is prefix<i> (i < n): their
 * updated_at (µs since the epoch) into at[i], 0 where none. Returns how
 * many were found. */
size_t e2e_updated_at(e2e_stack_t *st, const char *flow, const char *prefix, size_t n, int64_t *at);

#endif
