/*
 * st_act_registry.c — the drivers of the activity catalog, the runner
 * and the life of one call: start, finish, shutdown.
 *
 * Layer: engine/activity. Depends on the rest of the family (act_int.h),
 * the activity catalog (common/st_catalog.h), libev, jansson.
 *
 * Invariants: st_act_start either returns 0 and the call's callback fires
 * exactly once later from the loop, or returns an error and nothing fires.
 * Only names the catalog lists are started.
 * Every message leaving through a callback has been redacted here, whatever
 * the driver put in it.
 */
#include "activity/act_int.h"
#include "common/st_catalog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------- drivers */

/* Which code runs each catalog entry (common/st_catalog.c holds the names'
 * outcomes, parameters and timeouts). A name here that the catalog lacks is
 * never started; a catalog entry without a row here is unknown at runtime. */

static const st_act_stripe_kind_t k_create = ST_ACT_STRIPE_CREATE_PAYMENT,
                                  k_confirm = ST_ACT_STRIPE_CONFIRM_PAYMENT,
                                  k_pay = ST_ACT_STRIPE_PAY_INVOICE,
                                  k_refund = ST_ACT_STRIPE_REFUND,
                                  k_void = ST_ACT_STRIPE_VOID_INVOICE,
                                  k_cancel = ST_ACT_STRIPE_CANCEL_PAYMENT,
                                  k_retrieve = ST_ACT_STRIPE_RETRIEVE_PAYMENT;

static const st_act_driver_t drivers[] = {
    {"stripe.create_payment", st_act_stripe_start, &k_create},
    {"stripe.confirm_payment", st_act_stripe_start, &k_confirm},
    {"stripe.pay_invoice", st_act_stripe_start, &k_pay},
    {"stripe.refund", st_act_stripe_start, &k_refund},
    {"stripe.void_invoice", st_act_stripe_start, &k_void},
    {"stripe.cancel_payment", st_act_stripe_start, &k_cancel},
    {"stripe.retrieve_payment", st_act_stripe_start, &k_retrieve},
    {"email.send", st_act_email_start, NULL},
    {"http.call", st_act_httpcall_start, "http"},
    {"erp.post_payment", st_act_httpcall_start, "erp.post_payment"},
    {"erp.post_refund", st_act_httpcall_start, "erp.post_refund"},
    {"erp.write_off", st_act_httpcall_start, "erp.write_off"},
    {"crm.upsert", st_act_httpcall_start, "crm.upsert"},
    {"support.ticket", st_act_httpcall_start, "support.ticket"},
    {"test.echo", st_act_test_start, "echo"},
    {"test.fail_then_succeed", st_act_test_start, "fail_then_succeed"},
    {"test.sleep", st_act_test_start, "sleep"},
};

#define DRIVERS_N (sizeof drivers / sizeof drivers[0])

static const st_act_driver_t *lookup(const char *name)
{
    if (st_catalog_find(name) == NULL)
        return NULL;
    for (size_t i = 0; i < DRIVERS_N; i++)
        if (strcmp(drivers[i].name, name) == 0)
            return &drivers[i];
    return NULL;
}

const char *const *st_act_outcomes(const char *activity)
{
    const st_catalog_activity_t *a =
        activity && lookup(activity) ? st_catalog_find(activity) : NULL;
    return a ? a->outcomes : NULL;
}

size_t st_act_catalog_size(void)
{
    return DRIVERS_N;
}

const char *st_act_catalog_name(size_t i)
{
    return i < DRIVERS_N ? drivers[i].name : NULL;
}

json_t *st_act_result_json(const st_act_result_t *res)
{
    json_t *j =
        json_pack("{s:s?,s:s?,s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:O?}", "activity", res->activity,
                  "idem_key", res->idem_key, "attempt", (json_int_t)res->attempt, "outcome",
                  res->outcome, "code", res->code, "error_code", res->error_code, "decline_code",
                  res->decline_code, "message", res->message, "http_status", res->http_status,
                  "latency_us", (json_int_t)res->latency_us, "result", res->result);
    if (j != NULL && res->retry_after_us >= 0)
        json_object_set_new(j, "retry_after_us", json_integer(res->retry_after_us));
    return j;
}

/* -------------------------------------------------------------- runner */

int64_t st_act_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void add_secret(st_act_runner_t *r, const char *s)
{
    if (s[0] != '\0' && r->n_secrets < sizeof r->secrets / sizeof r->secrets[0])
        r->secrets[r->n_secrets++] = s;
}

st_act_runner_t *st_act_runner_new(struct ev_loop *loop, const st_act_config_t *cfg, st_err_t *err)
{
    if (loop == NULL || cfg == NULL) {
        st_err_set(err, ST_INVAL, "st_act_runner_new: loop and config are required");
        return NULL;
    }
    st_act_runner_t *r = calloc(1, sizeof *r);
    if (r == NULL || (r->test_counts = json_object()) == NULL) {
        free(r);
        st_err_set(err, ST_NOMEM, "cannot allocate the activity runner");
        return NULL;
    }
    r->loop = loop;
    r->cfg = *cfg;
    r->net = st_act_net_new(loop, err);
    if (r->net == NULL) {
        json_decref(r->test_counts);
        free(r);
        return NULL;
    }
    add_secret(r, r->cfg.stripe_key);
    add_secret(r, r->cfg.smtp_password);
    add_secret(r, r->cfg.erp_token);
    add_secret(r, r->cfg.crm_token);
    add_secret(r, r->cfg.support_token);
    int rc = st_act_pool_init(&r->pool_stripe, r->net, "stripe", cfg->max_conc_stripe,
                              cfg->stripe_rate, cfg->stripe_burst);
    st_act_pool_init(&r->pool_email, r->net, "email", cfg->max_conc_email, 0, 0);
    st_act_pool_init(&r->pool_http, r->net, "http", cfg->max_conc_http, 0, 0);
    if (rc != 0) {
        st_act_runner_free(r);
        st_err_set(err, ST_NOMEM, "cannot allocate the Stripe rate limiter");
        return NULL;
    }
    return r;
}

void st_act_runner_free(st_act_runner_t *r)
{
    if (r == NULL)
        return;
    r->closing = true;
    st_act_retry_shutdown(r);
    while (r->calls != NULL) {
        st_act_call_t *c = r->calls;
        st_act_call_set(c, ST_ACT_TRANSIENT, "runner shut down before the attempt finished");
        c->res.permanent = false;
        st_act_call_finish(c);
    }
    st_act_pool_release(&r->pool_stripe);
    st_act_pool_release(&r->pool_email);
    st_act_pool_release(&r->pool_http);
    st_act_net_free(r->net);
    json_decref(r->test_counts);
    memset(&r->cfg, 0, sizeof r->cfg); /* do not leave secrets in freed memory */
    free(r);
}

void st_act_runner_set_observer(st_act_runner_t *r, st_act_cb fn, void *user)
{
    r->observer = fn;
    r->observer_user = user;
}

size_t st_act_runner_inflight(const st_act_runner_t *r)
{
    return r->n_calls;
}

/* --------------------------------------------------------------- calls */

static void call_unlink(st_act_call_t *c)
{
    st_act_runner_t *r = c->runner;
    if (c->prev)
        c->prev->next = c->next;
    else
        r->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    r->n_calls--;
}

static void call_free(st_act_call_t *c)
{
    ev_timer_stop(c->runner->loop, &c->timer);
    st_act_job_cancel(c->job);
    json_decref(c->args);
    json_decref(c->res.result);
    free(c);
}

void st_act_call_set(st_act_call_t *call, const char *outcome, const char *fmt, ...)
{
    call->res.outcome = outcome;
    call->res.permanent = strcmp(outcome, ST_ACT_TRANSIENT) != 0;
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(call->res.message, sizeof call->res.message, fmt, ap);
        va_end(ap);
    }
}

void st_act_call_finish(st_act_call_t *call)
{
    st_act_runner_t *r = call->runner;
    st_act_result_t *res = &call->res;
    call_unlink(call);
    st_act_job_cancel(call->job); /* a no-op when the job already ended */
    call->job = NULL;
    if (res->outcome == NULL)
        st_act_call_set(call, ST_ACT_FAILED, "internal error: the driver gave no outcome");
    if (res->result == NULL)
        res->result = json_object();
    res->attempt = call->attempt;
    res->activity = call->driver->name;
    res->idem_key = call->idem_key;
    res->latency_us = st_act_now_us() - call->started_us;
    st_act_redact(res->message, sizeof res->message, r->secrets, r->n_secrets);
    if (r->observer != NULL)
        r->observer(res, r->observer_user);
    call->cb(res, call->user);
    call_free(call);
}

static void finish_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_act_call_finish(w->data);
}

void st_act_call_finish_later(st_act_call_t *call, int64_t delay_us)
{
    ev_timer_stop(call->runner->loop, &call->timer);
    /* libev counts from the loop's cached time, which can be older than
     * the call's start: refresh it so a delay never ends early. */
    if (delay_us > 0)
        ev_now_update(call->runner->loop);
    ev_timer_set(&call->timer, delay_us > 0 ? (double)delay_us / 1e6 : 0., 0.);
    ev_timer_start(call->runner->loop, &call->timer);
}

static int check_request(const st_act_runner_t *r, const st_act_request_t *req, st_act_cb cb,
                         st_err_t *err)
{
    if (r == NULL || req == NULL || cb == NULL || req->activity == NULL)
        return st_err_set(err, ST_INVAL,
                          "st_act_start: runner, request, activity and callback "
                          "are required");
    if (req->idem_key == NULL || req->idem_key[0] == '\0' ||
        strlen(req->idem_key) >= ST_ACT_KEY_MAX)
        return st_err_set(err, ST_INVAL,
                          "st_act_start: an idempotency key of 1..%d bytes is "
                          "required",
                          ST_ACT_KEY_MAX - 1);
    if (strspn(req->idem_key,
               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.:") !=
        strlen(req->idem_key))
        return st_err_set(err, ST_INVAL,
                          "st_act_start: the idempotency key may hold only "
                          "letters, digits and _-.:");
    if (req->args != NULL && !json_is_object(req->args))
        return st_err_set(err, ST_INVAL, "st_act_start: args must be a JSON object");
    if (r->closing)
        return st_err_set(err, ST_STATE, "st_act_start: the runner is shutting down");
    return 0;
}

int st_act_start(st_act_runner_t *r, const st_act_request_t *req, st_act_cb cb, void *user,
                 st_err_t *err)
{
    int rc = check_request(r, req, cb, err);
    if (rc != 0)
        return rc;
    const st_act_driver_t *d = lookup(req->activity);
    if (d == NULL)
        return st_err_set(err, ST_NOTFOUND, "unknown activity '%.80s'", req->activity);
    st_act_call_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return st_err_set(err, ST_NOMEM, "cannot allocate an activity call");
    c->args = req->args ? json_deep_copy(req->args) : json_object();
    if (c->args == NULL) {
        free(c);
        return st_err_set(err, ST_NOMEM, "cannot copy activity args");
    }
    c->runner = r;
    c->driver = d;
    snprintf(c->idem_key, sizeof c->idem_key, "%s", req->idem_key);
    c->timeout_us = req->timeout_us > 0 ? req->timeout_us : r->cfg.default_timeout_us;
    c->policy = req->policy;
    c->attempt = req->attempt ? req->attempt : 1;
    c->cb = cb;
    c->user = user;
    c->started_us = st_act_now_us();
    c->res.retry_after_us = -1;
    ev_timer_init(&c->timer, finish_timer_cb, 0., 0.);
    c->timer.data = c;
    c->next = r->calls;
    if (r->calls)
        r->calls->prev = c;
    r->calls = c;
    r->n_calls++;
    rc = d->start(c, err);
    if (rc != 0) {
        call_unlink(c);
        call_free(c);
    }
    return rc;
}
