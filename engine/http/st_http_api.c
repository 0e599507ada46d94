/*
 * st_http_api.c — the flow API's writes: POST /v1/instances (start),
 * POST /v1/instances/{id}/signals and POST /v1/instances/{id}/cancel.
 *
 * Layer: http (handlers). Depends on the store
 * (st_store_signal_send_live stores a signal unless the instance is
 * finished, in one statement), jansson.
 *
 * The starts themselves (POST /v1/instances and /v1/instances/batch) are in
 * st_http_start.c; this file checks a start request's arguments.
 *
 * The engine is never called: a start stores an instance row, a signal or
 * a cancel stores a signals row; the database NOTIFYs the executor. A
 * cancel is the signal "settle.cancel" (the name is reserved: clients
 * cannot send settle.* signals through the signals route).
 *
 * Status codes: 201 started, 200 an Idempotency-Key / business_key replay
 * with the same inputs, 202 signal or cancel stored, 404 no such flow or
 * instance, 409 finished instance or key reused with other inputs, 422
 * request well-formed but wrong (missing flow, unknown field, inputs that
 * do not fit the flow, bad signal name).
 */
#include "http/st_http_int.h"
#include "common/st_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 200
#define KEY_MAX_LEN  255

/* 0 when obj has only the allowed keys; else resp is 422 naming the first other. */
static int only_fields(json_t *obj, const char *const *allowed, const char *hint,
                       st_http_resp_t *resp)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, key) == 0;
        if (!ok) {
            st_http_resp_error(resp, 422, "invalid_request", hint, "unknown field '%.60s'", key);
            return ST_INVAL;
        }
    }
    return 0;
}

static const char *opt_string(json_t *obj, const char *name, size_t max, int *bad)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return NULL;
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) > max)
        *bad = 1;
    return s;
}

int st_http_start_args(json_t *body, const char *idem, const char **flow, json_t **inputs,
                       const char **key, st_http_resp_t *resp)
{
    static const char *const allowed[] = {"flow", "inputs", "business_key", NULL};
    static const char hint[] =
        "send {\"flow\": \"NAME\", \"inputs\": {...}, \"business_key\": \"optional\"}";
    if (only_fields(body, allowed, hint, resp) != 0)
        return ST_INVAL;
    int bad = 0;
    *flow = opt_string(body, "flow", NAME_MAX_LEN, &bad);
    if (*flow == NULL || bad) {
        st_http_resp_error(resp, 422, "invalid_request", hint,
                           "\"flow\" must be the name of a deployed flow");
        return ST_INVAL;
    }
    *inputs = json_object_get(body, "inputs");
    if (*inputs != NULL && !json_is_object(*inputs)) {
        st_http_resp_error(resp, 422, "invalid_request", hint, "\"inputs\" must be an object");
        return ST_INVAL;
    }
    *key = opt_string(body, "business_key", KEY_MAX_LEN, &bad);
    if (*key == NULL && idem != NULL) {
        *key = idem;
        bad = idem[0] == '\0' || strlen(idem) > KEY_MAX_LEN;
    }
    st_err_t err;
    if (bad || (*key != NULL && st_input_key_check(*key, &err) != 0)) {
        st_http_resp_error(resp, 422, "invalid_request",
                           "use a non-empty key of at most 255 bytes of UTF-8 text",
                           "the business key (business_key or Idempotency-Key) is not valid");
        return ST_INVAL;
    }
    return 0;
}

/* Store signal `name` for the instance in req->params[0]; answers 202/404/409. */
static void store_signal(st_http_req_t *req, const char *name, json_t *payload,
                         st_http_resp_t *resp)
{
    const char *id = req->params[0];
    char *text = json_dumps(payload, JSON_COMPACT);
    st_store_uuid_t u;
    st_http_db_t *db = NULL;
    st_store_status_t status = ST_STORE_RUNNING;
    int64_t signal_id = 0;
    st_err_t err;
    st_err_clear(&err);
    int rc = text == NULL ? st_err_set(&err, ST_NOMEM, "out of memory")
                          : st_http_pool_get(&req->srv->pool, &db, &err);
    if (rc == 0 && (rc = st_store_uuid_parse(id, &u)) != 0) /* st_http_check_id passed */
        rc = st_err_set(&err, ST_INTERNAL, "instance id '%.64s' does not parse", id);
    if (rc == 0)
        rc = st_store_signal_send_live(db->store, &u, name, text, "api", &signal_id, &status, &err);
    st_http_pool_put(&req->srv->pool, db);
    free(text);
    if (rc == ST_NOTFOUND)
        st_http_resp_error(resp, 404, "not_found",
                           "check the id; GET /v1/instances lists the instances", "no instance %s",
                           id);
    else if (rc == ST_CONFLICT)
        st_http_resp_error(resp, 409, "conflict",
                           "a finished instance takes no more signals; start a new one",
                           "instance %s is already %s", id, st_store_status_name(status));
    else if (rc != 0)
        st_http_resp_db(resp, &err);
    else
        st_http_resp_json(resp, 202,
                          json_pack("{s:s,s:s,s:I}", "instance", id, "signal", name, "signal_id",
                                    (json_int_t)signal_id));
}

static int name_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > NAME_MAX_LEN)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

int st_http_signal_args(json_t *body, const char **name, json_t **payload, st_http_resp_t *resp)
{
    static const char *const allowed[] = {"name", "payload", NULL};
    static const char hint[] = "send {\"name\": \"SIGNAL\", \"payload\": {...}}";
    if (only_fields(body, allowed, hint, resp) != 0)
        return ST_INVAL;
    *name = json_string_value(json_object_get(body, "name"));
    *payload = json_object_get(body, "payload");
    if (!name_ok(*name))
        st_http_resp_error(resp, 422, "invalid_request", hint,
                           "\"name\" must be a signal name without spaces (at most 200 "
                           "characters), e.g. \"invoice.paid\"");
    else if (strncmp(*name, "settle.", 7) == 0)
        st_http_resp_error(resp, 422, "invalid_request",
                           "to cancel, POST /v1/instances/{id}/cancel",
                           "signal names starting with 'settle.' are reserved");
    else if (*payload != NULL && !json_is_object(*payload))
        st_http_resp_error(resp, 422, "invalid_request", hint, "\"payload\" must be an object");
    else
        return 0;
    return ST_INVAL;
}

void st_http_h_signal(st_http_req_t *req, st_http_resp_t *resp)
{
    if (st_http_check_id(req->params[0], resp) != 0)
        return;
    json_t *body = st_http_body_object(req, resp);
    const char *name = NULL;
    json_t *payload = NULL;
    if (body != NULL && st_http_signal_args(body, &name, &payload, resp) == 0) {
        json_t *empty = payload ? NULL : json_object();
        store_signal(req, name, payload ? payload : empty, resp);
        json_decref(empty);
    }
    json_decref(body);
}

json_t *st_http_cancel_args(const char *ctype, const char *body, size_t len, st_http_resp_t *resp)
{
    static const char *const allowed[] = {"reason", NULL};
    if (len == 0) /* the body is optional: {"reason": "..."} */
        return json_object();
    json_t *obj = st_http_body_parse(ctype, body, len, resp);
    if (obj == NULL)
        return NULL;
    if (only_fields(obj, allowed, "send {\"reason\": \"why\"} or no body", resp) != 0) {
        json_decref(obj);
        return NULL;
    }
    if (json_object_get(obj, "reason") && !json_is_string(json_object_get(obj, "reason"))) {
        st_http_resp_error(resp, 422, "invalid_request", "send {\"reason\": \"why\"}",
                           "\"reason\" must be a string");
        json_decref(obj);
        return NULL;
    }
    return obj;
}

void st_http_h_cancel(st_http_req_t *req, st_http_resp_t *resp)
{
    if (st_http_check_id(req->params[0], resp) != 0)
        return;
    json_t *payload =
        st_http_cancel_args(st_http_req_header(req, "Content-Type"), req->body, req->len, resp);
    if (payload == NULL)
        return;
    store_signal(req, "settle.cancel", payload, resp);
    json_decref(payload);
}
