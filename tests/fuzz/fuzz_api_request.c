/*
 * fuzz_api_request.c — libFuzzer target for the flow API's request
 * parsing, through the functions the server runs: the route table
 * (st_http_route_match), the bearer-token check (st_http_auth_header),
 * body parsing (st_http_body_parse) and the arguments of start, signal,
 * cancel and list, and instance ids (st_http_check_id).
 *
 * Layer: tests. The first byte picks a mode (the seeds in
 * tests/fuzz/corpus/api_request start with its digit):
 *   0  "METHOD PATH": a route, whose captured ids rebuild the path, or a
 *      404/405 (405 with an Allow header);
 *   1  "IDEMPOTENCY-KEY\nBODY" of POST /v1/instances;
 *   2  BODY of POST /v1/instances/{id}/signals;
 *   3  "CONTENT-TYPE\nBODY" of POST /v1/instances/{id}/cancel;
 *   4  "key=value" lines: the query of GET /v1/instances;
 *   5  [need] AUTHORIZATION: checked against a model of the bearer rules,
 *      and no answer quotes the presented token;
 *   6  an instance id: accepted exactly when it is a canonical 8-4-4-4-12 UUID;
 *   7  raw bytes through the input rules (common/st_input.h) that guard what
 *      reaches PostgreSQL: the UTF-8 check agrees with jansson's, the scrub
 *      makes any text valid, and keys / signal names accepted are UTF-8.
 * Every refusal must be a well-formed 4xx JSON error (never a 500); every
 * acceptance must satisfy what the handler relies on next.
 */
#include <ctype.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_http_util.h"
#include "common/st_input.h"
#include "http/st_http_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char JSON[] = "application/json";

static int model_uuid(const char *s);

/* Split "first\nrest": *rest points after the newline (or is NULL). */
static char *split_line(char *s, char **rest)
{
    char *nl = strchr(s, '\n');
    *rest = NULL;
    if (nl != NULL) {
        *nl = '\0';
        *rest = nl + 1;
    }
    return s;
}

static void fuzz_route(char *s)
{
    char *sp = strchr(s, ' ');
    if (sp == NULL)
        return;
    *sp = '\0';
    st_http_req_t *req = calloc(1, sizeof *req);
    st_http_resp_t resp = {0};
    FZ_CHECK(req != NULL);
    req->method = s;
    req->path = sp + 1;
    const st_http_route_t *r = st_http_route_match(req, &resp);
    if (r == NULL) {
        FZ_CHECK(resp.status == 404 || resp.status == 405);
        FZ_CHECK((resp.status == 405) == (resp.allow != NULL));
        fz_check_error(&resp, resp.status);
    } else {
        FZ_CHECK(resp.status == 0 && strcmp(r->method, req->method) == 0);
        /* Rebuild the path from the pattern and the captures. */
        char rebuilt[1024];
        size_t k = 0;
        unsigned np = 0;
        for (const char *p = r->pattern; *p; p++) {
            if (*p == '{') {
                const char *v = req->params[np++];
                FZ_CHECK(v != NULL && v[0] != '\0' && strchr(v, '/') == NULL);
                FZ_CHECK(k + strlen(v) < sizeof rebuilt);
                memcpy(rebuilt + k, v, strlen(v));
                k += strlen(v);
                p = strchr(p, '}');
            } else {
                FZ_CHECK(k + 1 < sizeof rebuilt);
                rebuilt[k++] = *p;
            }
        }
        rebuilt[k] = '\0';
        FZ_CHECK(strcmp(rebuilt, req->path) == 0);
        if (np > 0 && st_http_check_id(req->params[0], &resp) != 0)
            fz_check_error(&resp, 404);
    }
    free(resp.body);
    free(req);
}

static void fuzz_start(char *s, const char *end)
{
    char *body;
    const char *idem = split_line(s, &body);
    if (body == NULL)
        return;
    st_http_resp_t resp = {0};
    json_t *obj = st_http_body_parse(JSON, body, (size_t)(end - body), &resp);
    if (obj == NULL) {
        fz_check_error(&resp, 0);
        free(resp.body);
        return;
    }
    const char *flow = NULL, *key = NULL;
    json_t *inputs = NULL;
    if (st_http_start_args(obj, idem[0] ? idem : NULL, &flow, &inputs, &key, &resp) != 0) {
        fz_check_error(&resp, 422);
    } else {
        FZ_CHECK(resp.status == 0);
        FZ_CHECK(flow != NULL && flow[0] != '\0' && strlen(flow) <= 200);
        FZ_CHECK(inputs == NULL || json_is_object(inputs));
        FZ_CHECK(key == NULL || (key[0] != '\0' && strlen(key) <= 255));
        FZ_CHECK(key != NULL || idem[0] == '\0');
    }
    free(resp.body);
    json_decref(obj);
}

static void fuzz_signal(char *body, const char *end)
{
    st_http_resp_t resp = {0};
    json_t *obj = st_http_body_parse(JSON, body, (size_t)(end - body), &resp);
    const char *name = NULL;
    json_t *payload = NULL;
    if (obj == NULL) {
        fz_check_error(&resp, 0);
    } else if (st_http_signal_args(obj, &name, &payload, &resp) != 0) {
        fz_check_error(&resp, 422);
    } else {
        FZ_CHECK(resp.status == 0 && name != NULL && name[0] != '\0' && strlen(name) <= 200);
        FZ_CHECK(strncmp(name, "settle.", 7) != 0);
        for (const char *c = name; *c; c++)
            FZ_CHECK((unsigned char)*c > ' ' && *c != 0x7f);
        FZ_CHECK(payload == NULL || json_is_object(payload));
    }
    free(resp.body);
    json_decref(obj);
}

static void fuzz_cancel(char *s, const char *end)
{
    char *body;
    const char *ctype = split_line(s, &body);
    if (body == NULL)
        return;
    st_http_resp_t resp = {0};
    json_t *payload =
        st_http_cancel_args(ctype[0] ? ctype : NULL, body, (size_t)(end - body), &resp);
    if (payload == NULL) {
        fz_check_error(&resp, 0);
    } else {
        FZ_CHECK(resp.status == 0 && json_is_object(payload));
        json_t *reason = json_object_get(payload, "reason");
        FZ_CHECK(json_object_size(payload) <= 1 && (reason == NULL || json_is_string(reason)));
        FZ_CHECK(body < end || json_object_size(payload) == 0);
    }
    free(resp.body);
    json_decref(payload);
}

static void fuzz_list(char *s)
{
    const char *q[ST_HTTP_LIST_NQ] = {NULL};
    for (char *line = s, *next; line != NULL; line = next) {
        split_line(line, &next);
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        for (int i = 0; i < ST_HTTP_LIST_NQ; i++)
            if (q[i] == NULL && strcmp(line, st_http_list_query[i]) == 0)
                q[i] = eq + 1; /* the first occurrence, as libmicrohttpd */
    }
    const char *params[6];
    char limit_buf[16];
    st_http_resp_t resp = {0};
    if (st_http_list_args(q, params, limit_buf, &resp) != 0) {
        fz_check_error(&resp, 422);
    } else {
        FZ_CHECK(resp.status == 0);
        for (int i = 0; i < 5; i++)
            FZ_CHECK(params[i] == q[i]);
        FZ_CHECK(params[5] == limit_buf);
        long lim = strtol(limit_buf, NULL, 10);
        FZ_CHECK(lim >= 2 && lim <= 501);
        st_store_status_t st;
        FZ_CHECK(q[1] == NULL || st_store_status_parse(q[1], &st) == 0);
        FZ_CHECK(q[4] == NULL || model_uuid(q[4]));
    }
    free(resp.body);
}

/* The tokens configured for mode 5 and the role each has. */
static const char TOKEN_R[] = "read-token-0123456789";
static const char TOKEN_W[] = "write-token-abcdefghij";

/* The bearer rules, written out: the role the header grants, 0 for none. */
static int model_role(const char *h)
{
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    if (strcmp(h, TOKEN_W) == 0)
        return ST_HTTP_ROLE_WRITE;
    return strcmp(h, TOKEN_R) == 0 ? ST_HTTP_ROLE_READ : 0;
}

static void fuzz_auth(const uint8_t *d, size_t n)
{
    static st_http_server_t srv;
    static int ready;
    if (!ready) {
        st_http_token_t t[] = {{TOKEN_R, ST_HTTP_ROLE_READ}, {TOKEN_W, ST_HTTP_ROLE_WRITE}};
        FZ_CHECK(st_http_auth_init(&srv, t, 2, NULL) == 0);
        ready = 1;
    }
    if (n == 0)
        return;
    int need = d[0] % 2 ? ST_HTTP_ROLE_WRITE : ST_HTTP_ROLE_READ;
    char *h = fz_cstr(d + 1, n - 1);
    st_http_resp_t resp = {0};
    int rc = st_http_auth_header(&srv, h, need, "POST", "/v1/instances", &resp);
    int role = model_role(h);
    FZ_CHECK((rc == 0) == (role >= need));
    if (rc != 0) {
        FZ_CHECK(rc == ST_AUTH);
        fz_check_error(&resp, role == 0 ? 401 : 403);
        FZ_CHECK(resp.www_auth == (role == 0));
        /* The presented token never comes back. */
        const char *tok = strlen(h) > 7 ? h + 7 : "";
        while (*tok == ' ')
            tok++;
        FZ_CHECK(strlen(tok) < 12 || strstr(resp.body, tok) == NULL);
    }
    free(resp.body);
    free(h);
}

/* The one UUID spelling the API reads (common/st_uuid.h): 8-4-4-4-12. */
static int model_uuid(const char *s)
{
    static regex_t re;
    static int ready;
    if (!ready) {
        FZ_CHECK(regcomp(&re,
                         "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                         "[0-9a-fA-F]{12}$",
                         REG_EXTENDED | REG_NOSUB) == 0);
        ready = 1;
    }
    return regexec(&re, s, 0, NULL, 0) == 0;
}

static void fuzz_id(const char *s)
{
    st_http_resp_t resp = {0};
    st_store_uuid_t u;
    int rc = st_http_check_id(s, &resp);
    FZ_CHECK((rc == 0) == model_uuid(s));
    if (rc != 0) {
        fz_check_error(&resp, 404);
    } else {
        /* The same 32 digits come back (hyphens aside). */
        char back[37], a[33], b[33];
        size_t na = 0, nb = 0;
        FZ_CHECK(st_store_uuid_parse(s, &u) == 0);
        st_store_uuid_format(&u, back);
        for (const char *p = back; *p; p++)
            if (*p != '-')
                a[na++] = *p;
        for (const char *p = s; *p; p++)
            if (*p != '-')
                b[nb++] = *p;
        a[na] = b[nb] = '\0';
        FZ_CHECK(na == 32 && strcasecmp(a, b) == 0);
    }
    free(resp.body);
}

/* Mode 7: the input rules against jansson's own UTF-8 validation. */
static void fuzz_input_rules(const uint8_t *d, size_t n)
{
    const char *s = (const char *)d;
    json_t *j = json_stringn(s, n); /* NULL when not UTF-8 (NUL is allowed there) */
    int ok = st_input_utf8_ok(s, n);
    FZ_CHECK(ok == (j != NULL && memchr(s, '\0', n) == NULL));
    json_decref(j);
    char *c = fz_cstr(d, n), *orig = fz_cstr(d, n);
    size_t len = strlen(c);
    st_input_utf8_scrub(c);
    FZ_CHECK(strlen(c) == len && st_input_utf8_ok(c, len));
    FZ_CHECK(!st_input_utf8_ok(orig, len) || memcmp(c, orig, len) == 0);
    for (size_t i = 0; i < len; i++)
        FZ_CHECK(c[i] == orig[i] || c[i] == '?'); /* only bad bytes change */
    st_err_t err;
    if (st_input_key_check(orig, &err) == 0)
        FZ_CHECK(len >= 1 && len <= 255 && st_input_utf8_ok(orig, len));
    if (st_input_signal_check(orig, &err) == 0) {
        FZ_CHECK(len >= 1 && len <= 200 && st_input_utf8_ok(orig, len));
        FZ_CHECK(strncmp(orig, "settle.", 7) != 0 && strchr(orig, ' ') == NULL);
    }
    free(c);
    free(orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int mode = (uint8_t)(data[0] - '0') % 8; /* '0'..'7' in the seeds */
    if (mode == 5) {
        fuzz_auth(data + 1, size - 1);
        return 0;
    }
    if (mode == 7) {
        fuzz_input_rules(data + 1, size - 1);
        return 0;
    }
    char *s = fz_cstr(data + 1, size - 1), *end = s + size - 1;
    switch (mode) {
    case 0:
        fuzz_route(s);
        break;
    case 1:
        fuzz_start(s, end);
        break;
    case 2:
        fuzz_signal(s, end);
        break;
    case 3:
        fuzz_cancel(s, end);
        break;
    case 4:
        fuzz_list(s);
        break;
    default:
        fuzz_id(s);
        break;
    }
    free(s);
    return 0;
}
