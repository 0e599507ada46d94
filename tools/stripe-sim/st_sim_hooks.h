/*
 * st_sim_hooks.h — webhook delivery.
 *
 * One delivery thread per simulator posts each event to each subscribed
 * endpoint with libcurl, signed with the endpoint's secret
 * (Stripe-Signature: t=..,v1=..). A delivery that does not get a 2xx is
 * retried with exponential backoff (1 min doubling, capped at 6 h) until
 * 3 days of sim time have passed since the event. Delivery is at least
 * once, in no guaranteed order; faults can duplicate or reorder.
 *
 * Threads: enqueue from any thread (own mutex, never takes sim->mu).
 * Ownership: enqueue copies its strings.
 */
#ifndef ST_SIM_HOOKS_H
#define ST_SIM_HOOKS_H

#include <jansson.h>
#include <stdint.h>

#include "st_sim_int.h"

int st_sim_hooks_new(st_sim_t *sim, st_sim_hooks_t **out, st_err_t *err);
void st_sim_hooks_free(st_sim_hooks_t *h);

void st_sim_hooks_enqueue(st_sim_hooks_t *h, const char *url, const char *secret,
                          const char *event_id, const char *payload, int64_t created);

/* Wake the thread (after a clock advance). */
void st_sim_hooks_kick(st_sim_hooks_t *h);

/* Counters and the queue as JSON (new reference). */
json_t *st_sim_hooks_describe(st_sim_hooks_t *h);

#endif
