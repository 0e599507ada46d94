/*
 * st_bench_sim.c — confirm-payment throughput of stripe-sim.
 *
 * Keeps N keep-alive connections busy with the engine's charge call
 *   POST /v1/payment_intents amount=..&currency=usd&customer=cus_..
 *        &payment_method=pm_..&confirm=true&off_session=true
 * on a customer with a saved card (made once before the run), each with its
 * own Idempotency-Key (as the engine sends them), through one
 * libcurl multi handle, for a fixed time after a warm-up, and prints
 * requests per second and the status mix. With --sim it starts the
 * simulator itself on a free port and stops it afterwards.
 *
 * With --token every request instead names the test token pm_card_visa,
 * which makes the sim create a new PaymentMethod each time.
 *
 * Usage: st-bench-sim (--sim PATH [--sim-threads N] | --port N)
 *                     [--connections N] [--seconds S] [--token]
 */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 1024

typedef struct bench {
    CURLM *multi;
    char url[128];
    char body[256]; /* the confirm-payment form body */
    long connections;
    double seconds;
    long done, ok, declined, other; /* completed requests in the window */
    int measuring;
    unsigned long seq; /* idempotency keys */
} bench_t;

typedef struct slot {
    CURL *easy;
    struct curl_slist *headers;
    char key_header[96];
} slot_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

/* POST form to path with curl easy; copies the answer's "id" into id. */
static int post_id(int port, const char *path, const char *form, char *id, size_t cap)
{
    char url[160], buf[8192] = "";
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    FILE *mem = fmemopen(buf, sizeof(buf) - 1, "w");
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer sk_test_bench");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    fclose(mem);
    const char *p = strstr(buf, "\"id\":\"");
    if (rc != CURLE_OK || !p)
        return -1;
    p += 6;
    size_t n = strcspn(p, "\"");
    if (n >= cap)
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* A customer with pm_card_visa attached; fills b->body. */
static int setup_customer(bench_t *b, int port)
{
    char cus[64], pm[64], form[160];
    if (post_id(port, "/v1/customers", "email=bench%40example.com", cus, sizeof(cus)) < 0)
        return -1;
    snprintf(form, sizeof(form), "customer=%s", cus);
    if (post_id(port, "/v1/payment_methods/pm_card_visa/attach", form, pm, sizeof(pm)) < 0)
        return -1;
    snprintf(b->body, sizeof(b->body),
             "amount=2000&currency=usd&customer=%s&payment_method=%s&confirm=true&off_session=true",
             cus, pm);
    return 0;
}

/* (Re)arm one slot with a fresh idempotency key and add it to the multi. */
static void arm(bench_t *b, slot_t *s)
{
    curl_slist_free_all(s->headers);
    snprintf(s->key_header, sizeof(s->key_header), "Idempotency-Key: bench-%d-%lu", (int)getpid(),
             ++b->seq);
    s->headers = curl_slist_append(NULL, "Authorization: Bearer sk_test_bench");
    s->headers = curl_slist_append(s->headers, s->key_header);
    s->headers = curl_slist_append(s->headers, "Expect:");
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_multi_add_handle(b->multi, s->easy);
}

static void setup_slot(bench_t *b, slot_t *s)
{
    s->easy = curl_easy_init();
    curl_easy_setopt(s->easy, CURLOPT_URL, b->url);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, b->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(b->body));
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
    arm(b, s);
}

static void harvest(bench_t *b)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(b->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        slot_t *s;
        long code = 0;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_multi_remove_handle(b->multi, m->easy_handle);
        if (b->measuring) {
            b->done++;
            if (m->data.result == CURLE_OK && code == 200)
                b->ok++;
            else if (code == 402)
                b->declined++;
            else
                b->other++;
        }
        arm(b, s);
    }
}

static void run(bench_t *b)
{
    slot_t *slots = calloc((size_t)b->connections, sizeof(slot_t));
    b->multi = curl_multi_init();
    curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, b->connections);
    for (long i = 0; i < b->connections; i++)
        setup_slot(b, &slots[i]);
    double start = now_s(), warm = start + 0.5, end = warm + b->seconds;
    int running = 1;
    while (running) {
        double t = now_s();
        if (!b->measuring && t >= warm)
            b->measuring = 1;
        if (t >= end)
            break;
        curl_multi_perform(b->multi, &running);
        harvest(b);
        curl_multi_poll(b->multi, NULL, 0, 50, NULL);
        running = 1;
    }
    printf("confirm-payment%s: %ld requests in %.1f s over %ld connections = %.0f req/s "
           "(200: %ld, 402: %ld, other: %ld)\n",
           strstr(b->body, "customer=") ? " (saved card, off-session)" : " (pm_card_visa token)",
           b->done, b->seconds, b->connections, b->done / b->seconds, b->ok, b->declined, b->other);
    for (long i = 0; i < b->connections; i++) {
        curl_multi_remove_handle(b->multi, slots[i].easy);
        curl_easy_cleanup(slots[i].easy);
        curl_slist_free_all(slots[i].headers);
    }
    curl_multi_cleanup(b->multi);
    free(slots);
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"sim", required_argument, NULL, 's'},
                                         {"sim-threads", required_argument, NULL, 't'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"connections", required_argument, NULL, 'c'},
                                         {"seconds", required_argument, NULL, 'd'},
                                         {"token", no_argument, NULL, 'k'},
                                         {NULL, 0, NULL, 0}};
    bench_t b = {.connections = 32, .seconds = 5};
    const char *sim = NULL, *threads = "2";
    int port = 0, c, token = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            sim = optarg;
            break;
        case 't':
            threads = optarg;
            break;
        case 'p':
            port = atoi(optarg);
            break;
        case 'c':
            b.connections = atol(optarg);
            break;
        case 'd':
            b.seconds = atof(optarg);
            break;
        case 'k':
            token = 1;
            break;
        default:
            fprintf(stderr, "usage: st-bench-sim (--sim PATH [--sim-threads N] | --port N) "
                            "[--connections N] [--seconds S] [--token]\n");
            return 2;
        }
    }
    if ((!sim && !port) || b.connections < 1 || b.connections > MAX_CONN || b.seconds <= 0) {
        fprintf(stderr, "st-bench-sim: need --sim PATH or --port N (see --help)\n");
        return 2;
    }
    pid_t pid = 0;
    if (sim && (pid = start_sim(sim, threads, &port)) < 0) {
        fprintf(stderr, "st-bench-sim: cannot start %s\n", sim);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(b.url, sizeof(b.url), "http://127.0.0.1:%d/v1/payment_intents", port);
    if (token)
        snprintf(b.body, sizeof(b.body),
                 "amount=2000&currency=usd&payment_method=pm_card_visa&confirm=true");
    if (!token && setup_customer(&b, port) < 0) {
        fprintf(stderr, "st-bench-sim: cannot create the bench customer\n");
        b.ok = 0;
    } else {
        run(&b);
    }
    curl_global_cleanup();
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return b.ok > 0 ? 0 : 1;
}
