/*
 * st_http_ops.c — the operational routes: GET /metrics (Prometheus text),
 * GET /healthz (the process answers), GET /readyz (database reachable and
 * its schema exactly at this binary's migrations) and GET /openapi.json.
 *
 * Layer: http (handlers). Depends on the metrics registry, the store
 * (st_store_flow_counts, the schema check of st_store_api.h), the embedded
 * OpenAPI document.
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

#include "store/st_store_api.h"

/* Flows started / completed / failed / cancelled by flow, cluster-wide,
 * from flow_counts: final statuses only grow (archiving keeps the counts),
 * and every instance counts once under its current status, so "started"
 * is the sum. A database error leaves the last values in place. */
static void flow_counts(st_http_server_t *s)
{
    st_http_db_t *db = NULL;
    st_err_t err;
    st_store_counts_t counts = {0};
    if (st_http_pool_get(&s->pool, &db, &err) != 0)
        return;
    int rc = st_store_flow_counts(db->store, &counts, &err);
    st_http_pool_put(&s->pool, db);
    if (rc != 0)
        return;
    const st_metrics_std_t *m = &s->std;
    for (size_t i = 0; i < counts.n; i++) {
        const char *flow[] = {counts.v[i].flow};
        st_store_status_t status = counts.v[i].status;
        st_metrics_family_t *fam = status == ST_STORE_COMPLETED   ? m->flows_completed
                                   : status == ST_STORE_FAILED    ? m->flows_failed
                                   : status == ST_STORE_CANCELLED ? m->flows_cancelled
                                                                  : NULL;
        st_metrics_set(fam, flow, (double)counts.v[i].n);
    }
    /* started = the sum over statuses, per flow */
    for (size_t i = 0; i < counts.n; i++) {
        double total = 0;
        for (size_t k = 0; k < counts.n; k++)
            if (strcmp(counts.v[k].flow, counts.v[i].flow) == 0)
                total += (double)counts.v[k].n;
        const char *flow[] = {counts.v[i].flow};
        st_metrics_set(m->flows_started, flow, total);
    }
    st_store_counts_free(&counts);
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
    int rc = st_http_pool_get(&req->srv->pool, &db, &err);
    if (rc == ST_IO || rc == ST_NOMEM) {
        st_http_resp_error(resp, 503, "not_ready",
                           "check that PostgreSQL is running and reachable with settled's DSN",
                           "the database is not reachable");
        return;
    }
    if (rc == 0) {
        rc = st_store_schema_check(db->store, &err);
    } else { /* reachable, but no store connection can use it: judge its schema */
        st_err_t why;
        st_err_clear(&why);
        if (st_store_schema_probe(req->srv->pool.dsn, &why) == ST_SCHEMA) {
            rc = ST_SCHEMA;
            err = why;
        }
    }
    st_http_pool_put(&req->srv->pool, db);
    if (rc == ST_SCHEMA)
        st_http_resp_err(resp, 503, "not_ready", &err, "run: settled migrate");
    else if (rc != 0)
        st_http_resp_error(resp, 503, "not_ready",
                           "check the database user's rights and PostgreSQL's log",
                           "the schema version could not be read");
    else
        st_http_resp_json(
            resp, 200,
            json_pack("{s:s,s:i}", "status", "ready", "schema", st_store_schema_version()));
}

void st_http_h_openapi(st_http_req_t *req, st_http_resp_t *resp)
{
    char *text = strdup(st_http_openapi_json);
    st_http_resp_text(resp, text ? 200 : 500, "application/json", text, text ? strlen(text) : 0);
}
