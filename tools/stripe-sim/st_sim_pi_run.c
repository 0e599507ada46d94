/*
 * st_sim_pi_run.c — the PaymentIntent status machine: confirmation,
 * 3-D Secure, the charge attempt and its outcome.
 *
 *   requires_payment_method --(pm)--> requires_confirmation --confirm-->
 *     requires_action (3DS on-session; admin completes or fails it)
 *     requires_payment_method + 402 card_error (declined; pm cleared)
 *     requires_capture (capture_method=manual) --capture--> succeeded
 *     succeeded
 * Every charge attempt creates a ch_ object (failed ones too) and an effect
 * record. Events follow each transition.
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_charges.h"
#include "st_sim_int.h"

/* Does this attempt need 3-D Secure, given card, options and session? */
static int needs_auth(st_sim_t *sim, json_t *pi, const st_sim_card_t *c, int off_session)
{
    json_t *card_opts = json_object_get(json_object_get(pi, "payment_method_options"), "card");
    const char *rq = json_string_value(json_object_get(card_opts, "request_three_d_secure"));
    int asked = rq && (strcmp(rq, "any") == 0 || strcmp(rq, "challenge") == 0);
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    json_t *pm_priv = json_object_get(sim->priv, pm_id);
    switch (c->tds) {
    case ST_SIM_3DS_ALWAYS:
        return 1;
    case ST_SIM_3DS_UNLESS_SETUP:
        return !(off_session && json_is_true(json_object_get(pm_priv, "setup_off_session")));
    case ST_SIM_3DS_ONSESSION_ONLY:
        return !off_session;
    case ST_SIM_3DS_OPTIONAL:
        return asked && !off_session;
    case ST_SIM_3DS_NONE:
        break;
    }
    return 0;
}

static void to_requires_action(st_sim_t *sim, st_sim_call_t *call, json_t *pi)
{
    const char *id = json_string_value(json_object_get(pi, "id"));
    char url[256];
    snprintf(url, sizeof(url), "https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=%s", id);
    json_t *ret = json_object_get(json_object_get(sim->priv, id), "return_url");
    json_t *na = ret ? json_pack("{s:s, s:{s:O, s:s}}", "type", "redirect_to_url",
                                 "redirect_to_url", "return_url", ret, "url", url)
                     : json_pack("{s:s, s:{s:s, s:s}}", "type", "use_stripe_sdk", "use_stripe_sdk",
                                 "type", "three_d_secure_redirect", "stripe_js", url);
    json_object_set_new(pi, "next_action", na);
    json_object_set_new(pi, "status", json_string("requires_action"));
    st_sim_event_emit(sim, call, "payment_intent.requires_action", id, NULL);
    st_sim_ok(call, json_incref(pi));
}

/* Decline: PI back to requires_payment_method, 402 card_error answer. */
static int decline(st_sim_t *sim, st_sim_call_t *call, json_t *pi, const char *ch_id,
                   const char *code, const char *dc)
{
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    json_t *e = st_sim_card_error(code, dc, st_sim_decline_message(code, dc));
    if (ch_id)
        json_object_set_new(e, "charge", json_string(ch_id));
    json_object_set_new(e, "payment_method", st_sim_store_copy(sim, pm_id));
    json_object_set_new(pi, "last_payment_error", json_deep_copy(e));
    json_object_set_new(pi, "payment_method", json_null());
    json_object_set_new(pi, "next_action", json_null());
    json_object_set_new(pi, "status", json_string("requires_payment_method"));
    const char *id = json_string_value(json_object_get(pi, "id"));
    st_sim_event_emit(sim, call, "payment_intent.payment_failed", id, NULL);
    json_object_set_new(e, "payment_intent", json_deep_copy(pi));
    json_decref(call->body);
    call->body = json_pack("{s:o}", "error", e);
    call->status = 402;
    call->should_retry = 0;
    return -1;
}

static int succeed(st_sim_t *sim, st_sim_call_t *call, json_t *pi)
{
    const char *id = json_string_value(json_object_get(pi, "id"));
    int64_t amount = json_integer_value(json_object_get(pi, "amount"));
    int manual = strcmp(json_string_value(json_object_get(pi, "capture_method")), "manual") == 0;
    json_object_set_new(pi, "next_action", json_null());
    json_object_set_new(pi, "last_payment_error", json_null());
    if (manual) {
        json_object_set_new(pi, "status", json_string("requires_capture"));
        json_object_set_new(pi, "amount_capturable", json_integer(amount));
        st_sim_event_emit(sim, call, "payment_intent.amount_capturable_updated", id, NULL);
    } else {
        json_object_set_new(pi, "status", json_string("succeeded"));
        json_object_set_new(pi, "amount_received", json_integer(amount));
        st_sim_event_emit(sim, call, "payment_intent.succeeded", id, NULL);
    }
    const char *sfu = json_string_value(json_object_get(pi, "setup_future_usage"));
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    if (sfu && pm_id)
        json_object_set_new(st_sim_priv(sim, pm_id), "setup_off_session", json_true());
    st_sim_ok(call, json_incref(pi));
    return 0;
}

/* Charge attempt after any authentication. */
static int attempt(st_sim_t *sim, st_sim_call_t *call, json_t *pi, const st_sim_card_t *c)
{
    const char *code = c->code, *dc = c->decline_code;
    const char *cus = json_string_value(json_object_get(pi, "customer"));
    if (!code && cus)
        st_sim_issuer_decide(sim, call, cus,
                             json_string_value(json_object_get(pi, "payment_method")), &code, &dc);
    int manual = strcmp(json_string_value(json_object_get(pi, "capture_method")), "manual") == 0;
    char ch[64];
    if (st_sim_charge_make(sim, call, pi, c, code, dc, manual, ch, sizeof(ch)) < 0)
        return -1;
    if (code)
        return decline(sim, call, pi, ch, code, dc);
    return succeed(sim, call, pi);
}

int st_sim_pi_run(st_sim_t *sim, st_sim_call_t *call, json_t *pi, int off_session)
{
    const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
    const st_sim_card_t *c = st_sim_pm_card(sim, pm_id);
    if (needs_auth(sim, pi, c, off_session)) {
        if (off_session) {
            return decline(sim, call, pi, NULL, "authentication_required",
                           "authentication_required");
        }
        to_requires_action(sim, call, pi);
        return 0;
    }
    return attempt(sim, call, pi, c);
}

int st_sim_pi_3ds_finish(st_sim_t *sim, st_sim_call_t *call, json_t *pi, int ok)
{
    const char *id = json_string_value(json_object_get(pi, "id"));
    if (strcmp(json_string_value(json_object_get(pi, "status")), "requires_action") != 0)
        return st_sim_fail_state(call, "PaymentIntent %s is not awaiting 3-D Secure (status %s)",
                                 id, json_string_value(json_object_get(pi, "status")));
    if (ok) {
        const char *pm_id = json_string_value(json_object_get(pi, "payment_method"));
        attempt(sim, call, pi, st_sim_pm_card(sim, pm_id));
    } else {
        json_t *e = json_pack(
            "{s:s, s:s, s:s, s:O?}", "type", "invalid_request_error", "code",
            "payment_intent_authentication_failure", "message",
            "The provided PaymentMethod has failed authentication. You can "
            "provide payment_method_data or a new PaymentMethod to attempt to "
            "fulfill this PaymentIntent again.",
            "payment_method",
            st_sim_store_get(sim, json_string_value(json_object_get(pi, "payment_method"))));
        json_object_set_new(pi, "last_payment_error", e);
        json_object_set_new(pi, "payment_method", json_null());
        json_object_set_new(pi, "next_action", json_null());
        json_object_set_new(pi, "status", json_string("requires_payment_method"));
        st_sim_event_emit(sim, call, "payment_intent.payment_failed", id, NULL);
    }
    st_sim_ok(call, json_incref(pi)); /* the admin call answers with the PI */
    return 0;
}
