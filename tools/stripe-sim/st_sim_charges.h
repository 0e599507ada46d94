/*
 * st_sim_charges.h — charges as PaymentIntents create them (private to the
 * stripe-sim family). Callers hold sim->mu.
 */
#ifndef ST_SIM_CHARGES_H
#define ST_SIM_CHARGES_H

#include "st_sim_int.h"

/*
 * Create and store the ch_ object for one attempt on pi: failed when code
 * is set, else succeeded (captured unless manual). Records the effect and
 * emits charge.succeeded / charge.failed. Sets pi.latest_charge and copies
 * the new id into id (cap bytes). Returns 0, or -1 after failing the call.
 */
int st_sim_charge_make(st_sim_t *sim, st_sim_call_t *call, json_t *pi, const st_sim_card_t *c,
                       const char *code, const char *decline_code, int manual, char *id,
                       size_t cap);

/* Mark a charge captured for amount (<= amount); emits charge.captured. */
void st_sim_charge_capture(st_sim_t *sim, st_sim_call_t *call, json_t *ch, int64_t amount);

/* Release an uncaptured charge (PI canceled): refunded in full. */
void st_sim_charge_release(st_sim_t *sim, st_sim_call_t *call, json_t *ch);

/* Refund handlers (st_sim_refunds.c), routed with the charges. */
int st_sim_refund_create(st_sim_t *sim, st_sim_call_t *call);
int st_sim_refund_retrieve(st_sim_t *sim, st_sim_call_t *call);
int st_sim_refund_list(st_sim_t *sim, st_sim_call_t *call);

#endif
