/*
 * st_sim_invoices.c — /v1/invoiceitems and /v1/invoices: create, finalize,
 * pay, void, retrieve, list; enough for dunning.
 *
 * draft --finalize--> open --pay ok--> paid
 *                       \--void--> void
 * Paying charges the invoice's default payment method, else the
 * customer's invoice_settings.default_payment_method, off-session, through
 * one PaymentIntent per invoice that later attempts reuse. A declined
 * attempt answers 402 card_error, counts in attempt_count and emits
 * invoice.payment_failed; the invoice stays open for the next attempt.
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_int.h"

static void recompute(st_sim_t *sim, json_t *inv);

static int ii_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"customer", "amount",   "currency", "description",
                                          "invoice",  "metadata", NULL};
    int64_t amount;
    if (st_sim_params_allow(call, allowed) < 0 || st_sim_param_int(call, "amount", &amount, 1) < 0)
        return -1;
    const char *cus = st_sim_param_str(call, "customer");
    const char *cur = st_sim_param_str(call, "currency");
    if (!cus || !st_sim_store_get(sim, cus))
        return st_sim_fail_missing(call, "customer", "customer", cus);
    if (!cur)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "currency",
                           "Missing required param: currency.");
    const char *in_id = st_sim_param_str(call, "invoice");
    json_t *inv = st_sim_store_get(sim, in_id);
    if (in_id && (!inv || strcmp(json_string_value(json_object_get(inv, "object")), "invoice")))
        return st_sim_fail_missing(call, "invoice", "invoice", in_id);
    if (inv && strcmp(json_string_value(json_object_get(inv, "status")), "draft") != 0)
        return st_sim_fail(call, 400, "invalid_request_error", "invoice_not_editable", "invoice",
                           "You can only add invoice items to draft invoices.");
    char id[64];
    st_sim_id_new(sim, "ii", id, sizeof(id));
    json_t *ii = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s?, s:s?, s:b, s:{}}", "id", id,
                           "object", "invoiceitem", "amount", (json_int_t)amount, "currency", cur,
                           "customer", cus, "date", (json_int_t)st_sim_now(sim), "description",
                           st_sim_param_str(call, "description"), "invoice",
                           st_sim_param_str(call, "invoice"), "livemode", 0, "metadata");
    st_sim_apply_metadata(ii, call->params);
    if (!inv)
        json_object_set_new(ii, "invoice", json_null());
    st_sim_store_put(sim, "invoiceitem", id, ii);
    if (inv)
        recompute(sim, inv);
    st_sim_event_emit(sim, call, "invoiceitem.created", id, NULL);
    st_sim_ok(call, json_incref(ii));
    return 0;
}

static json_t *invoice_new(st_sim_t *sim, const char *id, json_t *cus)
{
    int64_t now = st_sim_now(sim);
    char url[96];
    snprintf(url, sizeof(url), "/v1/invoices/%s/lines", id);
    return json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:b, s:b, s:s, s:n, s:s, s:I, s:s, s:O, s:O?, "
        "s:O?, s:n, s:n, s:n, s:n, s:{s:s, s:[], s:b, s:i, s:s}, s:b, s:{}, s:n, s:n, s:b, "
        "s:n, s:I, s:I, s:s, s:{s:n, s:n, s:n, s:n}, s:i, s:i}",
        "id", id, "object", "invoice", "account_country", "US", "amount_due", 0, "amount_paid", 0,
        "amount_remaining", 0, "attempt_count", 0, "attempted", 0, "auto_advance", 0,
        "billing_reason", "manual", "charge", "collection_method", "charge_automatically",
        "created", (json_int_t)now, "currency", "usd", "customer", json_object_get(cus, "id"),
        "customer_email", json_object_get(cus, "email"), "customer_name",
        json_object_get(cus, "name"), "default_payment_method", "description", "due_date",
        "hosted_invoice_url", "lines", "object", "list", "data", "has_more", 0, "total_count", 0,
        "url", url, "livemode", 0, "metadata", "next_payment_attempt", "number", "paid", 0,
        "payment_intent", "period_end", (json_int_t)now, "period_start", (json_int_t)now, "status",
        "draft", "status_transitions", "finalized_at", "marked_uncollectible_at", "paid_at",
        "voided_at", "subtotal", 0, "total", 0);
}

/* Claim the customer's pending (invoice-less) items for inv. */
static void claim_pending(st_sim_t *sim, json_t *inv, const char *cus)
{
    size_t i;
    json_t *idv;
    json_array_foreach(json_object_get(sim->lists, "invoiceitem"), i, idv)
    {
        json_t *ii = st_sim_store_get(sim, json_string_value(idv));
        if (ii && strcmp(json_string_value(json_object_get(ii, "customer")), cus) == 0 &&
            json_is_null(json_object_get(ii, "invoice")))
            json_object_set(ii, "invoice", json_object_get(inv, "id"));
    }
}

/* Rebuild inv's lines and totals from the items that name it. */
static void recompute(st_sim_t *sim, json_t *inv)
{
    const char *id = json_string_value(json_object_get(inv, "id"));
    json_t *data = json_array();
    int64_t total = 0;
    size_t i;
    json_t *idv;
    json_array_foreach(json_object_get(sim->lists, "invoiceitem"), i, idv)
    {
        json_t *ii = st_sim_store_get(sim, json_string_value(idv));
        const char *on = json_string_value(json_object_get(ii, "invoice"));
        if (!ii || !on || strcmp(on, id) != 0)
            continue;
        json_array_append_new(
            data, json_pack("{s:O, s:s, s:O, s:O, s:O?, s:s, s:i}", "id", idv, "object",
                            "line_item", "amount", json_object_get(ii, "amount"), "currency",
                            json_object_get(ii, "currency"), "description",
                            json_object_get(ii, "description"), "invoice", id, "quantity", 1));
        json_object_set(inv, "currency", json_object_get(ii, "currency"));
        total += json_integer_value(json_object_get(ii, "amount"));
    }
    json_t *lines = json_object_get(inv, "lines");
    json_object_set_new(lines, "total_count", json_integer((json_int_t)json_array_size(data)));
    json_object_set_new(lines, "data", data);
    const char *k[] = {"amount_due", "amount_remaining", "subtotal", "total", NULL};
    for (const char **p = k; *p; p++)
        json_object_set_new(inv, *p, json_integer(total));
}

static int in_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"customer",          "auto_advance",
                                          "collection_method", "description",
                                          "metadata",          "default_payment_method",
                                          "days_until_due",    "pending_invoice_items_behavior",
                                          "currency",          NULL};
    static const char *const pib[] = {"include", "exclude", NULL};
    const char *behavior = "include";
    if (st_sim_params_allow(call, allowed) < 0 ||
        st_sim_param_enum(call, "pending_invoice_items_behavior", pib, &behavior) < 0)
        return -1;
    const char *cus_id = st_sim_param_str(call, "customer");
    json_t *cus = st_sim_store_get(sim, cus_id);
    if (!cus_id)
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "customer",
                           "Missing required param: customer.");
    if (!cus || json_is_true(json_object_get(cus, "deleted")))
        return st_sim_fail_missing(call, "customer", "customer", cus_id);
    char id[64];
    st_sim_id_new(sim, "in", id, sizeof(id));
    json_t *inv = invoice_new(sim, id, cus);
    static const char *const strs[] = {"description", "default_payment_method", "currency", NULL};
    st_sim_apply_strings(inv, call->params, strs);
    st_sim_apply_metadata(inv, call->params);
    int aa = 0;
    if (st_sim_param_bool(call, "auto_advance", &aa) == 1)
        json_object_set_new(inv, "auto_advance", json_boolean(aa));
    st_sim_store_put(sim, "invoice", id, inv);
    if (strcmp(behavior, "include") == 0)
        claim_pending(sim, inv, cus_id);
    recompute(sim, inv);
    st_sim_event_emit(sim, call, "invoice.created", id, NULL);
    st_sim_ok(call, json_incref(inv));
    return 0;
}

static json_t *get_invoice(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *inv = st_sim_store_get(sim, call->id);
    if (!inv || strcmp(json_string_value(json_object_get(inv, "object")), "invoice") != 0) {
        st_sim_fail_missing(call, "invoice", "id", call->id);
        return NULL;
    }
    return inv;
}

static int status_is(json_t *inv, const char *s)
{
    return strcmp(json_string_value(json_object_get(inv, "status")), s) == 0;
}

static void mark_paid(st_sim_t *sim, st_sim_call_t *call, json_t *inv)
{
    json_object_set_new(inv, "status", json_string("paid"));
    json_object_set_new(inv, "paid", json_true());
    json_object_set(inv, "amount_paid", json_object_get(inv, "amount_due"));
    json_object_set_new(inv, "amount_remaining", json_integer(0));
    json_object_set_new(json_object_get(inv, "status_transitions"), "paid_at",
                        json_integer((json_int_t)st_sim_now(sim)));
    const char *id = json_string_value(json_object_get(inv, "id"));
    st_sim_event_emit(sim, call, "invoice.paid", id, NULL);
    st_sim_event_emit(sim, call, "invoice.payment_succeeded", id, NULL);
}

static void finalize(st_sim_t *sim, st_sim_call_t *call, json_t *inv)
{
    char number[64];
    json_t *cus = st_sim_store_get(sim, json_string_value(json_object_get(inv, "customer")));
    json_int_t seq = json_integer_value(json_object_get(cus, "next_invoice_sequence"));
    snprintf(number, sizeof(number), "%s-%04lld",
             json_string_value(json_object_get(cus, "invoice_prefix")), (long long)seq);
    json_object_set_new(cus, "next_invoice_sequence", json_integer(seq + 1));
    json_object_set_new(inv, "number", json_string(number));
    json_object_set_new(inv, "status", json_string("open"));
    json_object_set_new(json_object_get(inv, "status_transitions"), "finalized_at",
                        json_integer((json_int_t)st_sim_now(sim)));
    st_sim_event_emit(sim, call, "invoice.finalized", json_string_value(json_object_get(inv, "id")),
                      NULL);
    if (json_integer_value(json_object_get(inv, "amount_due")) == 0)
        mark_paid(sim, call, inv);
}

json_t *st_sim_invoice_open(st_sim_t *sim, st_sim_call_t *call, const char *cus_id, int64_t amount,
                            const char *currency)
{
    char id[64], ii_id[64];
    json_t *cus = st_sim_store_get(sim, cus_id);
    st_sim_id_new(sim, "in", id, sizeof(id));
    json_t *inv = invoice_new(sim, id, cus);
    st_sim_store_put(sim, "invoice", id, inv);
    st_sim_id_new(sim, "ii", ii_id, sizeof(ii_id));
    json_t *ii = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:s, s:b, s:{}}", "id", ii_id,
                           "object", "invoiceitem", "amount", (json_int_t)amount, "currency",
                           currency, "customer", cus_id, "date", (json_int_t)st_sim_now(sim),
                           "description", "Book balance", "invoice", id, "livemode", 0, "metadata");
    st_sim_store_put(sim, "invoiceitem", ii_id, ii);
    recompute(sim, inv);
    st_sim_event_emit(sim, call, "invoice.created", id, NULL);
    finalize(sim, call, inv);
    return inv;
}

static int in_finalize(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"auto_advance", NULL};
    json_t *inv = get_invoice(sim, call);
    if (!inv || st_sim_params_allow(call, allowed) < 0)
        return -1;
    if (!status_is(inv, "draft"))
        return st_sim_fail(call, 400, "invalid_request_error", "invoice_not_editable", NULL,
                           "This invoice is already finalized, you can't re-finalize a "
                           "non-draft invoice.");
    finalize(sim, call, inv);
    st_sim_ok(call, json_incref(inv));
    return 0;
}

/* The payment method an attempt uses, or NULL after failing the call. */
static const char *payment_method_for(st_sim_t *sim, st_sim_call_t *call, json_t *inv)
{
    const char *ref = st_sim_param_str(call, "payment_method");
    if (ref) {
        json_t *pm = st_sim_pm_resolve(sim, call, ref, "payment_method");
        return pm ? json_string_value(json_object_get(pm, "id")) : NULL;
    }
    const char *pm = json_string_value(json_object_get(inv, "default_payment_method"));
    json_t *cus = st_sim_store_get(sim, json_string_value(json_object_get(inv, "customer")));
    if (!pm)
        pm = json_string_value(
            json_object_get(json_object_get(cus, "invoice_settings"), "default_payment_method"));
    if (!pm)
        st_sim_fail(call, 400, "invalid_request_error", "invoice_no_customer_payment_method", NULL,
                    "This customer has no attached payment source or default payment "
                    "method. Please consider adding a default payment method.");
    return pm;
}

/* The invoice's PaymentIntent, created on the first attempt, reused after. */
static json_t *invoice_pi(st_sim_t *sim, st_sim_call_t *call, json_t *inv, const char *pm)
{
    json_t *pi = st_sim_store_get(sim, json_string_value(json_object_get(inv, "payment_intent")));
    if (!pi) {
        pi = st_sim_pi_make(sim, json_integer_value(json_object_get(inv, "amount_due")),
                            json_string_value(json_object_get(inv, "currency")));
        json_object_set(pi, "customer", json_object_get(inv, "customer"));
        json_object_set_new(pi, "description", json_string("Payment for Invoice"));
        json_object_set(inv, "payment_intent", json_object_get(pi, "id"));
        st_sim_event_emit(sim, call, "payment_intent.created",
                          json_string_value(json_object_get(pi, "id")), NULL);
    }
    json_object_set_new(pi, "payment_method", json_string(pm));
    json_object_set_new(pi, "status", json_string("requires_confirmation"));
    return pi;
}

static int pay_checks(st_sim_call_t *call, json_t *inv)
{
    if (status_is(inv, "paid"))
        return st_sim_fail(call, 400, "invalid_request_error", "invoice_already_paid", NULL,
                           "Invoice is already paid");
    if (status_is(inv, "void") || status_is(inv, "uncollectible"))
        return st_sim_fail(call, 400, "invalid_request_error", "invoice_not_payable", NULL,
                           "This invoice can no longer be paid because it is %s.",
                           json_string_value(json_object_get(inv, "status")));
    return 0;
}

static int in_pay(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"payment_method", "off_session", "paid_out_of_band",
                                          "forgive",        "source",      NULL};
    json_t *inv = get_invoice(sim, call);
    int oob = 0, off = 1;
    if (!inv || st_sim_params_allow(call, allowed) < 0 || pay_checks(call, inv) < 0 ||
        st_sim_param_bool(call, "paid_out_of_band", &oob) < 0 ||
        st_sim_param_bool(call, "off_session", &off) < 0)
        return -1;
    if (status_is(inv, "draft"))
        finalize(sim, call, inv);
    if (oob && !status_is(inv, "paid"))
        mark_paid(sim, call, inv);
    if (status_is(inv, "paid")) {
        st_sim_ok(call, json_incref(inv));
        return 0;
    }
    const char *pm = payment_method_for(sim, call, inv);
    if (!pm)
        return -1;
    json_t *pi = invoice_pi(sim, call, inv, pm);
    int rc = st_sim_pi_run(sim, call, pi, off);
    json_object_set_new(inv, "attempted", json_true());
    json_object_set_new(
        inv, "attempt_count",
        json_integer(json_integer_value(json_object_get(inv, "attempt_count")) + 1));
    json_object_set(inv, "charge", json_object_get(pi, "latest_charge"));
    const char *id = json_string_value(json_object_get(inv, "id"));
    if (rc < 0) {
        st_sim_event_emit(sim, call, "invoice.payment_failed", id, NULL);
        return -1; /* the 402 card_error from the PaymentIntent stands */
    }
    if (strcmp(json_string_value(json_object_get(pi, "status")), "requires_action") == 0) {
        st_sim_event_emit(sim, call, "invoice.payment_action_required", id, NULL);
        return st_sim_fail(call, 402, "card_error", "invoice_payment_intent_requires_action", NULL,
                           "This payment requires additional user action before it can be "
                           "completed successfully.");
    }
    mark_paid(sim, call, inv);
    st_sim_ok(call, json_incref(inv));
    return 0;
}

static int in_void(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *inv = get_invoice(sim, call);
    if (!inv)
        return -1;
    if (!status_is(inv, "open"))
        return st_sim_fail(call, 400, "invalid_request_error", "invoice_not_editable", NULL,
                           "You can only void an open invoice; this one is %s.",
                           json_string_value(json_object_get(inv, "status")));
    json_object_set_new(inv, "status", json_string("void"));
    json_object_set_new(json_object_get(inv, "status_transitions"), "voided_at",
                        json_integer((json_int_t)st_sim_now(sim)));
    st_sim_event_emit(sim, call, "invoice.voided", call->id, NULL);
    st_sim_ok(call, json_incref(inv));
    return 0;
}

static int in_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *inv = get_invoice(sim, call);
    if (!inv)
        return -1;
    json_t *out = json_deep_copy(inv);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

static int keep_invoice(json_t *o, json_t *params)
{
    const char *f[] = {"customer", "status", NULL};
    for (const char **k = f; *k; k++) {
        const char *want = json_string_value(json_object_get(params, *k));
        const char *have = json_string_value(json_object_get(o, *k));
        if (want && (!have || strcmp(want, have) != 0))
            return 0;
    }
    return 1;
}

static int in_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "invoice", "/v1/invoices", keep_invoice);
}

const st_sim_route_t st_sim_routes_invoices[] = {
    {"POST", "/v1/invoiceitems", ii_create},
    {"POST", "/v1/invoices", in_create},
    {"GET", "/v1/invoices", in_list},
    {"GET", "/v1/invoices/:id", in_retrieve},
    {"POST", "/v1/invoices/:id/finalize", in_finalize},
    {"POST", "/v1/invoices/:id/pay", in_pay},
    {"POST", "/v1/invoices/:id/void", in_void},
    {NULL, NULL, NULL},
};
