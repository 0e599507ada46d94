/*
 * st_http_api_read.c — the flow API's reads: GET /v1/instances/{id} and
 * GET /v1/instances (filters, cursor pagination), and the JSON view of an
 * instance both share (also returned by start).
 *
 * Layer: http (handlers). Depends on the store's API reads
 * (st_store_view_get, st_store_views_list), jansson.
 *
 * The view: {"id","flow","program_hash","state","status","seq","vars",
 * "wake_at","wait_reason","business_key","created_at","updated_at",
 * "pending_task": {"activity","status","attempt","max_attempts",
 * "not_before","last_error"} | null}. Times are RFC 3339 UTC strings.
 *
 * Pagination: newest first (instance ids are UUIDv7, time-ordered);
 * "next_cursor" is the last id of the page when more rows exist, else
 * null. Cursors are opaque to clients.
 */
#include "http/st_http_int.h"
#include "common/st_input.h"
#include "common/st_uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/st_store_api.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *pending_task(const st_store_open_task_t *t)
{
    if (!t->present)
        return json_null();
    json_t *o = json_object();
    json_object_set_new(o, "activity", str_or_null(t->activity));
    json_object_set_new(o, "status", json_string(st_store_task_status_name(t->status)));
    json_object_set_new(o, "attempt", json_integer(t->attempt));
    json_object_set_new(o, "max_attempts", json_integer(t->max_attempts));
    json_object_set_new(o, "not_before", st_http_json_time(t->not_before_us));
    json_object_set_new(o, "last_error", str_or_null(t->last_error));
    return o;
}

/* A stored view as the API's instance object. */
static json_t *view(const st_store_view_t *v)
{
    const st_store_instance_t *in = &v->inst;
    char id[37];
    st_store_uuid_format(&in->id, id);
    json_t *o = json_object();
    json_t *vars = json_loads(in->vars_json, 0, NULL);
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "flow", str_or_null(in->flow));
    json_object_set_new(o, "program_hash", str_or_null(in->program_hash));
    json_object_set_new(o, "state", str_or_null(in->state_name));
    json_object_set_new(o, "status", json_string(st_store_status_name(in->status)));
    json_object_set_new(o, "seq", json_integer(in->seq));
    json_object_set_new(o, "vars", vars ? vars : json_object());
    json_object_set_new(o, "wake_at", st_http_json_time(in->wake_at_us));
    json_object_set_new(o, "wait_reason", str_or_null(in->wait_reason));
    json_object_set_new(o, "business_key", str_or_null(in->business_key));
    json_object_set_new(o, "created_at", st_http_json_time(in->created_us));
    json_object_set_new(o, "updated_at", st_http_json_time(in->updated_us));
    json_object_set_new(o, "pending_task", pending_task(&v->task));
    return o;
}

int st_http_check_id(const char *text, st_http_resp_t *resp)
{
    if (st_uuid_text_ok(text))
        return 0;
    st_http_resp_error(resp, 404, "not_found",
                       "instance ids are UUIDs as returned by POST /v1/instances",
                       "'%.64s' is not an instance id", text);
    return ST_NOTFOUND;
}

json_t *st_http_instance_view(st_http_db_t *db, const char *id, int *rc, st_err_t *err)
{
    st_store_uuid_t u;
    st_store_view_t v;
    if (st_store_uuid_parse(id, &u) != 0) {
        *rc = st_err_set(err, ST_NOTFOUND, "no instance %.64s", id);
        return NULL;
    }
    *rc = st_store_view_get(db->store, &u, &v, err);
    if (*rc != 0)
        return NULL;
    json_t *o = view(&v);
    st_store_view_release(&v);
    return o;
}

void st_http_h_get(st_http_req_t *req, st_http_resp_t *resp)
{
    const char *id = req->params[0];
    if (st_http_check_id(id, resp) != 0)
        return;
    st_http_db_t *db = NULL;
    st_err_t err;
    st_err_clear(&err);
    if (st_http_pool_get(&req->srv->pool, &db, &err) != 0) {
        st_http_resp_db(resp, &err);
        return;
    }
    int rc = 0;
    json_t *o = st_http_instance_view(db, id, &rc, &err);
    st_http_pool_put(&req->srv->pool, db);
    if (rc == ST_NOTFOUND)
        st_http_resp_error(resp, 404, "not_found",
                           "check the id; GET /v1/instances lists the instances", "no instance %s",
                           id);
    else if (rc != 0)
        st_http_resp_db(resp, &err);
    else
        st_http_resp_json(resp, 200, o);
}

const char *const st_http_list_query[ST_HTTP_LIST_NQ] = {"flow",         "status", "state",
                                                         "business_key", "cursor", "limit"};

int st_http_list_args(const char *const q[ST_HTTP_LIST_NQ], const char *params[6],
                      char limit_buf[16], st_http_resp_t *resp)
{
    for (int i = 0; i < ST_HTTP_LIST_NQ; i++) {
        if (i < 5)
            params[i] = q[i];
        if (q[i] != NULL && !st_input_utf8_ok(q[i], strlen(q[i]))) {
            st_http_resp_error(
                resp, 422, "invalid_request", "percent-encode UTF-8 text in query parameters",
                "query parameter '%s' is not valid UTF-8 text", st_http_list_query[i]);
            return ST_INVAL;
        }
    }
    st_store_status_t st;
    if (params[1] != NULL && st_store_status_parse(params[1], &st) != 0) {
        st_http_resp_error(resp, 422, "invalid_request",
                           "status is one of running, waiting, completed, failed, cancelled, "
                           "suspended",
                           "unknown status '%.40s'", params[1]);
        return ST_INVAL;
    }
    if (params[4] != NULL && !st_uuid_text_ok(params[4])) {
        st_http_resp_error(resp, 422, "invalid_request",
                           "pass back the next_cursor value of the previous page unchanged",
                           "cursor '%.64s' is not valid", params[4]);
        return ST_INVAL;
    }
    const char *lim = q[5];
    char *end = NULL;
    long n = lim ? strtol(lim, &end, 10) : LIST_DEFAULT;
    if (lim != NULL && (end == lim || *end != '\0' || n < 1 || n > LIST_MAX)) {
        st_http_resp_error(resp, 422, "invalid_request", "limit is a whole number from 1 to 500",
                           "limit '%.20s' is out of range", lim);
        return ST_INVAL;
    }
    snprintf(limit_buf, 16, "%ld", n + 1); /* one more tells whether a next page exists */
    params[5] = limit_buf;
    return 0;
}

/* The checked arguments of st_http_list_args as the store's filter. */
static int list_filter(const char *const params[6], st_store_view_filter_t *f,
                       st_store_uuid_t *cursor)
{
    st_store_status_t st;
    memset(f, 0, sizeof *f);
    f->flow = params[0];
    f->status = params[1] != NULL && st_store_status_parse(params[1], &st) == 0 ? (int)st : -1;
    f->state_name = params[2];
    f->business_key = params[3];
    if (params[4] != NULL) {
        if (st_store_uuid_parse(params[4], cursor) != 0)
            return ST_INVAL;
        f->before = cursor;
    }
    return 0;
}

void st_http_h_list(st_http_req_t *req, st_http_resp_t *resp)
{
    const char *q[ST_HTTP_LIST_NQ], *params[6];
    char limit_buf[16];
    for (int i = 0; i < ST_HTTP_LIST_NQ; i++)
        q[i] = st_http_req_query(req, st_http_list_query[i]);
    if (st_http_list_args(q, params, limit_buf, resp) != 0)
        return;
    long limit = strtol(limit_buf, NULL, 10) - 1;
    st_store_view_filter_t filter;
    st_store_uuid_t cursor;
    st_store_views_t rows = {0};
    st_http_db_t *db = NULL;
    st_err_t err;
    st_err_clear(&err);
    int rc = list_filter(params, &filter, &cursor);
    if (rc != 0)
        rc = st_err_set(&err, ST_INTERNAL, "the checked list arguments do not parse");
    if (rc == 0)
        rc = st_http_pool_get(&req->srv->pool, &db, &err);
    if (rc == 0)
        rc = st_store_views_list(db->store, &filter, (unsigned)limit + 1, &rows, &err);
    st_http_pool_put(&req->srv->pool, db);
    if (rc != 0) {
        st_http_resp_db(resp, &err);
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < rows.n && i < (size_t)limit; i++)
        json_array_append_new(data, view(&rows.v[i]));
    json_t *next = json_null();
    if (rows.n > (size_t)limit) {
        char id[37];
        st_store_uuid_format(&rows.v[limit - 1].inst.id, id);
        json_decref(next);
        next = json_string(id);
    }
    st_store_views_free(&rows);
    st_http_resp_json(resp, 200, json_pack("{s:o,s:o}", "data", data, "next_cursor", next));
}
