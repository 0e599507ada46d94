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
#include <string.h>

#include "st_sim_charges.h"
#include "st_sim_int.h"

static json_t *outcome(const st_sim_card_t *c, const char *code, const char *dc)
{
    int blocked = dc && (strcmp(dc, "fraudulent") == 0 || strcmp(dc, "highest_risk_level") == 0);
    const char *type = !code ? "authorized" : blocked ? "blocked" : "issuer_declined";
    const char *net = !code     ? "approved_by_network"
                      : blocked ? "not_sent_to_network"
                                : "declined_by_network";
    const char *msg = !code     ? "Payment complete."
                      : blocked ? "Stripe blocked this payment as too risky."
                                : "The bank did not return any further details with this decline.";
    const char *reason = blocked ? "highest_risk_level" : code ? (dc ? dc : code) : NULL;
    return json_pack("{s:n, s:s, s:s?, s:s, s:i, s:n, s:s, s:s}", "network_decline_code",
                     "network_status", net, "reason", reason, "risk_level", c->risk, "risk_score",
                     blocked                            ? 95
                     : strcmp(c->risk, "elevated") == 0 ? 70
                                                        : 20,
                     "rule", "seller_message", msg, "type", type);
}

static json_t *card_details(st_sim_t *sim, const char *pm_id)
{
    json_t *pm_card = json_object_get(st_sim_store_get(sim, pm_id), "card");
    json_t *d = json_pack(
        "{s:O?, s:{s:n, s:n, s:s}, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "brand",
        json_object_get(pm_card, "brand"), "checks", "address_line1_check",
        "address_postal_code_check", "cvc_check", "pass", "country",
        json_object_get(pm_card, "country"), "exp_month", json_object_get(pm_card, "exp_month"),
        "exp_year", json_object_get(pm_card, "exp_year"), "fingerprint",
        json_object_get(pm_card, "fingerprint"), "funding", json_object_get(pm_card, "funding"),
        "last4", json_object_get(pm_card, "last4"), "network", json_object_get(pm_card, "brand"));
    return json_pack("{s:o, s:s}", "card", d, "type", "card");
}

static json_t *charge_object(st_sim_t *sim, const char *id, json_t *pi)
{
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    char url[96];
    snprintf(url, sizeof(url), "/v1/charges/%s/refunds", id);
    return json_pack(
        "{s:s, s:s, s:O, s:i, s:i, s:n, s:n, s:n, s:n, s:b, s:I, s:O, s:O, s:O, s:b, s:n, "
        "s:n, s:{}, s:b, s:{}, s:b, s:O, s:s?, s:o, s:O, s:n, s:n, s:b, "
        "s:{s:s, s:[], s:b, s:i, s:s}, s:n, s:n, s:n, s:s}",
        "id", id, "object", "charge", "amount", json_object_get(pi, "amount"), "amount_captured", 0,
        "amount_refunded", 0, "application", "application_fee", "balance_transaction",
        "billing_details", "captured", 0, "created", (json_int_t)st_sim_now(sim), "currency",
        json_object_get(pi, "currency"), "customer", json_object_get(pi, "customer"), "description",
        json_object_get(pi, "description"), "disputed", 0, "failure_code", "failure_message",
        "fraud_details", "livemode", 0, "metadata", "paid", 0, "payment_intent",
        json_object_get(pi, "id"), "payment_method", pm_id, "payment_method_details",
        card_details(sim, pm_id), "receipt_email", json_object_get(pi, "receipt_email"),
        "receipt_url", "review", "refunded", 0, "refunds", "object", "list", "data", "has_more", 0,
        "total_count", 0, "url", url, "shipping", "statement_descriptor", "transfer_group",
        "status", "pending");
}

json_t *st_sim_charge_make(st_sim_t *sim, st_sim_call_t *call, json_t *pi, const st_sim_card_t *c,
                           const char *code, const char *dc, int manual)
{
    char id[64];
    st_sim_id_new(sim, "ch", id, sizeof(id));
    json_t *ch = charge_object(sim, id, pi);
    json_object_set_new(ch, "outcome", outcome(c, code, dc));
    json_object_set_new(ch, "metadata", json_deep_copy(json_object_get(pi, "metadata")));
    int64_t amount = json_integer_value(json_object_get(pi, "amount"));
    if (code) {
        json_object_set_new(ch, "status", json_string("failed"));
        json_object_set_new(ch, "failure_code", json_string(code));
        json_object_set_new(ch, "failure_message", json_string(st_sim_decline_message(code, dc)));
    } else {
        json_object_set_new(ch, "status", json_string("succeeded"));
        json_object_set_new(ch, "paid", json_true());
        json_object_set_new(ch, "captured", json_boolean(!manual));
        json_object_set_new(ch, "amount_captured", json_integer(manual ? 0 : amount));
    }
    st_sim_store_put(sim, "charge", id, ch);
    json_object_set_new(pi, "latest_charge", json_string(id));
    st_sim_effect(sim, call, "charge", id, amount, code ? "failed" : "succeeded");
    st_sim_event_emit(sim, call, code ? "charge.failed" : "charge.succeeded", id, NULL);
    return ch;
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
