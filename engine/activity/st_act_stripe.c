/*
 * st_act_stripe.c — the Stripe driver: each catalog entry is a row of an
 * endpoint table (method, path, the arg that names the object, forced
 * parameters); the request goes out form-encoded with the Idempotency-Key,
 * Stripe-Version and the secret key, and the reply goes to the pure
 * classifier.
 *
 * Layer: engine/activity. Depends on st_act_net, st_act_stripe_form,
 * st_act_stripe_classify, libcurl, jansson.
 *
 * Invariants: the API key is only ever placed in the Authorization header
 * (never in a URL, a body or a message); the Idempotency-Key is the step's
 * key, so a retry or a replay after a crash is the same request to Stripe.
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct endpoint {
    st_act_stripe_kind_t kind;
    const char *method; /* "POST" or "GET" */
    const char *path;   /* printf format with one %s when id_arg is set */
    const char *id_arg; /* arg naming the object in the path, or NULL */
    bool off_session;   /* force off_session=true (unless given) */
    bool confirm;       /* force confirm=true (unless given) */
    bool expand_pi;     /* expand[]=payment_intent (to see next_action) */
} endpoint_t;

static const endpoint_t endpoints[] = {
    {ST_ACT_STRIPE_CREATE_PAYMENT, "POST", "/v1/payment_intents", NULL, true, true, false},
    {ST_ACT_STRIPE_CONFIRM_PAYMENT, "POST", "/v1/payment_intents/%s/confirm", "payment_intent",
     true, false, false},
    {ST_ACT_STRIPE_PAY_INVOICE, "POST", "/v1/invoices/%s/pay", "invoice", true, false, true},
    {ST_ACT_STRIPE_REFUND, "POST", "/v1/refunds", NULL, false, false, false},
    {ST_ACT_STRIPE_VOID_INVOICE, "POST", "/v1/invoices/%s/void", "invoice", false, false, false},
    {ST_ACT_STRIPE_CANCEL_PAYMENT, "POST", "/v1/payment_intents/%s/cancel", "payment_intent", false,
     false, false},
    {ST_ACT_STRIPE_RETRIEVE_PAYMENT, "GET", "/v1/payment_intents/%s", "payment_intent", false,
     false, false},
};

static const endpoint_t *endpoint_for(st_act_stripe_kind_t kind)
{
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++)
        if (endpoints[i].kind == kind)
            return &endpoints[i];
    return NULL;
}

/* Stripe ids are [A-Za-z0-9_]; anything else would let args rewrite the path. */
static bool valid_id(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 200)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
           strlen(s);
}

/* Args plus the endpoint's forced parameters, minus the path id. */
static json_t *request_params(const endpoint_t *ep, const json_t *args)
{
    json_t *p = json_deep_copy(args);
    if (p == NULL)
        return NULL;
    if (ep->id_arg)
        json_object_del(p, ep->id_arg);
    if (ep->off_session && !json_object_get(p, "off_session"))
        json_object_set_new(p, "off_session", json_true());
    if (ep->confirm && !json_object_get(p, "confirm"))
        json_object_set_new(p, "confirm", json_true());
    if (ep->expand_pi && !json_object_get(p, "expand"))
        json_object_set_new(p, "expand", json_pack("[s]", "payment_intent"));
    /* The flow language's short names for Stripe parameters (the compiler's
     * catalog) become Stripe's own: a refund is in the charge's currency and
     * takes no `currency`; 3-D Secure is a card option; a cancel's reason is
     * `cancellation_reason`. */
    json_t *v;
    if (ep->kind == ST_ACT_STRIPE_REFUND && (v = json_object_get(p, "amount")) != NULL &&
        json_is_object(v) && json_is_integer(json_object_get(v, "minor")))
        json_object_set_new(p, "amount",
                            json_integer(json_integer_value(json_object_get(v, "minor"))));
    if (ep->kind == ST_ACT_STRIPE_CREATE_PAYMENT &&
        (v = json_object_get(p, "three_d_secure")) != NULL && json_is_string(v) &&
        !json_object_get(p, "payment_method_options")) {
        json_object_set_new(p, "payment_method_options",
                            json_pack("{s:{s:O}}", "card", "request_three_d_secure", v));
        json_object_del(p, "three_d_secure");
    }
    if (ep->kind == ST_ACT_STRIPE_CANCEL_PAYMENT && (v = json_object_get(p, "reason")) != NULL &&
        !json_object_get(p, "cancellation_reason")) {
        json_object_set(p, "cancellation_reason", v);
        json_object_del(p, "reason");
    }
    return p;
}

static void stripe_done(st_act_job_t *job, const st_act_http_reply_t *r, void *user)
{
    st_act_call_t *call = user;
    call->job = NULL; /* the net frees the job after this callback */
    st_act_stripe_reply_t rp = {
        .curl_code = (int)r->curl_code,
        .curl_error = r->curl_error,
        .status = r->status,
        .body = r->body,
        .retry_after = r->retry_after,
        .should_retry = r->should_retry[0] ? r->should_retry : NULL,
        .request_id = r->request_id,
        .replayed = r->replayed[0] ? r->replayed : NULL,
    };
    const st_act_stripe_kind_t *kind = call->driver->conf;
    st_act_stripe_classify(*kind, &rp, (int64_t)time(NULL) * 1000000, &call->res);
    st_act_call_finish(call);
}

static struct curl_slist *stripe_headers(const st_act_config_t *cfg, const char *key)
{
    char line[512];
    struct curl_slist *h = NULL, *t;
    snprintf(line, sizeof line, "Authorization: Bearer %s", cfg->stripe_key);
    h = curl_slist_append(h, line);
    memset(line, 0, sizeof line); /* the key does not linger on the stack */
    const char *fixed[] = {"Content-Type: application/x-www-form-urlencoded",
                           "Expect:", "User-Agent: settle/0.1 (activity)"};
    for (size_t i = 0; h != NULL && i < sizeof fixed / sizeof fixed[0]; i++)
        h = (t = curl_slist_append(h, fixed[i])) ? t : (curl_slist_free_all(h), NULL);
    if (h != NULL) {
        snprintf(line, sizeof line, "Stripe-Version: %s", cfg->stripe_version);
        h = (t = curl_slist_append(h, line)) ? t : (curl_slist_free_all(h), NULL);
    }
    if (h != NULL) {
        snprintf(line, sizeof line, "Idempotency-Key: %s", key);
        h = (t = curl_slist_append(h, line)) ? t : (curl_slist_free_all(h), NULL);
    }
    return h;
}

/* Permanent failure of this attempt, reported from the loop. */
static int fail_later(st_act_call_t *call, const char *msg)
{
    st_act_call_set(call, ST_ACT_FAILED, "%s", msg);
    st_act_call_finish_later(call, 0);
    return 0;
}

static int build_url(st_act_call_t *call, const endpoint_t *ep, char *url, size_t cap)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    char path[320];
    if (ep->id_arg) {
        const char *id = json_string_value(json_object_get(call->args, ep->id_arg));
        if (!valid_id(id))
            return -1;
        snprintf(path, sizeof path, ep->path, id);
    } else {
        snprintf(path, sizeof path, "%s", ep->path);
    }
    size_t bl = strlen(cfg->stripe_base);
    while (bl > 0 && cfg->stripe_base[bl - 1] == '/')
        bl--;
    snprintf(url, cap, "%.*s%s", (int)bl, cfg->stripe_base, path);
    return 0;
}

int st_act_stripe_start(st_act_call_t *call, st_err_t *err)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    const endpoint_t *ep = endpoint_for(*(const st_act_stripe_kind_t *)call->driver->conf);
    char url[2048], msg[160];
    if (cfg->stripe_key[0] == '\0')
        return fail_later(call, "no Stripe API key: set STRIPE_API_KEY or STRIPE_API_KEY_FILE");
    if (build_url(call, ep, url, sizeof url) != 0) {
        snprintf(msg, sizeof msg, "%s: arg '%s' must be a Stripe id ([A-Za-z0-9_]+)",
                 call->driver->name, ep->id_arg);
        return fail_later(call, msg);
    }
    json_t *params = request_params(ep, call->args);
    st_buf_t body = {0};
    st_err_t ferr;
    st_err_clear(&ferr);
    int rc = params ? st_act_stripe_form(params, NULL, &body, &ferr) : ST_NOMEM;
    json_decref(params);
    if (rc == ST_INVAL) {
        st_buf_release(&body);
        return fail_later(call, ferr.msg);
    }
    st_act_job_t *job = rc == 0 ? st_act_job_new(call->runner->net) : NULL;
    struct curl_slist *hdr = job ? stripe_headers(cfg, call->idem_key) : NULL;
    if (hdr == NULL) {
        st_act_job_free(job);
        st_buf_release(&body);
        return st_err_set(err, ST_NOMEM, "cannot prepare the Stripe request");
    }
    st_act_job_keep_slist(job, hdr);
    CURL *e = st_act_job_easy(job);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(ep->method, "GET") == 0) {
        if (body.len > 0) { /* GET parameters (expand[]) travel in the query */
            size_t ul = strlen(url);
            snprintf(url + ul, sizeof url - ul, "?%s", body.p);
        }
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        st_buf_release(&body);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)body.len);
        char *p = st_buf_detach(&body);
        st_act_job_keep_mem(job, p);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, p);
    }
    call->job = job;
    st_act_job_submit(job, &call->runner->pool_stripe, call->timeout_us, stripe_done, call);
    return 0;
}
