/*
 * st_act_retry.c — in-memory retrying wrapper around st_act_start, for tools
 * and tests. The daemon does not use it: its scheduler persists the next
 * attempt time (st_act_next_attempt) so retries survive a crash.
 *
 * Layer: engine/activity. Depends on the registry, st_act_backoff, libev.
 * Invariants: the wrapper's callback fires exactly once (after the last
 * attempt, or with "transient" when the runner shuts down while it waits);
 * the idempotency key is the same on every attempt.
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct st_act_retry {
    st_act_runner_t *runner;
    st_act_request_t req; /* strings below are owned copies */
    char activity[96];
    char idem_key[ST_ACT_KEY_MAX];
    json_t *args; /* owned */
    st_act_cb cb;
    void *user;
    ev_timer wait;        /* between attempts */
    st_act_retry_t *next; /* runner's list of waiting wrappers */
};

static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)st_act_now_us() * 0x9E3779B97F4A7C15ull;
    return v;
}

static void retry_free(st_act_retry_t *rt)
{
    json_decref(rt->args);
    free(rt);
}

static void waiting_remove(st_act_retry_t *rt)
{
    st_act_retry_t **pp = &rt->runner->retries;
    while (*pp != NULL && *pp != rt)
        pp = &(*pp)->next;
    if (*pp != NULL)
        *pp = rt->next;
    ev_timer_stop(rt->runner->loop, &rt->wait);
}

/* Deliver a result made here (not by a driver) and free the wrapper. */
static void deliver_synthetic(st_act_retry_t *rt, const char *outcome, const char *msg)
{
    st_act_result_t res;
    memset(&res, 0, sizeof res);
    res.outcome = outcome;
    res.permanent = strcmp(outcome, ST_ACT_TRANSIENT) != 0;
    res.retry_after_us = -1;
    res.attempt = rt->req.attempt;
    res.activity = rt->activity;
    res.idem_key = rt->idem_key;
    res.result = json_object();
    snprintf(res.message, sizeof res.message, "%s", msg);
    rt->cb(&res, rt->user);
    json_decref(res.result);
    retry_free(rt);
}

static void on_attempt(const st_act_result_t *res, void *user);

static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_act_retry_t *rt = w->data;
    waiting_remove(rt);
    st_err_t err;
    if (st_act_start(rt->runner, &rt->req, on_attempt, rt, &err) != 0)
        deliver_synthetic(rt, ST_ACT_FAILED, err.msg);
}

static void on_attempt(const st_act_result_t *res, void *user)
{
    st_act_retry_t *rt = user;
    int64_t now = st_act_now_us(), at = 0;
    if (!rt->runner->closing && st_act_next_attempt(&rt->req.policy, res, now, random_u64(), &at)) {
        rt->req.attempt = res->attempt + 1;
        ev_timer_set(&rt->wait, (double)(at - now) / 1e6, 0.);
        ev_timer_start(rt->runner->loop, &rt->wait);
        rt->next = rt->runner->retries;
        rt->runner->retries = rt;
        return;
    }
    if (res->permanent || rt->runner->closing) {
        rt->cb(res, rt->user);
    } else {
        st_act_result_t last = *res; /* result stays owned by the call */
        last.outcome = ST_ACT_FAILED;
        last.permanent = true;
        snprintf(last.message, sizeof last.message, "gave up after %u attempts: %s", res->attempt,
                 res->message);
        rt->cb(&last, rt->user);
    }
    retry_free(rt);
}

int st_act_run_retrying(st_act_runner_t *r, const st_act_request_t *req, st_act_cb cb, void *user,
                        st_err_t *err)
{
    if (r == NULL || req == NULL || req->activity == NULL || req->idem_key == NULL)
        return st_err_set(err, ST_INVAL, "st_act_run_retrying: runner and request are required");
    st_act_retry_t *rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return st_err_set(err, ST_NOMEM, "cannot allocate a retrying call");
    rt->runner = r;
    rt->req = *req;
    snprintf(rt->activity, sizeof rt->activity, "%s", req->activity);
    snprintf(rt->idem_key, sizeof rt->idem_key, "%s", req->idem_key);
    rt->args = req->args ? json_deep_copy(req->args) : json_object();
    rt->req.activity = rt->activity;
    rt->req.idem_key = rt->idem_key;
    rt->req.args = rt->args;
    rt->req.attempt = req->attempt ? req->attempt : 1;
    rt->cb = cb;
    rt->user = user;
    ev_timer_init(&rt->wait, wait_cb, 0., 0.);
    rt->wait.data = rt;
    int rc = st_act_start(r, &rt->req, on_attempt, rt, err);
    if (rc != 0)
        retry_free(rt);
    return rc;
}

void st_act_retry_shutdown(st_act_runner_t *r)
{
    while (r->retries != NULL) {
        st_act_retry_t *rt = r->retries;
        waiting_remove(rt);
        deliver_synthetic(rt, ST_ACT_TRANSIENT, "runner shut down while waiting to retry");
    }
}
