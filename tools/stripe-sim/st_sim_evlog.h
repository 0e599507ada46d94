/*
 * st_sim_evlog.h — the event log: the newest `keep` events in a ring,
 * oldest overwritten first.
 *
 * Layer: stripe-sim, leaf (libc, jansson). Not thread-safe: callers hold
 * sim->mu. Event ids carry a fixed-width counter after "evt_", so the ring
 * in logical order is sorted by id and lookups are binary searches.
 *
 * An event is kept as its frame (the JSON text before the object it shows,
 * a NUL, the text after it) and a reference to the object's text, a JSON
 * string the object store and other events share: a request's events cost
 * a few hundred bytes, not a copy of the object each. The full text is
 * assembled on demand (st_sim_evlog_raw).
 *
 * Ownership: st_sim_evlog_add takes the frame (malloc'd) and the reference;
 * entries stay valid until overwritten or the log is freed.
 */
#ifndef ST_SIM_EVLOG_H
#define ST_SIM_EVLOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_sim_evlog_entry {
    char id[40];     /* evt_... */
    char type[64];   /* payment_intent.succeeded ... */
    int64_t created; /* sim time */
    char *frame;     /* text before the object, NUL, text after it (owned) */
    json_t *obj;     /* the object's text, a JSON string (a reference), or NULL: null */
} st_sim_evlog_entry_t;

typedef struct st_sim_evlog st_sim_evlog_t;

st_sim_evlog_t *st_sim_evlog_new(size_t keep);
void st_sim_evlog_free(st_sim_evlog_t *log);

void st_sim_evlog_add(st_sim_evlog_t *log, const char *id, const char *type, int64_t created,
                      char *frame, json_t *obj);

/* The whole event as JSON text (malloc'd), or NULL when out of memory. */
char *st_sim_evlog_raw(const st_sim_evlog_entry_t *e);
/* The same for a frame and object not (yet) in the log. */
char *st_sim_evlog_assemble(const char *frame, const json_t *obj);

/* Number of events kept; entry i counts from the oldest kept (0). */
size_t st_sim_evlog_count(const st_sim_evlog_t *log);
const st_sim_evlog_entry_t *st_sim_evlog_at(const st_sim_evlog_t *log, size_t i);

/* Logical index of id, or -1. */
long st_sim_evlog_find(const st_sim_evlog_t *log, const char *id);

#endif
