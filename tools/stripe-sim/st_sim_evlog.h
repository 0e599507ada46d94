/*
 * st_sim_evlog.h — the event log: the newest `keep` events as serialised
 * text in a ring, oldest overwritten first.
 *
 * Layer: stripe-sim, leaf (libc). Not thread-safe: callers hold sim->mu.
 * Event ids carry a fixed-width counter after "evt_", so the ring in
 * logical order is sorted by id and lookups are binary searches.
 *
 * Ownership: st_sim_evlog_add takes the raw text (malloc'd); entries stay
 * valid until overwritten or the log is freed.
 */
#ifndef ST_SIM_EVLOG_H
#define ST_SIM_EVLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_sim_evlog_entry {
    char id[40];     /* evt_... */
    char type[64];   /* payment_intent.succeeded ... */
    int64_t created; /* sim time */
    char *raw;       /* the event as JSON text (owned) */
} st_sim_evlog_entry_t;

typedef struct st_sim_evlog st_sim_evlog_t;

st_sim_evlog_t *st_sim_evlog_new(size_t keep);
void st_sim_evlog_free(st_sim_evlog_t *log);

void st_sim_evlog_add(st_sim_evlog_t *log, const char *id, const char *type, int64_t created,
                      char *raw);

/* Number of events kept; entry i counts from the oldest kept (0). */
size_t st_sim_evlog_count(const st_sim_evlog_t *log);
const st_sim_evlog_entry_t *st_sim_evlog_at(const st_sim_evlog_t *log, size_t i);

/* Logical index of id, or -1. */
long st_sim_evlog_find(const st_sim_evlog_t *log, const char *id);

#endif
