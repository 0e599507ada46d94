/*
 * st_http_ops.c — the operational routes: GET /metrics (Prometheus text),
 * GET /healthz (the process answers), GET /readyz (database reachable and
 * its schema exactly at this binary's migrations) and GET /openapi.json.
 *
 * Layer: http (handlers). Depends on the metrics registry, the migration
 * checker (engine/store/st_migrate.h), the embedded OpenAPI document.
 *
 * Invariants: none of these routes needs a token or changes data; readyz
 * never quotes PostgreSQL's error text (it may name hosts and users).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>

#include "store/st_migrate.h"

void st_http_h_metrics(st_http_req_t *req, st_http_resp_t *resp)
{
    size_t len = 0;
    char *text = st_metrics_render(req->srv->metrics, &len);
    if (text == NULL) {
        st_http_resp_error(resp, 500, "internal", "retry later", "out of memory rendering metrics");
        return;
    }
    st_http_resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

void st_http_h_healthz(st_http_req_t *req, st_http_resp_t *resp)
{
    st_http_resp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

void st_http_h_readyz(st_http_req_t *req, st_http_resp_t *resp)
{
    st_http_db_t *db = NULL;
    st_err_t err;
    st_err_clear(&err);
    if (st_http_pool_get(&req->srv->pool, &db, &err) != 0) {
        st_http_resp_error(resp, 503, "not_ready",
                           "check that PostgreSQL is running and reachable with settled's DSN",
                           "the database is not reachable");
        return;
    }
    int rc = st_migrate_check(db->pg, &err);
    st_http_pool_put(&req->srv->pool, db);
    if (rc == ST_SCHEMA)
        st_http_resp_err(resp, 503, "not_ready", &err, "run: settled migrate");
    else if (rc != 0)
        st_http_resp_error(resp, 503, "not_ready",
                           "check the database user's rights and PostgreSQL's log",
                           "the schema version could not be read");
    else
        st_http_resp_json(resp, 200,
                          json_pack("{s:s,s:i}", "status", "ready", "schema", st_migrate_latest()));
}

void st_http_h_openapi(st_http_req_t *req, st_http_resp_t *resp)
{
    char *text = strdup(st_http_openapi_json);
    st_http_resp_text(resp, text ? 200 : 500, "application/json", text, text ? strlen(text) : 0);
}
