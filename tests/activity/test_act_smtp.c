/*
 * test_act_smtp.c — email.send against a real SMTP server: aiosmtpd
 * (Debian's python3-aiosmtpd) started by the test with smtp_sink.py, which
 * writes every accepted message to a directory we then read.
 */
#include <ev.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "activity/act_int.h"
#include "st_test.h"

typedef struct smtp_fixture {
    pid_t pid;
    int port;
    char dir[64];
    struct ev_loop *loop;
    st_act_runner_t *r;
} smtp_fixture_t;

typedef struct got {
    int n;
    char outcome[32];
    char message[ST_ACT_MSG_MAX];
    char message_id[256];
} got_t;

static void on_res(const st_act_result_t *r, void *user)
{
    got_t *g = user;
    g->n++;
    snprintf(g->outcome, sizeof g->outcome, "%s", r->outcome);
    snprintf(g->message, sizeof g->message, "%s", r->message);
    const char *mid = json_string_value(json_object_get(r->result, "message_id"));
    snprintf(g->message_id, sizeof g->message_id, "%s", mid ? mid : "");
}

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

/* A self-signed certificate for 127.0.0.1 in f->dir (openssl CLI). */
static void make_cert(smtp_fixture_t *f)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s/key.pem -out %s/cert.pem "
             ">/dev/null 2>&1",
             f->dir, f->dir);
    ck_assert_msg(system(cmd) == 0, "openssl could not make a test certificate");
}

static void start_server(smtp_fixture_t *f, bool tls)
{
    char script[512], port[16], ready[128], cert[96], key[96];
    st_test_src("tests/activity/smtp_sink.py", script, sizeof script);
    snprintf(f->dir, sizeof f->dir, "/tmp/st_act_smtpXXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    f->port = free_port();
    snprintf(port, sizeof port, "%d", f->port);
    snprintf(cert, sizeof cert, "%s/cert.pem", f->dir);
    snprintf(key, sizeof key, "%s/key.pem", f->dir);
    if (tls)
        make_cert(f);
    const char *py = getenv("SETTLE_PYTHON") ? getenv("SETTLE_PYTHON") : "/usr/bin/python3";
    f->pid = fork();
    ck_assert_int_ge(f->pid, 0);
    if (f->pid == 0) {
        if (tls)
            execl(py, py, script, port, f->dir, cert, key, (char *)NULL);
        else
            execl(py, py, script, port, f->dir, (char *)NULL);
        _exit(127);
    }
    snprintf(ready, sizeof ready, "%s/ready", f->dir);
    for (int i = 0; i < 300 && access(ready, F_OK) != 0; i++) {
        int st;
        ck_assert_msg(waitpid(f->pid, &st, WNOHANG) == 0,
                      "smtp_sink.py exited (is python3-aiosmtpd installed for %s?)", py);
        usleep(50000);
    }
    ck_assert_msg(access(ready, F_OK) == 0, "aiosmtpd did not start");
}

static void setup(smtp_fixture_t *f, bool tls)
{
    memset(f, 0, sizeof *f);
    start_server(f, tls);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    st_act_config_t cfg;
    st_act_config_defaults(&cfg);
    snprintf(cfg.smtp_url, sizeof cfg.smtp_url, "smtp://127.0.0.1:%d", f->port);
    snprintf(cfg.smtp_from, sizeof cfg.smtp_from, "Billing <billing@shop.example>");
    snprintf(cfg.mail_domain, sizeof cfg.mail_domain, "shop.example");
    st_test_src("engine/activity/templates", cfg.template_dir, sizeof cfg.template_dir);
    if (tls)
        snprintf(cfg.smtp_ca_file, sizeof cfg.smtp_ca_file, "%s/cert.pem", f->dir);
    f->r = st_act_runner_new(f->loop, &cfg, NULL);
    ck_assert_ptr_nonnull(f->r);
}

static void teardown(smtp_fixture_t *f)
{
    st_act_runner_free(f->r);
    ev_loop_destroy(f->loop);
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        int st;
        waitpid(f->pid, &st, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static void send1(smtp_fixture_t *f, got_t *g, json_t *args, const char *key)
{
    st_act_request_t rq = {"email.send", args, key, 10000000, {1, 0, 0}, 1};
    int want = g->n + 1;
    ck_assert_int_eq(st_act_start(f->r, &rq, on_res, g, NULL), 0);
    ev_timer t;
    ev_timer_init(&t, tick, 0.02, 0.02);
    ev_timer_start(f->loop, &t);
    double deadline = ev_time() + 20;
    while (g->n < want && ev_time() < deadline)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &t);
    ck_assert_int_eq(g->n, want);
    json_decref(args);
}

/* Contents of the n-th received message (caller frees), NULL if none. */
static char *received(smtp_fixture_t *f, int n)
{
    char path[160];
    snprintf(path, sizeof path, "%s/msg%03d.eml", f->dir, n);
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    static char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    return strdup(buf);
}

START_TEST(smtp_delivers_multipart_message)
{
    smtp_fixture_t f;
    setup(&f, false);
    got_t g = {0};
    json_t *a =
        json_pack("{s:[s,s],s:s,s:s,s:s,s:i,s:{s:i,s:s}}", "to", "ann@example.com",
                  "bob@example.com", "template", "payment_failed", "name", "Ann & <Co>", "invoice",
                  "in_77", "attempt", 2, "amount", "minor", 4200, "currency", "eur");
    send1(&f, &g, a, "settle_0190aa_12");
    ck_assert_msg(strcmp(g.outcome, "sent") == 0, "%s: %s", g.outcome, g.message);
    ck_assert_str_eq(g.message_id, "<settle_0190aa_12@shop.example>");
    char *m = received(&f, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "X-Envelope-From: billing@shop.example\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "X-Envelope-To: ann@example.com,bob@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "X-Sink-TLS: no\r\n")); /* not offered, not used */
    ck_assert_ptr_nonnull(strstr(m, "Subject: Your payment for in_77 did not go through\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "Message-ID: <settle_0190aa_12@shop.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "To: ann@example.com, bob@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "Content-Type: multipart/alternative;"));
    ck_assert_ptr_nonnull(strstr(m, "Content-Type: text/plain; charset=utf-8"));
    ck_assert_ptr_nonnull(strstr(m, "Content-Type: text/html; charset=utf-8"));
    ck_assert_ptr_nonnull(strstr(m, "Hello Ann & <Co>,"));                  /* text part */
    ck_assert_ptr_nonnull(strstr(m, "<p>Hello Ann &amp; &lt;Co&gt;,</p>")); /* HTML part */
    ck_assert_ptr_nonnull(strstr(m, "We tried to collect 42.00 EUR for in_77"));
    ck_assert_ptr_nonnull(strstr(m, "<strong>42.00 EUR</strong>"));
    ck_assert_ptr_nonnull(strstr(m, "(attempt 2)"));
    ck_assert_ptr_null(strstr(m, "{{"));
    free(m);

    /* A retry of the same step carries the same Message-ID. */
    a = json_pack("{s:s,s:s}", "to", "ann@example.com", "template", "update_card");
    send1(&f, &g, a, "settle_0190aa_13");
    a = json_pack("{s:s,s:s}", "to", "ann@example.com", "template", "update_card");
    send1(&f, &g, a, "settle_0190aa_13");
    char *m2 = received(&f, 2), *m3 = received(&f, 3);
    ck_assert_ptr_nonnull(m2);
    ck_assert_ptr_nonnull(m3);
    ck_assert_ptr_nonnull(strstr(m2, "Message-ID: <settle_0190aa_13@shop.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(m3, "Message-ID: <settle_0190aa_13@shop.example>\r\n"));
    ck_assert_ptr_nonnull(strstr(m2, "Subject: Please update your card\r\n"));
    free(m2);
    free(m3);
    teardown(&f);
}
END_TEST

START_TEST(smtp_starttls_when_offered)
{
    smtp_fixture_t f;
    setup(&f, true);
    got_t g = {0};
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "tls@example.com", "template", "update_card"),
          "settle_tls_1");
    ck_assert_msg(strcmp(g.outcome, "sent") == 0, "%s: %s", g.outcome, g.message);
    char *m = received(&f, 1);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "X-Sink-TLS: yes\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "Message-ID: <settle_tls_1@shop.example>\r\n"));
    free(m);
    teardown(&f);
}
END_TEST

START_TEST(smtp_rejections_and_failures)
{
    smtp_fixture_t f;
    setup(&f, false);
    got_t g = {0};
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "x@reject.example", "template", "update_card"),
          "settle_r_1");
    ck_assert_str_eq(g.outcome, "failed");
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "x@later.example", "template", "update_card"),
          "settle_r_2");
    ck_assert_str_eq(g.outcome, "transient");
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "x@example.com", "template", "no_such"),
          "settle_r_3");
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "no_such"));
    /* authenticate_payment needs action_url: a missing variable fails, naming it. */
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "x@example.com", "template", "authenticate_payment"),
          "settle_r_4");
    ck_assert_str_eq(g.outcome, "failed");
    ck_assert_ptr_nonnull(strstr(g.message, "action_url"));
    ck_assert_ptr_null(received(&f, 1));
    /* The server going away is transient. */
    kill(f.pid, SIGTERM);
    int st;
    waitpid(f.pid, &st, 0);
    send1(&f, &g, json_pack("{s:s,s:s}", "to", "x@example.com", "template", "update_card"),
          "settle_r_5");
    ck_assert_str_eq(g.outcome, "transient");
    f.pid = 0; /* already reaped */
    teardown(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("activity_smtp");
    TCase *tc = tcase_create("smtp");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, smtp_delivers_multipart_message);
    tcase_add_test(tc, smtp_starttls_when_offered);
    tcase_add_test(tc, smtp_rejections_and_failures);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
