/*
 * http_fixture.c — see http_fixture.h.
 */
#include "http_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>

#include "http/st_webhook_sig.h"
#include "flowc/st_flowc.h"
#include "store/st_migrate.h"
#include "store/st_store.h"

void fx_open_cfg(fx_t *f, int migrate, st_http_cfg_t *cfg)
{
    static const char *const secrets[] = {FX_SECRET_NEW, FX_SECRET_OLD};
    static const st_http_token_t tokens[] = {{FX_TOKEN_WRITE, ST_HTTP_ROLE_WRITE},
                                             {FX_TOKEN_READ, ST_HTTP_ROLE_READ}};
    memset(f, 0, sizeof *f);
    st_test_create_db(f->dsn, sizeof f->dsn, f->db, sizeof f->db);
    f->pg = st_test_connect(f->dsn);
    st_err_t err;
    if (migrate)
        ck_assert_msg(st_migrate_apply(f->pg, NULL, &err) == 0, "migrate: %s", err.msg);
    f->metrics = st_metrics_new();
    cfg->dsn = f->dsn;
    cfg->metrics = f->metrics;
    if (cfg->webhook_secrets == NULL) {
        cfg->webhook_secrets = secrets;
        cfg->n_webhook_secrets = 2;
    }
    if (cfg->tokens == NULL) {
        cfg->tokens = tokens;
        cfg->n_tokens = 2;
    }
    if (cfg->body_limit == 0)
        cfg->body_limit = FX_BODY_LIMIT;
    f->srv = st_http_server_new(cfg, &err);
    ck_assert_msg(f->srv != NULL, "server: %s", err.msg);
    f->port = st_http_server_port(f->srv);
    ck_assert_uint_ne(f->port, 0);
}

void fx_open(fx_t *f, int migrate)
{
    st_http_cfg_t cfg = {0};
    fx_open_cfg(f, migrate, &cfg);
}

void fx_close(fx_t *f)
{
    st_http_server_free(f->srv);
    st_metrics_free(f->metrics);
    PQfinish(f->pg);
    st_test_drop_db(f->db);
}

void fx_deploy(fx_t *f, const char *path, const char *src)
{
    st_flowc_opts_t opts = {0};
    st_flowc_result_t *r = NULL;
    st_err_t err;
    ck_assert_int_eq(st_flowc_compile(path, src, strlen(src), &opts, &r, &err), 0);
    const Settle__V1__Program *p = st_flowc_result_program(r);
    ck_assert_msg(p != NULL, "flow %s has %u errors", path, st_flowc_result_errors(r));
    uint8_t *bytes = NULL;
    size_t blen = 0;
    char hash[65];
    ck_assert_int_eq(st_flowc_program_pack(p, &bytes, &blen, &err), 0);
    ck_assert_int_eq(st_flowc_hash_hex(bytes, blen, hash, &err), 0);
    struct ev_loop *loop = ev_loop_new(0);
    st_store_conn_cfg_t ccfg = {.dsn = f->dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &ccfg, &err);
    ck_assert_msg(c != NULL, "store: %s", err.msg);
    st_store_program_t sp = {hash, p->name, (int)p->format_version, path, src, bytes, blen};
    int created = 0;
    ck_assert_int_eq(st_store_program_register(c, &sp, &created, &err), 0);
    ck_assert_int_eq(st_store_flow_set_current(c, p->name, hash, &err), 0);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
    free(bytes);
    st_flowc_result_free(r);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    fx_resp_t *r = ud;
    size_t add = size * n;
    char *grown = realloc(r->body, r->len + add + 1);
    ck_assert_ptr_nonnull(grown);
    r->body = grown;
    memcpy(r->body + r->len, p, add);
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    fx_resp_t *r = ud;
    size_t used = strlen(r->headers), add = size * n;
    if (used + add < sizeof r->headers) {
        memcpy(r->headers + used, p, add);
        r->headers[used + add] = '\0';
    }
    return add;
}

void fx_request(fx_t *f, const char *method, const char *path, const char *const *headers,
                const char *body, size_t len, fx_resp_t *out)
{
    memset(out, 0, sizeof *out);
    out->body = calloc(1, 1);
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", f->port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    CURLcode rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

void fx_resp_free(fx_resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

void fx_api(fx_t *f, const char *method, const char *path, const char *token, const char *body,
            fx_resp_t *out)
{
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token ? token : "");
    const char *h[] = {"Content-Type: application/json", token ? auth : NULL, NULL};
    fx_request(f, method, path, h, body, body ? strlen(body) : 0, out);
}

void fx_webhook(fx_t *f, const char *secret, int64_t t, const char *payload, fx_resp_t *out)
{
    char sig[128], hdr[200];
    ck_assert_int_eq(st_webhook_sig_sign(secret, t, payload, strlen(payload), sig, sizeof sig), 0);
    snprintf(hdr, sizeof hdr, "Stripe-Signature: %s", sig);
    const char *h[] = {"Content-Type: application/json; charset=utf-8", hdr, NULL};
    fx_request(f, "POST", "/webhooks/stripe", h, payload, strlen(payload), out);
}

void fx_assert_error(const fx_resp_t *r, long status, const char *type)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld; body %s", r->status, status, r->body);
    json_t *j = json_loads(r->body, 0, NULL);
    ck_assert_msg(j != NULL, "error body is not JSON: %s", r->body);
    json_t *e = json_object_get(j, "error");
    const char *t = json_string_value(json_object_get(e, "type"));
    const char *m = json_string_value(json_object_get(e, "message"));
    const char *h = json_string_value(json_object_get(e, "hint"));
    ck_assert_msg(t && strcmp(t, type) == 0, "error type %s, want %s", t ? t : "(none)", type);
    ck_assert_msg(m && *m && h && *h, "error lacks message or hint: %s", r->body);
    ck_assert_ptr_null(strstr(r->body, FX_SECRET_NEW));
    ck_assert_ptr_null(strstr(r->body, FX_SECRET_OLD));
    ck_assert_ptr_null(strstr(r->body, FX_TOKEN_WRITE));
    ck_assert_ptr_null(strstr(r->body, FX_TOKEN_READ));
    json_decref(j);
}

long long fx_scalar(fx_t *f, const char *sql)
{
    PGresult *r = st_test_exec(f->pg, sql);
    ck_assert_int_eq(PQntuples(r), 1);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

const char *fx_text(fx_t *f, const char *sql)
{
    static char buf[4096];
    PGresult *r = st_test_exec(f->pg, sql);
    ck_assert_int_eq(PQntuples(r), 1);
    snprintf(buf, sizeof buf, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return buf;
}

const char *fx_json_str(const fx_resp_t *r, const char *field)
{
    static char buf[512];
    buf[0] = '\0';
    json_t *j = json_loads(r->body, 0, NULL);
    json_t *v = json_object_get(j, field);
    if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    json_decref(j);
    return buf;
}

/* ---- stripe-sim ---------------------------------------------------------- */

void fx_sim_start(fx_sim_t *s, const fx_t *f, const char *bin)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/webhooks/stripe", f->port);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(bin, "stripe-sim", "--port", "0", "--quiet", "--seed", "11", "--webhook", url,
              "--webhook-secret", FX_SECRET_NEW, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[256] = "";
    ck_assert_msg(fgets(line, sizeof line, out) != NULL, "stripe-sim did not start");
    ck_assert_int_eq(sscanf(line, "stripe-sim listening on 127.0.0.1:%u", &s->port), 1);
    fclose(out);
}

void fx_sim_stop(fx_sim_t *s)
{
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
}

typedef struct sim_text {
    char s[4096];
} sim_text_t;

static size_t sim_keep(char *p, size_t size, size_t n, void *ud)
{
    sim_text_t *t = ud;
    size_t used = strlen(t->s), room = sizeof t->s - 1 - used;
    size_t take = size * n < room ? size * n : room;
    memcpy(t->s + used, p, take);
    t->s[used + take] = '\0';
    return size * n;
}

json_t *fx_sim_post(const fx_sim_t *s, const char *path, const char *fields)
{
    char url[256];
    sim_text_t body = {""};
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", s->port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h =
        curl_slist_append(NULL, "Authorization: Bearer sk_test_settle_http_0000000000000000");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, fields);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sim_keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, (void *)&body);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    ck_assert_msg(status == 200, "stripe-sim %s: %ld %s", path, status, body.s);
    json_t *j = json_loads(body.s, 0, NULL);
    ck_assert_msg(j != NULL, "stripe-sim %s: not JSON: %s", path, body.s);
    return j;
}
