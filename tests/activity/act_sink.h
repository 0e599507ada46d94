/*
 * act_sink.h — a small HTTP server for the activity tests, on the real
 * libmicrohttpd stack (a thread per connection): it records every request
 * and answers from a queue of scripted replies.
 *
 * Paths with a meaning of their own: /slow/<ms>/... sleeps before answering,
 * /drop/... closes the connection without a reply. Anything else gets the
 * next queued reply, or 200 {"ok":true} when the queue is empty.
 */
#ifndef ACT_SINK_H
#define ACT_SINK_H

#include <stddef.h>

typedef struct act_sink act_sink_t;

typedef struct act_sink_reply {
    int status;
    const char *body;     /* copied */
    const char *hdr_name; /* optional extra header, copied */
    const char *hdr_value;
} act_sink_reply_t;

/* A recorded request; strings are owned by the sink. */
typedef struct act_sink_req {
    char method[16];
    char url[512];
    char query[512];         /* raw query string, "" when none */
    char idem[160];          /* Idempotency-Key */
    char auth[300];          /* Authorization */
    char stripe_version[64]; /* Stripe-Version */
    char content_type[128];
    char extra[128]; /* X-Test header, for http.call */
    char *body;      /* NUL-terminated */
} act_sink_req_t;

act_sink_t *act_sink_start(void); /* fails the test on error */
void act_sink_stop(act_sink_t *s);
int act_sink_port(const act_sink_t *s);
void act_sink_push(act_sink_t *s, int status, const char *body, const char *hdr_name,
                   const char *hdr_value);
size_t act_sink_count(act_sink_t *s);
/* Copy of request i (body duplicated; caller frees copy->body). */
act_sink_req_t act_sink_req(act_sink_t *s, size_t i);
int act_sink_peak(act_sink_t *s);        /* most requests being handled at once */
int act_sink_connections(act_sink_t *s); /* TCP connections accepted so far */

#endif
