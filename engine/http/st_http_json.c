/*
 * st_http_json.c — JSON responses, the error body and request body parsing.
 *
 * Layer: http (internal). Depends on jansson, libmicrohttpd (headers of
 * the request) and st_http_int.h.
 *
 * Invariants: every error body has the shape
 *   {"error": {"type": "...", "message": "what happened", "hint": "what to do"}}
 * with a non-empty message and hint, always valid UTF-8 (quoted client
 * bytes that are not become '?'); callers never pass secrets into
 * messages (errors from st_webhook_sig and the store are already redacted).
 */
#include "http/st_http_int.h"
#include "common/st_input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void st_http_resp_text(st_http_resp_t *resp, unsigned status, const char *ctype, char *text,
                       size_t len)
{
    free(resp->body);
    resp->status = status;
    resp->ctype = ctype;
    resp->body = text;
    resp->len = text ? len : 0;
}

void st_http_resp_json(st_http_resp_t *resp, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        /* Out of memory: a fixed body still says what happened. */
        static const char oom[] = "{\"error\":{\"type\":\"internal\",\"message\":\"out of "
                                  "memory\",\"hint\":\"retry later\"}}";
        text = strdup(oom);
        status = 500;
    }
    st_http_resp_text(resp, status, "application/json", text, text ? strlen(text) : 0);
}

static void error_body(st_http_resp_t *resp, unsigned status, const char *type, const char *msg,
                       const char *hint)
{
    /* Messages quote client input (a path, a header, a truncated name):
     * scrub it to UTF-8, or jansson refuses the string and the client
     * would get a 500 instead of its 4xx. */
    char m[ST_ERR_MSG_MAX], h[ST_ERR_MSG_MAX];
    snprintf(m, sizeof m, "%s", msg);
    snprintf(h, sizeof h, "%s", hint && *hint ? hint : "see docs/http-api.md");
    st_input_utf8_scrub(m);
    st_input_utf8_scrub(h);
    json_t *e = json_pack("{s:{s:s,s:s,s:s}}", "error", "type", type, "message", m, "hint", h);
    st_http_resp_json(resp, status, e);
}

void st_http_resp_error(st_http_resp_t *resp, unsigned status, const char *type, const char *hint,
                        const char *fmt, ...)
{
    char msg[ST_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_body(resp, status, type, msg, hint);
}

void st_http_resp_err(st_http_resp_t *resp, unsigned status, const char *type, const st_err_t *err,
                      const char *hint)
{
    const char *msg = err && err->msg[0] ? err->msg : "request failed";
    const char *h = err && err->hint[0] ? err->hint : hint;
    error_body(resp, status, type, msg, h);
}

void st_http_resp_db(st_http_resp_t *resp, const st_err_t *err)
{
    /* PostgreSQL's own text (err->detail) stays out of the body: it may
     * name hosts and users. The message says what failed. */
    st_http_resp_error(resp, 503, "unavailable",
                       "retry later; if it persists, check that PostgreSQL is up (GET /readyz)",
                       "the database did not answer: %s",
                       err && err->msg[0] ? err->msg : "unknown error");
}

int st_http_is_json_type(const char *ctype)
{
    if (ctype == NULL)
        return 0;
    while (*ctype == ' ')
        ctype++;
    size_t n = strlen("application/json");
    if (strncasecmp(ctype, "application/json", n) != 0)
        return 0;
    return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ';
}

json_t *st_http_body_parse(const char *ct, const char *body, size_t len, st_http_resp_t *resp)
{
    if (!st_http_is_json_type(ct)) {
        if (ct == NULL)
            st_http_resp_error(resp, 415, "unsupported_media_type",
                               "send the body as JSON with 'Content-Type: application/json'",
                               "the request has no Content-Type");
        else
            st_http_resp_error(resp, 415, "unsupported_media_type",
                               "send the body as JSON with 'Content-Type: application/json'",
                               "Content-Type '%.80s' is not supported", ct);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        st_http_resp_error(resp, 400, "invalid_json", "send one well-formed JSON object",
                           "the body is not valid JSON: %s at line %d column %d", jerr.text,
                           jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        st_http_resp_error(resp, 422, "invalid_request", "send a JSON object: {\"...\": ...}",
                           "the body is JSON but not an object");
        return NULL;
    }
    return j;
}

json_t *st_http_body_object(st_http_req_t *req, st_http_resp_t *resp)
{
    return st_http_body_parse(st_http_req_header(req, "Content-Type"), req->body, req->len, resp);
}

json_t *st_http_json_time(int64_t us)
{
    if (us == ST_STORE_NO_TIME)
        return json_null();
    time_t secs = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    if (frac < 0) {
        frac += 1000000;
        secs -= 1;
    }
    struct tm tm;
    char buf[64];
    gmtime_r(&secs, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%06ldZ", frac);
    return json_string(buf);
}
