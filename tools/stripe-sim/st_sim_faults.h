/*
 * st_sim_faults.h — injected faults: latency, 5xx, 429, dropped
 * connections per path, and webhook duplication / reordering.
 *
 * Spec (CLI --faults, env STRIPE_SIM_FAULTS, POST /_sim/faults spec=...):
 *   RULE[;RULE...]      RULE = [PATHGLOB:]KEY=VALUE[,KEY=VALUE...]
 *   latency=MS | latency=MIN-MAX    uniform latency in milliseconds
 *   latency_exp=MEAN                plus an exponential tail with that mean (ms)
 *   5xx=P  429=P  drop=P            probabilities in [0,1]
 *   webhook_dup=P  webhook_reorder=P  webhook_fail=P   (global rule only)
 * A rule without a glob applies to every /v1 path; for a request the last
 * matching rule wins. Example: "latency=1-5;/v1/payment_intents*:5xx=0.1".
 *
 * Threads: the fault set has its own mutex; draws are seeded.
 */
#ifndef ST_SIM_FAULTS_H
#define ST_SIM_FAULTS_H

#include <jansson.h>
#include <stdint.h>

#include "common/st_err.h"

typedef struct st_sim_faults st_sim_faults_t;

enum { ST_SIM_FAULT_NONE = 0, ST_SIM_FAULT_500 = 1, ST_SIM_FAULT_429 = 2, ST_SIM_FAULT_DROP = 3 };

typedef struct st_sim_fault {
    int action;     /* ST_SIM_FAULT_* */
    int latency_ms; /* to sleep before running the request */
} st_sim_fault_t;

typedef struct st_sim_hook_faults {
    double dup;     /* probability a delivery is sent twice */
    double reorder; /* probability a delivery is held back behind later ones */
    double fail;    /* probability a delivery attempt is treated as failed */
} st_sim_hook_faults_t;

int st_sim_faults_new(uint64_t seed, st_sim_faults_t **out);
void st_sim_faults_free(st_sim_faults_t *f);

/* Replace the whole rule set; on a parse error the old set stays. */
int st_sim_faults_set(st_sim_faults_t *f, const char *spec, st_err_t *err);

/* Draw the fault for one request. */
void st_sim_faults_pick(st_sim_faults_t *f, const char *method, const char *path,
                        st_sim_fault_t *out);

void st_sim_faults_hooks(st_sim_faults_t *f, st_sim_hook_faults_t *out);
double st_sim_faults_draw(st_sim_faults_t *f);

/* The current spec as JSON (new reference). */
json_t *st_sim_faults_describe(st_sim_faults_t *f);

#endif
