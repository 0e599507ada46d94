/*
 * st_store_api.h — the store's reads and checks for the flow API (engine/http)
 * and for operators: an instance with its open task (archived ones too), a
 * filtered newest-first listing, and the schema check of /readyz.
 *
 * Layer: store (public). Depends on st_store.h. Blocking helpers: they run
 * the connection's loop nested (see st_store.h), so call them on a
 * connection whose loop is private to the calling thread.
 *
 * Ownership: views are filled by the store and owned by the caller, who
 * releases them with st_store_view_release / st_store_views_free.
 */
#ifndef ST_STORE_API_H
#define ST_STORE_API_H

#include "store/st_store.h"

/* The newest pending or running task of an instance. */
typedef struct st_store_open_task {
    bool present; /* false: no open task; the fields below are empty */
    char *activity;
    st_store_task_status_t status;
    int32_t attempt, max_attempts;
    int64_t not_before_us; /* ST_STORE_NO_TIME when none */
    char *last_error;      /* NULL when none */
} st_store_open_task_t;

/* An instance row as the API shows it. */
typedef struct st_store_view {
    st_store_instance_t inst;
    st_store_open_task_t task;
} st_store_view_t;

typedef struct st_store_views {
    st_store_view_t *v;
    size_t n;
} st_store_views_t;

void st_store_view_release(st_store_view_t *v);
void st_store_views_free(st_store_views_t *list); /* releases each, keeps list */

/* The instance (live or archived) and its open task: 0, ST_NOTFOUND,
 * ST_IO (connection down; retry) or ST_DB. */
int st_store_view_get(st_store_conn_t *c, const st_store_uuid_t *id, st_store_view_t *out,
                      st_err_t *err);

/* Filters of st_store_views_list; NULL / -1 mean "any". */
typedef struct st_store_view_filter {
    const char *flow;
    int status; /* st_store_status_t, or -1 */
    const char *state_name;
    const char *business_key;
    const st_store_uuid_t *before; /* keyset cursor: only ids below it */
} st_store_view_filter_t;

/* Live (not archived) instances matching f, newest first (ids are
 * UUIDv7), at most limit of them: pass the last id back as `before` for
 * the next page. */
int st_store_views_list(st_store_conn_t *c, const st_store_view_filter_t *f, unsigned limit,
                        st_store_views_t *out, st_err_t *err);

/* The schema version this binary needs (st_migrate_latest). */
int st_store_schema_version(void);

/* 0 when the database's schema is exactly this binary's
 * (st_migrate_latest); ST_SCHEMA with a message saying which way it is off
 * and what to run; ST_IO / ST_DB when it could not be read. */
int st_store_schema_check(st_store_conn_t *c, st_err_t *err);

/* The same check for a database whose schema is too far off for a store
 * connection to prepare its statements: a short-lived plain connection,
 * opened and closed here. ST_DB when the database cannot be reached (the
 * DSN never appears in err). Off the hot path: start-up and /readyz when
 * no store connection can be made. */
int st_store_schema_probe(const char *dsn, st_err_t *err);

#endif
