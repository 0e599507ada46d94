/*
 * st_http_ops.c — the operational routes: GET /metrics (Prometheus text),
 * GET /healthz (the process answers), GET /readyz (database reachable and
 * its schema exactly at this binary's migrations) and GET /openapi.json.
 *
 * Layer: http (handlers). Depends on the metrics registry, the migration
 * checker (engine/store/st_migrate.h), the embedded OpenAPI document.
 *
 * /metrics first refreshes the flows_* counters from flow_counts (one
 * small query), so they are cluster-wide and need no executor.
 *
 * Invariants: none of these routes needs a token or changes data; readyz
 * never quotes PostgreSQL's error text (it may name hosts and users).
 */
#include "http/st_http_int.h"

#include <stdlib.h>
#include <string.h>

#include "http/st_http_sql.h"
#include "store/st_migrate.h"

/* Flows started / completed / failed / cancelled by flow, cluster-wide,
 * from flow_counts: final statuses only grow (archiving keeps the counts),
 * and every instance counts once under its current status, so "started"
 * is the sum. A database error leaves the last values in place. */
static void flow_counts(st_http_server_t *s)
{
    st_http_db_t *db = NULL;
    st_err_t err;
    if (st_http_pool_get(&s->pool, &db, &err) != 0)
        return;
    PGresult *r = st_http_db_exec(db, st_http_sql_flow_counts, 0, NULL, &err);
    st_http_pool_put(&s->pool, db);
    if (r == NULL)
        return;
    const st_metrics_std_t *m = &s->std;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *flow[] = {PQgetvalue(r, i, 0)};
        const char *status = PQgetvalue(r, i, 1);
        double n = strtod(PQgetvalue(r, i, 2), NULL);
        st_metrics_family_t *fam = strcmp(status, "completed") == 0   ? m->flows_completed
                                   : strcmp(status, "failed") == 0    ? m->flows_failed
                                   : strcmp(status, "cancelled") == 0 ? m->flows_cancelled
                                                                      : NULL;
        st_metrics_set(fam, flow, n);
    }
    /* started = the sum over statuses, per flow */
    for (int i = 0; i < PQntuples(r); i++) {
        double total = 0;
        for (int k = 0; k < PQntuples(r); k++)
            if (strcmp(PQgetvalue(r, k, 0), PQgetvalue(r, i, 0)) == 0)
                total += strtod(PQgetvalue(r, k, 2), NULL);
        const char *flow[] = {PQgetvalue(r, i, 0)};
        st_metrics_set(m->flows_started, flow, total);
    }
    PQclear(r);
}

void st_http_h_metrics(st_http_req_t *req, st_http_resp_t *resp)
{
    flow_counts(req->srv);
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
