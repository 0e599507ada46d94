/*
 * st_http_sql.h — the SQL text of the flow API's statements (st_http_sql.c).
 *
 * Layer: http (internal). Depends on schema 0001_core and 0002_store.
 * Every statement is parameterised; none is built from request text. The
 * webhook statement lives with its batcher (st_http_wh_batch.c) because
 * its parameters are shaped by the batching.
 */
#ifndef ST_HTTP_SQL_H
#define ST_HTTP_SQL_H

/* Columns of st_http_sql_get / _list, in order (see st_http_api_read.c). */
enum {
    ST_HTTP_COL_ID,
    ST_HTTP_COL_FLOW,
    ST_HTTP_COL_HASH,
    ST_HTTP_COL_STATE,
    ST_HTTP_COL_STATUS,
    ST_HTTP_COL_VARS,
    ST_HTTP_COL_SEQ,
    ST_HTTP_COL_WAKE,
    ST_HTTP_COL_REASON,
    ST_HTTP_COL_KEY,
    ST_HTTP_COL_CREATED,
    ST_HTTP_COL_UPDATED,
    ST_HTTP_COL_T_ACTIVITY,
    ST_HTTP_COL_T_STATUS,
    ST_HTTP_COL_T_ATTEMPT,
    ST_HTTP_COL_T_MAX,
    ST_HTTP_COL_T_NOT_BEFORE,
    ST_HTTP_COL_T_ERROR,
};

/* $1 instance id */
extern const char st_http_sql_get[];
/* $1 flow $2 status $3 state $4 business key $5 cursor (id) $6 limit (each filter NULL = any) */
extern const char st_http_sql_list[];
/* $1 instance $2 name $3 payload (jsonb text) $4 source → (status, signal id or NULL); no row:
 * no such instance */
extern const char st_http_sql_signal[];
/* (flow, status, n) of every flow: the counts the engine keeps with each
 * status change (no scan of instances). */
extern const char st_http_sql_flow_counts[];

#endif
