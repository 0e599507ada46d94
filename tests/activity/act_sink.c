/*
 * act_sink.c — the recording HTTP server of the activity tests (see
 * act_sink.h). Test support only: fails the test (Check) on setup errors.
 */
#include "act_sink.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REQS    256
#define MAX_REPLIES 64

struct act_sink {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    act_sink_req_t reqs[MAX_REQS];
    size_t n_reqs;
    act_sink_reply_t replies[MAX_REPLIES];
    size_t r_head, r_tail;
    int active, peak;
    int connections;
};

typedef struct conn {
    char *body;
    size_t len;
} conn_t;

static void hdr(struct MHD_Connection *c, const char *name, char *dst, size_t cap)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* Rebuild the query string from MHD's decoded arguments, in order. */
static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    act_sink_req_t *r = cls;
    size_t n = strlen(r->query);
    snprintf(r->query + n, sizeof r->query - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static void record(act_sink_t *s, struct MHD_Connection *c, const char *url, const char *method,
                   conn_t *cc)
{
    pthread_mutex_lock(&s->mu);
    if (s->n_reqs < MAX_REQS) {
        act_sink_req_t *r = &s->reqs[s->n_reqs++];
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->url, sizeof r->url, "%s", url);
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_query, r);
        hdr(c, "Idempotency-Key", r->idem, sizeof r->idem);
        hdr(c, "Authorization", r->auth, sizeof r->auth);
        hdr(c, "Stripe-Version", r->stripe_version, sizeof r->stripe_version);
        hdr(c, "Content-Type", r->content_type, sizeof r->content_type);
        hdr(c, "X-Test", r->extra, sizeof r->extra);
        r->body = strndup(cc->body ? cc->body : "", cc->len);
    }
    s->active++;
    if (s->active > s->peak)
        s->peak = s->active;
    pthread_mutex_unlock(&s->mu);
}

static act_sink_reply_t next_reply(act_sink_t *s)
{
    act_sink_reply_t r = {0};
    pthread_mutex_lock(&s->mu);
    if (s->r_head != s->r_tail)
        r = s->replies[s->r_head++ % MAX_REPLIES]; /* ownership moves to the caller */
    pthread_mutex_unlock(&s->mu);
    if (r.body == NULL) {
        r.status = 200;
        r.body = strdup("{\"ok\":true}");
    }
    return r;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    act_sink_t *s = cls;
    conn_t *cc = *con_cls;
    if (cc == NULL) {
        *con_cls = calloc(1, sizeof(conn_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_size > 0) {
        cc->body = realloc(cc->body, cc->len + *upload_size + 1);
        memcpy(cc->body + cc->len, upload, *upload_size);
        cc->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    record(s, c, url, method, cc);
    int ms = 0;
    if (sscanf(url, "/slow/%d", &ms) == 1)
        usleep((useconds_t)ms * 1000);
    enum MHD_Result ret = MHD_NO;
    if (strncmp(url, "/drop", 5) != 0) {
        act_sink_reply_t r = next_reply(s);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(strlen(r.body), (void *)r.body, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Request-Id", "req_sink");
        if (r.hdr_name)
            MHD_add_response_header(resp, r.hdr_name, r.hdr_value);
        ret = MHD_queue_response(c, (unsigned)r.status, resp);
        MHD_destroy_response(resp);
        free((char *)r.body);
        free((char *)r.hdr_name);
        free((char *)r.hdr_value);
    }
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    conn_t *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    act_sink_t *s = cls;
    if (code != MHD_CONNECTION_NOTIFY_STARTED)
        return;
    pthread_mutex_lock(&s->mu);
    s->connections++;
    pthread_mutex_unlock(&s->mu);
}

int act_sink_connections(act_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->connections;
    pthread_mutex_unlock(&s->mu);
    return n;
}

act_sink_t *act_sink_start(void)
{
    act_sink_t *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                            NULL, NULL, handle, s, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_END);
    ck_assert_msg(s->d != NULL, "cannot start libmicrohttpd");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info->port;
    ck_assert_int_gt(s->port, 0);
    return s;
}

void act_sink_stop(act_sink_t *s)
{
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->n_reqs; i++)
        free(s->reqs[i].body);
    for (size_t i = s->r_head; i != s->r_tail; i++) {
        act_sink_reply_t *r = &s->replies[i % MAX_REPLIES];
        free((char *)r->body);
        free((char *)r->hdr_name);
        free((char *)r->hdr_value);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int act_sink_port(const act_sink_t *s)
{
    return s->port;
}

void act_sink_push(act_sink_t *s, int status, const char *body, const char *hdr_name,
                   const char *hdr_value)
{
    pthread_mutex_lock(&s->mu);
    ck_assert_int_lt(s->r_tail - s->r_head, MAX_REPLIES);
    act_sink_reply_t *r = &s->replies[s->r_tail++ % MAX_REPLIES];
    r->status = status;
    r->body = strdup(body);
    r->hdr_name = hdr_name ? strdup(hdr_name) : NULL;
    r->hdr_value = hdr_value ? strdup(hdr_value) : NULL;
    pthread_mutex_unlock(&s->mu);
}

size_t act_sink_count(act_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

act_sink_req_t act_sink_req(act_sink_t *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    ck_assert_uint_lt(i, s->n_reqs);
    act_sink_req_t r = s->reqs[i];
    r.body = strdup(s->reqs[i].body);
    pthread_mutex_unlock(&s->mu);
    return r;
}

int act_sink_peak(act_sink_t *s)
{
    pthread_mutex_lock(&s->mu);
    int p = s->peak;
    pthread_mutex_unlock(&s->mu);
    return p;
}
