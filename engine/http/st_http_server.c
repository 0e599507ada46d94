/*
 * st_http_server.c — the libmicrohttpd daemon: configuration, request
 * lifecycle (body accumulation and its limit), authentication, dispatch
 * through the route table, responses and per-request metrics.
 *
 * Layer: http. Depends on libmicrohttpd, pthreads and the rest of the
 * engine/http family (st_http_int.h).
 *
 * Threads: libmicrohttpd's internal thread pool (MHD_USE_INTERNAL_POLLING_
 * THREAD | MHD_USE_EPOLL, MHD_OPTION_THREAD_POOL_SIZE = cfg->threads)
 * accepts, parses HTTP and calls on_request. API handlers block on their
 * own database connection from the pool; webhooks are suspended while the
 * webhook committer thread stores them (st_http_wh_batch.c), so the pool
 * threads keep serving; the engine's libev loop is never touched from here — the database (rows +
 * NOTIFY) is the handover. This is the "own thread handing work over" integration of the design.
 *
 * Invariants: a request body never grows past cfg->body_limit (a declared
 * Content-Length above it is refused before the body is read, a chunked
 * body is counted and dropped); a request with both Content-Length and
 * Transfer-Encoding is refused (400) before its body is read; every
 * request gets exactly one response;
 * the request record is freed by the completion callback.
 */
#include "http/st_http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "common/st_hex.h"
#include "http/st_webhook_sig.h"
#include "store/st_store_api.h"

double st_http_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void st_http_log(st_http_server_t *s, const char *fmt, ...)
{
    if (s->log == NULL)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log(s->log_ctx, line);
}

const char *st_http_req_header(const st_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *st_http_req_query(const st_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The body limit of a request: the configured one, and at least
 * ST_HTTP_BATCH_LIMIT for the batch start (up to 1000 start requests). */
static size_t body_limit(const st_http_server_t *s, const char *path)
{
    if (strcmp(path, "/v1/instances/batch") == 0 && s->body_limit < ST_HTTP_BATCH_LIMIT)
        return ST_HTTP_BATCH_LIMIT;
    return s->body_limit;
}

static void too_large(st_http_req_t *req, st_http_resp_t *resp)
{
    st_http_resp_error(resp, 413, "payload_too_large",
                       "send a smaller body (a batch: fewer items); the limit is set by the "
                       "server's configuration",
                       "the request body is larger than %zu bytes",
                       body_limit(req->srv, req->path));
}

static void dispatch(st_http_req_t *req, st_http_resp_t *resp)
{
    const st_http_route_t *r = st_http_route_match(req, resp);
    if (r == NULL)
        return;
    req->route = r->name;
    if (r->need != 0 && st_http_auth_check(req, r->need, resp) != 0)
        return;
    if (req->too_large) {
        too_large(req, resp);
        if (strcmp(r->name, "webhooks.stripe") == 0) {
            static const char *const rejected[] = {"rejected"};
            st_metrics_inc(req->srv->std.webhook_events, rejected, 1);
        }
        return;
    }
    r->fn(req, resp);
}

static enum MHD_Result send_resp(st_http_req_t *req, st_http_resp_t *resp)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        resp->len, resp->body ? resp->body : (void *)"",
        resp->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(resp->body);
        return MHD_NO;
    }
    resp->body = NULL;
    if (resp->ctype != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->ctype);
    if (resp->location[0] != '\0')
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    if (resp->allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, resp->allow);
    if (resp->www_auth)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"settle\"");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ok = MHD_queue_response(req->conn, resp->status, r);
    MHD_destroy_response(r);

    char code[8];
    snprintf(code, sizeof code, "%u", resp->status);
    const char *labels[] = {req->route ? req->route : "unmatched", code};
    st_metrics_inc(req->srv->std.http_requests, labels, 1);
    st_metrics_observe(req->srv->std.http_time, labels, st_http_now_mono() - req->t0);
    return ok;
}

/* Append an upload chunk, or drop it once the limit is passed. */
static void take_chunk(st_http_req_t *req, const char *data, size_t n)
{
    size_t limit = body_limit(req->srv, req->path);
    if (req->too_large)
        return;
    if (req->len + n > limit) {
        req->too_large = 1;
        free(req->body);
        req->body = NULL;
        req->len = req->cap = 0;
        return;
    }
    if (req->len + n + 1 > req->cap) {
        size_t cap = req->cap ? req->cap : 4096;
        while (cap < req->len + n + 1)
            cap *= 2;
        char *p = realloc(req->body, cap);
        if (p == NULL) {
            req->too_large = 1; /* answered as 413: nothing better to say */
            return;
        }
        req->body = p;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    req->body[req->len] = '\0';
}

static enum MHD_Result begin(st_http_server_t *s, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
    st_http_req_t *req = calloc(1, sizeof *req);
    if (req == NULL)
        return MHD_NO;
    req->srv = s;
    req->conn = conn;
    req->method = method;
    req->path = url;
    req->t0 = st_http_now_mono();
    *con_cls = req;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl != NULL && MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding")) {
        /* Two framings: a proxy may read the body one way and us the other
         * (request smuggling). RFC 9112 6.3 lets a server refuse it. */
        st_http_resp_t resp = {0};
        req->route = "unmatched";
        st_http_resp_error(&resp, 400, "ambiguous_length",
                           "send either Content-Length or Transfer-Encoding: chunked, not both",
                           "the request has both Content-Length and Transfer-Encoding");
        req->responded = 1;
        return send_resp(req, &resp);
    }
    if (cl != NULL && strtoull(cl, NULL, 10) > body_limit(s, url)) {
        /* Refuse before reading: libmicrohttpd answers instead of sending
         * "100 Continue" and closes the connection afterwards. */
        st_http_resp_t resp = {0};
        req->too_large = 1;
        dispatch(req, &resp);
        req->responded = 1;
        return send_resp(req, &resp);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    st_http_server_t *s = cls;
    st_http_req_t *req = *con_cls;
    if (req == NULL)
        return begin(s, conn, url, method, con_cls);
    if (req->responded) {
        *upload_size = 0; /* answered early (413): drop whatever still comes */
        return MHD_YES;
    }
    if (*upload_size > 0) {
        take_chunk(req, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    st_http_resp_t resp = {0};
    if (req->sjob != NULL && atomic_load(&req->sjob->done)) {
        st_http_start_finish(req, &resp); /* resumed after the commit */
        return send_resp(req, &resp);
    }
    if (req->sjob != NULL)
        return MHD_YES; /* suspended, waiting for the commit */
    if (req->job != NULL && atomic_load(&req->job->done)) {
        st_http_webhook_finish(req, &resp); /* resumed after the commit */
        return send_resp(req, &resp);
    }
    if (req->job != NULL && req->event != NULL)
        return MHD_YES; /* suspended, waiting for the commit */
    dispatch(req, &resp);
    if (resp.status == 0 && req->job != NULL && req->event != NULL)
        return MHD_YES; /* the webhook handler queued the event and suspended */
    if (resp.status == 0 && req->sjob != NULL)
        return MHD_YES; /* the start handler queued the start and suspended */
    if (resp.status == 0)
        st_http_resp_error(&resp, 500, "internal", "report this as a bug",
                           "the handler gave no response");
    return send_resp(req, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    st_http_req_t *req = *con_cls;
    if (req != NULL) {
        free(req->job);
        json_decref(req->event);
        free(req->sjob);
        json_decref(req->sbody);
        free(req->body);
        free(req);
    }
    *con_cls = NULL;
}

/* Decode %HH in a path or query argument, except %00: a NUL would cut the
 * value short ("/webhooks/stripe%00x" would be "/webhooks/stripe", a
 * filter "a%00b" would be "a"), so "%00" stays as it is and matches
 * nothing. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *w = s;
    for (const char *r = s; *r != '\0'; r++) {
        int hi = r[0] == '%' ? st_hex_digit(r[1]) : -1;
        int lo = hi >= 0 ? st_hex_digit(r[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    st_http_server_t *s = cls;
    if (s->log == NULL)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    s->log(s->log_ctx, line);
}

/* ---- life cycle ------------------------------------------------------------ */

static int copy_secrets(st_http_server_t *s, const st_http_cfg_t *cfg, st_err_t *err)
{
    if (cfg->n_webhook_secrets == 0)
        return 0;
    s->secrets = calloc(cfg->n_webhook_secrets, sizeof *s->secrets);
    if (s->secrets == NULL)
        return st_err_set(err, ST_NOMEM, "no memory for webhook secrets");
    for (unsigned i = 0; i < cfg->n_webhook_secrets; i++) {
        const char *w = cfg->webhook_secrets[i];
        if (w == NULL || w[0] == '\0')
            return st_err_set(err, ST_INVAL, "webhook secret %u is empty", i + 1);
        if ((s->secrets[i] = strdup(w)) == NULL)
            return st_err_set(err, ST_NOMEM, "no memory for webhook secrets");
        s->n_secrets = i + 1;
    }
    return 0;
}

static int start_mhd(st_http_server_t *s, const st_http_cfg_t *cfg, st_err_t *err)
{
    const char *bind = cfg->bind ? cfg->bind : "127.0.0.1";
    struct sockaddr_in a4 = {0};
    struct sockaddr_in6 a6 = {0};
    struct sockaddr *sa = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (inet_pton(AF_INET, bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons(cfg->port);
        sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(cfg->port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        st_err_set(err, ST_INVAL, "bind address '%.64s' is not an IP address", bind);
        st_err_hint(err, "use a numeric address such as 127.0.0.1, 0.0.0.0 or ::1");
        return ST_INVAL;
    }
    unsigned threads = cfg->threads ? cfg->threads : ST_HTTP_THREADS_DEFAULT;
    /* The logger goes first: MHD reports earlier options through its own. */
    s->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    if (s->mhd == NULL) {
        st_err_set(err, ST_IO, "cannot listen on %.64s port %u", bind, cfg->port);
        st_err_hint(err, "pick a free port (0 picks one) or stop what holds it");
        return ST_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    return 0;
}

/* The start committer's connection: made on its thread, on a loop of its own. */
static st_store_conn_t *start_connect(void *ctx, st_err_t *err)
{
    st_http_server_t *s = ctx;
    struct ev_loop *loop = ev_loop_new(0);
    if (loop == NULL) {
        st_err_set(err, ST_NOMEM, "cannot create an event loop");
        return NULL;
    }
    st_store_conn_cfg_t cfg = {.dsn = s->start_dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cfg, err);
    if (c == NULL)
        ev_loop_destroy(loop);
    return c;
}

static void start_disconnect(void *ctx, st_store_conn_t *c)
{
    (void)ctx;
    struct ev_loop *loop = st_store_conn_loop(c);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
}

static int start_batcher(st_http_server_t *s, const char *dsn, st_err_t *err)
{
    if ((s->start_dsn = strdup(dsn)) == NULL)
        return st_err_set(err, ST_NOMEM, "no memory for the start committer");
    st_start_batch_cfg_t bc = {
        .progs = s->progs,
        .connect = start_connect,
        .disconnect = start_disconnect,
        .ctx = s,
    };
    s->starts = st_start_batch_new(&bc, err);
    return s->starts ? 0 : err->code;
}

static int setup(st_http_server_t *s, const st_http_cfg_t *cfg, st_err_t *err)
{
    if (cfg->dsn == NULL || cfg->dsn[0] == '\0')
        return st_err_set(err, ST_INVAL, "the HTTP server needs a database DSN");
    s->body_limit = cfg->body_limit ? cfg->body_limit : ST_HTTP_BODY_LIMIT_DEFAULT;
    s->tolerance_s = cfg->tolerance_s > 0 ? cfg->tolerance_s : ST_WEBHOOK_SIG_TOLERANCE_DEFAULT;
    s->log = cfg->log;
    s->log_ctx = cfg->log_ctx;
    s->metrics = cfg->metrics;
    if (s->metrics == NULL) {
        if ((s->metrics = st_metrics_new()) == NULL)
            return st_err_set(err, ST_NOMEM, "no memory for metrics");
        s->own_metrics = 1;
    }
    int rc = st_metrics_std_init(s->metrics, &s->std, err);
    if (rc == 0)
        rc = copy_secrets(s, cfg, err);
    if (rc == 0)
        rc = st_http_auth_init(s, cfg->tokens, cfg->n_tokens, err);
    unsigned threads = cfg->threads ? cfg->threads : ST_HTTP_THREADS_DEFAULT;
    if (rc == 0)
        rc = st_http_pool_init(&s->pool, cfg->dsn, threads, err);
    if (rc == 0) {
        /* Fail early on a wrong DSN. A schema that is off does not stop
         * the server: /readyz reports it until someone migrates. */
        rc = st_store_schema_probe(cfg->dsn, err);
        if (rc == ST_SCHEMA) {
            st_err_clear(err);
            rc = 0;
        }
    }
    if (rc == 0)
        rc = st_http_wh_batch_init(&s->wh, cfg->dsn, cfg->webhook_batch_max, err);
    s->wh.batch_size = s->std.webhook_batch;
    if (rc == 0)
        rc = st_http_wh_batch_start(&s->wh, err);
    if (rc == 0)
        rc = start_batcher(s, cfg->dsn, err);
    if (rc == 0)
        rc = start_mhd(s, cfg, err);
    return rc;
}

st_http_server_t *st_http_server_new(const st_http_cfg_t *cfg, st_err_t *err)
{
    st_http_server_t *s = calloc(1, sizeof *s);
    if (s == NULL) {
        st_err_set(err, ST_NOMEM, "no memory for the HTTP server");
        return NULL;
    }
    s->start_at = cfg->clock == ST_CLOCK_VIRTUAL ? ST_START_AT_NODES : ST_START_AT_WALL;
    s->progs = cfg->programs;
    if (s->progs == NULL) {
        s->progs = st_start_progs_new();
        s->own_progs = 1;
    }
    if (s->progs == NULL) {
        st_err_set(err, ST_NOMEM, "no memory for the HTTP server");
        free(s);
        return NULL;
    }
    if (setup(s, cfg, err) != 0) {
        st_http_server_free(s);
        return NULL;
    }
    st_http_log(s, "http: listening on port %u with %u threads", s->port,
                cfg->threads ? cfg->threads : ST_HTTP_THREADS_DEFAULT);
    return s;
}

void st_http_server_free(st_http_server_t *s)
{
    if (s == NULL)
        return;
    /* Stop accepting, let the committer finish (it resumes every suspended
     * webhook), then stop the threads. */
    if (s->mhd != NULL)
        MHD_quiesce_daemon(s->mhd);
    if (s->wh.dsn != NULL)
        st_http_wh_batch_stop(&s->wh);
    st_start_batch_free(s->starts); /* answers every suspended start */
    s->starts = NULL;
    if (s->mhd != NULL)
        MHD_stop_daemon(s->mhd);
    if (s->wh.dsn != NULL)
        st_http_wh_batch_release(&s->wh);
    if (s->pool.slots != NULL)
        st_http_pool_release(&s->pool);
    free(s->start_dsn);
    free(atomic_load(&s->handoff));
    if (s->own_progs)
        st_start_progs_free(s->progs);
    for (unsigned i = 0; i < s->n_secrets; i++) {
        /* Wipe before free: the secret should not linger in freed memory. */
        OPENSSL_cleanse(s->secrets[i], strlen(s->secrets[i]));
        free(s->secrets[i]);
    }
    free(s->secrets);
    free(s->token_hash);
    free(s->token_role);
    if (s->own_metrics)
        st_metrics_free(s->metrics);
    free(s);
}

int st_http_server_set_handoff(st_http_server_t *s, const st_http_handoff_t *h, st_err_t *err)
{
    st_http_handoff_t *copy = malloc(sizeof *copy);
    if (copy == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    *copy = *h;
    st_http_handoff_t *none = NULL;
    if (!atomic_compare_exchange_strong(&s->handoff, &none, copy)) {
        free(copy);
        return st_err_set(err, ST_STATE, "the start hand-off is already set");
    }
    return 0;
}

uint16_t st_http_server_port(const st_http_server_t *s)
{
    return s->port;
}

st_metrics_t *st_http_server_metrics(st_http_server_t *s)
{
    return s->metrics;
}
