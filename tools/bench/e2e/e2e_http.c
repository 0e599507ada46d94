/*
 * e2e_http.c — the end-to-end benchmark's HTTP client pool and receiver
 * (see e2e_http.h for the contract).
 */
#include "e2e_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP  (64 * 1024)
#define RBUF_MAX (64 * 1024 * 1024)

int64_t e2e_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double e2e_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int e2e_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Length of a complete HTTP message at the start of buf (headers and a
 * Content-Length body), 0 while incomplete; *body_at is where the body
 * starts and *body_len its length. */
static size_t message_len(const char *buf, size_t len, size_t *body_at, size_t *body_len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - buf) + 4, cl = 0;
    for (const char *p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
            cl = strtoul(p + 15, NULL, 10);
    }
    if (len < head + cl)
        return 0;
    *body_at = head;
    *body_len = cl;
    return head + cl;
}

/* ---- client pool ------------------------------------------------------------ */

typedef struct conn {
    int fd;
    int busy;    /* a request is in flight */
    size_t item; /* which */
    int tries;   /* sends of this item */
    char *rbuf;  /* grows to fit the longest answer (batch answers are large) */
    char *wbuf;  /* the pool's req_cap bytes */
    size_t rcap, rlen, wlen, woff;
} conn_t;

typedef struct pool {
    int port, epfd;
    size_t n, next, left, req_cap;
    e2e_http_make_fn make;
    e2e_http_answer_fn answer;
    void *ud;
    e2e_http_stats_t *st;
} pool_t;

static int conn_open(pool_t *p, conn_t *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = loopback(p->port);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(p->epfd, EPOLL_CTL_ADD, c->fd, &ev);
    c->rlen = 0;
    return 0;
}

static void conn_want(pool_t *p, conn_t *c, int out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(p->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Give c the next item, if any is left. */
static void conn_take(pool_t *p, conn_t *c)
{
    c->busy = 0;
    if (p->next >= p->n)
        return;
    c->item = p->next++;
    c->tries = 1;
    c->wlen = p->make(c->item, c->wbuf, p->req_cap, p->ud);
    c->woff = 0;
    c->busy = 1;
    conn_want(p, c, 1);
}

static void conn_finish(pool_t *p, conn_t *c, int status, const char *body, size_t len)
{
    p->answer(c->item, status, body, len, p->ud);
    p->left--;
    if (status == 0)
        p->st->failed++;
    else
        p->st->answered++;
    conn_take(p, c);
}

/* The connection broke: reopen it and send its request again. */
static void conn_broken(pool_t *p, conn_t *c)
{
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->busy && c->tries >= E2E_HTTP_RETRIES) {
        conn_open(p, c);
        if (c->fd >= 0)
            conn_finish(p, c, 0, "", 0);
        return;
    }
    if (conn_open(p, c) != 0)
        return;
    if (c->busy) {
        c->tries++;
        c->woff = 0;
        p->st->resent++;
    }
}

static void conn_write(pool_t *p, conn_t *c)
{
    while (c->busy && c->woff < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (w <= 0) {
            conn_broken(p, c);
            return;
        }
        c->woff += (size_t)w;
    }
    conn_want(p, c, 0);
}

static void conn_read(pool_t *p, conn_t *c)
{
    for (;;) {
        if (c->rlen == c->rcap) {
            char *grown = c->rcap < RBUF_MAX ? realloc(c->rbuf, c->rcap * 2) : NULL;
            if (grown == NULL) {
                conn_broken(p, c);
                return;
            }
            c->rbuf = grown;
            c->rcap *= 2;
        }
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0 || !c->busy) {
            conn_broken(p, c);
            return;
        }
        c->rlen += (size_t)r;
        size_t at, blen, mlen = message_len(c->rbuf, c->rlen, &at, &blen);
        if (mlen == 0)
            continue;
        int status = c->rlen > 12 ? atoi(c->rbuf + 9) : 0;
        c->rlen = 0;
        conn_finish(p, c, status, c->rbuf + at, blen);
        if (c->busy)
            conn_write(p, c);
        return;
    }
}

static void conns_free(conn_t *cs, unsigned conns)
{
    for (unsigned i = 0; cs != NULL && i < conns; i++) {
        if (cs[i].fd >= 0)
            close(cs[i].fd);
        free(cs[i].rbuf);
        free(cs[i].wbuf);
    }
    free(cs);
}

static conn_t *conns_alloc(unsigned conns, size_t req_cap)
{
    conn_t *cs = calloc(conns, sizeof *cs);
    for (unsigned i = 0; cs != NULL && i < conns; i++) {
        cs[i].fd = -1;
        cs[i].rcap = BUF_CAP;
        cs[i].rbuf = malloc(BUF_CAP);
        cs[i].wbuf = malloc(req_cap);
        if (cs[i].rbuf == NULL || cs[i].wbuf == NULL) {
            conns_free(cs, conns);
            return NULL;
        }
    }
    return cs;
}

int e2e_http_run(int port, unsigned conns, size_t n, size_t req_cap, e2e_http_make_fn make,
                 e2e_http_answer_fn answer, void *ud, e2e_http_stats_t *st)
{
    memset(st, 0, sizeof *st);
    pool_t p = {.port = port,
                .n = n,
                .left = n,
                .req_cap = req_cap,
                .make = make,
                .answer = answer,
                .ud = ud,
                .st = st};
    p.epfd = epoll_create1(0);
    conn_t *cs = conns_alloc(conns, req_cap);
    if (cs == NULL || p.epfd < 0) {
        fprintf(stderr, "bench_e2e: no memory for %u connections\n", conns);
        conns_free(cs, conns);
        return -1;
    }
    double t0 = e2e_mono_s();
    unsigned open = 0;
    for (unsigned i = 0; i < conns; i++)
        if (conn_open(&p, &cs[i]) == 0) {
            open++;
            conn_take(&p, &cs[i]);
        }
    if (open == 0) {
        fprintf(stderr, "bench_e2e: cannot connect to 127.0.0.1:%d\n", port);
        conns_free(cs, conns);
        close(p.epfd);
        return -1;
    }
    struct epoll_event evs[256];
    while (p.left > 0) {
        int k = epoll_wait(p.epfd, evs, 256, 1000);
        for (int i = 0; i < k; i++) {
            conn_t *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLERR | EPOLLHUP))
                conn_broken(&p, c);
            else if (evs[i].events & EPOLLIN)
                conn_read(&p, c);
            else if (evs[i].events & EPOLLOUT)
                conn_write(&p, c);
        }
    }
    st->seconds = e2e_mono_s() - t0;
    conns_free(cs, conns);
    close(p.epfd);
    return 0;
}

int e2e_http_get_status(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = loopback(port);
    struct timeval tv = {.tv_sec = 2};
    char buf[4096];
    int status = 0;
    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int len = snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        send(fd, buf, (size_t)len, MSG_NOSIGNAL) == len) {
        ssize_t r = recv(fd, buf, sizeof buf - 1, 0);
        if (r > 12)
            status = atoi(buf + 9);
    }
    close(fd);
    return status;
}
