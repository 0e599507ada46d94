/*
 * st_sim_charges.c — charge objects: creation per PaymentIntent attempt,
 * capture and release, and GET /v1/charges[/:id].
 *
 * A failed charge carries failure_code / failure_message and an outcome in
 * Stripe's shape (issuer_declined, or blocked by Radar for the fraud test
 * cards). Every creation is an effect (st_sim_events.c) keyed by the
 * request's idempotency key, so tests can count charges per key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_charges.h"
#include "st_sim_int.h"
#include "st_sim_json.h"

/* ,"key": then a value, for the text writers below. */
static void key(st_buf_t *b, const char *k)
{
    st_buf_add(b, ",", 1);
    st_sim_buf_jstr(b, k, strlen(k));
    st_buf_add(b, ":", 1);
}

static void kstr(st_buf_t *b, const char *k, const char *v)
{
    key(b, k);
    if (v)
        st_sim_buf_jstr(b, v, strlen(v));
    else
        st_buf_add(b, "null", 4);
}

static void kraw(st_buf_t *b, const char *k, const char *raw)
{
    key(b, k);
    st_buf_adds(b, raw);
}

static void kjson(st_buf_t *b, const char *k, const json_t *v)
{
    key(b, k);
    if (v)
        st_sim_buf_json(b, v);
    else
        st_buf_add(b, "null", 4);
}

static void kint(st_buf_t *b, const char *k, int64_t v)
{
    key(b, k);
    st_sim_buf_int(b, (json_int_t)v);
}

/* Stripe's outcome: authorized, issuer_declined, or blocked by Radar. */
static void outcome(st_buf_t *b, const st_sim_card_t *c, const char *code, const char *dc)
{
    int blocked = dc && (strcmp(dc, "fraudulent") == 0 || strcmp(dc, "highest_risk_level") == 0);
    const char *reason = blocked ? "highest_risk_level" : code ? (dc ? dc : code) : NULL;
    st_buf_adds(b, "{\"network_decline_code\":null");
    kstr(b, "network_status",
         !code     ? "approved_by_network"
         : blocked ? "not_sent_to_network"
                   : "declined_by_network");
    kstr(b, "reason", reason);
    kstr(b, "risk_level", c->risk);
    kint(b, "risk_score", blocked ? 95 : strcmp(c->risk, "elevated") == 0 ? 70 : 20);
    kraw(b, "rule", "null");
    kstr(b, "seller_message",
         !code     ? "Payment complete."
         : blocked ? "Stripe blocked this payment as too risky."
                   : "The bank did not return any further details with "
                     "this decline.");
    kstr(b, "type", !code ? "authorized" : blocked ? "blocked" : "issuer_declined");
    st_buf_add(b, "}", 1);
}

static void card_details(st_buf_t *b, st_sim_t *sim, const char *pm_id)
{
    json_t *card = json_object_get(st_sim_store_get(sim, pm_id), "card");
    st_buf_adds(b, "{\"card\":{\"brand\":");
    st_sim_buf_json(b, json_object_get(card, "brand"));
    kraw(
        b, "checks",
        "{\"address_line1_check\":null,\"address_postal_code_check\":null,\"cvc_check\":\"pass\"}");
    const char *const f[] = {"country", "exp_month", "exp_year", "fingerprint",
                             "funding", "last4",     NULL};
    for (const char *const *k = f; *k; k++)
        kjson(b, *k, json_object_get(card, *k));
    kjson(b, "network", json_object_get(card, "brand"));
    st_buf_adds(b, "},\"type\":\"card\"}");
}

/* The first half of a charge: identity, money and parties. */
static void charge_head(st_buf_t *b, st_sim_t *sim, const char *id, json_t *pi, int ok, int manual)
{
    int64_t amount = json_integer_value(json_object_get(pi, "amount"));
    st_buf_adds(b, "{\"id\":");
    st_sim_buf_jstr(b, id, strlen(id));
    st_buf_adds(b, ",\"object\":\"charge\"");
    kint(b, "amount", amount);
    kint(b, "amount_captured", ok && !manual ? amount : 0);
    st_buf_adds(b, ",\"amount_refunded\":0,\"application\":null,\"application_fee\":null,"
                   "\"balance_transaction\":null,\"billing_details\":null");
    kraw(b, "captured", ok && !manual ? "true" : "false");
    kint(b, "created", st_sim_now(sim));
    kjson(b, "currency", json_object_get(pi, "currency"));
    kjson(b, "customer", json_object_get(pi, "customer"));
    kjson(b, "description", json_object_get(pi, "description"));
    kraw(b, "disputed", "false");
}

/*
 * A charge is written straight to JSON text and stored cold: it is rarely
 * touched again (capture, refunds, expand parse it back), and building it
 * as a jansson tree was a fifth of the confirm path.
 */
static void charge_text(st_buf_t *b, st_sim_t *sim, const char *id, json_t *pi,
                        const st_sim_card_t *c, const char *code, const char *dc, int manual)
{
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    charge_head(b, sim, id, pi, !code, manual);
    kstr(b, "failure_code", code);
    kstr(b, "failure_message", code ? st_sim_decline_message(code, dc) : NULL);
    st_buf_adds(b, ",\"fraud_details\":{},\"livemode\":false");
    kjson(b, "metadata", json_object_get(pi, "metadata"));
    kraw(b, "paid", code ? "false" : "true");
    kjson(b, "payment_intent", json_object_get(pi, "id"));
    kstr(b, "payment_method", pm_id);
    key(b, "payment_method_details");
    card_details(b, sim, pm_id);
    kjson(b, "receipt_email", json_object_get(pi, "receipt_email"));
    st_buf_adds(b, ",\"receipt_url\":null,\"review\":null,\"refunded\":false,"
                   "\"refunds\":{\"object\":\"list\",\"data\":[],\"has_more\":false,"
                   "\"total_count\":0,\"url\":\"/v1/charges/");
    st_buf_adds(b, id);
    st_buf_adds(b, "/refunds\"},\"shipping\":null,\"statement_descriptor\":null,"
                   "\"transfer_group\":null");
    kstr(b, "status", code ? "failed" : "succeeded");
    key(b, "outcome");
    outcome(b, c, code, dc);
    st_buf_add(b, "}", 1);
}

int st_sim_charge_make(st_sim_t *sim, st_sim_call_t *call, json_t *pi, const st_sim_card_t *c,
                       const char *code, const char *dc, int manual, char *id, size_t cap)
{
    st_sim_id_new(sim, "ch", id, cap);
    st_buf_t own = {0}, *b = st_sim_buf_scratch(); /* copied into the store */
    if (!b)
        b = &own;
    charge_text(b, sim, id, pi, c, code, dc, manual);
    int oom = b->oom;
    if (!oom)
        st_sim_store_put_text(sim, "charge", id, b->p, b->len);
    st_sim_buf_scratch_done(b);
    if (oom)
        return st_sim_fail(call, 500, "api_error", NULL, NULL, "out of memory");
    int64_t amount = json_integer_value(json_object_get(pi, "amount"));
    json_object_set_new(pi, "latest_charge", json_string(id));
    st_sim_effect(sim, call, "charge", id, amount, code ? "failed" : "succeeded");
    st_sim_event_emit(sim, call, code ? "charge.failed" : "charge.succeeded", id, NULL);
    return 0;
}

void st_sim_charge_capture(st_sim_t *sim, st_sim_call_t *call, json_t *ch, int64_t amount)
{
    int64_t full = json_integer_value(json_object_get(ch, "amount"));
    json_object_set_new(ch, "captured", json_true());
    json_object_set_new(ch, "amount_captured", json_integer(amount));
    if (amount < full) /* Stripe refunds the uncaptured remainder */
        json_object_set_new(ch, "amount_refunded", json_integer(full - amount));
    st_sim_event_emit(sim, call, "charge.captured", json_string_value(json_object_get(ch, "id")),
                      NULL);
}

void st_sim_charge_release(st_sim_t *sim, st_sim_call_t *call, json_t *ch)
{
    json_object_set(ch, "amount_refunded", json_object_get(ch, "amount"));
    json_object_set_new(ch, "refunded", json_true());
    st_sim_event_emit(sim, call, "charge.refunded", json_string_value(json_object_get(ch, "id")),
                      NULL);
}

static int ch_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *ch = st_sim_store_get(sim, call->id);
    if (!ch || strcmp(json_string_value(json_object_get(ch, "object")), "charge") != 0)
        return st_sim_fail_missing(call, "charge", "id", call->id);
    json_t *out = json_deep_copy(ch);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

static int keep_charge(json_t *o, json_t *params)
{
    const char *f[] = {"customer", "payment_intent", NULL};
    for (const char **k = f; *k; k++) {
        const char *want = json_string_value(json_object_get(params, *k));
        const char *have = json_string_value(json_object_get(o, *k));
        if (want && (!have || strcmp(want, have) != 0))
            return 0;
    }
    return 1;
}

static int ch_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "charge", "/v1/charges", keep_charge);
}

const st_sim_route_t st_sim_routes_charges[] = {
    {"GET", "/v1/charges", ch_list},
    {"GET", "/v1/charges/:id", ch_retrieve},
    {"POST", "/v1/refunds", st_sim_refund_create},
    {"GET", "/v1/refunds", st_sim_refund_list},
    {"GET", "/v1/refunds/:id", st_sim_refund_retrieve},
    {NULL, NULL, NULL},
};
