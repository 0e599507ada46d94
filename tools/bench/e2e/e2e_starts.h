/*
 * e2e_starts.h — starting flows through the public API, as a client does:
 * POST /v1/instances one flow per request, or POST /v1/instances/batch
 * with up to 1000 flows per request, over a pool of keep-alive
 * connections.
 *
 * Flows are numbered 0..n-1; the caller writes flow i's StartRequest body
 * (the JSON of one item) and gets back, per flow, the wall time its request
 * was sent. A start counts as accepted when the API answered 200 or 201 for
 * it (for a batch: the item's own status). Any refusal stops the benchmark
 * with the first refusal's status and body: a benchmark of failing starts
 * measures nothing.
 */
#ifndef E2E_STARTS_H
#define E2E_STARTS_H

#include <stddef.h>
#include <stdint.h>

/* Write flow i's start body (one JSON object) into buf; return its length
 * (snprintf's contract). */
typedef int (*e2e_body_fn)(size_t i, char *buf, size_t cap, void *ctx);

typedef struct e2e_starts {
    e2e_body_fn body;
    void *ctx;
    unsigned clients;     /* keep-alive connections */
    size_t per_batch;     /* 0: single starts; else items per batch request */
    int64_t *sent_us;     /* optional, n entries: when flow i's request was sent */
    int64_t *answered_us; /* optional, n entries: when it was answered */
    /* filled in: */
    size_t ok, bad, requests;
    int bad_status;
    char bad_body[256];
} e2e_starts_t;

/* Start flows 0..n-1 on the settled listening on port; returns the
 * seconds from the first request to the last answer. Dies on any refusal
 * or lost connection. */
double e2e_starts_run(int port, size_t n, e2e_starts_t *s);

/* Whether the settled on port has POST /v1/instances/batch: it is probed
 * with an empty batch, which a settled with the endpoint refuses with 400
 * or 422 and one without answers 404 or 405. */
int e2e_batch_supported(int port);

#endif
