/*
 * st_act_stripe_classify.c — a Stripe reply (transport result, HTTP status,
 * headers, JSON body) becomes a catalog outcome with its codes, message and
 * result fields.
 *
 * Layer: engine/activity, pure (no I/O; time passed in). Depends on
 * jansson, st_act_backoff (Retry-After) and st_act_curl_transient.
 *
 * Rules (Stripe's documented error handling):
 *   - transport failures: timeouts / connection errors transient, others failed;
 *   - Stripe-Should-Retry: true -> transient, false -> never transient;
 *   - 402 / card_error -> declined(decline_code, else code), except a card
 *     error whose PaymentIntent needs action -> requires_action;
 *   - 409 (concurrent use of the idempotency key), 429, 5xx -> transient;
 *   - other 4xx (invalid_request, authentication, permission, idempotency
 *     mismatch, not found) -> failed, Stripe's message kept;
 *   - 2xx: the object's status decides (see success_* below).
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <string.h>

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k)); /* NULL when absent / not a string */
}

/* Copy string and integer fields of src named in keys into dst. */
static void copy_fields(json_t *dst, const json_t *src, const char *const *keys)
{
    for (size_t i = 0; keys[i] != NULL; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (json_is_string(v) || json_is_integer(v) || json_is_boolean(v))
            json_object_set(dst, keys[i], v);
    }
}

/* An id field that may be a string or an expanded object. */
static const char *id_of(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : sget(v, "id");
}

static void set_code(char *dst, const char *src)
{
    snprintf(dst, ST_ACT_CODE_MAX, "%s", src ? src : "");
}

static void outcome(st_act_result_t *out, const char *o)
{
    out->outcome = o;
    out->permanent = strcmp(o, ST_ACT_TRANSIENT) != 0;
}

/* next_action of a PaymentIntent: type, the URL that finishes it (redirect_to_url.url, else
 * use_stripe_sdk.stripe_js), the whole object. */
static void keep_next_action(json_t *res, const json_t *pi)
{
    const json_t *na = json_object_get(pi, "next_action");
    if (!json_is_object(na))
        return;
    json_object_set(res, "next_action", (json_t *)na);
    const char *type = sget(na, "type");
    if (type)
        json_object_set_new(res, "next_action_type", json_string(type));
    const char *url = sget(json_object_get(na, "redirect_to_url"), "url");
    if (url == NULL) /* no return_url given: the 3-D Secure page for Stripe.js */
        url = sget(json_object_get(na, "use_stripe_sdk"), "stripe_js");
    if (url)
        json_object_set_new(res, "next_action_url", json_string(url));
}

static void keep_last_error(st_act_result_t *out, const json_t *pi)
{
    const json_t *e = json_object_get(pi, "last_payment_error");
    if (!json_is_object(e))
        return;
    static const char *const keys[] = {"type", "code", "decline_code", "message", NULL};
    json_t *le = json_object();
    copy_fields(le, e, keys);
    json_object_set_new(out->result, "last_payment_error", le);
    set_code(out->error_code, sget(e, "code"));
    set_code(out->decline_code, sget(e, "decline_code"));
    set_code(out->code, sget(e, "decline_code") ? sget(e, "decline_code") : sget(e, "code"));
    snprintf(out->message, sizeof out->message, "%s", sget(e, "message") ? sget(e, "message") : "");
}

static void success_payment(st_act_stripe_kind_t kind, const json_t *pi, st_act_result_t *out)
{
    const char *st = sget(pi, "status");
    st = st ? st : "";
    if (kind == ST_ACT_STRIPE_CANCEL_PAYMENT) {
        outcome(out, strcmp(st, "canceled") == 0 ? ST_ACT_SUCCEEDED : ST_ACT_FAILED);
        snprintf(out->message, sizeof out->message, "payment intent is %s", st);
        return;
    }
    if (strcmp(st, "succeeded") == 0 || strcmp(st, "requires_capture") == 0) {
        outcome(out, ST_ACT_SUCCEEDED);
    } else if (strcmp(st, "processing") == 0) {
        outcome(out, ST_ACT_PROCESSING);
    } else if (strcmp(st, "requires_action") == 0) {
        outcome(out, ST_ACT_REQUIRES_ACTION);
        keep_next_action(out->result, pi);
    } else if (strcmp(st, "requires_payment_method") == 0 &&
               json_is_object(json_object_get(pi, "last_payment_error"))) {
        outcome(out, ST_ACT_DECLINED);
        keep_last_error(out, pi);
    } else {
        outcome(out, ST_ACT_FAILED);
        snprintf(out->message, sizeof out->message, "payment intent is %s", st);
    }
}

static void success_invoice(st_act_stripe_kind_t kind, const json_t *inv, st_act_result_t *out)
{
    const char *st = sget(inv, "status");
    st = st ? st : "";
    const json_t *pi = json_object_get(inv, "payment_intent");
    if (kind == ST_ACT_STRIPE_VOID_INVOICE) {
        outcome(out, strcmp(st, "void") == 0 ? ST_ACT_SUCCEEDED : ST_ACT_FAILED);
    } else if (strcmp(st, "paid") == 0) {
        outcome(out, ST_ACT_SUCCEEDED);
    } else if (json_is_object(pi) &&
               strcmp(sget(pi, "status") ? sget(pi, "status") : "", "requires_action") == 0) {
        outcome(out, ST_ACT_REQUIRES_ACTION);
        keep_next_action(out->result, pi);
    } else {
        outcome(out, ST_ACT_FAILED);
    }
    snprintf(out->message, sizeof out->message, "invoice is %s", st);
}

static void success_refund(const json_t *re, st_act_result_t *out)
{
    const char *st = sget(re, "status");
    st = st ? st : "";
    if (strcmp(st, "succeeded") == 0)
        outcome(out, ST_ACT_SUCCEEDED);
    else if (strcmp(st, "pending") == 0 || strcmp(st, "requires_action") == 0)
        outcome(out, ST_ACT_PENDING);
    else
        outcome(out, ST_ACT_FAILED);
    const char *why = sget(re, "failure_reason");
    snprintf(out->message, sizeof out->message, "refund is %s%s%s", st, why ? ": " : "",
             why ? why : "");
}

static void classify_success(st_act_stripe_kind_t kind, const json_t *obj, st_act_result_t *out)
{
    static const char *const keys[] = {"id",
                                       "object",
                                       "status",
                                       "amount",
                                       "currency",
                                       "customer",
                                       "latest_charge",
                                       "hosted_invoice_url",
                                       "failure_reason",
                                       "amount_due",
                                       "amount_paid",
                                       NULL};
    copy_fields(out->result, obj, keys);
    const char *pi_id = id_of(json_object_get(obj, "payment_intent"));
    if (pi_id)
        json_object_set_new(out->result, "payment_intent", json_string(pi_id));
    switch (kind) {
    case ST_ACT_STRIPE_PAY_INVOICE:
    case ST_ACT_STRIPE_VOID_INVOICE:
        success_invoice(kind, obj, out);
        break;
    case ST_ACT_STRIPE_REFUND:
        success_refund(obj, out);
        break;
    default:
        success_payment(kind, obj, out);
        break;
    }
}

/* A card error whose PaymentIntent waits for the customer. */
static bool needs_action(const json_t *e)
{
    const char *code = sget(e, "code");
    const char *pst = sget(json_object_get(e, "payment_intent"), "status");
    return (code && strcmp(code, "invoice_payment_intent_requires_action") == 0) ||
           (pst && strcmp(pst, "requires_action") == 0);
}

static void classify_error(const st_act_stripe_reply_t *rp, const json_t *body,
                           st_act_result_t *out)
{
    const json_t *e = json_object_get(body, "error");
    static const char *const keys[] = {"type",   "code", "decline_code", "param", "doc_url",
                                       "charge", NULL};
    json_t *err = json_object();
    copy_fields(err, e, keys);
    json_object_set_new(out->result, "error", err);
    const json_t *pi = json_object_get(e, "payment_intent");
    if (json_is_object(pi) && sget(pi, "id"))
        json_object_set_new(out->result, "payment_intent", json_string(sget(pi, "id")));
    const char *type = sget(e, "type") ? sget(e, "type") : "";
    set_code(out->error_code, sget(e, "code"));
    set_code(out->decline_code, sget(e, "decline_code"));
    const char *msg = sget(e, "message");
    snprintf(out->message, sizeof out->message, "Stripe %ld %s: %s", rp->status,
             type[0] ? type : "error", msg ? msg : "(no message)");

    bool card = rp->status == 402 || strcmp(type, "card_error") == 0;
    const char *sr = rp->should_retry;
    if (sr && strcmp(sr, "true") == 0) {
        outcome(out, ST_ACT_TRANSIENT);
    } else if (card && needs_action(e)) {
        outcome(out, ST_ACT_REQUIRES_ACTION);
        keep_next_action(out->result, pi);
    } else if (card) {
        outcome(out, ST_ACT_DECLINED);
        const char *c = sget(e, "decline_code") ? sget(e, "decline_code") : sget(e, "code");
        set_code(out->code, c ? c : "card_declined");
    } else if ((rp->status == 409 || rp->status == 429 || rp->status >= 500) &&
               !(sr && strcmp(sr, "false") == 0)) {
        outcome(out, ST_ACT_TRANSIENT);
    } else {
        outcome(out, ST_ACT_FAILED);
        set_code(out->code, sget(e, "code"));
    }
}

bool st_act_curl_transient(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_FAILED_INIT:
        return true;
    default:
        return false;
    }
}

void st_act_stripe_classify(st_act_stripe_kind_t kind, const st_act_stripe_reply_t *rp,
                            int64_t now_unix_us, st_act_result_t *out)
{
    json_decref(out->result);
    out->result = json_object();
    out->code[0] = out->error_code[0] = out->decline_code[0] = out->message[0] = '\0';
    out->http_status = (int)rp->status;
    out->retry_after_us = -1;
    if (rp->request_id && rp->request_id[0])
        json_object_set_new(out->result, "request_id", json_string(rp->request_id));
    if (rp->replayed && strcmp(rp->replayed, "true") == 0)
        json_object_set_new(out->result, "idempotent_replayed", json_true());
    if (rp->curl_code != 0) {
        outcome(out, st_act_curl_transient(rp->curl_code) ? ST_ACT_TRANSIENT : ST_ACT_FAILED);
        snprintf(out->message, sizeof out->message, "calling Stripe failed: %s",
                 rp->curl_error ? rp->curl_error : curl_easy_strerror(rp->curl_code));
        return;
    }
    int64_t ra;
    if (rp->retry_after && rp->retry_after[0] &&
        st_act_parse_retry_after(rp->retry_after, now_unix_us, &ra) == 0)
        out->retry_after_us = ra;
    json_t *body = rp->body ? json_loads(rp->body, JSON_DECODE_ANY, NULL) : NULL;
    if (rp->status >= 200 && rp->status < 300 && json_is_object(body)) {
        classify_success(kind, body, out);
    } else if (json_is_object(json_object_get(body, "error"))) {
        classify_error(rp, body, out);
    } else {
        /* No Stripe object: a proxy or a torn reply. Same key makes a retry safe. */
        bool retry = rp->status >= 500 || rp->status == 429 || rp->status == 409 ||
                     (rp->status >= 200 && rp->status < 300);
        if (rp->should_retry && strcmp(rp->should_retry, "false") == 0)
            retry = false;
        outcome(out, retry ? ST_ACT_TRANSIENT : ST_ACT_FAILED);
        snprintf(out->message, sizeof out->message, "Stripe replied %ld without a JSON object",
                 rp->status);
    }
    json_decref(body);
}
