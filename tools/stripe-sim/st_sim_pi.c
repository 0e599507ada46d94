/*
 * st_sim_pi.c — /v1/payment_intents endpoints: create (optionally
 * confirming), retrieve, update, confirm, capture, cancel, list. The status
 * machine itself is in st_sim_pi_run.c.
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_charges.h"
#include "st_sim_int.h"

static const char *const pi_strings[] = {"description",          "receipt_email",
                                         "statement_descriptor", "statement_descriptor_suffix",
                                         "transfer_group",       NULL};

/* Every field of a new PaymentIntent, in Stripe's order; the varying ones are placeholders. */
static json_t *pi_template(void)
{
    return json_pack(
        "{s:s, s:s, s:i, s:i, s:{s:{}}, s:i, s:n, s:n, s:n, s:n, s:n, s:s, s:s, s:s, s:i, "
        "s:s, s:n, s:n, s:n, s:n, s:b, s:{}, s:n, s:n, s:n, s:n, "
        "s:{s:{s:n, s:n, s:n, s:s}}, s:[s], s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:s, s:n, "
        "s:n}",
        "id", "", "object", "payment_intent", "amount", 0, "amount_capturable", 0, "amount_details",
        "tip", "amount_received", 0, "application", "application_fee_amount",
        "automatic_payment_methods", "canceled_at", "cancellation_reason", "capture_method",
        "automatic", "client_secret", "", "confirmation_method", "automatic", "created", 0,
        "currency", "", "customer", "description", "last_payment_error", "latest_charge",
        "livemode", 0, "metadata", "next_action", "on_behalf_of", "payment_method",
        "payment_method_configuration_details", "payment_method_options", "card", "installments",
        "mandate_options", "network", "request_three_d_secure", "automatic", "payment_method_types",
        "card", "processing", "receipt_email", "review", "setup_future_usage", "shipping", "source",
        "statement_descriptor", "statement_descriptor_suffix", "status", "requires_payment_method",
        "transfer_data", "transfer_group");
}

/*
 * A copy of the template (made once, under sim->mu): its scalars are shared
 * (handlers replace values, never change them in place), its containers
 * copied, since handlers do fill those in place. Three times cheaper than
 * packing 47 fields per request.
 */
static json_t *pi_blank(st_sim_t *sim)
{
    static const char *const containers[] = {"amount_details", "metadata", "payment_method_options",
                                             "payment_method_types", NULL};
    if (!sim->pi_template && !(sim->pi_template = pi_template()))
        return NULL;
    json_t *pi = json_copy(sim->pi_template);
    for (const char *const *k = containers; pi && *k; k++)
        json_object_set_new(pi, *k, json_deep_copy(json_object_get(sim->pi_template, *k)));
    return pi;
}

json_t *st_sim_pi_make(st_sim_t *sim, int64_t amount, const char *currency)
{
    char id[64], secret[128], tail[64];
    st_sim_id_new(sim, "pi", id, sizeof(id));
    st_sim_id_new(sim, "s", tail, sizeof(tail));
    snprintf(secret, sizeof(secret), "%s_secret_%s", id, tail + 2);
    json_t *pi = pi_blank(sim);
    if (!pi)
        return NULL;
    json_object_set_new(pi, "id", json_string(id));
    json_object_set_new(pi, "amount", json_integer((json_int_t)amount));
    json_object_set_new(pi, "client_secret", json_string(secret));
    json_object_set_new(pi, "created", json_integer((json_int_t)st_sim_now(sim)));
    json_object_set_new(pi, "currency", json_string(currency));
    st_sim_store_put(sim, "payment_intent", id, pi);
    return pi;
}

/* Settings shared by create, update and confirm. -1 after failing the call. */
static int apply_settings(st_sim_t *sim, st_sim_call_t *call, json_t *pi)
{
    static const char *const rq3ds[] = {"automatic", "any", "challenge", NULL};
    static const char *const sfu[] = {"off_session", "on_session", NULL};
    json_t *opts = json_object_get(call->params, "payment_method_options");
    const char *rq =
        json_string_value(json_object_get(json_object_get(opts, "card"), "request_three_d_secure"));
    int ok = 0;
    for (const char *const *v = rq3ds; rq && *v; v++)
        ok |= strcmp(*v, rq) == 0;
    if (rq && !ok)
        return st_sim_fail_param(call, "payment_method_options[card][request_three_d_secure]",
                                 "Invalid request_three_d_secure: must be automatic, any or "
                                 "challenge");
    if (rq)
        json_object_set_new(json_object_get(json_object_get(pi, "payment_method_options"), "card"),
                            "request_three_d_secure", json_string(rq));
    const char *usage = NULL;
    if (st_sim_param_enum(call, "setup_future_usage", sfu, &usage) < 0)
        return -1;
    if (usage)
        json_object_set_new(pi, "setup_future_usage", json_string(usage));
    const char *ret = st_sim_param_str(call, "return_url");
    if (ret)
        json_object_set_new(st_sim_priv(sim, json_string_value(json_object_get(pi, "id"))),
                            "return_url", json_string(ret));
    const char *pm_ref = st_sim_param_str(call, "payment_method");
    if (pm_ref) {
        json_t *pm = st_sim_pm_resolve(sim, call, pm_ref, "payment_method");
        if (!pm)
            return -1;
        json_object_set(pi, "payment_method", json_object_get(pm, "id"));
    }
    st_sim_apply_strings(pi, call->params, pi_strings);
    st_sim_apply_metadata(pi, call->params);
    return 0;
}

/* off_session: "true", "one_off" and "recurring" mean off-session. */
static int off_session_param(st_sim_call_t *call)
{
    const char *s = st_sim_param_str(call, "off_session");
    return s && strcmp(s, "false") != 0;
}

static int confirm(st_sim_t *sim, st_sim_call_t *call, json_t *pi)
{
    if (json_is_null(json_object_get(pi, "payment_method")))
        return st_sim_fail(call, 400, "invalid_request_error", "payment_intent_unexpected_state",
                           "payment_method",
                           "You cannot confirm this PaymentIntent because it's missing a payment "
                           "method. To confirm the PaymentIntent with %s, specify a payment "
                           "method attached to this customer along with the customer ID.",
                           json_string_value(json_object_get(pi, "customer")));
    return st_sim_pi_run(sim, call, pi, off_session_param(call));
}

/* amount, currency and customer for create. */
static int create_basics(st_sim_t *sim, st_sim_call_t *call, int64_t *amount, const char **currency,
                         const char **cus)
{
    if (st_sim_param_int(call, "amount", amount, 1) < 0)
        return -1;
    if (*amount < 1 || *amount > 99999999)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_invalid_integer",
                           "amount", "This value must be greater than or equal to 1.");
    *currency = st_sim_param_str(call, "currency");
    if (!*currency)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "currency",
                           "Missing required param: currency.");
    if (strlen(*currency) != 3)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_invalid_string",
                           "currency", "Invalid currency: %s.", *currency);
    *cus = st_sim_param_str(call, "customer");
    json_t *c = st_sim_store_get(sim, *cus);
    if (*cus && (!c || json_is_true(json_object_get(c, "deleted")) ||
                 strcmp(json_string_value(json_object_get(c, "object")), "customer") != 0))
        return st_sim_fail_missing(call, "customer", "customer", *cus);
    return 0;
}

static int pi_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"amount",
                                          "currency",
                                          "customer",
                                          "payment_method",
                                          "confirm",
                                          "off_session",
                                          "capture_method",
                                          "payment_method_types",
                                          "payment_method_options",
                                          "metadata",
                                          "description",
                                          "receipt_email",
                                          "setup_future_usage",
                                          "statement_descriptor",
                                          "statement_descriptor_suffix",
                                          "transfer_group",
                                          "return_url",
                                          "error_on_requires_action",
                                          "use_stripe_sdk",
                                          "confirmation_method",
                                          "automatic_payment_methods",
                                          "mandate",
                                          NULL};
    static const char *const capture[] = {"automatic", "automatic_async", "manual", NULL};
    int64_t amount;
    const char *currency = NULL, *cus = NULL, *cm = NULL;
    int do_confirm = 0;
    if (st_sim_params_allow(call, allowed) < 0 ||
        create_basics(sim, call, &amount, &currency, &cus) < 0 ||
        st_sim_param_enum(call, "capture_method", capture, &cm) < 0 ||
        st_sim_param_bool(call, "confirm", &do_confirm) < 0)
        return -1;
    if (off_session_param(call) && !do_confirm)
        return st_sim_fail_param(call, "off_session",
                                 "off_session can only be used when confirm=true.");
    json_t *pi = st_sim_pi_make(sim, amount, currency);
    const char *id = json_string_value(json_object_get(pi, "id"));
    if (cus)
        json_object_set_new(pi, "customer", json_string(cus));
    if (cm)
        json_object_set_new(pi, "capture_method", json_string(cm));
    if (apply_settings(sim, call, pi) < 0) {
        json_object_set_new(pi, "deleted", json_true()); /* Stripe creates nothing */
        return -1;
    }
    if (!json_is_null(json_object_get(pi, "payment_method")))
        json_object_set_new(pi, "status", json_string("requires_confirmation"));
    st_sim_event_emit(sim, call, "payment_intent.created", id, NULL);
    if (do_confirm)
        return confirm(sim, call, pi);
    st_sim_ok(call, json_incref(pi));
    return 0;
}

static json_t *get_pi(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *pi = st_sim_store_get(sim, call->id);
    if (!pi || json_is_true(json_object_get(pi, "deleted")) ||
        strcmp(json_string_value(json_object_get(pi, "object")), "payment_intent") != 0) {
        st_sim_fail_missing(call, "payment_intent", "id", call->id);
        return NULL;
    }
    return pi;
}

static int status_is(json_t *pi, const char *const *ok)
{
    const char *s = json_string_value(json_object_get(pi, "status"));
    for (; *ok; ok++)
        if (strcmp(*ok, s) == 0)
            return 1;
    return 0;
}

static int pi_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *pi = get_pi(sim, call);
    if (!pi)
        return -1;
    json_t *out = json_deep_copy(pi);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

static int pi_update(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"amount",
                                          "currency",
                                          "customer",
                                          "payment_method",
                                          "metadata",
                                          "description",
                                          "receipt_email",
                                          "setup_future_usage",
                                          "statement_descriptor",
                                          "statement_descriptor_suffix",
                                          "transfer_group",
                                          "payment_method_options",
                                          "capture_method",
                                          NULL};
    static const char *const open[] = {"requires_payment_method", "requires_confirmation",
                                       "requires_action", NULL};
    json_t *pi = get_pi(sim, call);
    int64_t amount;
    if (!pi || st_sim_params_allow(call, allowed) < 0)
        return -1;
    int has_amount = st_sim_param_int(call, "amount", &amount, 0);
    if (has_amount < 0)
        return -1;
    if (!status_is(pi, open) && (has_amount || st_sim_param_str(call, "payment_method")))
        return st_sim_fail_state(call,
                                 "This PaymentIntent's amount could not be updated because "
                                 "it has a status of %s.",
                                 json_string_value(json_object_get(pi, "status")));
    if (has_amount)
        json_object_set_new(pi, "amount", json_integer(amount));
    if (apply_settings(sim, call, pi) < 0)
        return -1;
    if (st_sim_param_str(call, "payment_method"))
        json_object_set_new(pi, "status", json_string("requires_confirmation"));
    st_sim_ok(call, json_incref(pi));
    return 0;
}

static int pi_confirm(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"payment_method",
                                          "off_session",
                                          "payment_method_options",
                                          "return_url",
                                          "setup_future_usage",
                                          "receipt_email",
                                          "error_on_requires_action",
                                          "use_stripe_sdk",
                                          "mandate",
                                          "capture_method",
                                          NULL};
    static const char *const open[] = {"requires_payment_method", "requires_confirmation",
                                       "requires_action", NULL};
    json_t *pi = get_pi(sim, call);
    if (!pi || st_sim_params_allow(call, allowed) < 0)
        return -1;
    if (!status_is(pi, open))
        return st_sim_fail_state(call,
                                 "You cannot confirm this PaymentIntent because it has a status "
                                 "of %s. Only a PaymentIntent with one of the following statuses "
                                 "may be confirmed: requires_confirmation, requires_action, "
                                 "requires_payment_method.",
                                 json_string_value(json_object_get(pi, "status")));
    if (apply_settings(sim, call, pi) < 0)
        return -1;
    return confirm(sim, call, pi);
}

static int pi_capture(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"amount_to_capture",    "metadata",
                                          "statement_descriptor", "statement_descriptor_suffix",
                                          "final_capture",        NULL};
    static const char *const ok[] = {"requires_capture", NULL};
    json_t *pi = get_pi(sim, call);
    int64_t amount;
    if (!pi || st_sim_params_allow(call, allowed) < 0)
        return -1;
    if (!status_is(pi, ok))
        return st_sim_fail_state(call,
                                 "This PaymentIntent could not be captured because it has a "
                                 "status of %s. Only a PaymentIntent with one of the following "
                                 "statuses may be captured: requires_capture.",
                                 json_string_value(json_object_get(pi, "status")));
    int64_t capturable = json_integer_value(json_object_get(pi, "amount_capturable"));
    int rc = st_sim_param_int(call, "amount_to_capture", &amount, 0);
    if (rc < 0)
        return -1;
    if (rc == 0)
        amount = capturable;
    if (amount < 1 || amount > capturable)
        return st_sim_fail(call, 400, "invalid_request_error", "amount_too_large",
                           "amount_to_capture",
                           "The amount to capture (%lld) is greater than the capturable amount "
                           "(%lld).",
                           (long long)amount, (long long)capturable);
    st_sim_apply_metadata(pi, call->params);
    json_t *ch = st_sim_store_get(sim, json_string_value(json_object_get(pi, "latest_charge")));
    if (ch)
        st_sim_charge_capture(sim, call, ch, amount);
    json_object_set_new(pi, "amount_capturable", json_integer(0));
    json_object_set_new(pi, "amount_received", json_integer(amount));
    json_object_set_new(pi, "status", json_string("succeeded"));
    st_sim_event_emit(sim, call, "payment_intent.succeeded", call->id, NULL);
    st_sim_ok(call, json_incref(pi));
    return 0;
}

static int pi_cancel(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"cancellation_reason", NULL};
    static const char *const reasons[] = {"duplicate", "fraudulent", "requested_by_customer",
                                          "abandoned", NULL};
    static const char *const ok[] = {
        "requires_payment_method", "requires_capture", "requires_confirmation",
        "requires_action",         "processing",       NULL};
    const char *reason = NULL;
    json_t *pi = get_pi(sim, call);
    if (!pi || st_sim_params_allow(call, allowed) < 0 ||
        st_sim_param_enum(call, "cancellation_reason", reasons, &reason) < 0)
        return -1;
    if (!status_is(pi, ok))
        return st_sim_fail_state(call,
                                 "You cannot cancel this PaymentIntent because it has a status "
                                 "of %s. Only a PaymentIntent with one of the following statuses "
                                 "may be canceled: requires_payment_method, requires_capture, "
                                 "requires_confirmation, requires_action, processing.",
                                 json_string_value(json_object_get(pi, "status")));
    if (strcmp(json_string_value(json_object_get(pi, "status")), "requires_capture") == 0) {
        json_t *ch = st_sim_store_get(sim, json_string_value(json_object_get(pi, "latest_charge")));
        if (ch)
            st_sim_charge_release(sim, call, ch);
        json_object_set_new(pi, "amount_capturable", json_integer(0));
    }
    json_object_set_new(pi, "status", json_string("canceled"));
    json_object_set_new(pi, "canceled_at", json_integer((json_int_t)st_sim_now(sim)));
    json_object_set_new(pi, "cancellation_reason", reason ? json_string(reason) : json_null());
    json_object_set_new(pi, "next_action", json_null());
    st_sim_event_emit(sim, call, "payment_intent.canceled", call->id, NULL);
    st_sim_ok(call, json_incref(pi));
    return 0;
}

static int keep_pi(json_t *o, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "customer"));
    const char *have = json_string_value(json_object_get(o, "customer"));
    return !want || (have && strcmp(want, have) == 0);
}

static int pi_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "payment_intent", "/v1/payment_intents", keep_pi);
}

const st_sim_route_t st_sim_routes_pi[] = {
    {"POST", "/v1/payment_intents", pi_create},
    {"GET", "/v1/payment_intents", pi_list},
    {"GET", "/v1/payment_intents/:id", pi_retrieve},
    {"POST", "/v1/payment_intents/:id", pi_update},
    {"POST", "/v1/payment_intents/:id/confirm", pi_confirm},
    {"POST", "/v1/payment_intents/:id/capture", pi_capture},
    {"POST", "/v1/payment_intents/:id/cancel", pi_cancel},
    {NULL, NULL, NULL},
};
