/*
 * st_act_net.c — libcurl's multi interface driven by a libev loop.
 *
 * Layer: engine/activity. Depends on libcurl, libev, libc.
 *
 * One CURLM per runner: curl keeps its connection cache there, so calls to
 * the same host reuse connections. curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> ev_io) and when to wake it
 * (CURLMOPT_TIMERFUNCTION -> ev_timer); no thread per call.
 *
 * Pools bound concurrency: a pool lets max_conc transfers into the multi
 * handle and queues the rest FIFO; a pool with a token bucket also waits
 * for a token before it lets a transfer in.
 *
 * Invariants: a job is in exactly one place (unsubmitted, a pool queue, the
 * multi handle, or the kick list of jobs that failed to start); its callback
 * runs once, never from inside a curl callback and never inside
 * st_act_job_submit; cancel runs no callback.
 */
#include "activity/act_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { JOB_NEW, JOB_QUEUED, JOB_RUNNING, JOB_KICK };

#define JOB_KEEP_MAX 6

struct st_act_job {
    st_act_net_t *net;
    st_act_pool_t *pool; /* set by submit */
    CURL *easy;          /* owned */
    int where;           /* JOB_* */
    st_act_job_t *next;  /* queue / kick list link */
    st_act_job_cb cb;
    void *user;
    st_buf_t body;             /* reply body */
    st_act_http_reply_t reply; /* headers captured as they arrive */
    CURLcode fail_code;        /* JOB_KICK: why it could not start */
    struct curl_slist *slists[JOB_KEEP_MAX];
    void *mem[JOB_KEEP_MAX];
};

struct st_act_net {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer; /* curl's timeout */
    ev_timer kick;  /* delivers JOB_KICK failures from the loop */
    st_act_job_t *kick_head;
};

typedef struct sock_watch {
    ev_io io;
    st_act_net_t *net;
} sock_watch_t;

static void check_done(st_act_net_t *net);
static void pool_pump(st_act_pool_t *pool);

/* -------------------------------------------------- libev <-> libcurl */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    sock_watch_t *sw = (sock_watch_t *)w;
    st_act_net_t *net = sw->net;
    int action =
        ((revents & EV_READ) ? CURL_CSELECT_IN : 0) | ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(net->multi, w->fd, action, &running);
    check_done(net);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_act_net_t *net = w->data;
    int running = 0;
    curl_multi_socket_action(net->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(net);
}

static int curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    st_act_net_t *net = userp;
    sock_watch_t *sw = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sw != NULL) {
            ev_io_stop(net->loop, &sw->io);
            free(sw);
            curl_multi_assign(net->multi, s, NULL);
        }
        return 0;
    }
    if (sw == NULL) {
        sw = calloc(1, sizeof *sw);
        if (sw == NULL)
            return -1;
        sw->net = net;
        curl_multi_assign(net->multi, s, sw);
    } else {
        ev_io_stop(net->loop, &sw->io);
    }
    int ev = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    ev_io_init(&sw->io, io_cb, s, ev);
    ev_io_start(net->loop, &sw->io);
    return 0;
}

static int curl_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    st_act_net_t *net = userp;
    ev_timer_stop(net->loop, &net->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&net->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(net->loop, &net->timer);
    }
    return 0;
}

/* ---------------------------------------------------------- job plumbing */

/* Replies larger than this are refused (curl reports a write error). */
#define REPLY_MAX (4u << 20)

static size_t write_cb(char *p, size_t size, size_t n, void *userp)
{
    st_act_job_t *job = userp;
    if (job->body.len + size * n > REPLY_MAX)
        return 0;
    return st_buf_add(&job->body, p, size * n) == 0 ? size * n : 0;
}

/* Copy header `name` (case-insensitive) into dst when line carries it. */
static void grab_header(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t n = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t header_cb(char *p, size_t size, size_t n, void *userp)
{
    st_act_job_t *job = userp;
    size_t len = size * n;
    st_act_http_reply_t *r = &job->reply;
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (e.g. after 100) */
        r->retry_after[0] = r->should_retry[0] = r->request_id[0] = r->replayed[0] = '\0';
        return len;
    }
    grab_header(p, len, "Retry-After", r->retry_after, sizeof r->retry_after);
    grab_header(p, len, "Stripe-Should-Retry", r->should_retry, sizeof r->should_retry);
    grab_header(p, len, "Request-Id", r->request_id, sizeof r->request_id);
    grab_header(p, len, "Idempotent-Replayed", r->replayed, sizeof r->replayed);
    return len;
}

st_act_job_t *st_act_job_new(st_act_net_t *net)
{
    st_act_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    job->net = net;
    job->easy = curl_easy_init();
    if (job->easy == NULL) {
        free(job);
        return NULL;
    }
    CURL *e = job->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, job);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, job);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, job);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, job->reply.curl_error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    return job;
}

CURL *st_act_job_easy(st_act_job_t *job)
{
    return job->easy;
}

void st_act_job_keep_slist(st_act_job_t *job, struct curl_slist *list)
{
    for (int i = 0; i < JOB_KEEP_MAX; i++)
        if (job->slists[i] == NULL) {
            job->slists[i] = list;
            return;
        }
    curl_slist_free_all(list); /* programming error: more lists than slots */
}

int st_act_job_keep_mem(st_act_job_t *job, void *p)
{
    for (int i = 0; i < JOB_KEEP_MAX; i++)
        if (job->mem[i] == NULL) {
            job->mem[i] = p;
            return 0;
        }
    return ST_LIMIT;
}

void st_act_job_free(st_act_job_t *job)
{
    if (job == NULL)
        return;
    curl_easy_cleanup(job->easy);
    for (int i = 0; i < JOB_KEEP_MAX; i++) {
        curl_slist_free_all(job->slists[i]);
        free(job->mem[i]);
    }
    st_buf_release(&job->body);
    free(job);
}

/* Report and free a job that has left the multi handle / kick list. */
static void job_deliver(st_act_job_t *job, CURLcode code, long status)
{
    st_act_http_reply_t *r = &job->reply;
    r->curl_code = code;
    r->status = status;
    if (code != CURLE_OK && r->curl_error[0] == '\0')
        snprintf(r->curl_error, sizeof r->curl_error, "%s", curl_easy_strerror(code));
    r->body = job->body.p ? job->body.p : "";
    r->body_len = job->body.len;
    job->cb(job, r, job->user);
    st_act_job_free(job);
}

/* ------------------------------------------------------------- queueing */

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_act_net_t *net = w->data;
    while (net->kick_head != NULL) {
        st_act_job_t *job = net->kick_head;
        net->kick_head = job->next;
        job_deliver(job, job->fail_code, 0);
    }
}

static void job_fail_later(st_act_job_t *job, CURLcode code)
{
    st_act_net_t *net = job->net;
    job->where = JOB_KICK;
    job->fail_code = code;
    job->next = net->kick_head;
    net->kick_head = job;
    ev_timer_set(&net->kick, 0., 0.);
    ev_timer_start(net->loop, &net->kick);
}

static void pool_wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    pool_pump(w->data);
}

static void pool_pump(st_act_pool_t *pool)
{
    st_act_net_t *net = pool->net;
    while (pool->qhead != NULL && pool->active < pool->max_conc) {
        if (pool->bucket != NULL) {
            int64_t wait = st_act_bucket_take(pool->bucket, st_act_now_us());
            if (wait > 0) {
                if (!ev_is_active(&pool->wait)) {
                    ev_timer_set(&pool->wait, (double)wait / 1e6, 0.);
                    ev_timer_start(net->loop, &pool->wait);
                }
                return;
            }
        }
        st_act_job_t *job = pool->qhead;
        pool->qhead = job->next;
        if (pool->qhead == NULL)
            pool->qtail = NULL;
        job->next = NULL;
        CURLMcode mc = curl_multi_add_handle(net->multi, job->easy);
        if (mc != CURLM_OK) {
            job_fail_later(job, CURLE_FAILED_INIT);
            continue;
        }
        job->where = JOB_RUNNING;
        pool->active++;
        if (pool->active > pool->peak)
            pool->peak = pool->active;
    }
}

void st_act_job_submit(st_act_job_t *job, st_act_pool_t *pool, int64_t timeout_us, st_act_job_cb cb,
                       void *user)
{
    job->pool = pool;
    job->cb = cb;
    job->user = user;
    long ms = timeout_us > 0 ? (long)((timeout_us + 999) / 1000) : 30000L;
    curl_easy_setopt(job->easy, CURLOPT_TIMEOUT_MS, ms);
    job->where = JOB_QUEUED;
    job->next = NULL;
    if (pool->qtail != NULL)
        pool->qtail->next = job;
    else
        pool->qhead = job;
    pool->qtail = job;
    pool_pump(pool);
}

static void check_done(st_act_net_t *net)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(net->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        st_act_job_t *job = NULL;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&job);
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle(net->multi, msg->easy_handle);
        st_act_pool_t *pool = job->pool;
        pool->active--;
        job_deliver(job, code, status);
        pool_pump(pool);
    }
}

/* Unlink a queued job from its pool. */
static void queue_remove(st_act_pool_t *pool, st_act_job_t *job)
{
    st_act_job_t **pp = &pool->qhead;
    st_act_job_t *prev = NULL;
    while (*pp != NULL && *pp != job) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == NULL)
        return;
    *pp = job->next;
    if (pool->qtail == job)
        pool->qtail = prev;
}

void st_act_job_cancel(st_act_job_t *job)
{
    if (job == NULL)
        return;
    st_act_net_t *net = job->net;
    if (job->where == JOB_QUEUED) {
        queue_remove(job->pool, job);
    } else if (job->where == JOB_RUNNING) {
        curl_multi_remove_handle(net->multi, job->easy);
        job->pool->active--;
    } else if (job->where == JOB_KICK) {
        st_act_job_t **pp = &net->kick_head;
        while (*pp != NULL && *pp != job)
            pp = &(*pp)->next;
        if (*pp != NULL)
            *pp = job->next;
    }
    st_act_job_free(job);
}

/* --------------------------------------------------------- net and pools */

st_act_net_t *st_act_net_new(struct ev_loop *loop, st_err_t *err)
{
    static int global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            st_err_set(err, ST_INTERNAL, "curl_global_init failed");
            return NULL;
        }
        global_done = 1;
    }
    st_act_net_t *net = calloc(1, sizeof *net);
    if (net == NULL || (net->multi = curl_multi_init()) == NULL) {
        free(net);
        st_err_set(err, ST_NOMEM, "cannot create the curl multi handle");
        return NULL;
    }
    net->loop = loop;
    ev_timer_init(&net->timer, timer_cb, 0., 0.);
    net->timer.data = net;
    ev_timer_init(&net->kick, kick_cb, 0., 0.);
    net->kick.data = net;
    curl_multi_setopt(net->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(net->multi, CURLMOPT_SOCKETDATA, net);
    curl_multi_setopt(net->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(net->multi, CURLMOPT_TIMERDATA, net);
    curl_multi_setopt(net->multi, CURLMOPT_MAXCONNECTS, 256L);
    return net;
}

void st_act_net_free(st_act_net_t *net)
{
    if (net == NULL)
        return;
    while (net->kick_head != NULL)
        st_act_job_cancel(net->kick_head);
    /* Cleanup closes cached connections (REMOVE callbacks) and may re-arm the
     * timer through the timer callback, so the timers stop after it. */
    curl_multi_cleanup(net->multi);
    ev_timer_stop(net->loop, &net->timer);
    ev_timer_stop(net->loop, &net->kick);
    free(net);
}

int st_act_pool_init(st_act_pool_t *pool, st_act_net_t *net, const char *name, uint32_t max_conc,
                     double rate, double burst)
{
    memset(pool, 0, sizeof *pool);
    pool->name = name;
    pool->net = net;
    pool->max_conc = max_conc > 0 ? max_conc : 1;
    ev_timer_init(&pool->wait, pool_wait_cb, 0., 0.);
    pool->wait.data = pool;
    if (rate > 0) {
        pool->bucket = calloc(1, sizeof *pool->bucket);
        if (pool->bucket == NULL)
            return ST_NOMEM;
        st_act_bucket_init(pool->bucket, rate, burst, st_act_now_us());
    }
    return 0;
}

/* Cancel every queued job (callers cancel running ones through calls). */
void st_act_pool_release(st_act_pool_t *pool)
{
    while (pool->qhead != NULL)
        st_act_job_cancel(pool->qhead);
    if (pool->net != NULL)
        ev_timer_stop(pool->net->loop, &pool->wait);
    free(pool->bucket);
    pool->bucket = NULL;
}
