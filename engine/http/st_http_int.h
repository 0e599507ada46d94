/*
 * st_http_int.h — private types shared by the engine/http file family:
 * the server, a request and its response, the route table, the database
 * pool, the webhook group-commit batcher and the JSON error helpers.
 *
 * Layer: http (internal). Depends on libmicrohttpd, jansson, libev (the
 * private loops of the store connections), the store's public headers and
 * st_http.h. Never libpq: every statement and connection is the store's. Nothing outside
 * engine/http and its tests includes this header.
 *
 * Invariants: a request is handled on one libmicrohttpd pool thread from
 * start to end; it owns its body buffer and its response; a response body
 * is malloc'd and handed to libmicrohttpd (which frees it). Every error
 * response is JSON {"error": {"type", "message", "hint"}} and never quotes
 * a secret or a token.
 */
#ifndef ST_HTTP_INT_H
#define ST_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <jansson.h>

#include "http/st_http.h"
#include "start/st_start.h"
#include "start/st_start_batch.h"
#include "store/st_store.h"
#include "store/st_store_webhook.h"

struct MHD_Connection;
struct MHD_Daemon;
struct ev_loop;

/* ---- database pool (st_http_db.c) --------------------------------------- */

typedef struct st_http_db {
    struct ev_loop *loop;   /* private loop of `store` (NULL until needed) */
    st_store_conn_t *store; /* the slot's store connection (made on first use) */
    int busy;               /* lent to a request */
} st_http_db_t;

typedef struct st_http_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    st_http_db_t *slots; /* n slots, connected lazily */
    unsigned n;
    char *dsn;
} st_http_pool_t;

int st_http_pool_init(st_http_pool_t *p, const char *dsn, unsigned n, st_err_t *err);
void st_http_pool_release(st_http_pool_t *p);
/* Borrow a slot whose store connection is up (waits while all are lent).
 * ST_IO when the database cannot be reached; another code (ST_DB...) when
 * it can but a store connection cannot be set up on it (its schema). */
int st_http_pool_get(st_http_pool_t *p, st_http_db_t **out, st_err_t *err);
void st_http_pool_put(st_http_pool_t *p, st_http_db_t *db);
/* The borrowed slot's store connection (up, as st_http_pool_get left it). */
int st_http_db_store(st_http_pool_t *p, st_http_db_t *db, st_store_conn_t **out, st_err_t *err);

/* ---- webhook group commit (st_http_wh_batch.c) --------------------------- */

#define ST_HTTP_WH_MAX_CORR 8

typedef struct st_http_wh_job st_http_wh_job_t;

/* Called on the committer thread once the job's result is final. */
typedef void (*st_http_wh_done_fn)(st_http_wh_job_t *job, void *ud);

struct st_http_wh_job {
    const char *event_id, *type, *payload; /* borrowed from the request */
    const char *keys[ST_HTTP_WH_MAX_CORR]; /* correlation (key, value) pairs */
    const char *values[ST_HTTP_WH_MAX_CORR];
    unsigned ncorr;
    st_http_wh_done_fn cb; /* completion callback and its argument */
    void *ud;
    /* results, written by the committer before `done` */
    int rc;           /* 0 or ST_DB */
    int is_new;       /* 1: stored now; 0: a redelivery */
    long signals;     /* signals stored for it */
    int parked;       /* 1: no instance yet; parked under its object's key */
    _Atomic int done; /* result is final */
    struct st_http_wh_job *next;
};

typedef struct st_http_wh_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;             /* wakes the committer */
    st_http_wh_job_t *head, *tail; /* queued, not yet taken */
    pthread_t thread;              /* the committer */
    int running;                   /* thread started */
    int stopping;                  /* drain the queue, then exit */
    struct ev_loop *loop;          /* the committer's private loop */
    st_store_conn_t *store;        /* the committer's store connection (lazy) */
    char *dsn;
    unsigned max;                    /* jobs per transaction */
    _Atomic uint64_t commits;        /* transactions sent */
    _Atomic uint64_t io_retries;     /* batches resent after a broken connection */
    _Atomic unsigned reconnects;     /* store connections re-established */
    st_metrics_family_t *batch_size; /* histogram fed per commit (may be NULL) */
} st_http_wh_batch_t;

int st_http_wh_batch_init(st_http_wh_batch_t *b, const char *dsn, unsigned max, st_err_t *err);
int st_http_wh_batch_start(st_http_wh_batch_t *b, st_err_t *err);
/* Commit what is queued, then stop the committer. */
void st_http_wh_batch_stop(st_http_wh_batch_t *b);
void st_http_wh_batch_release(st_http_wh_batch_t *b);
/* Queue the job; its callback fires once, on the committer thread, after
 * its event and signals are committed (or failed: job->rc). */
void st_http_wh_batch_enqueue(st_http_wh_batch_t *b, st_http_wh_job_t *job);
/* The store's view of the jobs [first, first+n) of a list, in order
 * (borrowing their strings). Pure. */
void st_http_wh_batch_events(const st_http_wh_job_t *first, unsigned n, st_store_wh_event_t *ev);

/* ---- server, request, response ----------------------------------------- */

typedef struct st_http_server st_http_server_t;

struct st_http_server {
    struct MHD_Daemon *mhd;
    uint16_t port;
    char *dsn;
    char **secrets; /* copies of the webhook secrets */
    unsigned n_secrets;
    int64_t tolerance_s;
    unsigned char (*token_hash)[32]; /* SHA-256 of each token */
    st_http_role_t *token_role;
    unsigned n_tokens;
    size_t body_limit;
    st_metrics_t *metrics;
    int own_metrics;      /* metrics was made here */
    st_metrics_std_t std; /* families this side feeds */
    st_http_pool_t pool;
    st_http_wh_batch_t wh;
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    st_start_progs_t *progs;              /* the node's Program cache (thread-safe) */
    int own_progs;                        /* progs was made here */
    st_start_at_t start_at;               /* the clock starts are stamped on */
    st_start_batch_t *starts;             /* the start committer (group commit) */
    _Atomic(st_http_handoff_t *) handoff; /* the executor's hand-off (NULL: none) */
    char *start_dsn;                      /* its connection's DSN */
};

#define ST_HTTP_MAX_PARAMS 2

typedef struct st_http_req {
    st_http_server_t *srv;
    struct MHD_Connection *conn;
    const char *method;                     /* borrowed from libmicrohttpd */
    const char *path;                       /* without the query string */
    char *body;                             /* the request body, NUL terminated */
    size_t len, cap;                        /* body length, allocation */
    int too_large;                          /* body exceeded the limit */
    int responded;                          /* a response is already queued */
    st_http_wh_job_t *job;                  /* webhook being committed (connection suspended) */
    json_t *event;                          /* the parsed event the job points into */
    st_start_job_t *sjob;                   /* start being committed (connection suspended) */
    json_t *sbody;                          /* the parsed start body sjob points into */
    const char *params[ST_HTTP_MAX_PARAMS]; /* path parameters, in order */
    char param_buf[256];                    /* storage for params */
    const char *route;                      /* route name for metrics */
    double t0;                              /* monotonic start, seconds */
} st_http_req_t;

typedef struct st_http_resp {
    unsigned status;
    char *body; /* malloc'd; NULL: empty */
    size_t len;
    const char *ctype; /* Content-Type (static) */
    char location[96]; /* Location header when non-empty */
    const char *allow; /* Allow header (405) */
    int www_auth;      /* add WWW-Authenticate: Bearer */
} st_http_resp_t;

typedef void (*st_http_handler_fn)(st_http_req_t *req, st_http_resp_t *resp);

/* Request helpers: header / query argument values (NULL when absent). */
const char *st_http_req_header(const st_http_req_t *req, const char *name);
const char *st_http_req_query(const st_http_req_t *req, const char *name);
void st_http_log(st_http_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double st_http_now_mono(void);

/* ---- routes (st_http_router.c) ------------------------------------------- */

typedef struct st_http_route {
    const char *method;
    const char *pattern; /* "/v1/instances/{id}/signals" */
    const char *name;    /* for metrics: "instances.signal" */
    int need;            /* 0: no token; else the st_http_role_t needed */
    int documented;      /* part of openapi.json */
    st_http_handler_fn fn;
} st_http_route_t;

const st_http_route_t *st_http_routes(size_t *n);
/* Find the route for method+path and fill req->params. NULL with resp set
 * (404 or 405) when there is none. */
const st_http_route_t *st_http_route_match(st_http_req_t *req, st_http_resp_t *resp);

/* ---- JSON responses (st_http_json.c) ------------------------------------- */

void st_http_resp_json(st_http_resp_t *resp, unsigned status, json_t *body); /* steals body */
void st_http_resp_text(st_http_resp_t *resp, unsigned status, const char *ctype, char *text,
                       size_t len); /* takes text (malloc'd) */
void st_http_resp_error(st_http_resp_t *resp, unsigned status, const char *type, const char *hint,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* From an st_err_t: message and hint (default hint when the error has none). */
void st_http_resp_err(st_http_resp_t *resp, unsigned status, const char *type, const st_err_t *err,
                      const char *hint);
/* Database trouble: 503 with a hint to retry. */
void st_http_resp_db(st_http_resp_t *resp, const st_err_t *err);
/* Parse the JSON object body of req: 415 (content type), 400 (syntax) or
 * 422 (not an object) set resp and return NULL. */
json_t *st_http_body_object(st_http_req_t *req, st_http_resp_t *resp);
/* The same from a Content-Type value (NULL: absent) and a body; pure. */
json_t *st_http_body_parse(const char *ctype, const char *body, size_t len, st_http_resp_t *resp);
/* 1 when the Content-Type is application/json (parameters allowed). */
int st_http_is_json_type(const char *ctype);
/* "2026-01-02T03:04:05.678901Z" for int64 microseconds; null for NO_TIME. */
json_t *st_http_json_time(int64_t us);

/* ---- auth (st_http_auth.c) ----------------------------------------------- */

int st_http_auth_init(st_http_server_t *s, const st_http_token_t *tokens, unsigned n,
                      st_err_t *err);
/* 0 when req carries a token allowed `need`; else resp is 401 or 403. */
int st_http_auth_check(st_http_req_t *req, int need, st_http_resp_t *resp);
/* The same decision from an Authorization header value (NULL: absent);
 * method and path only name the request in a 403. Pure. */
int st_http_auth_header(const st_http_server_t *s, const char *authorization, int need,
                        const char *method, const char *path, st_http_resp_t *resp);

/* ---- handlers ------------------------------------------------------------ */

void st_http_h_webhook(st_http_req_t *req, st_http_resp_t *resp);
/* The webhook handler's event parsing, pure (no I/O): 0 with job->event_id,
 * type, payload (= body) and the correlation pairs set, borrowing from *ev;
 * else ST_PARSE and resp set to 400. The caller frees *ev (also set, maybe
 * NULL, on failure); body must stay alive as long as the job. */
int st_http_wh_event_parse(const char *body, size_t len, json_t **ev, st_http_wh_job_t *job,
                           st_http_resp_t *resp);
/* The answer to a webhook whose job has completed (after resume). */
void st_http_webhook_finish(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_start(st_http_req_t *req, st_http_resp_t *resp);
/* The answer to a start whose job has completed (after resume). */
void st_http_start_finish(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_start_batch(st_http_req_t *req, st_http_resp_t *resp);
/* The answer a start gets (201/200 with the instance, or the error the
 * single endpoint gives), as {"status", "instance"|"error"} pieces: the
 * status and a new reference to the body. db (NULL: none lent) reads an
 * existing instance's view. */
json_t *st_http_start_answer(st_http_server_t *s, st_http_db_t *db, const st_start_req_t *req,
                             int rc, const st_err_t *err, const st_start_out_t *out,
                             unsigned *status);
void st_http_h_get(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_list(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_signal(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_cancel(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_metrics(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_healthz(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_readyz(st_http_req_t *req, st_http_resp_t *resp);
void st_http_h_openapi(st_http_req_t *req, st_http_resp_t *resp);

/* ---- request arguments, pure (st_http_api.c) ------------------------------ */

/* POST /v1/instances: the body's flow, inputs (NULL when absent) and
 * business key (else the Idempotency-Key header `idem`, NULL when absent),
 * borrowed from body/idem; 0 or ST_INVAL with resp set to 422. */
int st_http_start_args(json_t *body, const char *idem, const char **flow, json_t **inputs,
                       const char **key, st_http_resp_t *resp);
/* POST .../signals: the signal name and payload (NULL when absent),
 * borrowed from body; 0 or ST_INVAL with resp set to 422. */
int st_http_signal_args(json_t *body, const char **name, json_t **payload, st_http_resp_t *resp);
/* POST .../cancel: the settle.cancel payload (new reference; {} for an
 * empty body), or NULL with resp set to 415, 400 or 422. */
json_t *st_http_cancel_args(const char *ctype, const char *body, size_t len, st_http_resp_t *resp);

/* ---- reads (st_http_api_read.c) ------------------------------------------ */

/* GET /v1/instances query arguments, in the order of st_http_list_query. */
#define ST_HTTP_LIST_NQ 6
extern const char *const st_http_list_query[ST_HTTP_LIST_NQ];
/* Check the list's arguments q (NULL: absent) into six values (flow,
 * status, state, business_key, cursor, limit + 1 written to limit_buf);
 * 0 or ST_INVAL with resp set to 422. Pure. */
int st_http_list_args(const char *const q[ST_HTTP_LIST_NQ], const char *params[6],
                      char limit_buf[16], st_http_resp_t *resp);

/* 0 when text is a UUID; else resp is 404 (it cannot name an instance). */
int st_http_check_id(const char *text, st_http_resp_t *resp);
/* The instance as the API's JSON object (new reference), or NULL with
 * *rc = ST_NOTFOUND or the store's error. */
json_t *st_http_instance_view(st_http_db_t *db, const char *id, int *rc, st_err_t *err);

/* The owner a start gives its instance (0: none) and the hand-off of the
 * committed instances it owns (st_http_start.c). */
int64_t st_http_start_owner(st_http_server_t *s);
void st_http_start_handoff(st_http_server_t *s, const st_start_out_t *outs, size_t n);

/* The embedded openapi.json (generated at build time). */
extern const char st_http_openapi_json[];

#endif
