/*
 * st_sim_refunds.c — /v1/refunds and the timed refund transitions.
 *
 * A refund needs a captured, succeeded charge (by charge or payment_intent)
 * and at most the amount not yet refunded. Test-card behaviour: most refunds
 * succeed at once; pm_card_pendingRefund refunds stay pending for a day of
 * sim time, then succeed; pm_card_refundFail refunds succeed, then fail a
 * day later (refund.failed, the amount returns to the charge). The
 * transitions run when sim time passes them (st_sim_refunds_tick).
 */
#include <stdio.h>
#include <string.h>

#include "st_sim_charges.h"
#include "st_sim_int.h"

#define REFUND_DELAY (24 * 3600)

/* The charge a refund targets, or NULL after failing the call. */
static json_t *target_charge(st_sim_t *sim, st_sim_call_t *call)
{
    const char *ch_id = st_sim_param_str(call, "charge");
    const char *pi_id = st_sim_param_str(call, "payment_intent");
    if (!ch_id && !pi_id) {
        st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "charge",
                    "One of the following params should be provided for this request: "
                    "payment_intent or charge.");
        return NULL;
    }
    if (pi_id) {
        json_t *pi = st_sim_store_get(sim, pi_id);
        if (!pi || strcmp(json_string_value(json_object_get(pi, "object")), "payment_intent")) {
            st_sim_fail_missing(call, "payment_intent", "payment_intent", pi_id);
            return NULL;
        }
        ch_id = json_string_value(json_object_get(pi, "latest_charge"));
        if (!ch_id || strcmp(json_string_value(json_object_get(pi, "status")), "succeeded")) {
            st_sim_fail(call, 400, "invalid_request_error", "charge_not_refundable",
                        "payment_intent",
                        "This PaymentIntent does not have a successful charge "
                        "to refund.");
            return NULL;
        }
    }
    json_t *ch = st_sim_store_get(sim, ch_id);
    if (!ch || strcmp(json_string_value(json_object_get(ch, "object")), "charge") != 0) {
        st_sim_fail_missing(call, "charge", "charge", ch_id);
        return NULL;
    }
    return ch;
}

static json_t *refund_object(st_sim_t *sim, const char *id, json_t *ch, int64_t amount)
{
    return json_pack(
        "{s:s, s:s, s:I, s:n, s:O, s:I, s:O, s:{s:{s:s}, s:s}, s:{}, s:O, s:n, "
        "s:n, s:s, s:O, s:O}",
        "id", id, "object", "refund", "amount", (json_int_t)amount, "balance_transaction", "charge",
        json_object_get(ch, "id"), "created", (json_int_t)st_sim_now(sim), "currency",
        json_object_get(ch, "currency"), "destination_details", "card", "type", "refund", "type",
        "card", "metadata", "payment_intent", json_object_get(ch, "payment_intent"), "reason",
        "receipt_number", "status", "succeeded", "customer", json_object_get(ch, "customer"),
        "payment_method", json_object_get(ch, "payment_method"));
}

static void charge_add_refund(json_t *ch, json_t *re, int64_t delta)
{
    int64_t total = json_integer_value(json_object_get(ch, "amount_refunded")) + delta;
    json_object_set_new(ch, "amount_refunded", json_integer(total));
    json_object_set_new(ch, "refunded",
                        json_boolean(total >= json_integer_value(json_object_get(ch, "amount"))));
    json_t *list = json_object_get(ch, "refunds");
    if (re) {
        json_array_insert(json_object_get(list, "data"), 0, re);
        json_object_set_new(
            list, "total_count",
            json_integer((json_int_t)json_array_size(json_object_get(list, "data"))));
    }
}

static int check_amount(st_sim_call_t *call, json_t *ch, int64_t *amount)
{
    if (!json_is_true(json_object_get(ch, "captured")) ||
        strcmp(json_string_value(json_object_get(ch, "status")), "succeeded") != 0)
        return st_sim_fail(call, 400, "invalid_request_error", "charge_not_refundable", "charge",
                           "Charge %s has no captured funds to refund.",
                           json_string_value(json_object_get(ch, "id")));
    int64_t left = json_integer_value(json_object_get(ch, "amount_captured")) -
                   json_integer_value(json_object_get(ch, "amount_refunded")) +
                   (json_integer_value(json_object_get(ch, "amount")) -
                    json_integer_value(json_object_get(ch, "amount_captured")));
    if (left <= 0)
        return st_sim_fail(call, 400, "invalid_request_error", "charge_already_refunded", NULL,
                           "Charge %s has already been refunded.",
                           json_string_value(json_object_get(ch, "id")));
    int rc = st_sim_param_int(call, "amount", amount, 0);
    if (rc < 0)
        return -1;
    if (rc == 0)
        *amount = left;
    if (*amount <= 0 || *amount > left)
        return st_sim_fail(call, 400, "invalid_request_error", "amount_too_large", "amount",
                           "Refund amount (%lld) is greater than unrefunded amount on charge "
                           "(%lld)",
                           (long long)*amount, (long long)left);
    return 0;
}

int st_sim_refund_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"amount",
                                          "charge",
                                          "payment_intent",
                                          "metadata",
                                          "reason",
                                          "refund_application_fee",
                                          "reverse_transfer",
                                          "instructions_email",
                                          NULL};
    static const char *const reasons[] = {"duplicate", "fraudulent", "requested_by_customer", NULL};
    const char *reason = NULL;
    int64_t amount;
    if (st_sim_params_allow(call, allowed) < 0 ||
        st_sim_param_enum(call, "reason", reasons, &reason) < 0)
        return -1;
    json_t *ch = target_charge(sim, call);
    if (!ch || check_amount(call, ch, &amount) < 0)
        return -1;
    char id[64];
    st_sim_id_new(sim, "re", id, sizeof(id));
    json_t *re = refund_object(sim, id, ch, amount);
    if (reason)
        json_object_set_new(re, "reason", json_string(reason));
    st_sim_apply_metadata(re, call->params);
    const st_sim_card_t *c =
        st_sim_pm_card(sim, json_string_value(json_object_get(ch, "payment_method")));
    if (c->refund != ST_SIM_REFUND_OK) {
        if (c->refund == ST_SIM_REFUND_PENDING)
            json_object_set_new(re, "status", json_string("pending"));
        json_object_set_new(st_sim_priv(sim, id), "due",
                            json_integer((json_int_t)(st_sim_now(sim) + REFUND_DELAY)));
        json_array_append_new(sim->pending, json_string(id));
    }
    st_sim_store_put(sim, "refund", id, re);
    charge_add_refund(ch, re, amount);
    st_sim_effect(sim, call, "refund", id, amount,
                  json_string_value(json_object_get(re, "status")));
    st_sim_event_emit(sim, call, "refund.created", id, NULL);
    st_sim_event_emit(sim, call, "charge.refunded", json_string_value(json_object_get(ch, "id")),
                      NULL);
    st_sim_ok(call, json_incref(re));
    return 0;
}

/* The charge embeds its refunds: keep that copy in step with the refund. */
static void sync_refund(json_t *ch, json_t *re)
{
    json_t *data = json_object_get(json_object_get(ch, "refunds"), "data");
    size_t i;
    json_t *r;
    json_array_foreach(data, i, r)
    {
        if (json_equal(json_object_get(r, "id"), json_object_get(re, "id"))) {
            json_array_set(data, i, re);
            break;
        }
    }
}

/* Move one due refund along: pending -> succeeded, succeeded -> failed. */
static void refund_step(st_sim_t *sim, st_sim_call_t *call, json_t *re)
{
    const char *id = json_string_value(json_object_get(re, "id"));
    json_t *ch = st_sim_store_get(sim, json_string_value(json_object_get(re, "charge")));
    if (strcmp(json_string_value(json_object_get(re, "status")), "pending") == 0) {
        json_object_set_new(re, "status", json_string("succeeded"));
        if (ch)
            sync_refund(ch, re);
        st_sim_event_emit(sim, call, "refund.updated", id, NULL);
        return;
    }
    json_object_set_new(re, "status", json_string("failed"));
    json_object_set_new(re, "failure_reason", json_string("expired_or_canceled_card"));
    if (ch) {
        charge_add_refund(ch, NULL, -json_integer_value(json_object_get(re, "amount")));
        sync_refund(ch, re);
    }
    st_sim_event_emit(sim, call, "refund.failed", id, NULL);
    st_sim_event_emit(sim, call, "charge.refund.updated", id, NULL);
}

void st_sim_refunds_tick(st_sim_t *sim, st_sim_call_t *call, int64_t now)
{
    for (size_t i = 0; i < json_array_size(sim->pending);) {
        const char *id = json_string_value(json_array_get(sim->pending, i));
        json_t *re = st_sim_store_get(sim, id);
        json_t *due = json_object_get(json_object_get(sim->priv, id), "due");
        if (!re || strcmp(json_string_value(json_object_get(re, "object")), "refund") != 0) {
            i++;
            continue;
        }
        if (json_integer_value(due) > now) {
            i++;
            continue;
        }
        refund_step(sim, call, re);
        json_array_remove(sim->pending, i);
    }
}

int st_sim_refund_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *re = st_sim_store_get(sim, call->id);
    if (!re || strcmp(json_string_value(json_object_get(re, "object")), "refund") != 0)
        return st_sim_fail_missing(call, "refund", "id", call->id);
    json_t *out = json_deep_copy(re);
    st_sim_expand(sim, out, call->params);
    st_sim_ok(call, out);
    return 0;
}

static int keep_refund(json_t *o, json_t *params)
{
    const char *f[] = {"charge", "payment_intent", NULL};
    for (const char **k = f; *k; k++) {
        const char *want = json_string_value(json_object_get(params, *k));
        const char *have = json_string_value(json_object_get(o, *k));
        if (want && (!have || strcmp(want, have) != 0))
            return 0;
    }
    return 1;
}

int st_sim_refund_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "refund", "/v1/refunds", keep_refund);
}
