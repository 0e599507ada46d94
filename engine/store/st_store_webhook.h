/*
 * st_store_webhook.h — storing Stripe webhook events and the signals they
 * carry, many events per transaction (group commit).
 *
 * Layer: store (public). Depends on st_store.h.
 *
 * Contract. An event is stored once per event id (webhook_events): a
 * redelivery of a stored id changes nothing and reports is_new = false.
 * A new event becomes one signal per instance correlated with any of its
 * (key, value) pairs (named after the event type, payload = data.object,
 * source = "webhook:<id>"); with none yet it is parked under its first pair
 * and handed to the first instance that learns that pair. Signals are
 * stored by the same statement family as st_store_signal_send_correlated.
 *
 * Connection failures. When the connection breaks while a batch is in
 * flight, its outcome is unknown. The store connection drops the broken
 * libpq connection and reconnects; the batch is then sent again on the
 * fresh one (at most ST_STORE_WH_IO_TRIES times in all). That is safe
 * because event ids de-duplicate: a batch that did commit before the break
 * is found stored, and its events report is_new = false and no signals.
 */
#ifndef ST_STORE_WEBHOOK_H
#define ST_STORE_WEBHOOK_H

#include "store/st_store.h"

#define ST_STORE_WH_IO_TRIES 3

typedef struct st_store_wh_event {
    const char *event_id;                    /* borrowed; non-empty */
    const char *type;                        /* event type = signal name */
    const char *payload_json;                /* the whole event (JSON text) */
    const char *const *keys, *const *values; /* npairs correlation pairs */
    unsigned npairs;
    /* results, written by st_store_webhooks_store */
    int rc;          /* 0: stored (or a redelivery); else why this event failed */
    bool is_new;     /* stored by this call */
    int64_t signals; /* signals delivered to instances */
    bool parked;     /* new, no instance yet: parked under its first pair */
} st_store_wh_event_t;

typedef struct st_store_wh_stats {
    uint64_t statements; /* batch statements sent (group commits and retries) */
    uint64_t io_retries; /* batches sent again after a broken connection */
} st_store_wh_stats_t;

/*
 * Store ev[0..n) in one transaction: lock their pairs (CORR_LOCK), then
 * one statement. When the batch fails for another reason than the
 * connection, each event is retried alone, so one bad event cannot fail
 * its neighbours. Every ev[i] gets its results; returns 0 when every event
 * succeeded, else the last failure's code with err set. stats (may be
 * NULL) is added to. A blocking helper: the connection's loop must be
 * private to the caller.
 */
int st_store_webhooks_store(st_store_conn_t *c, st_store_wh_event_t *ev, size_t n,
                            st_store_wh_stats_t *stats, st_err_t *err);

/*
 * The batch statement's six parameters for ev[0..n): array literals of
 * event ids, types, payloads, pair-to-event indexes (1-based), keys and
 * values, text elements quoted with '"' and '\' backslash-escaped. Pure.
 * 0 with params[k] malloc'd (the caller frees them), or ST_NOMEM with all
 * six NULL.
 */
int st_store_webhooks_params(const st_store_wh_event_t *ev, size_t n, char *params[6],
                             st_err_t *err);

#endif
