/*
 * st_sim.h — public API of stripe-sim, a stateful Stripe emulator.
 *
 * Layer: tools/stripe-sim. The simulator core knows nothing of HTTP: the
 * server (st_sim_server.c) turns each request into an st_sim_req_t and
 * writes back the st_sim_resp_t that st_sim_dispatch fills. Tests drive
 * st_sim_dispatch directly.
 *
 * Threads: st_sim_dispatch may be called from any number of threads at
 * once; the simulator serialises access to its store with one mutex.
 *
 * Ownership: st_sim_new returns a simulator the caller frees with
 * st_sim_free (accepts NULL). st_sim_resp_t owns its body (malloc'd text, or
 * a reference to the stored JSON string it points into, so an answer is not
 * copied); release it with st_sim_resp_release. Request fields are borrowed
 * for the call only.
 */
#ifndef ST_SIM_H
#define ST_SIM_H

#include <jansson.h>
#include <stdint.h>

#include "common/st_err.h"

typedef struct st_sim st_sim_t;

typedef struct st_sim_config {
    uint64_t seed;              /* seeds ids, the issuer model and fault draws */
    int64_t clock_start;        /* sim time at start, unix seconds; 0 = wall clock now */
    int clock_frozen;           /* 1: sim time moves only by advance; 0: flows + offset */
    const char *webhook_url;    /* optional: endpoint registered at start ("*" events) */
    const char *webhook_secret; /* optional fixed whsec_ secret for webhook_url */
    const char *faults;         /* optional fault spec (see st_sim_faults.h) */
    const char *book;           /* optional customer book file (see docs/stripe-sim.md) */
    int quiet;                  /* 1: no request log lines on stderr */
} st_sim_config_t;

typedef struct st_sim_req {
    const char *method;         /* "GET", "POST", "DELETE" */
    const char *path;           /* without the query string */
    json_t *params;             /* decoded body (POST) or query (GET); borrowed */
    const char *authorization;  /* Authorization header or NULL */
    const char *idem_key;       /* Idempotency-Key header or NULL */
    const char *stripe_version; /* Stripe-Version header or NULL */
} st_sim_req_t;

typedef struct st_sim_resp {
    int status;          /* HTTP status */
    char *body;          /* JSON text: malloc'd, or inside body_ref when that is set */
    json_t *body_ref;    /* NULL, or the JSON string holding body (owned reference) */
    int should_retry;    /* Stripe-Should-Retry: -1 absent, 0 false, 1 true */
    int replayed;        /* 1: Idempotent-Replayed: true */
    int drop;            /* 1: close the connection without answering */
    char request_id[32]; /* Request-Id header value */
} st_sim_resp_t;

/* Create a simulator (and its webhook delivery thread). */
int st_sim_new(const st_sim_config_t *cfg, st_sim_t **out, st_err_t *err);
void st_sim_free(st_sim_t *sim);

/* Handle one request. Always fills resp (status, body); returns 0. */
int st_sim_dispatch(st_sim_t *sim, const st_sim_req_t *req, st_sim_resp_t *resp);
void st_sim_resp_release(st_sim_resp_t *resp);

/* Current sim time (unix seconds). */
int64_t st_sim_now(st_sim_t *sim);

#endif
