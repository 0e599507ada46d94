/*
 * st_sim_errors.c — Stripe error objects.
 *
 * Shape: {"error": {"type", "code", "decline_code", "param", "message",
 * "doc_url", "request_log_url", ...}}. Types: card_error (402),
 * invalid_request_error (400/404), idempotency_error (400/409), api_error
 * (500), rate_limit_error (429). Each builder sets call->status and
 * call->body and returns -1 so a handler can `return st_sim_fail(...)`.
 * Stripe-Should-Retry is false for client errors unless a caller says
 * otherwise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "st_sim_int.h"

static void set_error(st_sim_call_t *call, int status, json_t *error)
{
    json_decref(call->body);
    call->body = json_pack("{s:o}", "error", error);
    call->status = status;
    if (status >= 400 && status < 500 && call->should_retry < 0)
        call->should_retry = 0;
}

static json_t *error_obj(const char *type, const char *code, const char *param, const char *msg)
{
    json_t *e = json_pack("{s:s, s:s}", "type", type, "message", msg);
    if (code) {
        char url[160];
        snprintf(url, sizeof(url), "https://stripe.com/docs/error-codes/%s", code);
        for (char *p = url + 36; *p; p++)
            if (*p == '_')
                *p = '-';
        json_object_set_new(e, "code", json_string(code));
        json_object_set_new(e, "doc_url", json_string(url));
    }
    if (param)
        json_object_set_new(e, "param", json_string(param));
    return e;
}

int st_sim_fail(st_sim_call_t *call, int status, const char *type, const char *code,
                const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = error_obj(type, code, param, msg);
    if (call->request_id) {
        char log[128];
        snprintf(log, sizeof(log), "https://dashboard.stripe.com/test/logs/%s", call->request_id);
        json_object_set_new(e, "request_log_url", json_string(log));
    }
    if (status == 400 && strcmp(type, "invalid_request_error") == 0 &&
        (!code || strncmp(code, "parameter_", 10) == 0))
        call->no_store = 1; /* validation failures are not saved under an idempotency key */
    set_error(call, status, e);
    return -1;
}

int st_sim_fail_param(st_sim_call_t *call, const char *param, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return st_sim_fail(call, 400, "invalid_request_error", NULL, param, "%s", msg);
}

int st_sim_fail_missing(st_sim_call_t *call, const char *what, const char *param, const char *id)
{
    int status = param && strcmp(param, "id") != 0 ? 400 : 404;
    return st_sim_fail(call, status, "invalid_request_error", "resource_missing", param,
                       "No such %s: '%s'", what, id ? id : "");
}

int st_sim_fail_state(st_sim_call_t *call, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return st_sim_fail(call, 400, "invalid_request_error", "payment_intent_unexpected_state", NULL,
                       "%s", msg);
}

json_t *st_sim_card_error(const char *code, const char *decline_code, const char *message)
{
    json_t *e = error_obj("card_error", code, NULL, message);
    if (decline_code)
        json_object_set_new(e, "decline_code", json_string(decline_code));
    return e;
}

void st_sim_ok(st_sim_call_t *call, json_t *obj)
{
    json_decref(call->body);
    call->body = obj;
    call->status = 200;
}
