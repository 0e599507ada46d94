/*
 * e2e_fixture.c — see e2e_fixture.h. Starts and stops the real systems a
 * shipped flow talks to; every helper fails the test rather than return a
 * half-working fixture.
 *
 * Logs: the children's stderr (settled, stripe-sim, the SMTP sink) goes to
 * $SETTLE_BINARY_DIR/test-logs/e2e/<database>-<program>.log, the suites'
 * convention; tests/secrets scans those files for keys and secrets.
 */
#include "e2e_fixture.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ops/st_ops.h"
#include "store/st_migrate.h"
#include "store/st_store.h"

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
}

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- logs ------------------------------------------------------------------ */

/* Parent side: make test-logs/e2e/ (see the header comment). */
static void logs_dir(void)
{
    char path[1024];
    const char *dir = getenv("SETTLE_BINARY_DIR");
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/test-logs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/test-logs/e2e", dir);
    mkdir(path, 0755);
}

/* Child side, before exec: stderr (and stdout when `out`) to the log of
 * program `prog`. */
static void child_log(const e2e_t *e, const char *prog, int out)
{
    char path[1024];
    const char *dir = getenv("SETTLE_BINARY_DIR");
    if (dir == NULL)
        return;
    snprintf(path, sizeof path, "%s/test-logs/e2e/%s-%s.log", dir, e->db, prog);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    dup2(fd, 2);
    if (out)
        dup2(fd, 1);
    close(fd);
}

/* ---- ERP sink ------------------------------------------------------------ */

typedef struct erp_req {
    char body[8192];
    size_t len;
} erp_req_t;

static enum MHD_Result erp_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *data,
                                   size_t *size, void **state)
{
    e2e_t *e = cls;
    (void)version;
    if (*state == NULL) {
        erp_req_t *r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *state = r;
        return MHD_YES;
    }
    erp_req_t *r = *state;
    if (*size != 0) {
        size_t n = *size < sizeof r->body - 1 - r->len ? *size : sizeof r->body - 1 - r->len;
        memcpy(r->body + r->len, data, n);
        r->len += n;
        *size = 0;
        return MHD_YES;
    }
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
    json_t *j = json_loads(r->body, 0, NULL);
    pthread_mutex_lock(&e->erp_mu);
    if (e->n_erp < E2E_ERP_MAX && strcmp(method, "POST") == 0) {
        e2e_erp_rec_t *rec = &e->erp_recs[e->n_erp++];
        memset(rec, 0, sizeof *rec);
        snprintf(rec->path, sizeof rec->path, "%s", url);
        snprintf(rec->key, sizeof rec->key, "%s", key ? key : "");
        const char *s;
        if ((s = json_string_value(json_object_get(j, "external_id"))))
            snprintf(rec->external_id, sizeof rec->external_id, "%s", s);
        if ((s = json_string_value(json_object_get(j, "type"))))
            snprintf(rec->type, sizeof rec->type, "%s", s);
        if ((s = json_string_value(json_object_get(j, "reference"))))
            snprintf(rec->reference, sizeof rec->reference, "%s", s);
        if ((s = json_string_value(json_object_get(j, "currency"))))
            snprintf(rec->currency, sizeof rec->currency, "%s", s);
        rec->amount = json_integer_value(json_object_get(j, "amount"));
    }
    pthread_mutex_unlock(&e->erp_mu);
    json_decref(j);
    free(r);
    *state = NULL;
    static const char ok[] = "{\"ok\":true}";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void erp_done(void *cls, struct MHD_Connection *c, void **state,
                     enum MHD_RequestTerminationCode tc)
{
    (void)cls, (void)c, (void)tc;
    free(*state);
    *state = NULL;
}

int e2e_erp(e2e_t *e, e2e_erp_rec_t *out, int cap)
{
    pthread_mutex_lock(&e->erp_mu);
    int n = e->n_erp < cap ? e->n_erp : cap;
    memcpy(out, e->erp_recs, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&e->erp_mu);
    return n;
}

/* ---- SMTP sink ------------------------------------------------------------ */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void smtp_start(e2e_t *e)
{
    char script[512], port[16], ready[128];
    st_test_src("tests/activity/smtp_sink.py", script, sizeof script);
    snprintf(e->mail_dir, sizeof e->mail_dir, "/tmp/st_e2e_mailXXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(e->mail_dir));
    e->smtp_port = free_port();
    snprintf(port, sizeof port, "%d", e->smtp_port);
    const char *py = getenv("SETTLE_PYTHON") ? getenv("SETTLE_PYTHON") : "/usr/bin/python3";
    e->smtp_pid = fork();
    ck_assert_int_ge(e->smtp_pid, 0);
    if (e->smtp_pid == 0) {
        child_log(e, "smtp", 1);
        execl(py, py, script, port, e->mail_dir, (char *)NULL);
        _exit(127);
    }
    snprintf(ready, sizeof ready, "%s/ready", e->mail_dir);
    for (int i = 0; i < 300 && access(ready, F_OK) != 0; i++) {
        int st;
        ck_assert_msg(waitpid(e->smtp_pid, &st, WNOHANG) == 0,
                      "smtp_sink.py exited (is python3-aiosmtpd installed for %s?)", py);
        usleep(50000);
    }
    ck_assert_msg(access(ready, F_OK) == 0, "aiosmtpd did not start");
}

/* Value of header `name` in a message (first occurrence), unfolded. */
static void header(const char *msg, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (*p == '\r' || *p == '\n')
            return; /* end of the header block */
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            p += nl + 1;
            while (*p == ' ')
                p++;
            size_t n = strcspn(p, "\r\n");
            snprintf(out, cap, "%.*s", (int)n, p);
            return;
        }
    }
}

json_t *e2e_mail(e2e_t *e)
{
    json_t *all = json_array();
    DIR *d = opendir(e->mail_dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 4 || strcmp(de->d_name + n - 4, ".eml") != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", e->mail_dir, de->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static char buf[65536];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = '\0';
        fclose(f);
        char to[256], subject[512], mid[256], key[256];
        header(buf, "X-Envelope-To", to, sizeof to);
        header(buf, "Subject", subject, sizeof subject);
        header(buf, "Message-ID", mid, sizeof mid);
        header(buf, "X-Settle-Idempotency-Key", key, sizeof key);
        json_array_append_new(all,
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "file", de->d_name, "to", to,
                                        "subject", subject, "message_id", mid, "idem_key", key));
    }
    closedir(d);
    return all;
}

/* ---- stripe-sim ------------------------------------------------------------ */

static void sim_start(e2e_t *e)
{
    char url[128], seed[16], start[32];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/webhooks/stripe", e->http_port);
    snprintf(seed, sizeof seed, "%u", e->o.seed ? e->o.seed : 7);
    /* In daemon mode settled checks webhook signatures against the wall
     * clock (default tolerance): the sim starts at the real time then. */
    snprintf(start, sizeof start, "%lld",
             e->o.daemon ? (long long)time(NULL) : (long long)E2E_VIRTUAL_START);
    const char *argv[24];
    int n = 0;
    argv[n++] = "stripe-sim";
    argv[n++] = "--port";
    argv[n++] = "0";
    argv[n++] = "--quiet";
    argv[n++] = "--threads"; /* injected latency sleeps in a worker: keep them from queueing */
    argv[n++] = "32";
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--webhook";
    argv[n++] = url;
    argv[n++] = "--webhook-secret";
    argv[n++] = E2E_WEBHOOK_SECRET;
    if (e->o.virtual_clock) {
        argv[n++] = "--clock-start";
        argv[n++] = start;
        argv[n++] = "--frozen-clock";
    }
    if (e->o.faults) {
        argv[n++] = "--faults";
        argv[n++] = e->o.faults;
    }
    argv[n] = NULL;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    e->sim_pid = fork();
    ck_assert_int_ge(e->sim_pid, 0);
    if (e->sim_pid == 0) {
        child_log(e, "stripe-sim", 0);
        dup2(fds[1], 1);
        close(fds[0]);
        execv(STRIPE_SIM_BIN, (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[256] = "";
    ck_assert_msg(fgets(line, sizeof line, out) != NULL, "stripe-sim did not start");
    ck_assert_int_eq(sscanf(line, "stripe-sim listening on 127.0.0.1:%u", &e->sim_port), 1);
    fclose(out);
}

typedef struct text {
    char *s;
    size_t len;
} text_t;

static size_t keep(char *p, size_t size, size_t n, void *ud)
{
    text_t *t = ud;
    char *s = realloc(t->s, t->len + size * n + 1);
    if (s == NULL)
        return 0;
    memcpy(s + t->len, p, size * n);
    t->len += size * n;
    s[t->len] = '\0';
    t->s = s;
    return size * n;
}

static json_t *http_json(const char *method, const char *url, const char *auth, const char *ctype,
                         const char *body, long *status)
{
    text_t t = {NULL, 0};
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char line[256];
    if (auth) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", auth);
        h = curl_slist_append(h, line);
    }
    if (ctype) {
        snprintf(line, sizeof line, "Content-Type: %s", ctype);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)&t);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    if (status)
        *status = st;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    json_t *j = t.s ? json_loads(t.s, 0, NULL) : NULL;
    ck_assert_msg(j != NULL, "%s %s: no JSON answer (%ld): %s", method, url, st,
                  t.s ? t.s : "(empty)");
    free(t.s);
    return j;
}

json_t *e2e_sim(e2e_t *e, const char *method, const char *path, const char *form, long *status)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", e->sim_port, path);
    return http_json(method, url, E2E_STRIPE_KEY, form ? "application/x-www-form-urlencoded" : NULL,
                     form, status);
}

/* ---- settled as a child process ---------------------------------------------------- */

static const char *settled_bin(void)
{
    static char bin[1024];
    const char *dir = getenv("SETTLE_BINARY_DIR");
    ck_assert_msg(dir != NULL, "SETTLE_BINARY_DIR is not set (run the test through ctest)");
    snprintf(bin, sizeof bin, "%s/engine/daemon/settled", dir);
    return bin;
}

int e2e_settled(e2e_t *e, const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = "settled";
    for (int i = 0; args[i] != NULL && n < 28; i++)
        argv[n++] = args[i];
    argv[n++] = "--dsn";
    argv[n++] = e->dsn;
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        child_log(e, "settled-cli", 0);
        execv(settled_bin(), (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* settled run --http, configured only through flags and the environment
 * (docs/activities.md, docs/http-api.md), as an operator would run it. */
static void daemon_start(e2e_t *e)
{
    char http[64], stripe[128], smtp[128], erp[300], tokens[128];
    snprintf(http, sizeof http, "127.0.0.1:%u", e->http_port);
    snprintf(stripe, sizeof stripe, "http://127.0.0.1:%u", e->sim_port);
    snprintf(smtp, sizeof smtp, "smtp://127.0.0.1:%d", e->smtp_port);
    snprintf(erp, sizeof erp, "%s", e->act.erp_url);
    snprintf(tokens, sizeof tokens, "%s:write", E2E_API_TOKEN);
    const char *bin = settled_bin();
    e->settled_pid = fork();
    ck_assert_int_ge(e->settled_pid, 0);
    if (e->settled_pid == 0) {
        setenv("STRIPE_API_BASE", stripe, 1);
        setenv("STRIPE_API_KEY", E2E_STRIPE_KEY, 1);
        setenv("SETTLE_SMTP_URL", smtp, 1);
        setenv("SETTLE_SMTP_FROM", e->act.smtp_from, 1);
        setenv("SETTLE_MAIL_DOMAIN", e->act.mail_domain, 1);
        setenv("SETTLE_TEMPLATE_DIR", e->act.template_dir, 1);
        setenv("SETTLE_ERP_URL", erp, 1);
        setenv("SETTLE_WEBHOOK_SECRETS", E2E_WEBHOOK_SECRET, 1);
        setenv("SETTLE_API_TOKENS", tokens, 1);
        unsetenv("SETTLE_CRASH_AT");
        if (freopen("/dev/null", "w", stdout) == NULL)
            _exit(126);
        child_log(e, "settled", 0);
        execl(bin, bin, "run", "--dsn", e->dsn, "--clock", e->o.virtual_clock ? "virtual" : "real",
              "--http", http, "--node", "e2e-daemon", (char *)NULL);
        _exit(127);
    }
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/readyz", e->http_port);
    for (int i = 0;; i++) {
        int st;
        ck_assert_msg(waitpid(e->settled_pid, &st, WNOHANG) == 0, "settled run exited (%d)", st);
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 2L);
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        if (code == 200)
            break;
        ck_assert_msg(i < 500, "settled's /readyz did not answer 200 in 10 s");
        usleep(20000);
    }
}

static void daemon_stop(e2e_t *e)
{
    kill(e->settled_pid, SIGTERM);
    int st = 0;
    for (int i = 0; i < 2000; i++) {
        if (waitpid(e->settled_pid, &st, WNOHANG) == e->settled_pid) {
            ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                          "settled did not exit cleanly on SIGTERM (status %d)", st);
            return;
        }
        usleep(10000);
    }
    kill(e->settled_pid, SIGKILL);
    waitpid(e->settled_pid, NULL, 0);
    ck_abort_msg("settled did not stop within 20 s of SIGTERM");
}

/* ---- database, executor, API ------------------------------------------------- */

void e2e_init(e2e_t *e, const e2e_opts_t *o)
{
    memset(e, 0, sizeof *e);
    e->o = *o;
    pthread_mutex_init(&e->erp_mu, NULL);
    curl_global_init(CURL_GLOBAL_ALL);
    st_test_create_db(e->dsn, sizeof e->dsn, e->db, sizeof e->db);
    logs_dir();
    e->pg = st_test_connect(e->dsn);
    st_err_t err;
    ck_assert_msg(st_migrate_apply(e->pg, NULL, &err) == 0, "migrate: %s %s", err.msg, err.detail);
    e->ops_loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = e->dsn};
    e->ops = st_store_conn_new(e->ops_loop, &cc, &err);
    ck_assert_msg(e->ops != NULL, "store: %s %s", err.msg, err.detail);

    /* settle's HTTP side: webhooks from the sim, the flow API for tests.
     * Sim time may run weeks ahead of the wall clock: accept its stamps. */
    static const char *const secrets[] = {E2E_WEBHOOK_SECRET};
    static const st_http_token_t tokens[] = {{E2E_API_TOKEN, ST_HTTP_ROLE_WRITE}};
    st_http_cfg_t hc = {.dsn = e->dsn,
                        .webhook_secrets = secrets,
                        .n_webhook_secrets = 1,
                        .tolerance_s = 3LL * 365 * 86400,
                        .tokens = tokens,
                        .n_tokens = 1,
                        .threads = 2};
    if (o->daemon) {
        e->http_port = (unsigned)free_port(); /* settled listens there */
    } else {
        e->http = st_http_server_new(&hc, &err);
        ck_assert_msg(e->http != NULL, "http: %s %s", err.msg, err.detail);
        e->http_port = st_http_server_port(e->http);
    }

    sim_start(e);
    smtp_start(e);
    e->erp = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, erp_handler, e,
                              MHD_OPTION_NOTIFY_COMPLETED, erp_done, e, MHD_OPTION_END);
    ck_assert_ptr_nonnull(e->erp);
    e->erp_port = MHD_get_daemon_info(e->erp, MHD_DAEMON_INFO_BIND_PORT)->port;

    st_act_config_defaults(&e->act);
    snprintf(e->act.stripe_base, sizeof e->act.stripe_base, "http://127.0.0.1:%u", e->sim_port);
    snprintf(e->act.stripe_key, sizeof e->act.stripe_key, "%s", E2E_STRIPE_KEY);
    snprintf(e->act.smtp_url, sizeof e->act.smtp_url, "smtp://127.0.0.1:%d", e->smtp_port);
    snprintf(e->act.smtp_from, sizeof e->act.smtp_from, "Billing <billing@shop.example>");
    snprintf(e->act.mail_domain, sizeof e->act.mail_domain, "shop.example");
    st_test_src("engine/activity/templates", e->act.template_dir, sizeof e->act.template_dir);
    snprintf(e->act.erp_url, sizeof e->act.erp_url, "http://127.0.0.1:%u/erp", e->erp_port);

    e->loop = ev_loop_new(EVFLAG_AUTO);
    ev_timer_init(&e->tick, on_tick, 0.005, 0.005);
    ev_timer_start(e->loop, &e->tick);
    if (o->daemon) {
        daemon_start(e);
        return;
    }
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = e->dsn;
    cfg.node_name = "e2e";
    cfg.clock = o->virtual_clock ? ST_CLOCK_VIRTUAL : ST_CLOCK_REAL;
    cfg.virtual_start_us = E2E_VIRTUAL_START * 1000000;
    cfg.claim_interval_ms = 50;
    cfg.act = &e->act;
    ck_assert_msg(st_exec_new(e->loop, &cfg, &e->x, &err) == 0, "exec: %s", err.msg);
    ck_assert_msg(st_exec_start(e->x, &err) == 0, "exec start: %s %s", err.msg, err.detail);
}

void e2e_fini(e2e_t *e)
{
    if (e->settled_pid > 0)
        daemon_stop(e);
    if (e->x) {
        st_exec_shutdown(e->x);
        for (int i = 0; i < 4000 && !st_exec_stopped(e->x); i++)
            ev_run(e->loop, EVRUN_ONCE);
        st_exec_free(e->x);
    }
    ev_timer_stop(e->loop, &e->tick);
    ev_loop_destroy(e->loop);
    MHD_stop_daemon(e->erp);
    kill(e->sim_pid, SIGTERM);
    int st = 0;
    waitpid(e->sim_pid, &st, 0);
    kill(e->smtp_pid, SIGTERM);
    waitpid(e->smtp_pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->mail_dir);
    (void)system(cmd);
    if (e->http)
        st_http_server_free(e->http);
    st_store_conn_free(e->ops);
    ev_loop_destroy(e->ops_loop);
    PQfinish(e->pg);
    st_test_drop_db(e->db);
    pthread_mutex_destroy(&e->erp_mu);
    /* Last, so that a sanitizer report of the sim fails the test after the
     * cleanup ran. */
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "stripe-sim ended badly (status %d)", st);
}

char *e2e_read_src(const char *rel)
{
    char path[1024];
    st_test_src(rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

void e2e_deploy_text(e2e_t *e, const char *name, const char *src)
{
    st_ops_deployed_t d;
    char *diags = NULL;
    st_err_t err;
    int rc = st_ops_deploy(e->ops, name, src, strlen(src), &d, &diags, &err);
    ck_assert_msg(rc == 0, "deploy %s: %s\n%s", name, err.msg, diags ? diags : "");
    ck_assert_msg(d.warnings == 0, "deploy %s: warnings\n%s", name, diags ? diags : "");
    free(diags);
}

void e2e_deploy_file(e2e_t *e, const char *rel)
{
    char *src = e2e_read_src(rel);
    e2e_deploy_text(e, rel, src);
    free(src);
}

const char *e2e_start(e2e_t *e, const char *flow, const char *inputs_json)
{
    static st_start_out_t s;
    if (e->o.daemon) {
        char url[128], *body;
        snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/instances", e->http_port);
        ck_assert_int_ge(asprintf(&body, "{\"flow\": \"%s\", \"inputs\": %s}", flow, inputs_json),
                         0);
        long st = 0;
        json_t *j = http_json("POST", url, E2E_API_TOKEN, "application/json", body, &st);
        free(body);
        ck_assert_msg(st == 201, "start %s through the API: %ld", flow, st);
        snprintf(s.id, sizeof s.id, "%s", json_string_value(json_object_get(j, "id")));
        json_decref(j);
        return s.id;
    }
    st_err_t err;
    json_t *inputs = NULL;
    ck_assert_msg(st_start_inputs_parse(inputs_json, &inputs, &err) == 0, "inputs: %s", err.msg);
    st_start_req_t req = {.flow = flow,
                          .inputs = inputs,
                          .at = ST_START_AT_GIVEN,
                          .at_us = st_clock_now_us(st_exec_clock(e->x))};
    int rc = st_start(e->ops, NULL, &req, &s, &err);
    json_decref(inputs);
    ck_assert_msg(rc == 0, "start %s: %s %s", flow, err.msg, err.detail);
    return s.id;
}

long e2e_api_post(e2e_t *e, const char *path, const char *json_body)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", e->http_port, path);
    long st = 0;
    json_decref(http_json("POST", url, E2E_API_TOKEN, "application/json", json_body, &st));
    return st;
}

long e2e_api_signal(e2e_t *e, const char *id, const char *name, int finished_ok)
{
    char url[256], body[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/instances/%s/signals", e->http_port, id);
    snprintf(body, sizeof body, "{\"name\": \"%s\", \"payload\": {}}", name);
    long st = 0;
    json_t *j = http_json("POST", url, E2E_API_TOKEN, "application/json", body, &st);
    ck_assert_msg(st == 202 || (finished_ok && st == 409), "signal %s to %s: %ld", name, id, st);
    json_decref(j);
    return st;
}

void e2e_advance(e2e_t *e, int64_t seconds)
{
    char form[64];
    snprintf(form, sizeof form, "seconds=%lld", (long long)seconds);
    long st = 0;
    json_t *j = e2e_sim(e, "POST", "/_sim/clock/advance", form, &st);
    ck_assert_msg(st == 200, "sim clock advance: %ld", st);
    json_decref(j);
    st_err_t err;
    if (e->o.daemon) {
        char d[32];
        snprintf(d, sizeof d, "%llds", (long long)seconds);
        const char *args[] = {"clock", "advance", d, NULL};
        ck_assert_int_eq(e2e_settled(e, args), 0);
        st_store_clock_t c = {0, 0};
        double t0 = mono();
        for (;;) {
            ck_assert_msg(st_store_clock_read(e->ops, &c, &err) == 0, "clock: %s", err.msg);
            if (c.now_us >= c.target_us)
                return;
            ck_assert_msg(mono() - t0 < 60, "settled's clock did not reach its target in 60 s");
            usleep(5000);
        }
    }
    int64_t target = st_clock_now_us(st_exec_clock(e->x)) + seconds * 1000000;
    ck_assert_msg(st_exec_advance(e->x, seconds * 1000000, &err) == 0, "advance: %s", err.msg);
    /* The advance runs on the loop (the horizon loader pages stored wake
     * times in on the way): turn it until the clock got there. */
    double t0 = mono();
    while (st_clock_now_us(st_exec_clock(e->x)) < target) {
        ck_assert_msg(mono() - t0 < 60, "the virtual clock did not reach its target in 60 s");
        ev_run(e->loop, EVRUN_ONCE);
    }
}

long long e2e_scalar(e2e_t *e, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = st_test_exec(e->pg, sql);
    long long v = PQntuples(r) == 0 || PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

const char *e2e_text(e2e_t *e, const char *fmt, ...)
{
    static char bufs[4][8192]; /* rotating: a message may hold several answers */
    static unsigned next;
    char *buf = bufs[next++ % 4], sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = st_test_exec(e->pg, sql);
    snprintf(buf, sizeof bufs[0], "%s",
             PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return buf;
}

int e2e_until(e2e_t *e, const char *sql, long long want, double timeout_s)
{
    double t0 = mono();
    for (;;) {
        if (e2e_scalar(e, "%s", sql) == want)
            return 1;
        if (mono() - t0 > timeout_s)
            return 0;
        if (e->o.daemon)
            usleep(10000);
        else
            for (int i = 0; i < 20; i++)
                ev_run(e->loop, EVRUN_ONCE);
    }
}

void e2e_spin(e2e_t *e, double seconds)
{
    double t0 = mono();
    while (mono() - t0 < seconds) {
        if (e->o.daemon)
            usleep(10000);
        else
            ev_run(e->loop, EVRUN_ONCE);
    }
}

void e2e_assert_gapless(e2e_t *e)
{
    long long bad = e2e_scalar(e, "SELECT count(*) FROM instances i WHERE "
                                  "(SELECT count(DISTINCT seq) FROM history h "
                                  " WHERE h.instance_id = i.id) <> i.seq + 1 OR "
                                  "(SELECT max(seq) FROM history h WHERE h.instance_id = i.id) "
                                  " <> i.seq");
    ck_assert_msg(bad == 0, "%lld instance(s) have gaps in their history", bad);
}
