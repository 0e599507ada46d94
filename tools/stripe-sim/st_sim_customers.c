/*
 * st_sim_customers.c — /v1/customers: create, retrieve, update, delete,
 * list, and the customer's payment methods.
 *
 * A customer's default payment method is invoice_settings.
 * default_payment_method; invoices charge it. Updates emit customer.updated
 * with previous_attributes, as Stripe does.
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_int.h"

static const char *const cus_params[] = {"address",
                                         "description",
                                         "email",
                                         "metadata",
                                         "name",
                                         "phone",
                                         "shipping",
                                         "invoice_settings",
                                         "preferred_locales",
                                         "tax_exempt",
                                         "payment_method",
                                         "test_clock",
                                         NULL};
static const char *const cus_strings[] = {"description", "email", "name", "phone", NULL};

static json_t *customer_new(st_sim_t *sim, const char *id)
{
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.8s", id + 4);
    return json_pack("{s:s, s:s, s:n, s:i, s:I, s:n, s:n, s:b, s:n, s:n, s:n, s:s, "
                     "s:{s:n, s:n, s:n, s:n}, s:b, s:{}, s:n, s:i, s:n, s:[], s:n, s:s, s:n}",
                     "id", id, "object", "customer", "address", "balance", 0, "created",
                     (json_int_t)st_sim_now(sim), "currency", "default_source", "delinquent", 0,
                     "description", "discount", "email", "invoice_prefix", prefix,
                     "invoice_settings", "custom_fields", "default_payment_method", "footer",
                     "rendering_options", "livemode", 0, "metadata", "name",
                     "next_invoice_sequence", 1, "phone", "preferred_locales", "shipping",
                     "tax_exempt", "none", "test_clock");
}

json_t *st_sim_customer_make(st_sim_t *sim, const char *email)
{
    char id[64];
    st_sim_id_new(sim, "cus", id, sizeof(id));
    json_t *cus = customer_new(sim, id);
    if (email)
        json_object_set_new(cus, "email", json_string(email));
    st_sim_store_put(sim, "customer", id, cus);
    return cus;
}

/* invoice_settings[default_payment_method]: must be attached to this customer. */
static int apply_default_pm(st_sim_t *sim, st_sim_call_t *call, json_t *cus)
{
    json_t *is = json_object_get(call->params, "invoice_settings");
    const char *pm_id = json_string_value(json_object_get(is, "default_payment_method"));
    if (!pm_id)
        return 0;
    json_t *settings = json_object_get(cus, "invoice_settings");
    if (!*pm_id) {
        json_object_set_new(settings, "default_payment_method", json_null());
        return 0;
    }
    json_t *pm = st_sim_store_get(sim, pm_id);
    const char *owner = json_string_value(json_object_get(pm, "customer"));
    if (!pm || !owner || strcmp(owner, json_string_value(json_object_get(cus, "id"))) != 0)
        return st_sim_fail(call, 400, "invalid_request_error", "resource_missing",
                           "invoice_settings[default_payment_method]",
                           "No such PaymentMethod: '%s'; it must be attached to the customer",
                           pm_id);
    json_object_set_new(settings, "default_payment_method", json_string(pm_id));
    return 0;
}

static int cus_create(st_sim_t *sim, st_sim_call_t *call)
{
    if (st_sim_params_allow(call, cus_params) < 0)
        return -1;
    char id[64];
    st_sim_id_new(sim, "cus", id, sizeof(id));
    json_t *cus = customer_new(sim, id);
    st_sim_apply_strings(cus, call->params, cus_strings);
    st_sim_apply_metadata(cus, call->params);
    const char *pm_ref = st_sim_param_str(call, "payment_method");
    json_t *pm = NULL;
    if (pm_ref && !(pm = st_sim_pm_resolve(sim, call, pm_ref, "payment_method"))) {
        json_decref(cus);
        return -1;
    }
    st_sim_store_put(sim, "customer", id, cus);
    if (pm && st_sim_pm_attach_to(sim, call, pm, id) < 0)
        return -1; /* Stripe creates the customer before the attach fails */
    if (apply_default_pm(sim, call, cus) < 0)
        return -1;
    st_sim_event_emit(sim, call, "customer.created", id, NULL);
    st_sim_ok(call, json_incref(cus));
    return 0;
}

static json_t *live_customer(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *cus = st_sim_store_get(sim, call->id);
    if (!cus || strcmp(json_string_value(json_object_get(cus, "object")), "customer") != 0 ||
        json_is_true(json_object_get(cus, "deleted"))) {
        st_sim_fail_missing(call, "customer", "id", call->id);
        return NULL;
    }
    return cus;
}

static int cus_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *cus = st_sim_store_get(sim, call->id);
    if (!cus || strcmp(json_string_value(json_object_get(cus, "object")), "customer") != 0)
        return st_sim_fail_missing(call, "customer", "id", call->id);
    json_t *out = json_deep_copy(cus);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

static int cus_update(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const upd[] = {"address",
                                      "description",
                                      "email",
                                      "metadata",
                                      "name",
                                      "phone",
                                      "shipping",
                                      "invoice_settings",
                                      "preferred_locales",
                                      "tax_exempt",
                                      "default_source",
                                      NULL};
    if (st_sim_params_allow(call, upd) < 0)
        return -1;
    json_t *cus = live_customer(sim, call);
    if (!cus)
        return -1;
    json_t *before = json_deep_copy(cus);
    st_sim_apply_strings(cus, call->params, cus_strings);
    st_sim_apply_metadata(cus, call->params);
    if (apply_default_pm(sim, call, cus) < 0) {
        json_object_update(cus, before);
        json_decref(before);
        return -1;
    }
    json_t *prev = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(before, k, v) if (!json_equal(v, json_object_get(cus, k)))
        json_object_set(prev, k, v);
    json_decref(before);
    st_sim_event_emit(sim, call, "customer.updated", call->id, prev);
    st_sim_ok(call, json_incref(cus));
    return 0;
}

static int cus_delete(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *cus = live_customer(sim, call);
    if (!cus)
        return -1;
    json_t *gone = json_pack("{s:s, s:s, s:b}", "id", call->id, "object", "customer", "deleted", 1);
    json_object_clear(cus);
    json_object_update(cus, gone);
    st_sim_event_emit(sim, call, "customer.deleted", call->id, NULL);
    st_sim_ok(call, gone);
    return 0;
}

static int keep_email(json_t *o, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "email"));
    const char *have = json_string_value(json_object_get(o, "email"));
    return !want || (have && strcmp(want, have) == 0);
}

static int cus_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "customer", "/v1/customers", keep_email);
}

static int keep_owner(json_t *o, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "_owner"));
    const char *have = json_string_value(json_object_get(o, "customer"));
    return have && want && strcmp(want, have) == 0;
}

static int cus_payment_methods(st_sim_t *sim, st_sim_call_t *call)
{
    if (!live_customer(sim, call))
        return -1;
    char url[128];
    snprintf(url, sizeof(url), "/v1/customers/%s/payment_methods", call->id);
    json_object_set_new(call->params, "_owner", json_string(call->id));
    int rc = st_sim_store_list(sim, call, "payment_method", url, keep_owner);
    json_object_del(call->params, "_owner");
    return rc;
}

const st_sim_route_t st_sim_routes_customers[] = {
    {"POST", "/v1/customers", cus_create},
    {"GET", "/v1/customers", cus_list},
    {"GET", "/v1/customers/:id", cus_retrieve},
    {"POST", "/v1/customers/:id", cus_update},
    {"DELETE", "/v1/customers/:id", cus_delete},
    {"GET", "/v1/customers/:id/payment_methods", cus_payment_methods},
    {NULL, NULL, NULL},
};
