/*
 * st_http_start.c — POST /v1/instances' start: st_start on the pool
 * slot's store connection.
 *
 * Layer: http (internal). The rules of a start (key, flow, inputs checked
 * by the core and for plausibility, the clock it is stamped on, the
 * Idempotency-Key contract: same key + same inputs returns the instance,
 * other inputs are ST_CONFLICT) live in engine/start/st_start.c, shared
 * with `settled start`; this file only lends it the server's connection,
 * Program cache (shared with the executor in settled) and clock.
 */
#include "http/st_http_int.h"

#include <string.h>

int st_http_start(st_http_server_t *s, st_http_db_t *db, const char *flow, json_t *inputs,
                  const char *business_key, st_http_started_t *out, st_err_t *err)
{
    memset(out, 0, sizeof *out);
    st_store_conn_t *c = NULL;
    int rc = st_http_db_store(&s->pool, db, &c, err);
    if (rc != 0)
        return rc == ST_NOMEM ? rc : ST_DB;
    st_start_req_t req = {
        .flow = flow,
        .inputs = inputs,
        .business_key = business_key,
        .at = s->start_at,
    };
    st_start_out_t started;
    rc = st_start(c, s->progs, &req, &started, err);
    memcpy(out->id, started.id, sizeof out->id);
    out->existing = started.existing;
    return rc;
}
