/*
 * st_sim_router.c — request dispatch: auth, route table, idempotency keys
 * and injected faults around the handlers.
 *
 * Order per request: fault draw (429/5xx/drop answer before anything runs,
 * store nothing) -> auth -> route -> idempotency reservation -> latency
 * (slept without the store mutex, so a concurrent request with the same key
 * sees it in progress) -> handler under the mutex -> store the response
 * under the key unless the handler marked it not storable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_sim_auth.h"
#include "st_sim_faults.h"
#include "st_sim_int.h"
#include "st_sim_json.h"

static const st_sim_route_t *const families[] = {
    st_sim_routes_customers, st_sim_routes_pm,     st_sim_routes_pi,    st_sim_routes_charges,
    st_sim_routes_invoices,  st_sim_routes_events, st_sim_routes_admin,
};

/* Match "/v1/x/:id/y" against path; copies the :id segment into id. */
static int match(const char *pattern, const char *path, char *id, size_t cap)
{
    while (*pattern && *path) {
        if (*pattern == ':') {
            while (*pattern && *pattern != '/')
                pattern++;
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= cap)
                return 0;
            memcpy(id, path, n);
            id[n] = '\0';
            path += n;
            continue;
        }
        if (*pattern++ != *path++)
            return 0;
    }
    return *pattern == '\0' && *path == '\0';
}

/* Find the handler; *path_known says whether the path exists for any method. */
static st_sim_handler_fn route(const char *method, const char *path, char *id, size_t cap,
                               int *path_known)
{
    *path_known = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (const st_sim_route_t *r = families[f]; r->method; r++) {
            if (!match(r->pattern, path, id, cap))
                continue;
            *path_known = 1;
            if (strcmp(r->method, method) == 0)
                return r->fn;
        }
    }
    return NULL;
}

/* The answer: the text made under the mutex when there is one (no second dump). */
static void finish(st_sim_call_t *call, st_sim_resp_t *resp)
{
    resp->status = call->status;
    resp->should_retry = call->should_retry;
    if (call->text) { /* the answer shares the text the store keeps */
        resp->body_ref = json_incref(call->text);
        resp->body = (char *)json_string_value(call->text);
    } else {
        resp->body = call->body ? st_sim_json_dumps(call->body) : strdup("{}");
    }
    json_decref(call->body);
    call->body = NULL;
}

static void sleep_ms(int ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/*
 * Call the handler (sim->mu held); expand[] applies to every answer. The
 * body may be a stored object, so it is copied before expanding and
 * serialised here, before the mutex is released.
 */
static void invoke(st_sim_t *sim, st_sim_handler_fn fn, st_sim_call_t *call)
{
    fn(sim, call);
    if (!call->body) {
        st_sim_fail(call, 500, "api_error", NULL, NULL, "handler produced no answer");
    } else if (call->status == 200 && json_object_get(call->params, "expand")) {
        json_t *copy = json_deep_copy(call->body);
        json_decref(call->body);
        call->body = copy;
        st_sim_expand(sim, call->body, call->params);
    }
    st_sim_text_cache_t tc = {.n = 0};
    st_sim_events_flush(sim, call, &tc);
    json_t *text = call->body && !call->text ? st_sim_text_json(&tc, call->body) : NULL;
    if (text)
        call->text = json_incref(text); /* often made already, for an event */
    st_sim_store_freeze(sim, &tc);
    st_sim_text_cache_release(&tc);
}

/* Run the handler under the store mutex. */
static void run_locked(st_sim_t *sim, st_sim_handler_fn fn, st_sim_call_t *call)
{
    pthread_mutex_lock(&sim->mu);
    invoke(sim, fn, call);
    pthread_mutex_unlock(&sim->mu);
}

/* The idempotent path: reserve, run, store or abandon. Returns 1 if it answered. */
static int run_keyed(st_sim_t *sim, st_sim_handler_fn fn, st_sim_call_t *call, st_sim_resp_t *resp,
                     int latency_ms)
{
    const st_sim_req_t *req = call->req;
    char fp[192];
    st_sim_idem_fingerprint(req->method, req->path, call->params, fp, sizeof(fp));
    st_sim_idem_hit_t hit;
    pthread_mutex_lock(&sim->mu);
    st_sim_idem_verdict_t v =
        st_sim_idem_begin(sim->idem, req->idem_key, fp, st_sim_now(sim), &hit);
    pthread_mutex_unlock(&sim->mu);
    if (v == ST_SIM_IDEM_REPLAY) {
        resp->status = hit.status;
        resp->body = hit.body;
        resp->should_retry = hit.should_retry;
        resp->replayed = 1;
        return 1;
    }
    if (v == ST_SIM_IDEM_BUSY) {
        st_sim_fail(call, 409, "idempotency_error", NULL, NULL,
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    "going through): %s. Please try again later.",
                    req->idem_key);
        call->should_retry = 1;
        return 0;
    }
    if (v == ST_SIM_IDEM_MISMATCH) {
        st_sim_fail(call, 400, "idempotency_error", NULL, NULL,
                    "Keys for idempotent requests can only be used with the same parameters they "
                    "were first used with. Try using a key other than '%s' if you meant to "
                    "execute a different request.",
                    req->idem_key);
        return 0;
    }
    sleep_ms(latency_ms);
    pthread_mutex_lock(&sim->mu);
    invoke(sim, fn, call);
    if (call->no_store) {
        st_sim_idem_abandon(sim->idem, req->idem_key);
    } else {
        st_sim_idem_finish_ref(sim->idem, req->idem_key, call->status,
                               call->text ? json_incref(call->text) : json_string(""),
                               call->should_retry);
    }
    pthread_mutex_unlock(&sim->mu);
    return 0;
}

/* Faults decided before anything runs. Returns 1 when the fault answered. */
static int apply_fault(st_sim_t *sim, st_sim_call_t *call, st_sim_resp_t *resp,
                       const st_sim_fault_t *f)
{
    if (f->action == ST_SIM_FAULT_DROP) {
        resp->drop = 1;
        return 1;
    }
    if (f->action == ST_SIM_FAULT_429) {
        st_sim_fail(call, 429, "invalid_request_error", "rate_limit", NULL,
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.");
        call->should_retry = 1;
        return 1;
    }
    if (f->action == ST_SIM_FAULT_500) {
        st_sim_fail(call, 500, "api_error", NULL, NULL,
                    "An unknown error occurred (injected by stripe-sim).");
        call->should_retry = 1;
        return 1;
    }
    return 0;
}

static void dispatch(st_sim_t *sim, st_sim_call_t *call, st_sim_resp_t *resp)
{
    const st_sim_req_t *req = call->req;
    char id[256] = "";
    int admin = strncmp(req->path, "/_sim/", 6) == 0;
    st_sim_fault_t fault = {0, 0};
    if (!admin)
        st_sim_faults_pick(sim->faults, req->method, req->path, &fault);
    if (apply_fault(sim, call, resp, &fault))
        return;
    if (!admin && st_sim_auth_check(call, req->authorization) < 0)
        return;
    int known;
    st_sim_handler_fn fn = route(req->method, req->path, id, sizeof(id), &known);
    if (!fn) {
        st_sim_fail(call, 404, "invalid_request_error", NULL, NULL,
                    known ? "Unrecognized request URL (%s: %s). This method is not allowed."
                          : "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs "
                            "or we can help at https://support.stripe.com/.",
                    req->method, req->path);
        return;
    }
    call->id = id[0] ? id : NULL;
    if (req->idem_key && strcmp(req->method, "POST") == 0 && !admin) {
        if (strlen(req->idem_key) > ST_SIM_IDEM_KEY_MAX) {
            st_sim_fail(call, 400, "invalid_request_error", NULL, "Idempotency-Key",
                        "Invalid Idempotency-Key: keys must be at most %d characters.",
                        ST_SIM_IDEM_KEY_MAX);
            return;
        }
        run_keyed(sim, fn, call, resp, fault.latency_ms);
        return;
    }
    sleep_ms(fault.latency_ms);
    run_locked(sim, fn, call);
}

/* "req_" and n in 14 zero-padded digits (as "req_%014llu", without printf). */
static void request_id(char out[32], uint64_t n)
{
    memcpy(out, "req_", 4);
    int len = 14;
    for (uint64_t m = n / 100000000000000ull; m; m /= 10)
        len++; /* more than 14 digits: all of them */
    for (int i = len - 1; i >= 0; i--, n /= 10)
        out[4 + i] = (char)('0' + n % 10);
    out[4 + len] = '\0';
}

int st_sim_dispatch(st_sim_t *sim, const st_sim_req_t *req, st_sim_resp_t *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->should_retry = -1;
    request_id(resp->request_id, atomic_fetch_add(&sim->req_seq, 1) + 1);
    json_t *empty = json_object();
    st_sim_call_t call = {.req = req,
                          .params = req->params ? req->params : empty,
                          .request_id = resp->request_id,
                          .should_retry = -1};
    dispatch(sim, &call, resp);
    if (!resp->body && !resp->drop)
        finish(&call, resp);
    json_decref(call.body);
    st_sim_events_release(&call);
    json_decref(call.text);
    json_decref(empty);
    return 0;
}

void st_sim_resp_release(st_sim_resp_t *resp)
{
    if (!resp)
        return;
    if (resp->body_ref)
        json_decref(resp->body_ref);
    else
        free(resp->body);
    resp->body = NULL;
    resp->body_ref = NULL;
}
