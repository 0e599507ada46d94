/*
 * st_bench_sim.c — confirm-payment throughput of stripe-sim.
 *
 * Keeps N keep-alive connections busy with the engine's charge call
 *   POST /v1/payment_intents amount=..&currency=usd&customer=cus_..
 *        &payment_method=pm_..&confirm=true&off_session=true
 * on a customer with a saved card (made once before the run), each with its
 * own Idempotency-Key (as the engine sends them), for a fixed time after a
 * warm-up, and prints requests per second, the status mix and the CPU time
 * the client and the sim spent per request. With --sim it starts the
 * simulator itself on a free port and stops it afterwards.
 *
 * The client shares the machine's cores with the sim, so it is built to
 * cost little: raw non-blocking sockets on one epoll set, one request
 * template whose fixed-width key counter is patched in place, answers
 * parsed only for the status and Content-Length. --pipeline D keeps D
 * requests in flight per connection (HTTP/1.1 pipelining; 1 = one at a
 * time, as the engine's client does).
 *
 * With --token every request instead names the test token pm_card_visa,
 * which makes the sim create a new PaymentMethod each time.
 *
 * Usage: st-bench-sim (--sim PATH [--sim-threads N] | --port N [--sim-pid P])
 *                     [--connections N] [--seconds S] [--pipeline D] [--token]
 *
 * Invariant: every request on a connection gets exactly one answer, in
 * order; a connection that closes or sends something unparsable counts its
 * requests in flight as "other" and is reopened. The exit status is 0 only
 * when some answers were 200 and none was "other".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN     1024
#define MAX_PIPELINE 64
#define RBUF         (256 * 1024)
#define KEY_DIGITS   12

typedef struct bench {
    int port;
    long connections;
    int pipeline;
    double seconds;
    char req[1024]; /* request template; key digits at key_at */
    size_t req_len, key_at;
    unsigned long seq;              /* idempotency keys */
    long done, ok, declined, other; /* answers in the window */
    int measuring;
    int epfd;
} bench_t;

typedef struct conn {
    int fd;
    int inflight;   /* requests sent, not answered */
    char *rbuf;     /* answer bytes (RBUF) */
    size_t rlen;    /* bytes in rbuf */
    char *wbuf;     /* bytes not yet written */
    size_t wlen;    /* bytes in wbuf */
    size_t wcap;    /* capacity of wbuf */
    int want_write; /* EPOLLOUT armed */
} conn_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int port, int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * One complete answer at the start of buf? Returns its length (0: need
 * more bytes, -1: not HTTP or no Content-Length) and its status.
 */
static long parse_answer(const char *buf, size_t len, int *status, const char **body)
{
    const char *end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    if (!end)
        return len > RBUF / 2 ? -1 : 0;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    long clen = -1;
    for (const char *p = buf; p < end; p++) {
        if (p[0] == '\n' && strncasecmp(p + 1, "Content-Length:", 15) == 0) {
            clen = strtol(p + 16, NULL, 10);
            break;
        }
    }
    if (clen < 0)
        return -1;
    size_t total = (size_t)(end + 4 - buf) + (size_t)clen;
    if (body)
        *body = end + 4;
    return total <= len ? (long)total : 0;
}

/* Build the request for method/path/form (with a key when key_at is non-NULL). */
static size_t build(char *out, size_t cap, const char *path, const char *form, size_t *key_at)
{
    int n = snprintf(out, cap,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer sk_test_bench\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: %zu\r\n",
                     path, strlen(form));
    if (key_at) {
        n += snprintf(out + n, cap - (size_t)n, "Idempotency-Key: bench-%d-", (int)getpid());
        *key_at = (size_t)n;
        n += snprintf(out + n, cap - (size_t)n, "%0*d\r\n", KEY_DIGITS, 0);
    }
    n += snprintf(out + n, cap - (size_t)n, "\r\n%s", form);
    return (size_t)n < cap ? (size_t)n : 0;
}

/* POST form to path on a blocking connection; copies the answer's "id" into id. */
static int post_id(int port, const char *path, const char *form, char *id, size_t cap)
{
    char req[1024], buf[16384];
    size_t n = build(req, sizeof(req), path, form, NULL), len = 0;
    int fd = dial(port, 0), status = 0;
    const char *body = NULL;
    long got = 0;
    if (fd < 0 || n == 0 || write(fd, req, n) != (ssize_t)n) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (got == 0 && len < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        got = parse_answer(buf, len, &status, &body);
    }
    close(fd);
    const char *p = got > 0 && status == 200 ? strstr(body, "\"id\":\"") : NULL;
    if (!p)
        return -1;
    p += 6;
    size_t k = strcspn(p, "\"");
    if (k >= cap)
        return -1;
    memcpy(id, p, k);
    id[k] = '\0';
    return 0;
}

/* A customer with pm_card_visa attached; returns the confirm-payment form. */
static int setup_customer(int port, char *form, size_t cap)
{
    char cus[64], pm[64], f[160];
    if (post_id(port, "/v1/customers", "email=bench%40example.com", cus, sizeof(cus)) < 0)
        return -1;
    snprintf(f, sizeof(f), "customer=%s", cus);
    if (post_id(port, "/v1/payment_methods/pm_card_visa/attach", f, pm, sizeof(pm)) < 0)
        return -1;
    snprintf(form, cap,
             "amount=2000&currency=usd&customer=%s&payment_method=%s&confirm=true&off_session=true",
             cus, pm);
    return 0;
}

static void watch(bench_t *b, conn_t *c, int op)
{
    struct epoll_event ev = {.events = EPOLLIN | (c->want_write ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(b->epfd, op, c->fd, &ev);
}

/* Write what is queued; arms EPOLLOUT while the socket is full. -1: broken. */
static int flush(bench_t *b, conn_t *c)
{
    size_t off = 0;
    while (off < c->wlen) {
        ssize_t w = send(c->fd, c->wbuf + off, c->wlen - off, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    memmove(c->wbuf, c->wbuf + off, c->wlen - off);
    c->wlen -= off;
    int want = c->wlen > 0;
    if (want != c->want_write) {
        c->want_write = want;
        watch(b, c, EPOLL_CTL_MOD);
    }
    return 0;
}

/* Queue n requests with fresh keys, then write them in one go. */
static int send_more(bench_t *b, conn_t *c, int n)
{
    if (c->wlen + (size_t)n * b->req_len > c->wcap) {
        size_t cap = c->wlen + (size_t)n * b->req_len;
        char *p = realloc(c->wbuf, cap);
        if (!p)
            return -1;
        c->wbuf = p;
        c->wcap = cap;
    }
    for (int i = 0; i < n; i++) {
        char *r = c->wbuf + c->wlen;
        memcpy(r, b->req, b->req_len);
        unsigned long k = ++b->seq;
        for (int d = KEY_DIGITS - 1; d >= 0; d--, k /= 10)
            r[b->key_at + (size_t)d] = (char)('0' + k % 10);
        c->wlen += b->req_len;
    }
    c->inflight += n;
    return flush(b, c);
}

static void count(bench_t *b, int status)
{
    if (!b->measuring)
        return;
    b->done++;
    if (status == 200)
        b->ok++;
    else if (status == 402)
        b->declined++;
    else
        b->other++;
}

static int conn_open(bench_t *b, conn_t *c)
{
    c->fd = dial(b->port, 1);
    c->rlen = c->wlen = 0;
    c->inflight = 0;
    c->want_write = 0;
    if (c->fd < 0)
        return -1;
    watch(b, c, EPOLL_CTL_ADD);
    return send_more(b, c, b->pipeline);
}

/* Broken connection: its requests in flight count as failed; open a new one. */
static void conn_reset(bench_t *b, conn_t *c)
{
    for (int i = 0; i < c->inflight; i++)
        count(b, 0);
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (conn_open(b, c) < 0)
        fprintf(stderr, "st-bench-sim: cannot reconnect: %s\n", strerror(errno));
}

/* Read what arrived, count complete answers, send as many new requests. */
static void on_readable(bench_t *b, conn_t *c)
{
    ssize_t r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
    if (r <= 0) {
        conn_reset(b, c);
        return;
    }
    c->rlen += (size_t)r;
    size_t off = 0;
    int answered = 0, status;
    long n;
    while ((n = parse_answer(c->rbuf + off, c->rlen - off, &status, NULL)) > 0) {
        off += (size_t)n;
        answered++;
        count(b, status);
    }
    if (n < 0 || answered > c->inflight) {
        conn_reset(b, c);
        return;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    c->inflight -= answered;
    if (answered && send_more(b, c, answered) < 0)
        conn_reset(b, c);
}

/* Serve the connections' events until the monotonic time t_end. */
static void run_until(bench_t *b, double t_end)
{
    struct epoll_event evs[64];
    while (now_s() < t_end) {
        int n = epoll_wait(b->epfd, evs, 64, 50);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if ((evs[i].events & EPOLLOUT) && flush(b, c) < 0) {
                conn_reset(b, c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(b, c);
        }
    }
}

/* CPU seconds (user + system) of this process, and of pid (all threads) or -1. */
static double cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void report(const bench_t *b, int token, double client_cpu, double sim_cpu)
{
    double n = b->done > 0 ? (double)b->done : 1;
    printf("confirm-payment%s: %ld requests in %.1f s over %ld connections (pipeline %d) = "
           "%.0f req/s (200: %ld, 402: %ld, other: %ld)\n",
           token ? " (pm_card_visa token)" : " (saved card, off-session)", b->done, b->seconds,
           b->connections, b->pipeline, b->done / b->seconds, b->ok, b->declined, b->other);
    printf("cpu: client %.1f us/request (%.0f%% of a core)", client_cpu * 1e6 / n,
           100 * client_cpu / b->seconds);
    if (sim_cpu >= 0)
        printf(", sim %.1f us/request (%.0f%% of a core), total %.1f us/request", sim_cpu * 1e6 / n,
               100 * sim_cpu / b->seconds, (client_cpu + sim_cpu) * 1e6 / n);
    printf("\n");
}

/* Open the connections, warm up for 0.5 s, then measure. */
static int bench(bench_t *b, int token, pid_t sim_pid)
{
    conn_t *conns = calloc((size_t)b->connections, sizeof(conn_t));
    b->epfd = epoll_create1(0);
    int rc = conns && b->epfd >= 0 ? 0 : -1;
    for (long i = 0; rc == 0 && i < b->connections; i++) {
        conns[i].rbuf = malloc(RBUF);
        if (!conns[i].rbuf || conn_open(b, &conns[i]) < 0)
            rc = -1;
    }
    if (rc == 0) {
        run_until(b, now_s() + 0.5);
        double c0 = cpu_self(), s0 = cpu_of(sim_pid), t0 = now_s();
        b->measuring = 1;
        run_until(b, t0 + b->seconds);
        b->measuring = 0;
        double c1 = cpu_self(), s1 = cpu_of(sim_pid);
        b->seconds = now_s() - t0;
        report(b, token, c1 - c0, s0 >= 0 && s1 >= 0 ? s1 - s0 : -1);
    } else {
        fprintf(stderr, "st-bench-sim: cannot open %ld connections: %s\n", b->connections,
                strerror(errno));
    }
    for (long i = 0; conns && i < b->connections; i++) {
        if (conns[i].fd > 0)
            close(conns[i].fd);
        free(conns[i].rbuf);
        free(conns[i].wbuf);
    }
    free(conns);
    if (b->epfd >= 0)
        close(b->epfd);
    return rc;
}

/* Start stripe-sim on a free port; returns its pid and fills *port. */
static pid_t start_sim(const char *path, const char *threads, int *port)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(path, path, "--port", "0", "--quiet", "--threads", threads, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256];
    *port = 0;
    if (f && fgets(line, sizeof(line), f))
        sscanf(line, "stripe-sim listening on 127.0.0.1:%d", port);
    if (f)
        fclose(f);
    return *port ? pid : -1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: st-bench-sim (--sim PATH [--sim-threads N] | --port N [--sim-pid P])\n"
                 "                    [--connections N] [--seconds S] [--pipeline D] [--token]\n"
                 "  --sim PATH       start this stripe-sim on a free port (and stop it after)\n"
                 "  --port N         bench a running sim; --sim-pid P reports its CPU too\n"
                 "  --connections N  keep-alive connections (default 32)\n"
                 "  --seconds S      measured time after a 0.5 s warm-up (default 5)\n"
                 "  --pipeline D     requests in flight per connection (default 1)\n"
                 "  --token          pay with pm_card_visa (a new PaymentMethod each time)\n");
}

static int parse_args(int argc, char **argv, bench_t *b, const char **sim, const char **threads,
                      pid_t *sim_pid, int *token)
{
    static const struct option opts[] = {{"sim", required_argument, NULL, 's'},
                                         {"sim-threads", required_argument, NULL, 't'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"sim-pid", required_argument, NULL, 'P'},
                                         {"connections", required_argument, NULL, 'c'},
                                         {"seconds", required_argument, NULL, 'd'},
                                         {"pipeline", required_argument, NULL, 'l'},
                                         {"token", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            *sim = optarg;
            break;
        case 't':
            *threads = optarg;
            break;
        case 'p':
            b->port = atoi(optarg);
            break;
        case 'P':
            *sim_pid = (pid_t)atoi(optarg);
            break;
        case 'c':
            b->connections = atol(optarg);
            break;
        case 'd':
            b->seconds = atof(optarg);
            break;
        case 'l':
            b->pipeline = atoi(optarg);
            break;
        case 'k':
            *token = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return -1;
        }
    }
    if ((!*sim && !b->port) || b->connections < 1 || b->connections > MAX_CONN || b->seconds <= 0 ||
        b->pipeline < 1 || b->pipeline > MAX_PIPELINE) {
        fprintf(stderr,
                "st-bench-sim: need --sim PATH or --port N; 1..%d connections, "
                "1..%d pipelined requests, seconds > 0\n",
                MAX_CONN, MAX_PIPELINE);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_t b = {.connections = 32, .seconds = 5, .pipeline = 1, .epfd = -1};
    const char *sim = NULL, *threads = "2";
    pid_t sim_pid = 0, pid = 0;
    int token = 0, rc = parse_args(argc, argv, &b, &sim, &threads, &sim_pid, &token);
    if (rc != 0) {
        if (rc < 0)
            usage(stderr);
        return rc < 0 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    if (sim && (pid = sim_pid = start_sim(sim, threads, &b.port)) < 0) {
        fprintf(stderr, "st-bench-sim: cannot start %s\n", sim);
        return 1;
    }
    char form[256] = "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true";
    if (!token && setup_customer(b.port, form, sizeof(form)) < 0) {
        fprintf(stderr, "st-bench-sim: cannot create the bench customer on port %d\n", b.port);
        rc = 1;
    } else {
        b.req_len = build(b.req, sizeof(b.req), "/v1/payment_intents", form, &b.key_at);
        rc = b.req_len && bench(&b, token, sim_pid) == 0 && b.ok > 0 && b.other == 0 ? 0 : 1;
        if (b.other > 0)
            fprintf(stderr, "st-bench-sim: %ld answers were neither 200 nor 402, or missing\n",
                    b.other);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return rc;
}
