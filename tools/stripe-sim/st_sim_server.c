/*
 * st_sim_server.c — libmicrohttpd glue (see st_sim_server.h).
 *
 * Per connection MHD calls the handler once with no data (we allocate the
 * request context), then with each body chunk, then once more with none:
 * that last call decodes and dispatches. A dropped-connection fault returns
 * MHD_NO, which makes MHD close the socket without an answer. The request
 * log line holds method, path, status and request id: never the key, the
 * body or a secret.
 */
#include "st_sim_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_sim_form.h"

#define BODY_MAX (1 << 20)

struct st_sim_server {
    struct MHD_Daemon *mhd; /* owned */
    st_sim_t *sim;          /* borrowed */
    uint16_t port;          /* bound port */
    int quiet;              /* no request log */
};

typedef struct conn_ctx {
    char *body;    /* request body so far (owned) */
    size_t len;    /* bytes in body */
    int too_large; /* body exceeded BODY_MAX */
} conn_ctx_t;

static int body_append(conn_ctx_t *c, const char *data, size_t n)
{
    if (c->too_large || c->len + n > BODY_MAX) {
        c->too_large = 1;
        return 0;
    }
    char *nb = realloc(c->body, c->len + n + 1);
    if (!nb)
        return -1;
    memcpy(nb + c->len, data, n);
    c->len += n;
    nb[c->len] = '\0';
    c->body = nb;
    return 0;
}

typedef struct query_acc {
    json_t *params;
    st_err_t *err;
    int rc;
} query_acc_t;

static enum MHD_Result put_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    query_acc_t *q = cls;
    (void)kind;
    if (q->rc == 0)
        q->rc = st_sim_form_put(q->params, key, value ? value : "", q->err);
    return MHD_YES;
}

/* Decode the query (GET/DELETE) or body (POST) into a new parameter tree. */
static int decode(struct MHD_Connection *conn, const char *method, conn_ctx_t *c, json_t **out,
                  st_err_t *err)
{
    if (strcmp(method, "POST") == 0 && c->len > 0)
        return st_sim_form_decode(c->body, c->len, out, err);
    query_acc_t q = {json_object(), err, 0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, put_query, &q);
    if (q.rc < 0) {
        json_decref(q.params);
        *out = NULL;
        return q.rc;
    }
    *out = q.params;
    return 0;
}

static void bad_request(st_sim_resp_t *resp, const char *msg)
{
    json_t *e =
        json_pack("{s:{s:s, s:s}}", "error", "type", "invalid_request_error", "message", msg);
    resp->status = 400;
    resp->body = json_dumps(e, JSON_COMPACT);
    resp->should_retry = 0;
    json_decref(e);
}

/* MHD is done with an answer that was a stored JSON string. */
static void drop_text(void *text)
{
    json_decref(text);
}

static enum MHD_Result respond(struct MHD_Connection *conn, const st_sim_req_t *req,
                               st_sim_resp_t *resp)
{
    struct MHD_Response *r =
        resp->body_ref
            ? MHD_create_response_from_buffer_with_free_callback_cls(
                  json_string_length(resp->body_ref), resp->body, drop_text, resp->body_ref)
            : MHD_create_response_from_buffer(strlen(resp->body), resp->body,
                                              MHD_RESPMEM_MUST_FREE);
    if (!r)
        return MHD_NO; /* out of memory: resp still owns the body */
    resp->body = NULL; /* MHD owns it now */
    resp->body_ref = NULL;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Request-Id", resp->request_id);
    MHD_add_response_header(r, "Stripe-Version",
                            req->stripe_version ? req->stripe_version : "2020-08-27");
    if (req->idem_key && strcmp(req->method, "POST") == 0)
        MHD_add_response_header(r, "Idempotency-Key", req->idem_key);
    if (resp->replayed)
        MHD_add_response_header(r, "Idempotent-Replayed", "true");
    if (resp->should_retry >= 0)
        MHD_add_response_header(r, "Stripe-Should-Retry", resp->should_retry ? "true" : "false");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    st_sim_server_t *srv = cls;
    (void)version;
    if (!*con_cls) {
        *con_cls = calloc(1, sizeof(conn_ctx_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    conn_ctx_t *c = *con_cls;
    if (*upload_size) {
        if (body_append(c, upload, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    st_sim_req_t req = {
        .method = method,
        .path = url,
        .authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
        .idem_key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key"),
        .stripe_version = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Stripe-Version"),
    };
    st_sim_resp_t resp;
    st_err_t err;
    json_t *params = NULL;
    if (c->too_large) {
        memset(&resp, 0, sizeof(resp));
        bad_request(&resp, "Request body too large.");
    } else if (decode(conn, method, c, &params, &err) < 0) {
        memset(&resp, 0, sizeof(resp));
        bad_request(&resp, err.msg);
    } else {
        req.params = params;
        st_sim_dispatch(srv->sim, &req, &resp);
    }
    json_decref(params);
    if (!srv->quiet)
        fprintf(stderr, "stripe-sim: %s %s %d %s%s\n", method, url, resp.drop ? 0 : resp.status,
                resp.request_id, resp.replayed ? " replayed" : "");
    if (resp.drop) {
        st_sim_resp_release(&resp);
        return MHD_NO;
    }
    enum MHD_Result rc = respond(conn, &req, &resp);
    st_sim_resp_release(&resp);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_ctx_t *c = *con_cls;
    if (c) {
        free(c->body);
        free(c);
        *con_cls = NULL;
    }
}

int st_sim_server_start(st_sim_t *sim, uint16_t port, unsigned threads, int quiet,
                        st_sim_server_t **out, st_err_t *err)
{
    st_sim_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return st_err_set(err, ST_NOMEM, "out of memory");
    srv->sim = sim;
    srv->quiet = quiet;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO, port, NULL, NULL, handle,
        srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        threads ? threads : 2, MHD_OPTION_CONNECTION_LIMIT, 4096, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!srv->mhd) {
        free(srv);
        return st_err_set(err, ST_IO, "cannot listen on 127.0.0.1:%u", (unsigned)port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    *out = srv;
    return 0;
}

uint16_t st_sim_server_port(const st_sim_server_t *srv)
{
    return srv->port;
}

void st_sim_server_stop(st_sim_server_t *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->mhd);
    free(srv);
}
