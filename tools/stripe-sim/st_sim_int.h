/*
 * st_sim_int.h — private header shared by the stripe-sim file family.
 *
 * Layer: tools/stripe-sim (jansson, pthreads, OpenSSL, libcurl in the
 * webhook deliverer). Nothing outside tools/stripe-sim and its tests
 * includes this file.
 *
 * Invariants:
 * - Every object lives in sim->objects under its id, in Stripe's wire shape;
 *   simulator-only state (card behaviour, issuer model, list position) lives
 *   in sim->priv under the same id and never reaches the wire.
 * - sim->mu guards objects, priv, lists, idem, effects and events. Handlers
 *   run with it held; only latency injection sleeps without it.
 * - High-volume objects (PaymentIntents, charges, refunds; payment methods are
 *   reused across requests, so they stay parsed)
 *   are kept cold, as JSON text, between requests: st_sim_store_get parses
 *   one back on use and st_sim_store_freeze (end of each request) turns it
 *   into text again. A jansson tree of a charge costs ~10 KiB; its text
 *   ~2 KiB. Pointers from st_sim_store_get stay valid for the request.
 * - An object's text is a JSON string made once per request that changed
 *   the object (st_sim_text_json); the store, the idempotency record, the
 *   event log and the HTTP answer hold references to the same string, so
 *   it is replaced, never changed in place (reference counts are atomic:
 *   the answer drops its reference without sim->mu).
 * - Money is int64 minor units, time is int64 unix seconds of sim time.
 */
#ifndef ST_SIM_INT_H
#define ST_SIM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "st_sim.h"
#include "st_sim_idem.h"

typedef struct st_sim_hooks st_sim_hooks_t;
typedef struct st_sim_faults st_sim_faults_t;

/* Events kept retrievable through /v1/events (the newest ones). */
#define ST_SIM_EVENT_KEEP 20000

/* Sim time: wall clock (unless frozen) shifted by an offset that only grows. */
typedef struct st_sim_clock {
    int64_t start_sim;      /* sim time at creation */
    int64_t start_wall;     /* wall time at creation */
    int frozen;             /* 1: wall time does not move sim time */
    _Atomic int64_t offset; /* seconds added by advance */
} st_sim_clock_t;

struct st_sim {
    pthread_mutex_t mu;             /* guards everything below unless noted */
    st_sim_config_t cfg;            /* copy; strings owned by the caller of st_sim_new */
    uint64_t seed;                  /* id and model randomness */
    uint64_t next_id;               /* id counter, makes ids unique */
    uint64_t rng;                   /* splitmix state for model draws */
    json_t *objects;                /* id -> wire object, or its JSON text when cold */
    json_t *hot;                    /* ids of freezable objects parsed or made this request */
    json_t *priv;                   /* id -> simulator-only state */
    json_t *lists;                  /* object kind -> array of ids, creation order */
    struct st_sim_evlog *evlog;     /* newest events, serialised (st_sim_evlog.h) */
    struct st_sim_effect **effects; /* effect records, oldest first (owned) */
    size_t n_effects, cap_effects;  /* records in effects, and room */
    json_t *effects_by_key;         /* idempotency key -> number of effects */
    json_t *pending;                /* ids with a timed transition (refunds, issuers) */
    int64_t counts[3];              /* ST_SIM_N_*: charges ok, charges failed, refunds */
    st_sim_idem_t *idem;            /* idempotency store */
    json_t *pi_template;            /* a blank PaymentIntent, made on first use (st_sim_pi.c) */
    st_sim_clock_t clock;           /* own atomics; readable without mu */
    st_sim_faults_t *faults;        /* own lock */
    st_sim_hooks_t *hooks;          /* own lock and thread */
    _Atomic uint64_t req_seq;       /* request ids */
};

enum { ST_SIM_N_CHARGE_OK, ST_SIM_N_CHARGE_FAILED, ST_SIM_N_REFUND };

/* One request as the handlers see it. */
typedef struct st_sim_call {
    const st_sim_req_t *req;
    json_t *params;              /* request parameters (never NULL) */
    const char *id;              /* first path parameter or NULL */
    const char *request_id;      /* req_... of this request */
    int status;                  /* HTTP status of the answer */
    json_t *body;                /* answer, owned reference; may be a stored object (never
                                    mutate it: the router copies before expand[]) */
    json_t *text;                /* body serialised under the store mutex: a JSON string
                                    (owned reference) or NULL */
    struct st_sim_event *events; /* events emitted by this request, written at its end */
    size_t n_events, cap_events; /* recorded, and room */
    int should_retry;            /* -1, 0, 1 */
    int no_store;                /* 1: do not store under the idempotency key */
} st_sim_call_t;

/* One money movement; the strings live in text (idem_key, request_id may be NULL). */
typedef struct st_sim_effect {
    int64_t amount, at;
    const char *kind, *id, *status, *idem_key, *request_id;
    char text[];
} st_sim_effect_t;

/* An event a request emitted, written (st_sim_events_flush) when it ends. */
typedef struct st_sim_event {
    char id[40];      /* evt_... */
    char type[64];    /* payment_intent.succeeded ... */
    char obj[64];     /* id of the object it shows */
    int64_t created;  /* sim time */
    json_t *previous; /* previous_attributes or NULL (owned) */
} st_sim_event_t;

typedef int (*st_sim_handler_fn)(st_sim_t *sim, st_sim_call_t *call);

/* ---- store (st_sim_store.c) ---- */
void st_sim_id_new(st_sim_t *sim, const char *prefix, char *out, size_t cap);
void st_sim_store_put(st_sim_t *sim, const char *kind, const char *id, json_t *obj);
/* Store an object born cold, as its JSON text (copied). */
void st_sim_store_put_text(st_sim_t *sim, const char *kind, const char *id, const char *text,
                           size_t len);
/* The object (parsed back if cold; valid until the request ends) or NULL. */
json_t *st_sim_store_get(st_sim_t *sim, const char *id);
/*
 * Texts made for objects during one request, by object pointer, as JSON
 * string values (owned references): the store, the idempotency record and
 * the answer share one copy of an object's text.
 */
typedef struct st_sim_text_cache {
    const json_t *obj[16];
    json_t *str[16];
    int n;
    json_t *spill; /* texts made once the slots were full (owned) or NULL */
} st_sim_text_cache_t;
/* The text of obj as a JSON string (borrowed, valid until release), or NULL. */
json_t *st_sim_text_json(st_sim_text_cache_t *tc, const json_t *obj);
const char *st_sim_text_of(st_sim_text_cache_t *tc, const json_t *obj);
void st_sim_text_cache_release(st_sim_text_cache_t *tc);
void st_sim_store_freeze(st_sim_t *sim, st_sim_text_cache_t *tc);
json_t *st_sim_priv(st_sim_t *sim, const char *id);
json_t *st_sim_store_copy(st_sim_t *sim, const char *id);
int st_sim_store_list(st_sim_t *sim, st_sim_call_t *call, const char *kind, const char *url,
                      int (*keep)(json_t *obj, json_t *params));
void st_sim_expand(st_sim_t *sim, json_t *obj, json_t *params);
double st_sim_rand(st_sim_t *sim);
/* A draw fixed by the seed, key and n alone: the same whatever order
 * concurrent requests arrive in (issuer outcomes per customer attempt). */
double st_sim_rand_keyed(const st_sim_t *sim, const char *key, uint64_t n);

/* ---- parameters (st_sim_params.c) ---- */
int st_sim_params_allow(st_sim_call_t *call, const char *const *allowed);
const char *st_sim_param_str(st_sim_call_t *call, const char *name);
int st_sim_param_int(st_sim_call_t *call, const char *name, int64_t *out, int required);
int st_sim_param_bool(st_sim_call_t *call, const char *name, int *out);
int st_sim_param_enum(st_sim_call_t *call, const char *name, const char *const *values,
                      const char **out);
void st_sim_apply_metadata(json_t *obj, json_t *params);
void st_sim_apply_strings(json_t *obj, json_t *params, const char *const *names);

/* ---- errors (st_sim_errors.c); each returns -1 so handlers can `return` it ---- */
int st_sim_fail(st_sim_call_t *call, int status, const char *type, const char *code,
                const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int st_sim_fail_param(st_sim_call_t *call, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int st_sim_fail_missing(st_sim_call_t *call, const char *what, const char *param, const char *id);
int st_sim_fail_state(st_sim_call_t *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
json_t *st_sim_card_error(const char *code, const char *decline_code, const char *message);
void st_sim_ok(st_sim_call_t *call, json_t *obj);

/* ---- clock (st_sim_clock.c) ---- */
void st_sim_clock_init(st_sim_clock_t *c, int64_t start, int frozen);
int64_t st_sim_clock_now(st_sim_clock_t *c);
void st_sim_clock_advance(st_sim_clock_t *c, int64_t seconds);

/* ---- events and effects (st_sim_events.c) ---- */
void st_sim_event_emit(st_sim_t *sim, st_sim_call_t *call, const char *type, const char *obj_id,
                       json_t *previous);
void st_sim_events_flush(st_sim_t *sim, st_sim_call_t *call, st_sim_text_cache_t *tc);
void st_sim_events_release(st_sim_call_t *call); /* events never flushed */
void st_sim_effect(st_sim_t *sim, st_sim_call_t *call, const char *kind, const char *id,
                   int64_t amount, const char *status);
json_t *st_sim_effect_json(const st_sim_effect_t *e);

/* ---- cards (st_sim_cards.c) ---- */
typedef enum {
    ST_SIM_3DS_NONE,          /* 3-D Secure not supported (amex) */
    ST_SIM_3DS_OPTIONAL,      /* supported, not required */
    ST_SIM_3DS_ALWAYS,        /* required on every payment; off-session fails */
    ST_SIM_3DS_UNLESS_SETUP,  /* on-session needs it; off-session ok once set up */
    ST_SIM_3DS_ONSESSION_ONLY /* on-session needs it; off-session succeeds */
} st_sim_3ds_t;

typedef enum { ST_SIM_REFUND_OK, ST_SIM_REFUND_PENDING, ST_SIM_REFUND_FAIL } st_sim_refund_t;

typedef struct st_sim_card {
    const char *number;       /* PAN */
    const char *token;        /* pm_card_... or NULL */
    const char *alias;        /* second token name or NULL */
    const char *brand;        /* visa, mastercard, amex */
    const char *funding;      /* credit, debit */
    const char *code;         /* error code when a charge fails, or NULL */
    const char *decline_code; /* decline_code when a charge fails, or NULL */
    int attach_fails;         /* attaching to a customer is declined */
    st_sim_3ds_t tds;         /* 3-D Secure behaviour */
    const char *risk;         /* outcome.risk_level */
    st_sim_refund_t refund;   /* refund behaviour */
} st_sim_card_t;

const st_sim_card_t *st_sim_card_by_token(const char *token);
const st_sim_card_t *st_sim_card_by_number(const char *number);
int st_sim_luhn_ok(const char *number);
const char *st_sim_decline_message(const char *code, const char *decline_code);

/* ---- payment methods (st_sim_pm.c) ---- */
json_t *st_sim_pm_resolve(st_sim_t *sim, st_sim_call_t *call, const char *ref, const char *param);
const st_sim_card_t *st_sim_pm_card(st_sim_t *sim, const char *pm_id);
int st_sim_pm_attach_to(st_sim_t *sim, st_sim_call_t *call, json_t *pm, const char *cus);

/* ---- customers and invoices, for the book loader ---- */
json_t *st_sim_customer_make(st_sim_t *sim, const char *email);
json_t *st_sim_invoice_open(st_sim_t *sim, st_sim_call_t *call, const char *cus, int64_t amount,
                            const char *currency);

/* ---- payment intents (st_sim_pi.c, st_sim_pi_run.c) ---- */
int st_sim_pi_run(st_sim_t *sim, st_sim_call_t *call, json_t *pi, int off_session);
int st_sim_pi_3ds_finish(st_sim_t *sim, st_sim_call_t *call, json_t *pi, int succeed);
json_t *st_sim_pi_make(st_sim_t *sim, int64_t amount, const char *currency);

/* ---- refunds and timed transitions (st_sim_refunds.c) ---- */
void st_sim_refunds_tick(st_sim_t *sim, st_sim_call_t *call, int64_t now);

/* ---- issuer model (st_sim_issuer.c) ---- */
int st_sim_issuer_decide(st_sim_t *sim, st_sim_call_t *call, const char *cus, const char *pm,
                         const char **code, const char **decline_code);
void st_sim_issuer_tick(st_sim_t *sim, st_sim_call_t *call, int64_t now);

/* ---- route handlers by family ---- */
typedef struct st_sim_route {
    const char *method;   /* "GET", "POST", "DELETE" */
    const char *pattern;  /* "/v1/payment_intents/:id/confirm" */
    st_sim_handler_fn fn; /* handler */
} st_sim_route_t;

extern const st_sim_route_t st_sim_routes_customers[];
extern const st_sim_route_t st_sim_routes_pm[];
extern const st_sim_route_t st_sim_routes_pi[];
extern const st_sim_route_t st_sim_routes_charges[];
extern const st_sim_route_t st_sim_routes_invoices[];
extern const st_sim_route_t st_sim_routes_events[];
extern const st_sim_route_t st_sim_routes_admin[];

#endif
