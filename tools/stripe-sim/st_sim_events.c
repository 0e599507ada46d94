/*
 * st_sim_events.c — events, effects, and the /v1/events and
 * /v1/webhook_endpoints endpoints.
 *
 * Every state change emits an event holding a snapshot of the object; each
 * enabled endpoint whose enabled_events match ("*" or the type) gets a
 * signed delivery (st_sim_hooks.c). Only the newest EVENT_KEEP events stay
 * retrievable, so long benchmarks run in bounded memory.
 *
 * Effects are the money movements (charge attempts, refunds) with the
 * idempotency key of the request that caused them: the record that proves
 * a retried request did not charge twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_hooks.h"
#include "st_sim_int.h"

#define EVENT_KEEP  50000
#define API_VERSION "2020-08-27"

static int endpoint_wants(json_t *we, const char *type)
{
    if (strcmp(json_string_value(json_object_get(we, "status")), "enabled") != 0)
        return 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(we, "enabled_events"), i, t)
    {
        const char *s = json_string_value(t);
        if (s && (strcmp(s, "*") == 0 || strcmp(s, type) == 0))
            return 1;
    }
    return 0;
}

/* Queue the event for every matching endpoint; returns how many. */
static int deliver(st_sim_t *sim, json_t *evt, const char *type)
{
    json_t *ids = json_object_get(sim->lists, "webhook_endpoint");
    char *payload = NULL;
    int n = 0;
    size_t i;
    json_t *idv;
    json_array_foreach(ids, i, idv)
    {
        json_t *we = st_sim_store_get(sim, json_string_value(idv));
        if (!we || json_is_true(json_object_get(we, "deleted")) || !endpoint_wants(we, type))
            continue;
        if (!payload) {
            json_object_set_new(evt, "pending_webhooks", json_integer(1));
            payload = json_dumps(evt, JSON_INDENT(2));
        }
        const char *secret = json_string_value(
            json_object_get(json_object_get(sim->priv, json_string_value(idv)), "secret"));
        st_sim_hooks_enqueue(sim->hooks, json_string_value(json_object_get(we, "url")), secret,
                             json_string_value(json_object_get(evt, "id")), payload,
                             json_integer_value(json_object_get(evt, "created")));
        n++;
    }
    free(payload);
    return n;
}

/* Forget the oldest event once more than EVENT_KEEP are kept. */
static void trim_events(st_sim_t *sim)
{
    json_t *ids = json_object_get(sim->lists, "event");
    size_t total = json_array_size(ids);
    if (total <= EVENT_KEEP)
        return;
    const char *old = json_string_value(json_array_get(ids, total - EVENT_KEEP - 1));
    if (old) {
        json_object_del(sim->objects, old);
        json_object_del(sim->priv, old);
    }
}

void st_sim_event_emit(st_sim_t *sim, st_sim_call_t *call, const char *type, const char *obj_id,
                       json_t *previous)
{
    char id[64];
    st_sim_id_new(sim, "evt", id, sizeof(id));
    const char *ver =
        call && call->req && call->req->stripe_version ? call->req->stripe_version : API_VERSION;
    const char *idem = call && call->req ? call->req->idem_key : NULL;
    json_t *data = json_pack("{s:o}", "object", st_sim_store_copy(sim, obj_id));
    if (previous)
        json_object_set_new(data, "previous_attributes", previous);
    json_t *evt =
        json_pack("{s:s, s:s, s:s, s:I, s:o, s:b, s:i, s:{s:s?, s:s?}, s:s}", "id", id, "object",
                  "event", "api_version", ver, "created", (json_int_t)st_sim_now(sim), "data", data,
                  "livemode", 0, "pending_webhooks", 0, "request", "id",
                  call ? call->request_id : NULL, "idempotency_key", idem, "type", type);
    deliver(sim, evt, type);
    st_sim_store_put(sim, "event", id, evt);
    trim_events(sim);
}

void st_sim_effect(st_sim_t *sim, st_sim_call_t *call, const char *kind, const char *id,
                   int64_t amount, const char *status)
{
    const char *key = call && call->req ? call->req->idem_key : NULL;
    json_array_append_new(sim->effects, json_pack("{s:s, s:s, s:I, s:s, s:s?, s:s?, s:I}", "kind",
                                                  kind, "id", id, "amount", (json_int_t)amount,
                                                  "status", status, "idempotency_key", key,
                                                  "request_id", call ? call->request_id : NULL,
                                                  "at", (json_int_t)st_sim_now(sim)));
    if (strcmp(kind, "charge") == 0)
        sim->counts[strcmp(status, "succeeded") == 0 ? ST_SIM_N_CHARGE_OK
                                                     : ST_SIM_N_CHARGE_FAILED]++;
    else
        sim->counts[ST_SIM_N_REFUND]++;
    if (key) {
        json_t *n = json_object_get(sim->effects_by_key, key);
        json_object_set_new(sim->effects_by_key, key, json_integer(json_integer_value(n) + 1));
    }
}

static int evt_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *e = st_sim_store_get(sim, call->id);
    if (!e || strcmp(json_string_value(json_object_get(e, "object")), "event") != 0)
        return st_sim_fail_missing(call, "event", "id", call->id);
    st_sim_ok(call, json_deep_copy(e));
    return 0;
}

static int keep_event(json_t *o, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "type"));
    const char *have = json_string_value(json_object_get(o, "type"));
    if (want) {
        size_t n = strlen(want);
        if (n && want[n - 1] == '*')
            return strncmp(want, have, n - 1) == 0;
        return strcmp(want, have) == 0;
    }
    json_t *types = json_object_get(params, "types");
    if (!json_is_array(types))
        return 1;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) if (strcmp(json_string_value(t), have) == 0) return 1;
    return 0;
}

static int evt_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "event", "/v1/events", keep_event);
}

/* enabled_events[] must be a non-empty array of strings. */
static int apply_endpoint(st_sim_call_t *call, json_t *we)
{
    json_t *ev = json_object_get(call->params, "enabled_events");
    if (ev && (!json_is_array(ev) || json_array_size(ev) == 0))
        return st_sim_fail_param(call, "enabled_events", "Invalid array");
    if (ev)
        json_object_set(we, "enabled_events", ev);
    const char *url = st_sim_param_str(call, "url");
    if (url && strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return st_sim_fail_param(call, "url", "Invalid URL: %s", url);
    if (url)
        json_object_set_new(we, "url", json_string(url));
    static const char *const strs[] = {"description", NULL};
    st_sim_apply_strings(we, call->params, strs);
    st_sim_apply_metadata(we, call->params);
    int disabled;
    if (st_sim_param_bool(call, "disabled", &disabled) == 1)
        json_object_set_new(we, "status", json_string(disabled ? "disabled" : "enabled"));
    return 0;
}

static int we_create(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {
        "url", "enabled_events", "description", "metadata", "api_version", "connect", NULL};
    if (st_sim_params_allow(call, allowed) < 0)
        return -1;
    if (!st_sim_param_str(call, "url"))
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing", "url",
                           "Missing required param: url.");
    if (!json_object_get(call->params, "enabled_events"))
        return st_sim_fail(call, 400, "invalid_request_error", "parameter_missing",
                           "enabled_events", "Missing required param: enabled_events.");
    char id[64], secret[64];
    st_sim_id_new(sim, "we", id, sizeof(id));
    st_sim_id_new(sim, "whsec", secret, sizeof(secret));
    json_t *we =
        json_pack("{s:s, s:s, s:s?, s:n, s:I, s:s, s:[], s:b, s:{}, s:s, s:s}", "id", id, "object",
                  "webhook_endpoint", "api_version", st_sim_param_str(call, "api_version"),
                  "application", "created", (json_int_t)st_sim_now(sim), "description", "",
                  "enabled_events", "livemode", 0, "metadata", "status", "enabled", "url", "");
    json_object_set_new(we, "description", json_null());
    if (apply_endpoint(call, we) < 0) {
        json_decref(we);
        return -1;
    }
    st_sim_store_put(sim, "webhook_endpoint", id, we);
    json_object_set_new(st_sim_priv(sim, id), "secret", json_string(secret));
    json_t *out = json_deep_copy(we);
    json_object_set_new(out, "secret", json_string(secret)); /* only on create, as Stripe */
    st_sim_ok(call, out);
    return 0;
}

static json_t *get_we(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *we = st_sim_store_get(sim, call->id);
    if (!we || json_is_true(json_object_get(we, "deleted")) ||
        strcmp(json_string_value(json_object_get(we, "object")), "webhook_endpoint") != 0) {
        st_sim_fail_missing(call, "webhook endpoint", "id", call->id);
        return NULL;
    }
    return we;
}

static int we_retrieve(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *we = get_we(sim, call);
    if (!we)
        return -1;
    st_sim_ok(call, json_deep_copy(we));
    return 0;
}

static int we_update(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"url",      "enabled_events", "description",
                                          "metadata", "disabled",       NULL};
    json_t *we = get_we(sim, call);
    if (!we || st_sim_params_allow(call, allowed) < 0 || apply_endpoint(call, we) < 0)
        return -1;
    st_sim_ok(call, json_deep_copy(we));
    return 0;
}

static int we_delete(st_sim_t *sim, st_sim_call_t *call)
{
    json_t *we = get_we(sim, call);
    if (!we)
        return -1;
    json_object_set_new(we, "deleted", json_true());
    st_sim_ok(call, json_pack("{s:s, s:s, s:b}", "id", call->id, "object", "webhook_endpoint",
                              "deleted", 1));
    return 0;
}

static int we_list(st_sim_t *sim, st_sim_call_t *call)
{
    return st_sim_store_list(sim, call, "webhook_endpoint", "/v1/webhook_endpoints", NULL);
}

const st_sim_route_t st_sim_routes_events[] = {
    {"GET", "/v1/events", evt_list},
    {"GET", "/v1/events/:id", evt_retrieve},
    {"POST", "/v1/webhook_endpoints", we_create},
    {"GET", "/v1/webhook_endpoints", we_list},
    {"GET", "/v1/webhook_endpoints/:id", we_retrieve},
    {"POST", "/v1/webhook_endpoints/:id", we_update},
    {"DELETE", "/v1/webhook_endpoints/:id", we_delete},
    {NULL, NULL, NULL},
};
