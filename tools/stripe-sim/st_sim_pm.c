/*
 * st_sim_pm.c — /v1/payment_methods: create from test card numbers,
 * test tokens (pm_card_visa ...), retrieve, attach, detach, list.
 *
 * Each PaymentMethod remembers (in priv) the test card it came from, which
 * decides how charges on it behave (st_sim_cards.c). Using a pm_card_*
 * token creates a fresh PaymentMethod, as Stripe does.
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_int.h"

static json_t *pm_object(st_sim_t *sim, const char *id, const st_sim_card_t *c, const char *number,
                         int exp_month, int exp_year)
{
    size_t n = strlen(number);
    char fp[17];
    snprintf(fp, sizeof(fp), "sim%.13s", number + (n > 13 ? n - 13 : 0));
    return json_pack(
        "{s:s, s:s, s:s, s:{s:{s:n, s:n, s:n, s:n, s:n, s:n}, s:n, s:n, s:n, s:n}, "
        "s:{s:s, s:{s:n, s:n, s:n}, s:s, s:s, s:i, s:i, s:s, s:s, s:n, s:s, "
        "s:{s:[s], s:n}, s:{s:b}, s:n}, s:I, s:n, s:b, s:{}, s:s}",
        "id", id, "object", "payment_method", "allow_redisplay", "unspecified", "billing_details",
        "address", "city", "country", "line1", "line2", "postal_code", "state", "email", "name",
        "phone", "tax_id", "card", "brand", c->brand, "checks", "address_line1_check",
        "address_postal_code_check", "cvc_check", "country", "US", "display_brand", c->brand,
        "exp_month", exp_month, "exp_year", exp_year, "fingerprint", fp, "funding", c->funding,
        "generated_from", "last4", number + n - 4, "networks", "available", c->brand, "preferred",
        "three_d_secure_usage", "supported", c->tds != ST_SIM_3DS_NONE, "wallet", "created",
        (json_int_t)st_sim_now(sim), "customer", "livemode", 0, "metadata", "type", "card");
}

/* Store a new PaymentMethod for card c; returns the stored object. */
static json_t *pm_make(st_sim_t *sim, const st_sim_card_t *c, const char *number, int m, int y)
{
    char id[64];
    st_sim_id_new(sim, "pm", id, sizeof(id));
    json_t *pm = pm_object(sim, id, c, number, m, y);
    st_sim_store_put(sim, "payment_method", id, pm);
    json_object_set_new(st_sim_priv(sim, id), "card", json_string(c->number));
    return pm;
}

json_t *st_sim_pm_resolve(st_sim_t *sim, st_sim_call_t *call, const char *ref, const char *param)
{
    const st_sim_card_t *c = st_sim_card_by_token(ref);
    if (c)
        return pm_make(sim, c, c->number, 12, 2034);
    json_t *pm = st_sim_store_get(sim, ref);
    if (!pm || strcmp(json_string_value(json_object_get(pm, "object")), "payment_method") != 0) {
        st_sim_fail_missing(call, "PaymentMethod", param, ref);
        return NULL;
    }
    return pm;
}

const st_sim_card_t *st_sim_pm_card(st_sim_t *sim, const char *pm_id)
{
    json_t *p = json_object_get(sim->priv, pm_id);
    const char *number = json_string_value(json_object_get(p, "card"));
    const st_sim_card_t *c = st_sim_card_by_number(number);
    return c ? c : st_sim_card_by_token("pm_card_visa");
}

/* The card behind a raw number: a listed test card, else a generic success. */
static const st_sim_card_t *card_for_number(const char *number)
{
    const st_sim_card_t *c = st_sim_card_by_number(number);
    if (c)
        return c;
    if (number[0] == '5')
        return st_sim_card_by_token("pm_card_mastercard");
    if (number[0] == '3')
        return st_sim_card_by_token("pm_card_amex");
    return st_sim_card_by_token("pm_card_visa");
}

static int pm_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {
        "type",     "card",           "billing_details", "metadata",
        "customer", "payment_method", "allow_redisplay", NULL};
    if (st_sim_params_allow(call, allowed) < 0)
        return -1;
    const char *type = st_sim_param_str(call, "type");
    if (!type || strcmp(type, "card") != 0)
        return st_sim_fail_param(call, "type", "Invalid type: the simulator supports 'card'");
    json_t *card = json_object_get(call->params, "card");
    const char *number = json_string_value(json_object_get(card, "number"));
    const char *token = json_string_value(json_object_get(card, "token"));
    if (token && st_sim_card_by_token(token))
        number = st_sim_card_by_token(token)->number;
    if (!number)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "card[number]",
                           "Missing required param: card[number].");
    if (!st_sim_luhn_ok(number)) {
        st_sim_fail(call, 402, "card_error", "incorrect_number", "number",
                    "Your card number is incorrect.");
        return -1;
    }
    const char *m = json_string_value(json_object_get(card, "exp_month"));
    const char *y = json_string_value(json_object_get(card, "exp_year"));
    int month = m ? atoi(m) : 12, year = y ? atoi(y) : 2034;
    if (month < 1 || month > 12)
        return st_sim_fail(call, 402, "card_error", "invalid_expiry_month", "exp_month",
                           "Your card's expiration month is invalid.");
    json_t *pm =
        pm_make(sim, card_for_number(number), number, month, year < 100 ? 2000 + year : year);
    st_sim_apply_metadata(pm, call->params);
    json_t *bd = json_object_get(call->params, "billing_details");
    const char *k;
    json_t *v;
    json_object_foreach(bd, k, v) if (json_is_string(v))
        json_object_set(json_object_get(pm, "billing_details"), k, v);
    st_sim_ok(call, json_incref(pm));
    return 0;
}

static int pm_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *pm = st_sim_card_by_token(call->id) ? NULL : st_sim_store_get(sim, call->id);
    if (!pm && st_sim_card_by_token(call->id))
        pm = st_sim_pm_resolve(sim, call, call->id, "id");
    if (!pm || strcmp(json_string_value(json_object_get(pm, "object")), "payment_method") != 0)
        return st_sim_fail_missing(call, "PaymentMethod", "id", call->id);
    json_t *out = json_deep_copy(pm);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

int st_sim_pm_attach_to(st_sim_t *sim, st_sim_call_t *call, json_t *pm, const char *cus)
{
    const char *pm_id = json_string_value(json_object_get(pm, "id"));
    const st_sim_card_t *c = st_sim_pm_card(sim, pm_id);
    if (c->attach_fails) {
        json_t *e = st_sim_card_error(c->code, c->decline_code,
                                      st_sim_decline_message(c->code, c->decline_code));
        json_decref(call->body);
        call->body = json_pack("{s:o}", "error", e);
        call->status = 402;
        call->should_retry = 0;
        return -1;
    }
    json_object_set_new(pm, "customer", json_string(cus));
    st_sim_event_emit(sim, call, "payment_method.attached", pm_id, NULL);
    return 0;
}

static int pm_attach(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"customer", NULL};
    if (st_sim_params_allow(call, allowed) < 0)
        return -1;
    const char *cus_id = st_sim_param_str(call, "customer");
    if (!cus_id)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "customer",
                           "Missing required param: customer.");
    json_t *cus = st_sim_store_get(sim, cus_id);
    if (!cus || json_is_true(json_object_get(cus, "deleted")) ||
        strcmp(json_string_value(json_object_get(cus, "object")), "customer") != 0)
        return st_sim_fail_missing(call, "customer", "customer", cus_id);
    json_t *pm = st_sim_pm_resolve(sim, call, call->id, "id");
    if (!pm)
        return -1;
    const char *owner = json_string_value(json_object_get(pm, "customer"));
    if (owner && strcmp(owner, cus_id) != 0)
        return st_sim_fail(call, 400, "invalid_request_error", NULL, NULL,
                           "The payment method you provided has already been attached to a "
                           "customer.");
    if (!owner && st_sim_pm_attach_to(sim, call, pm, cus_id) < 0)
        return -1;
    st_sim_ok(call, json_incref(pm));
    return 0;
}

static int pm_detach(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *pm = st_sim_store_get(sim, call->id);
    if (!pm || strcmp(json_string_value(json_object_get(pm, "object")), "payment_method") != 0)
        return st_sim_fail_missing(call, "PaymentMethod", "id", call->id);
    const char *owner = json_string_value(json_object_get(pm, "customer"));
    if (!owner)
        return st_sim_fail(call, 400, "invalid_request_error", NULL, NULL,
                           "The payment method you provided is not attached to a customer so "
                           "detachment is impossible.");
    json_t *settings = json_object_get(st_sim_store_get(sim, owner), "invoice_settings");
    const char *def = json_string_value(json_object_get(settings, "default_payment_method"));
    if (def && strcmp(def, call->id) == 0)
        json_object_set_new(settings, "default_payment_method", json_null());
    json_t *prev = json_pack("{s:s}", "customer", owner);
    json_object_set_new(pm, "customer", json_null());
    st_sim_event_emit(sim, call, "payment_method.detached", call->id, prev);
    st_sim_ok(call, json_incref(pm));
    return 0;
}

static int keep_pm(json_t *o, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "customer"));
    const char *have = json_string_value(json_object_get(o, "customer"));
    return !want || (have && strcmp(want, have) == 0);
}

static int pm_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "payment_method", "/v1/payment_methods", keep_pm);
}

const st_sim_route_t st_sim_routes_pm[] = {
    {"POST", "/v1/payment_methods", pm_create},
    {"GET", "/v1/payment_methods", pm_list},
    {"GET", "/v1/payment_methods/:id", pm_retrieve},
    {"POST", "/v1/payment_methods/:id/attach", pm_attach},
    {"POST", "/v1/payment_methods/:id/detach", pm_detach},
    {NULL, NULL, NULL},
};
