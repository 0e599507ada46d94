/*
 * bench_webhooks.c — Stripe webhook throughput of settle's HTTP side:
 * signed events over HTTP/1.1 keep-alive, each verified (HMAC-SHA256),
 * de-duplicated by event id, stored and mapped to a signal of its
 * correlated waiting instance, all committed before the 200.
 *
 *   bench_webhooks [--dsn ADMIN_DSN] [--events N] [--clients C] [--conns P]
 *                  [--threads T] [--instances I] [--dup-every K]
 *
 * C client threads each keep P connections busy (libcurl multi). Defaults:
 * 100000 events, 2 clients x 64 connections, 2 server threads, 10000
 * instances.
 *
 * On the 2-core development machine (PostgreSQL with fsync off, other work
 * running): 14,000-18,000 events/s, about 45 events per commit.
 *
 * Creates a scratch database (dropped at the end), migrates it, stores I
 * waiting instances correlated with invoices in_0..in_{I-1}, starts the
 * server in-process and drives it from C client threads. Events are signed
 * before the clock starts (signing is Stripe's work, not ours). Prints
 * events/s and checks afterwards that every event and every signal is in
 * the database exactly once. Tool code: prints and exits.
 */
#include <getopt.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "http/st_http.h"
#include "http/st_webhook_sig.h"
#include "store/st_migrate.h"

#define SECRET "whsec_bench_0123456789abcdef"

typedef struct opts {
    const char *dsn;
    long events, clients, conns, threads, instances, dup_every;
} opts_t;

typedef struct client {
    uint16_t port;
    char **bodies, **sigs; /* pre-signed events of this client */
    long n;
    long conns; /* concurrent connections of this client thread */
    long ok, failed;
    pthread_t th;
} client_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die_pg(PGconn *c, const char *what)
{
    fprintf(stderr, "bench_webhooks: %s: %s", what, PQerrorMessage(c));
    exit(1);
}

static void exec_or_die(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        die_pg(c, sql);
    PQclear(r);
}

static long long scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die_pg(c, sql);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    return size * n;
}

/* One connection of a client: a keep-alive easy handle and its headers. */
typedef struct conn {
    CURL *h;
    struct curl_slist *hl;
    long next; /* index of the event it sends */
} conn_t;

static void conn_send(client_t *c, conn_t *k, CURLM *m, long i)
{
    curl_slist_free_all(k->hl);
    k->hl = curl_slist_append(NULL, "Content-Type: application/json");
    k->hl = curl_slist_append(k->hl, c->sigs[i]);
    k->hl = curl_slist_append(k->hl, "Expect:");
    curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, k->hl);
    curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, c->bodies[i]);
    curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->bodies[i]));
    curl_multi_add_handle(m, k->h);
}

/* Event loop state of one client thread: curl's sockets in an epoll set. */
typedef struct loop {
    int ep;          /* epoll fd */
    long timeout_ms; /* curl's timer; -1: none */
} loop_t;

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *sockp)
{
    loop_t *l = ud;
    struct epoll_event ev = {.data.fd = fd};
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, fd, &ev) != 0)
        epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *ud)
{
    ((loop_t *)ud)->timeout_ms = timeout_ms;
    return 0;
}

/* Finished transfers: count them and start the next event on the same
 * connection. */
static void reap(client_t *c, CURLM *m, long *sent)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        conn_t *one = NULL;
        long status = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&one);
        if (msg->data.result == CURLE_OK)
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        *(status == 200 ? &c->ok : &c->failed) += 1;
        curl_multi_remove_handle(m, one->h);
        if (*sent < c->n)
            conn_send(c, one, m, (*sent)++);
    }
}

/* A client thread keeps `conns` keep-alive connections busy with curl's
 * multi-socket interface on epoll, so the load generator costs few
 * threads, context switches and system calls. */
static void *run_client(void *ud)
{
    client_t *c = ud;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/webhooks/stripe", c->port);
    loop_t l = {epoll_create1(0), -1};
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &l);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, &l);
    conn_t *k = calloc((size_t)c->conns, sizeof *k);
    long sent = 0;
    for (long j = 0; j < c->conns && sent < c->n; j++) {
        k[j].h = curl_easy_init();
        curl_easy_setopt(k[j].h, CURLOPT_URL, url);
        curl_easy_setopt(k[j].h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(k[j].h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(k[j].h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(k[j].h, CURLOPT_PRIVATE, &k[j]);
        conn_send(c, &k[j], m, sent++);
    }
    int running = 1;
    while (running > 0) {
        struct epoll_event evs[64];
        int n = epoll_wait(l.ep, evs, 64, l.timeout_ms < 0 ? 100 : (int)l.timeout_ms);
        if (n <= 0) {
            l.timeout_ms = -1; /* expired; curl sets a new one if it needs one */
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        for (int i = 0; i < n; i++) {
            int flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(m, evs[i].data.fd, flags, &running);
        }
        reap(c, m, &sent);
        if (running == 0 && sent < c->n)
            running = 1; /* handles were just re-added; the timer starts them */
        if (l.timeout_ms == 0) {
            l.timeout_ms = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    }
    for (long j = 0; j < c->conns; j++) {
        curl_slist_free_all(k[j].hl);
        curl_easy_cleanup(k[j].h);
    }
    free(k);
    curl_multi_cleanup(m);
    close(l.ep);
    return NULL;
}

/* Event i is about invoice in_{i % instances}; every dup_every-th event is
 * a redelivery of the one before it. */
static void make_event(const opts_t *o, long i, int64_t t, char **body, char **sig)
{
    long id = (o->dup_every > 0 && i > 0 && i % o->dup_every == 0) ? i - 1 : i;
    char b[1024], s[160];
    snprintf(b, sizeof b,
             "{\"id\":\"evt_bench_%ld\",\"object\":\"event\",\"api_version\":\"2024-06-20\","
             "\"created\":%lld,\"type\":\"invoice.paid\",\"livemode\":false,\"pending_webhooks\":1,"
             "\"data\":{\"object\":{\"id\":\"in_%ld\",\"object\":\"invoice\",\"customer\":"
             "\"cus_%ld\",\"status\":\"paid\",\"amount_paid\":4990,\"currency\":\"eur\"}}}",
             id, (long long)t, id % o->instances, id % o->instances);
    char v[128];
    st_webhook_sig_sign(SECRET, t, b, strlen(b), v, sizeof v);
    snprintf(s, sizeof s, "Stripe-Signature: %s", v);
    *body = strdup(b);
    *sig = strdup(s);
}

static void seed(PGconn *c, long instances)
{
    char sql[1024];
    exec_or_die(c, "INSERT INTO programs (hash, name, format_version, source_name, source, "
                   "program) VALUES (repeat('b', 64), 'bench', 1, 'bench', '', '\\x00'::bytea)");
    snprintf(sql, sizeof sql,
             "WITH ids AS (SELECT g, ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))"
             "::uuid AS id FROM generate_series(0, %ld) g),"
             " ins AS (INSERT INTO instances (id, flow, program_hash, state, state_name, status,"
             " vars, created_at, updated_at) SELECT id, 'bench', repeat('b', 64), 0, 'wait',"
             " 'waiting', '{}', now(), now() FROM ids)"
             " INSERT INTO correlations (key, value, instance_id) SELECT 'invoice', 'in_' || g, id"
             " FROM ids",
             instances - 1);
    exec_or_die(c, sql);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_webhooks [--dsn ADMIN_DSN] [--events N] [--clients C] [--conns P] "
            "[--threads T] [--instances I] [--dup-every K]\n"
            "ADMIN_DSN defaults to $SETTLE_BENCH_DSN or $SETTLE_TEST_DSN\n");
    exit(2);
}

static void parse(int argc, char **argv, opts_t *o)
{
    static const struct option lo[] = {{"dsn", 1, 0, 'd'},       {"events", 1, 0, 'n'},
                                       {"clients", 1, 0, 'c'},   {"conns", 1, 0, 'p'},
                                       {"threads", 1, 0, 't'},   {"instances", 1, 0, 'i'},
                                       {"dup-every", 1, 0, 'k'}, {0, 0, 0, 0}};
    *o = (opts_t){NULL, 100000, 2, 64, 2, 10000, 0};
    o->dsn = getenv("SETTLE_BENCH_DSN");
    if (o->dsn == NULL)
        o->dsn = getenv("SETTLE_TEST_DSN");
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        long v = ch != 'd' && optarg ? strtol(optarg, NULL, 10) : 0;
        switch (ch) {
        case 'd':
            o->dsn = optarg;
            break;
        case 'n':
            o->events = v;
            break;
        case 'c':
            o->clients = v;
            break;
        case 'p':
            o->conns = v;
            break;
        case 't':
            o->threads = v;
            break;
        case 'i':
            o->instances = v;
            break;
        case 'k':
            o->dup_every = v;
            break;
        default:
            usage();
        }
    }
    if (o->dsn == NULL || o->events < 1 || o->clients < 1 || o->conns < 1 || o->threads < 1 ||
        o->instances < 1 || o->dup_every < 0)
        usage();
}

static double drive(const opts_t *o, uint16_t port, long *ok, long *failed)
{
    client_t *cl = calloc((size_t)o->clients, sizeof *cl);
    int64_t t = (int64_t)time(NULL);
    for (long k = 0; k < o->clients; k++) {
        cl[k].port = port;
        cl[k].conns = o->conns;
        cl[k].bodies = calloc((size_t)(o->events / o->clients + 1), sizeof(char *));
        cl[k].sigs = calloc((size_t)(o->events / o->clients + 1), sizeof(char *));
    }
    /* Round-robin, so a redelivery usually arrives on another connection. */
    for (long i = 0; i < o->events; i++) {
        client_t *c = &cl[i % o->clients];
        make_event(o, i, t, &c->bodies[c->n], &c->sigs[c->n]);
        c->n++;
    }
    double t0 = now_s();
    for (long k = 0; k < o->clients; k++)
        pthread_create(&cl[k].th, NULL, run_client, &cl[k]);
    for (long k = 0; k < o->clients; k++)
        pthread_join(cl[k].th, NULL);
    double secs = now_s() - t0;
    for (long k = 0; k < o->clients; k++) {
        *ok += cl[k].ok;
        *failed += cl[k].failed;
        for (long i = 0; i < cl[k].n; i++) {
            free(cl[k].bodies[i]);
            free(cl[k].sigs[i]);
        }
        free(cl[k].bodies);
        free(cl[k].sigs);
    }
    free(cl);
    return secs;
}

int main(int argc, char **argv)
{
    opts_t o;
    parse(argc, argv, &o);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char db[64], sql[160], dsn[1024];
    snprintf(db, sizeof db, "bench_webhooks_%d", (int)getpid());
    PGconn *admin = PQconnectdb(o.dsn);
    if (PQstatus(admin) != CONNECTION_OK)
        die_pg(admin, "connect");
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    exec_or_die(admin, sql);
    snprintf(dsn, sizeof dsn, "%s dbname=%s", o.dsn, db);
    PGconn *c = PQconnectdb(dsn);
    st_err_t err;
    if (PQstatus(c) != CONNECTION_OK || st_migrate_apply(c, NULL, &err) != 0)
        die_pg(c, "migrate");
    seed(c, o.instances);

    static const char *const secrets[] = {SECRET};
    st_http_cfg_t cfg = {.dsn = dsn,
                         .webhook_secrets = secrets,
                         .n_webhook_secrets = 1,
                         .threads = (unsigned)o.threads};
    st_http_server_t *s = st_http_server_new(&cfg, &err);
    if (s == NULL) {
        fprintf(stderr, "bench_webhooks: %s\n", err.msg);
        return 1;
    }
    long ok = 0, failed = 0;
    double secs = drive(&o, st_http_server_port(s), &ok, &failed);
    st_metrics_series_t *bs = st_metrics_series(
        st_metrics_find(st_http_server_metrics(s), "settle_webhook_batch_size"), NULL);
    double commits = (double)st_metrics_series_count(bs);
    double batch = commits > 0 ? st_metrics_series_value(bs) / commits : 0;
    st_http_server_free(s);

    long unique = o.dup_every > 0 ? o.events - (o.events - 1) / o.dup_every : o.events;
    long long stored = scalar(c, "SELECT count(*) FROM webhook_events");
    long long signals = scalar(c, "SELECT count(*) FROM signals");
    printf("webhooks: %ld events (%ld unique) in %.2f s with %ld connections, %ld server threads: "
           "%.0f events/s\n",
           o.events, unique, secs, o.clients * o.conns, o.threads, (double)o.events / secs);
    printf("          200: %ld, other: %ld; stored events %lld, signals %lld; %.0f commits, "
           "%.1f events per commit\n",
           ok, failed, stored, signals, commits, batch);
    int bad = failed != 0 || stored != unique || signals != unique;
    if (bad)
        printf("          MISMATCH: expected %ld events and %ld signals\n", unique, unique);
    PQfinish(c);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    exec_or_die(admin, sql);
    PQfinish(admin);
    curl_global_cleanup();
    return bad ? 1 : 0;
}
