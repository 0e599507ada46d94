/*
 * st_http_webhook.c — POST /webhooks/stripe: verify, de-duplicate, store,
 * map to signals.
 *
 * Layer: http (handler). Depends on st_webhook_sig (signature), jansson
 * (event parsing), the webhook batcher (st_http_wh_batch.c).
 *
 * Threads: the handler verifies and parses on the libmicrohttpd thread,
 * queues the event for the webhook committer and suspends the connection;
 * the committer resumes it after the commit and libmicrohttpd calls the
 * handler again, which answers (st_http_webhook_finish). No thread waits.
 *
 * Contract with Stripe: a genuine event is answered 200 as soon as it is
 * committed — the flows react afterwards, through the signals the same
 * transaction stored and the NOTIFY the database sends the executor. A
 * redelivery (same event id) is answered 200 and changes nothing. A bad or
 * stale signature, a body that is not a Stripe event, or an oversize body
 * is answered 4xx and nothing is stored. Unknown event types are stored
 * and acknowledged like any other: they simply wake no flow that does not
 * wait for them.
 *
 * Mapping: from data.object, its own id keyed by its object type
 * ("invoice" → in_...) plus the related ids it carries as strings (or as
 * expanded objects with an id) in the fields payment_intent, invoice,
 * customer and charge. Every instance correlated with any of those pairs
 * gets one signal named after the event type.
 *
 * Invariants: the signature is checked over the raw body, and the event
 * is parsed from those same bytes; it is stored as jsonb (PostgreSQL keeps
 * the content, not the spacing or key order, and the last of duplicate
 * keys, as the parser here does). Secrets and signatures never appear in
 * a response (st_webhook_sig's messages are redacted by design).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "http/st_webhook_sig.h"

#define MAX_ID_LEN 255

static const char *const related_fields[] = {"payment_intent", "invoice", "customer", "charge"};

static void count(st_http_req_t *req, const char *result)
{
    const char *v[] = {result};
    st_metrics_inc(req->srv->std.webhook_events, v, 1);
}

static const char *id_of(json_t *v)
{
    if (json_is_object(v))
        v = json_object_get(v, "id");
    const char *s = json_string_value(v);
    return s != NULL && s[0] != '\0' && strlen(s) <= MAX_ID_LEN ? s : NULL;
}

static void add_pair(st_http_wh_job_t *job, const char *key, const char *value)
{
    if (key == NULL || value == NULL || job->ncorr == ST_HTTP_WH_MAX_CORR)
        return;
    for (unsigned i = 0; i < job->ncorr; i++)
        if (strcmp(job->keys[i], key) == 0 && strcmp(job->values[i], value) == 0)
            return;
    job->keys[job->ncorr] = key;
    job->values[job->ncorr++] = value;
}

/* Correlation pairs of data.object (borrowed from the parsed event). */
static void map_object(json_t *obj, st_http_wh_job_t *job)
{
    const char *kind = json_string_value(json_object_get(obj, "object"));
    if (kind != NULL && strlen(kind) <= MAX_ID_LEN)
        add_pair(job, kind, id_of(json_object_get(obj, "id")));
    for (size_t i = 0; i < sizeof related_fields / sizeof related_fields[0]; i++)
        add_pair(job, related_fields[i], id_of(json_object_get(obj, related_fields[i])));
}

int st_http_wh_event_parse(const char *body, size_t len, json_t **evp, st_http_wh_job_t *job,
                           st_http_resp_t *resp)
{
    json_error_t jerr;
    json_t *ev = json_loadb(body ? body : "", len, 0, &jerr);
    *evp = ev;
    if (ev == NULL) {
        st_http_resp_error(resp, 400, "invalid_json",
                           "send the event exactly as Stripe delivers it",
                           "the body is not valid JSON: %s at line %d column %d", jerr.text,
                           jerr.line, jerr.column);
        return ST_PARSE;
    }
    json_t *obj = json_object_get(json_object_get(ev, "data"), "object");
    const char *id = id_of(json_object_get(ev, "id"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!json_is_object(ev) || id == NULL || type == NULL || type[0] == '\0' ||
        strlen(type) > MAX_ID_LEN || !json_is_object(obj)) {
        st_http_resp_error(resp, 400, "invalid_event",
                           "a Stripe event is an object with \"id\", \"type\" and "
                           "\"data\": {\"object\": {...}}",
                           "the body is JSON but not a Stripe event");
        return ST_PARSE;
    }
    job->event_id = id;
    job->type = type;
    job->payload = body;
    map_object(obj, job);
    return 0;
}

static int verify(st_http_req_t *req, st_http_resp_t *resp)
{
    const st_http_server_t *s = req->srv;
    if (s->n_secrets == 0) {
        st_http_resp_error(resp, 503, "not_configured",
                           "the operator must set SETTLE_WEBHOOK_SECRETS (or "
                           "SETTLE_WEBHOOK_SECRETS_FILE) on settled",
                           "no webhook signing secret is configured on this server");
        return ST_STATE;
    }
    if (!st_http_is_json_type(st_http_req_header(req, "Content-Type"))) {
        st_http_resp_error(resp, 415, "unsupported_media_type",
                           "Stripe sends 'Content-Type: application/json'; send the event as is",
                           "a webhook event must be JSON");
        return ST_PARSE;
    }
    const char *sig = st_http_req_header(req, "Stripe-Signature");
    if (sig == NULL) {
        st_http_resp_error(resp, 400, "signature_missing",
                           "sign the payload as Stripe does and send it in the Stripe-Signature "
                           "header",
                           "the request has no Stripe-Signature header");
        return ST_AUTH;
    }
    st_err_t err;
    st_err_clear(&err);
    int rc = st_webhook_sig_verify(sig, req->body ? req->body : "", req->len,
                                   (const char *const *)s->secrets, s->n_secrets,
                                   (int64_t)time(NULL), s->tolerance_s, &err);
    if (rc != 0)
        st_http_resp_err(resp, 400, "signature_invalid", &err,
                         "check the endpoint secret (whsec_...) and the clocks; the payload must "
                         "be the exact bytes that were signed");
    return rc;
}

/* Committer thread: the job is final; let libmicrohttpd call us again. */
static void job_done(st_http_wh_job_t *job, void *ud)
{
    st_http_req_t *req = ud;
    MHD_resume_connection(req->conn);
}

void st_http_h_webhook(st_http_req_t *req, st_http_resp_t *resp)
{
    if (verify(req, resp) != 0) {
        count(req, "rejected");
        return;
    }
    st_http_wh_job_t *job = calloc(1, sizeof *job);
    if (job == NULL) {
        st_http_resp_error(resp, 503, "unavailable", "retry later", "out of memory");
        return;
    }
    req->job = job;
    if (st_http_wh_event_parse(req->body, req->len, &req->event, job, resp) != 0) {
        count(req, "rejected");
        return; /* job and event are freed with the request */
    }
    job->cb = job_done;
    job->ud = req;
    /* Suspend before queueing, so the resume can never come first. The
     * response is built by st_http_webhook_finish when we are called again. */
    MHD_suspend_connection(req->conn);
    st_http_wh_batch_enqueue(&req->srv->wh, job);
}

void st_http_webhook_finish(st_http_req_t *req, st_http_resp_t *resp)
{
    st_http_wh_job_t *job = req->job;
    if (job->rc != 0) {
        st_err_t err;
        st_err_set(&err, job->rc, "the webhook event could not be stored");
        st_http_log(req->srv, "webhook: storing event %s failed", job->event_id);
        st_http_resp_db(resp, &err);
        return;
    }
    count(req, job->is_new ? "received" : "duplicate");
    if (job->is_new && job->signals > 0)
        st_metrics_inc(req->srv->std.webhook_signals, NULL, (double)job->signals);
    json_t *body =
        json_pack("{s:b,s:s,s:b,s:I,s:b}", "received", 1, "id", job->event_id, "duplicate",
                  !job->is_new, "signals", (json_int_t)job->signals, "parked", job->parked);
    st_http_resp_json(resp, 200, body);
}
