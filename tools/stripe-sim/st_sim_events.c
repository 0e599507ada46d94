/*
 * st_sim_events.c — events, effects, and the /v1/events and
 * /v1/webhook_endpoints endpoints.
 *
 * Every state change emits an event holding a snapshot of the object; each
 * enabled endpoint whose enabled_events match ("*" or the type) gets a
 * signed delivery (st_sim_hooks.c). Only the newest ST_SIM_EVENT_KEEP events
 * stay retrievable (st_sim_evlog.c), so long benchmarks run in bounded memory.
 *
 * Effects are the money movements (charge attempts, refunds) with the
 * idempotency key of the request that caused them: the record that proves
 * a retried request did not charge twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_evlog.h"
#include "st_sim_hooks.h"
#include "st_sim_int.h"
#include "st_sim_json.h"

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

/* Enabled endpoints that want this event type, as a new array of ids (NULL: none). */
static json_t *subscribers(st_sim_t *sim, const char *type)
{
    if (json_array_size(json_object_get(sim->lists, "webhook_endpoint")) == 0)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *idv;
    json_array_foreach(json_object_get(sim->lists, "webhook_endpoint"), i, idv)
    {
        json_t *we = st_sim_store_get(sim, json_string_value(idv));
        if (we && !json_is_true(json_object_get(we, "deleted")) && endpoint_wants(we, type))
            json_array_append(out, idv);
    }
    return out;
}

/* Queue the serialised event for each subscribed endpoint. */
static void deliver(st_sim_t *sim, json_t *subs, const char *id, const char *raw, int64_t created)
{
    size_t i;
    json_t *idv;
    json_array_foreach(subs, i, idv)
    {
        const char *we_id = json_string_value(idv);
        json_t *we = st_sim_store_get(sim, we_id);
        const char *secret =
            json_string_value(json_object_get(json_object_get(sim->priv, we_id), "secret"));
        st_sim_hooks_enqueue(sim->hooks, json_string_value(json_object_get(we, "url")), secret, id,
                             raw, created);
    }
}

/* The event's text around its object: everything before it, a NUL, everything after. */
static char *event_frame(st_sim_call_t *call, const st_sim_event_t *ev, size_t n_subs)
{
    const char *id = ev->id, *type = ev->type;
    const char *ver =
        call && call->req && call->req->stripe_version ? call->req->stripe_version : API_VERSION;
    const char *idem = call && call->req ? call->req->idem_key : NULL;
    st_buf_t own = {0}, *b = st_sim_buf_scratch();
    if (!b)
        b = &own;
    st_buf_adds(b, "{\"id\":");
    st_sim_buf_jstr(b, id, strlen(id));
    st_buf_adds(b, ",\"object\":\"event\",\"api_version\":");
    st_sim_buf_jstr(b, ver, strlen(ver));
    st_buf_adds(b, ",\"created\":");
    st_sim_buf_int(b, (json_int_t)ev->created);
    st_buf_adds(b, ",\"data\":{\"object\":");
    st_buf_add(b, "", 1); /* the object goes here */
    if (ev->previous) {
        st_buf_adds(b, ",\"previous_attributes\":");
        st_sim_buf_json(b, ev->previous);
    }
    st_buf_adds(b, "},\"livemode\":false,\"pending_webhooks\":");
    st_sim_buf_int(b, (json_int_t)n_subs);
    st_buf_adds(b, ",\"request\":{\"id\":");
    if (call && call->request_id)
        st_sim_buf_jstr(b, call->request_id, strlen(call->request_id));
    else
        st_buf_adds(b, "null");
    st_buf_adds(b, ",\"idempotency_key\":");
    if (idem)
        st_sim_buf_jstr(b, idem, strlen(idem));
    else
        st_buf_adds(b, "null");
    st_buf_adds(b, "},\"type\":");
    st_sim_buf_jstr(b, type, strlen(type));
    st_buf_adds(b, "}");
    char *frame = b->oom ? NULL : malloc(b->len + 1); /* exact size: the ring keeps it */
    if (frame)
        memcpy(frame, b->p, b->len + 1);
    st_sim_buf_scratch_done(b);
    return frame;
}

/*
 * Record one event: its frame and a reference to obj, the object's text
 * (a JSON string, borrowed; NULL shows null). The whole text is made only
 * when an endpoint subscribes to it.
 */
static void event_write(st_sim_t *sim, st_sim_call_t *call, const st_sim_event_t *ev, json_t *obj)
{
    const char *id = ev->id, *type = ev->type;
    int64_t created = ev->created;
    json_t *subs = subscribers(sim, type);
    char *frame = event_frame(call, ev, json_array_size(subs));
    if (frame && json_array_size(subs) > 0) {
        char *raw = st_sim_evlog_assemble(frame, obj);
        if (raw)
            deliver(sim, subs, id, raw, created);
        free(raw);
    }
    json_decref(subs);
    if (frame)
        st_sim_evlog_add(sim->evlog, id, type, created, frame, json_incref(obj));
}

/*
 * Events are recorded as they happen and serialised when the request ends
 * (st_sim_events_flush), so an object several events mention in one request
 * is serialised once; each snapshot shows the object as that request left
 * it. Outside a request (start-up book, issuer ticks) they are written at
 * once.
 */
/* Copy s into dst[cap], cut short if it must be. */
static void copy_str(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Room for one more event in the call; NULL when out of memory. */
static st_sim_event_t *event_slot(st_sim_call_t *call)
{
    if (call->n_events == call->cap_events) {
        size_t cap = call->cap_events ? 2 * call->cap_events : 4;
        st_sim_event_t *p = realloc(call->events, cap * sizeof(*p));
        if (!p)
            return NULL;
        call->events = p;
        call->cap_events = cap;
    }
    return &call->events[call->n_events++];
}

void st_sim_event_emit(st_sim_t *sim, st_sim_call_t *call, const char *type, const char *obj_id,
                       json_t *previous)
{
    st_sim_event_t one, *ev = call && call->req ? event_slot(call) : &one;
    if (!ev) {
        json_decref(previous);
        return;
    }
    st_sim_id_new(sim, "evt", ev->id, sizeof(ev->id));
    copy_str(ev->type, sizeof(ev->type), type);
    copy_str(ev->obj, sizeof(ev->obj), obj_id);
    ev->created = st_sim_now(sim);
    ev->previous = previous;
    if (ev != &one)
        return;
    json_t *obj = st_sim_json_string_of(st_sim_store_get(sim, obj_id));
    event_write(sim, call, ev, obj);
    json_decref(obj);
    json_decref(previous);
}

void st_sim_events_flush(st_sim_t *sim, st_sim_call_t *call, st_sim_text_cache_t *tc)
{
    for (size_t i = 0; i < call->n_events; i++) {
        const st_sim_event_t *ev = &call->events[i];
        json_t *cold = json_object_get(sim->objects, ev->obj);
        if (json_is_string(cold)) { /* already text: no need to parse it back */
            event_write(sim, call, ev, cold);
            continue;
        }
        json_t *obj = st_sim_store_get(sim, ev->obj);
        event_write(sim, call, ev, obj ? st_sim_text_json(tc, obj) : NULL);
    }
    st_sim_events_release(call);
}

void st_sim_events_release(st_sim_call_t *call)
{
    for (size_t i = 0; i < call->n_events; i++)
        json_decref(call->events[i].previous);
    free(call->events);
    call->events = NULL;
    call->n_events = call->cap_events = 0;
}

/* Copy s (or nothing for NULL) to *at; returns the copy. */
static const char *pack_str(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(*at, s, n);
    const char *out = *at;
    *at += n;
    return out;
}

/* One allocation per record: a long benchmark keeps one per request. */
static st_sim_effect_t *effect_new(const char *kind, const char *id, const char *status,
                                   const char *key, const char *request_id)
{
    const char *strs[] = {kind, id, status, key, request_id};
    size_t n = 0;
    for (size_t i = 0; i < 5; i++)
        n += strs[i] ? strlen(strs[i]) + 1 : 0;
    st_sim_effect_t *e = malloc(sizeof(*e) + n);
    if (!e)
        return NULL;
    char *at = e->text;
    e->kind = pack_str(&at, kind);
    e->id = pack_str(&at, id);
    e->status = pack_str(&at, status);
    e->idem_key = pack_str(&at, key);
    e->request_id = pack_str(&at, request_id);
    return e;
}

json_t *st_sim_effect_json(const st_sim_effect_t *e)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:s?, s:s?, s:I}", "kind", e->kind, "id", e->id,
                     "amount", (json_int_t)e->amount, "status", e->status, "idempotency_key",
                     e->idem_key, "request_id", e->request_id, "at", (json_int_t)e->at);
}

static void effect_append(st_sim_t *sim, st_sim_effect_t *e)
{
    if (sim->n_effects == sim->cap_effects) {
        size_t cap = sim->cap_effects ? 2 * sim->cap_effects : 1024;
        st_sim_effect_t **p = realloc(sim->effects, cap * sizeof(*p));
        if (!p) {
            free(e);
            return;
        }
        sim->effects = p;
        sim->cap_effects = cap;
    }
    sim->effects[sim->n_effects++] = e;
}

void st_sim_effect(st_sim_t *sim, st_sim_call_t *call, const char *kind, const char *id,
                   int64_t amount, const char *status)
{
    const char *key = call && call->req ? call->req->idem_key : NULL;
    st_sim_effect_t *e = effect_new(kind, id, status, key, call ? call->request_id : NULL);
    if (e) {
        e->amount = amount;
        e->at = st_sim_now(sim);
        effect_append(sim, e);
    }
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
    long i = st_sim_evlog_find(sim->evlog, call->id);
    if (i < 0)
        return st_sim_fail_missing(call, "event", "id", call->id);
    char *raw = st_sim_evlog_raw(st_sim_evlog_at(sim->evlog, (size_t)i));
    st_sim_ok(call, raw ? json_loads(raw, 0, NULL) : NULL);
    free(raw);
    return 0;
}

static int event_wanted(const st_sim_evlog_entry_t *e, json_t *params)
{
    const char *want = json_string_value(json_object_get(params, "type"));
    if (want) {
        size_t n = strlen(want);
        if (n && want[n - 1] == '*')
            return strncmp(want, e->type, n - 1) == 0;
        return strcmp(want, e->type) == 0;
    }
    json_t *types = json_object_get(params, "types");
    if (!json_is_array(types))
        return 1;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) if (json_is_string(t) &&
                                        strcmp(json_string_value(t), e->type) == 0) return 1;
    return 0;
}

/* Start index and direction from starting_after / ending_before. */
static int evt_cursor(st_sim_t *sim, st_sim_call_t *call, long *start, int *step)
{
    const char *after = st_sim_param_str(call, "starting_after");
    const char *before = st_sim_param_str(call, "ending_before");
    const char *cur = after ? after : before;
    *start = (long)st_sim_evlog_count(sim->evlog) - 1;
    *step = -1;
    if (!cur)
        return 0;
    long pos = st_sim_evlog_find(sim->evlog, cur);
    if (pos < 0)
        return st_sim_fail_missing(call, "event", after ? "starting_after" : "ending_before", cur);
    *start = after ? pos - 1 : pos + 1;
    *step = after ? -1 : 1;
    return 0;
}

static int evt_list(st_sim_t *sim, st_sim_call_t *call)
{
    int64_t limit = 10;
    long i;
    int step;
    if (st_sim_param_int(call, "limit", &limit, 0) < 0 || evt_cursor(sim, call, &i, &step) < 0)
        return -1;
    if (limit < 1 || limit > 100)
        return st_sim_fail_param(call, "limit",
                                 "Invalid limit: must be at least 1 and at most 100");
    json_t *data = json_array();
    int more = 0;
    long n = (long)st_sim_evlog_count(sim->evlog);
    for (; i >= 0 && i < n; i += step) {
        const st_sim_evlog_entry_t *e = st_sim_evlog_at(sim->evlog, (size_t)i);
        if (!event_wanted(e, call->params))
            continue;
        if ((int64_t)json_array_size(data) == limit) {
            more = 1;
            break;
        }
        char *raw = st_sim_evlog_raw(e);
        json_t *ev = raw ? json_loads(raw, 0, NULL) : NULL;
        free(raw);
        if (step > 0)
            json_array_insert_new(data, 0, ev); /* still newest first */
        else
            json_array_append_new(data, ev);
    }
    st_sim_ok(call, json_pack("{s:s, s:o, s:b, s:s}", "object", "list", "data", data, "has_more",
                              more, "url", "/v1/events"));
    return 0;
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
    st_sim_ok(call, json_incref(we));
    return 0;
}

static int we_update(st_sim_t *sim, st_sim_call_t *call)
{
    static const char *const allowed[] = {"url",      "enabled_events", "description",
                                          "metadata", "disabled",       NULL};
    json_t *we = get_we(sim, call);
    if (!we || st_sim_params_allow(call, allowed) < 0 || apply_endpoint(call, we) < 0)
        return -1;
    st_sim_ok(call, json_incref(we));
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
