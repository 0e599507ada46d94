/*
 * st_sim_idem.h — Stripe idempotency-key store.
 *
 * Layer: stripe-sim, leaf (jansson, OpenSSL SHA-256). Not thread-safe: the
 * simulator calls it with its store mutex held.
 *
 * Semantics (Stripe's): a key names one request. The first request with a
 * key reserves it (in progress); when it finishes, its status and body are
 * stored and every later request with the same key and the same fingerprint
 * (method, path, parameters) gets them replayed. Another fingerprint is a
 * mismatch. A request arriving while the first is still running is busy,
 * and stores nothing. Entries expire ttl seconds (sim time) after creation;
 * an expired key behaves as new.
 *
 * Ownership: replayed bodies are copied into the caller's hit record and
 * released with st_sim_idem_hit_release. A stored body is a JSON string
 * value (st_sim_idem_finish_ref keeps a reference, so the store can share
 * the text it keeps for the object the answer shows).
 *
 * Memory: one allocation per key (entry, key and fingerprint together) in
 * a chained hash table, because a benchmark stores one per request.
 */
#ifndef ST_SIM_IDEM_H
#define ST_SIM_IDEM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ST_SIM_IDEM_KEY_MAX 255

typedef struct st_sim_idem st_sim_idem_t;

typedef enum {
    ST_SIM_IDEM_NEW = 0,      /* key reserved; run the request, then finish/abandon */
    ST_SIM_IDEM_REPLAY = 1,   /* stored response in hit */
    ST_SIM_IDEM_MISMATCH = 2, /* key used with other parameters or endpoint */
    ST_SIM_IDEM_BUSY = 3      /* first request still in progress */
} st_sim_idem_verdict_t;

typedef struct st_sim_idem_hit {
    int status;       /* stored HTTP status */
    char *body;       /* stored body (malloc'd copy) */
    int should_retry; /* stored Stripe-Should-Retry (-1, 0, 1) */
} st_sim_idem_hit_t;

st_sim_idem_t *st_sim_idem_new(int64_t ttl_seconds);
void st_sim_idem_free(st_sim_idem_t *idem);

/*
 * Fingerprint of a request: method, path and a hash of the canonical
 * parameters, written to out (at least 160 bytes).
 */
void st_sim_idem_fingerprint(const char *method, const char *path, const json_t *params, char *out,
                             size_t cap);

/* Look up key; on NEW the key is reserved at time now. */
st_sim_idem_verdict_t st_sim_idem_begin(st_sim_idem_t *idem, const char *key, const char *fp,
                                        int64_t now, st_sim_idem_hit_t *hit);

/* Store the response of a reserved key. */
void st_sim_idem_finish(st_sim_idem_t *idem, const char *key, int status, const char *body,
                        int should_retry);

/* The same, keeping a reference to body, a JSON string (not copied). */
void st_sim_idem_finish_ref(st_sim_idem_t *idem, const char *key, int status, json_t *body,
                            int should_retry);

/* Drop a reservation without storing anything. */
void st_sim_idem_abandon(st_sim_idem_t *idem, const char *key);

/* Remove entries created more than ttl before now; returns how many. */
size_t st_sim_idem_expire(st_sim_idem_t *idem, int64_t now);

size_t st_sim_idem_count(const st_sim_idem_t *idem);

void st_sim_idem_hit_release(st_sim_idem_hit_t *hit);

#endif
