/*
 * st_http.h — settled's HTTP side: Stripe webhooks, the flow API, /metrics,
 * health and the OpenAPI document. The one public header of engine/http
 * (with st_metrics.h and st_webhook_sig.h).
 *
 * Layer: http. Depends on common, store (connections, statements, UUIDs), core
 * (input checks), ops/start (st_start, the Program cache),
 * libmicrohttpd, jansson, OpenSSL, pthreads.
 *
 * Threads and the engine loop. libmicrohttpd runs with its own internal
 * thread pool (epoll, one listening socket shared by the pool). An API
 * handler runs on a pool thread and does its database work there,
 * blocking, on a store connection borrowed from a small pool (one per
 * thread; see st_http_db.c for the node's connection count). A
 * webhook is verified on the pool thread, then its connection is suspended
 * while one committer thread stores it together with whatever other events
 * arrived meanwhile (group commit), and resumed to answer. The handover to
 * the engine is the database itself: the HTTP side only INSERTs rows
 * (instances, signals, webhook_events) and the database NOTIFYs
 * `settle_work` / `settle_signal`, which the executor LISTENs to on its
 * libev loop. No HTTP code ever touches the engine loop, and the engine
 * never waits for HTTP.
 *
 * Routes (docs/http-api.md, engine/http/openapi.json):
 *   POST /webhooks/stripe              Stripe-Signature verified, deduped
 *   POST /v1/instances                 start (Idempotency-Key = business key)
 *   POST /v1/instances/batch           up to 1000 starts, a result per item
 *   GET  /v1/instances                 list (filters, cursor pagination)
 *   GET  /v1/instances/{id}            one instance
 *   POST /v1/instances/{id}/signals    send a signal
 *   POST /v1/instances/{id}/cancel     cancel (the signal settle.cancel)
 *   GET  /metrics /healthz /readyz /openapi.json   (no token needed)
 *
 * Secrets: webhook secrets and API tokens are copied into the server and
 * never written to a log line, an error body or an st_err_t.
 *
 * Ownership: st_http_server_new copies the whole configuration (the
 * metrics registry and the Program cache are borrowed and must outlive
 * the server);
 * st_http_server_free stops the threads and accepts NULL. st_http_keys_t
 * owns its strings; release it with st_http_keys_release.
 */
#ifndef ST_HTTP_H
#define ST_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "common/st_metrics.h"
#include "start/st_start_progs.h"
#include "timer/st_clock.h"

#define ST_HTTP_BODY_LIMIT_DEFAULT (1024 * 1024)
#define ST_HTTP_BATCH_LIMIT        (4u * 1024 * 1024) /* POST /v1/instances/batch */
#define ST_HTTP_THREADS_DEFAULT    4
#define ST_HTTP_THREADS_MAX        64 /* each thread holds a database connection */

typedef enum {
    ST_HTTP_ROLE_READ = 1,  /* GET routes of the flow API */
    ST_HTTP_ROLE_WRITE = 2, /* everything (write implies read) */
} st_http_role_t;

typedef struct st_http_token {
    const char *token;   /* the bearer token itself */
    st_http_role_t role; /* what it may do */
} st_http_token_t;

typedef struct st_http_cfg {
    const char *bind;                         /* address to listen on; NULL: 127.0.0.1 */
    uint16_t port;                            /* 0: pick a free port (st_http_server_port) */
    const char *dsn;                          /* libpq connection string */
    const char *const *webhook_secrets;       /* whsec_...; several while rotating */
    unsigned n_webhook_secrets;               /* 0: webhooks answer 503 */
    int64_t tolerance_s;                      /* signature age allowed; 0: 300 */
    const st_http_token_t *tokens;            /* API bearer tokens */
    unsigned n_tokens;                        /* 0: the flow API answers 401 */
    size_t body_limit;                        /* bytes; 0: 1 MiB */
    unsigned threads;                         /* handler threads; 0: 4; max 64 */
    unsigned webhook_batch_max;               /* events per webhook commit; 0: 256 */
    st_metrics_t *metrics;                    /* NULL: the server makes its own */
    st_start_progs_t *programs;               /* the node's Program cache (borrowed,
                                               outlives the server); NULL: own one */
    st_clock_kind_t clock;                    /* the node's clock; starts are stamped on it
                                                 (virtual: the database's virtual clock) */
    void (*log)(void *ctx, const char *line); /* one line, no secrets; NULL: none */
    void *log_ctx;
} st_http_cfg_t;

typedef struct st_http_server st_http_server_t;

/*
 * Validate the configuration, check once that the database answers (its
 * schema is judged by /readyz; the pool connects lazily), bind and start
 * the threads. Returns
 * NULL and fills err (ST_INVAL bad config, ST_DB no database, ST_IO
 * cannot bind).
 */
st_http_server_t *st_http_server_new(const st_http_cfg_t *cfg, st_err_t *err);
void st_http_server_free(st_http_server_t *s);

/* The port actually bound (useful when cfg->port was 0). */
uint16_t st_http_server_port(const st_http_server_t *s);
/*
 * Hand the node's own starts to its executor (settled run: the executor's
 * st_exec_owner / st_exec_adopt; http never links the executor). From this
 * call on, a start through the API gives its new instance the owner
 * owner(ctx) returns (0: none, the start stays unowned) and, once
 * committed, passes the ids of the instances it owns to adopt(ctx, ids, n)
 * (from a server thread). Call at most once, after the executor runs; the
 * ctx must outlive the server.
 */
typedef struct st_http_handoff {
    int64_t (*owner)(void *ctx);
    void (*adopt)(void *ctx, const char (*ids)[37], size_t n);
    void *ctx;
} st_http_handoff_t;
int st_http_server_set_handoff(st_http_server_t *s, const st_http_handoff_t *h, st_err_t *err);

/* The registry /metrics renders (the configured one or the server's). */
st_metrics_t *st_http_server_metrics(st_http_server_t *s);

/* ---- secrets and tokens from the environment or files ----------------------- */

typedef struct st_http_keys {
    char **secrets; /* webhook secrets (owned) */
    unsigned n_secrets;
    st_http_token_t *tokens; /* tokens (strings owned) */
    unsigned n_tokens;
} st_http_keys_t;

/*
 * Fill keys from SETTLE_WEBHOOK_SECRETS (comma-separated) or the file named
 * by SETTLE_WEBHOOK_SECRETS_FILE (one per line), and SETTLE_API_TOKENS
 * ("token[:read|:write],...") or SETTLE_API_TOKENS_FILE (one per line;
 * blank lines and # comments ignored). A token without a role can write.
 * Errors (unreadable file, unknown role) never quote a secret.
 */
int st_http_keys_from_env(st_http_keys_t *keys, st_err_t *err);
/* Parse one list: sep ',' for the variables, '\n' for files. */
int st_http_keys_add_secrets(st_http_keys_t *keys, const char *text, char sep, st_err_t *err);
int st_http_keys_add_tokens(st_http_keys_t *keys, const char *text, char sep, st_err_t *err);
void st_http_keys_release(st_http_keys_t *keys);

#endif
