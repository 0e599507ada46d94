/*
 * st_http_api_read.c — the flow API's reads: GET /v1/instances/{id} and
 * GET /v1/instances (filters, cursor pagination), and the JSON view of an
 * instance both share (also returned by start).
 *
 * Layer: http (handlers). Depends on libpq, jansson, st_http_sql.h.
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

#include "http/st_http_sql.h"

#define LIST_DEFAULT 50
#define LIST_MAX     500

static json_t *text_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static int64_t num(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? ST_STORE_NO_TIME : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static json_t *pending_task(const PGresult *r, int row)
{
    if (PQgetisnull(r, row, ST_HTTP_COL_T_ACTIVITY))
        return json_null();
    json_t *t = json_object();
    json_object_set_new(t, "activity", text_or_null(r, row, ST_HTTP_COL_T_ACTIVITY));
    json_object_set_new(t, "status", text_or_null(r, row, ST_HTTP_COL_T_STATUS));
    json_object_set_new(t, "attempt", json_integer(num(r, row, ST_HTTP_COL_T_ATTEMPT)));
    json_object_set_new(t, "max_attempts", json_integer(num(r, row, ST_HTTP_COL_T_MAX)));
    json_object_set_new(t, "not_before", st_http_json_time(num(r, row, ST_HTTP_COL_T_NOT_BEFORE)));
    json_object_set_new(t, "last_error", text_or_null(r, row, ST_HTTP_COL_T_ERROR));
    return t;
}

/* One row of st_http_sql_get / _list as the API's instance object. */
static json_t *view(const PGresult *r, int row)
{
    json_t *o = json_object();
    json_t *vars = json_loads(PQgetvalue(r, row, ST_HTTP_COL_VARS), 0, NULL);
    json_object_set_new(o, "id", text_or_null(r, row, ST_HTTP_COL_ID));
    json_object_set_new(o, "flow", text_or_null(r, row, ST_HTTP_COL_FLOW));
    json_object_set_new(o, "program_hash", text_or_null(r, row, ST_HTTP_COL_HASH));
    json_object_set_new(o, "state", text_or_null(r, row, ST_HTTP_COL_STATE));
    json_object_set_new(o, "status", text_or_null(r, row, ST_HTTP_COL_STATUS));
    json_object_set_new(o, "seq", json_integer(num(r, row, ST_HTTP_COL_SEQ)));
    json_object_set_new(o, "vars", vars ? vars : json_object());
    json_object_set_new(o, "wake_at", st_http_json_time(num(r, row, ST_HTTP_COL_WAKE)));
    json_object_set_new(o, "wait_reason", text_or_null(r, row, ST_HTTP_COL_REASON));
    json_object_set_new(o, "business_key", text_or_null(r, row, ST_HTTP_COL_KEY));
    json_object_set_new(o, "created_at", st_http_json_time(num(r, row, ST_HTTP_COL_CREATED)));
    json_object_set_new(o, "updated_at", st_http_json_time(num(r, row, ST_HTTP_COL_UPDATED)));
    json_object_set_new(o, "pending_task", pending_task(r, row));
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
    const char *params[] = {id};
    PGresult *r = st_http_db_exec(db, st_http_sql_get, 1, params, err);
    if (r == NULL) {
        *rc = ST_DB;
        return NULL;
    }
    json_t *o = PQntuples(r) > 0 ? view(r, 0) : NULL;
    *rc = o ? 0 : ST_NOTFOUND;
    PQclear(r);
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

void st_http_h_list(st_http_req_t *req, st_http_resp_t *resp)
{
    const char *q[ST_HTTP_LIST_NQ], *params[6];
    char limit_buf[16];
    for (int i = 0; i < ST_HTTP_LIST_NQ; i++)
        q[i] = st_http_req_query(req, st_http_list_query[i]);
    if (st_http_list_args(q, params, limit_buf, resp) != 0)
        return;
    long limit = strtol(limit_buf, NULL, 10) - 1;
    st_http_db_t *db = NULL;
    st_err_t err;
    st_err_clear(&err);
    if (st_http_pool_get(&req->srv->pool, &db, &err) != 0) {
        st_http_resp_db(resp, &err);
        return;
    }
    PGresult *r = st_http_db_exec(db, st_http_sql_list, 6, params, &err);
    st_http_pool_put(&req->srv->pool, db);
    if (r == NULL) {
        st_http_resp_db(resp, &err);
        return;
    }
    json_t *data = json_array();
    int n = PQntuples(r);
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(data, view(r, i));
    json_t *next =
        n > limit ? json_string(PQgetvalue(r, (int)limit - 1, ST_HTTP_COL_ID)) : json_null();
    PQclear(r);
    st_http_resp_json(resp, 200, json_pack("{s:o,s:o}", "data", data, "next_cursor", next));
}
