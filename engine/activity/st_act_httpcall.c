/*
 * st_act_httpcall.c — the generic `http.call` activity and the thin
 * configurations built on it: erp.post_payment, erp.post_refund, erp.write_off (HTTP JSON
 * to SETTLE_ERP_URL), crm.upsert (Salesforce upsert by external id) and
 * support.ticket (Zendesk ticket).
 *
 * Layer: engine/activity. Depends on st_act_net, jansson, libcurl.
 *
 * Every request carries `Idempotency-Key: <step key>`; the configured
 * profiles also put the key in the record as its external id, so the far
 * side can de-duplicate. Tokens come from the configuration only (never
 * from args) and go only into the Authorization header.
 *
 * Classification (pure, st_act_http_classify): 2xx ok; 408, 409, 425, 429
 * and 5xx transient (Retry-After honoured); other 4xx rejected; transport
 * errors transient when retrying can help, failed otherwise.
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A built request; the body is a JSON text or NULL. */
typedef struct http_req {
    const char *method;
    char url[768];
    const char *token;     /* bearer token from config, or NULL */
    json_t *body;          /* owned */
    const json_t *headers; /* extra headers from http.call args, or NULL */
} http_req_t;

/* --------------------------------------------------------- classification */

static void http_outcome(st_act_result_t *out, const char *o)
{
    out->outcome = o;
    out->permanent = strcmp(o, ST_ACT_TRANSIENT) != 0;
}

void st_act_http_classify(int curl_code, const char *curl_error, long status, const char *body,
                          const char *retry_after, int64_t now_unix_us, st_act_result_t *out)
{
    json_decref(out->result);
    out->result = json_object();
    out->code[0] = out->error_code[0] = out->decline_code[0] = out->message[0] = '\0';
    out->http_status = (int)status;
    out->retry_after_us = -1;
    if (curl_code != 0) {
        http_outcome(out, st_act_curl_transient(curl_code) ? ST_ACT_TRANSIENT : ST_ACT_FAILED);
        snprintf(out->message, sizeof out->message, "HTTP call failed: %s",
                 curl_error ? curl_error : curl_easy_strerror((CURLcode)curl_code));
        return;
    }
    int64_t ra;
    if (retry_after && retry_after[0] &&
        st_act_parse_retry_after(retry_after, now_unix_us, &ra) == 0)
        out->retry_after_us = ra;
    json_t *j = body && body[0] ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(out->result, "status", json_integer(status));
    json_object_set_new(out->result, "body", j ? j : json_string(body ? body : ""));
    if (status >= 200 && status < 300) {
        http_outcome(out, ST_ACT_OK);
        snprintf(out->message, sizeof out->message, "HTTP %ld", status);
        return;
    }
    bool retry = status == 408 || status == 409 || status == 425 || status == 429 ||
                 status >= 500 || status < 200;
    http_outcome(out, retry ? ST_ACT_TRANSIENT : ST_ACT_REJECTED);
    snprintf(out->code, sizeof out->code, "http_%ld", status);
    snprintf(out->message, sizeof out->message, "HTTP %ld: %.300s", status, body ? body : "");
}

/* --------------------------------------------------------------- helpers */

static bool valid_name(const char *s)
{
    return s && s[0] && strlen(s) < 80 &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
               strlen(s);
}

/* base + path; false when base is not configured. */
static bool join_url(char *dst, size_t cap, const char *base, const char *path)
{
    size_t bl = strlen(base);
    if (bl == 0)
        return false;
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(dst, cap, "%.*s%s", (int)bl, base, path);
    return true;
}

/* Copy args into a body, flattening money {"minor","currency"} values. */
static json_t *flat_body(const json_t *args)
{
    json_t *b = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)args, k, v)
    {
        json_t *minor = json_object_get(v, "minor");
        if (json_is_object(v) && json_is_integer(minor) &&
            json_is_string(json_object_get(v, "currency"))) {
            json_object_set(b, k, minor);
            json_object_set(b, "currency", json_object_get(v, "currency"));
        } else {
            json_object_set(b, k, v);
        }
    }
    return b;
}

/* --------------------------------------------------------- the profiles */

static const char *build_generic(st_act_call_t *call, http_req_t *rq)
{
    const json_t *a = call->args;
    const char *url = json_string_value(json_object_get(a, "url"));
    const char *method = json_string_value(json_object_get(a, "method"));
    rq->method = method ? method : "POST";
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return "http.call: arg 'url' must be an http:// or https:// URL";
    if (!valid_name(rq->method))
        return "http.call: arg 'method' must be a plain HTTP method";
    snprintf(rq->url, sizeof rq->url, "%s", url);
    rq->headers = json_object_get(a, "headers");
    if (rq->headers && !json_is_object(rq->headers))
        return "http.call: arg 'headers' must be an object of strings";
    json_t *body = json_object_get(a, "body");
    rq->body = body ? json_deep_copy(body) : NULL;
    const char *xf = json_string_value(json_object_get(a, "external_id_field"));
    if (xf && json_is_object(rq->body))
        json_object_set_new(rq->body, xf, json_string(call->idem_key));
    return NULL;
}

static const char *build_erp(st_act_call_t *call, http_req_t *rq, const char *path,
                             const char *type)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    if (!json_is_string(json_object_get(call->args, "reference")))
        return "erp: arg 'reference' (string: the invoice or order it posts for) is required";
    if (!join_url(rq->url, sizeof rq->url, cfg->erp_url, path))
        return "erp: SETTLE_ERP_URL is not set";
    rq->method = "POST";
    rq->token = cfg->erp_token[0] ? cfg->erp_token : NULL;
    rq->body = flat_body(call->args);
    json_object_set_new(rq->body, "external_id", json_string(call->idem_key));
    json_object_set_new(rq->body, "type", json_string(type));
    return NULL;
}

static const char *build_crm(st_act_call_t *call, http_req_t *rq)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    const char *obj = json_string_value(json_object_get(call->args, "object"));
    const char *field = json_string_value(json_object_get(call->args, "external_id_field"));
    const json_t *fields = json_object_get(call->args, "fields");
    field = field ? field : "Settle_Key__c";
    if (!valid_name(obj) || !valid_name(field))
        return "crm.upsert: 'object' and 'external_id_field' must be API names";
    if (!json_is_object(fields))
        return "crm.upsert: arg 'fields' (object) is required";
    char path[300];
    snprintf(path, sizeof path, "/sobjects/%s/%s/%s", obj, field, call->idem_key);
    if (!join_url(rq->url, sizeof rq->url, cfg->crm_url, path))
        return "crm.upsert: SETTLE_CRM_URL is not set";
    rq->method = "PATCH";
    rq->token = cfg->crm_token[0] ? cfg->crm_token : NULL;
    rq->body = json_deep_copy(fields);
    return NULL;
}

static const char *build_support(st_act_call_t *call, http_req_t *rq)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    const json_t *a = call->args;
    const char *subject = json_string_value(json_object_get(a, "subject"));
    const char *text = json_string_value(json_object_get(a, "body"));
    if (subject == NULL || text == NULL)
        return "support.ticket: args 'subject' and 'body' (strings) are required";
    if (!join_url(rq->url, sizeof rq->url, cfg->support_url, "/tickets.json"))
        return "support.ticket: SETTLE_SUPPORT_URL is not set";
    rq->method = "POST";
    rq->token = cfg->support_token[0] ? cfg->support_token : NULL;
    json_t *t = json_pack("{s:s,s:{s:s},s:s}", "subject", subject, "comment", "body", text,
                          "external_id", call->idem_key);
    const char *email = json_string_value(json_object_get(a, "requester_email"));
    if (t && email)
        json_object_set_new(t, "requester", json_pack("{s:s}", "email", email));
    if (t && json_is_array(json_object_get(a, "tags")))
        json_object_set(t, "tags", json_object_get(a, "tags"));
    rq->body = json_pack("{s:o}", "ticket", t);
    return NULL;
}

static const char *build_request(st_act_call_t *call, http_req_t *rq)
{
    const char *profile = call->driver->conf;
    if (strcmp(profile, "erp.post_payment") == 0)
        return build_erp(call, rq, "/payments", "payment");
    if (strcmp(profile, "erp.write_off") == 0)
        return build_erp(call, rq, "/write-offs", "write_off");
    if (strcmp(profile, "erp.post_refund") == 0)
        return build_erp(call, rq, "/refunds", "refund");
    if (strcmp(profile, "crm.upsert") == 0)
        return build_crm(call, rq);
    if (strcmp(profile, "support.ticket") == 0)
        return build_support(call, rq);
    return build_generic(call, rq);
}

/* ------------------------------------------------------------ transport */

static struct curl_slist *add_line(struct curl_slist *h, const char *line)
{
    struct curl_slist *t = curl_slist_append(h, line);
    if (t == NULL)
        curl_slist_free_all(h);
    return t;
}

/* Standard headers, then the args' extra headers (validated). */
static const char *build_headers(const st_act_call_t *call, const http_req_t *rq,
                                 struct curl_slist **out)
{
    char line[600];
    struct curl_slist *h = add_line(NULL, "Content-Type: application/json");
    h = h ? add_line(h, "Accept: application/json") : NULL;
    h = h ? add_line(h, "Expect:") : NULL;
    snprintf(line, sizeof line, "Idempotency-Key: %s", call->idem_key);
    h = h ? add_line(h, line) : NULL;
    if (h && rq->token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", rq->token);
        h = add_line(h, line);
        memset(line, 0, sizeof line);
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rq->headers, k, v)
    {
        const char *s = json_string_value(v);
        if (!h)
            break;
        if (s == NULL || k[strcspn(k, ":\r\n ")] != '\0' || s[strcspn(s, "\r\n")] != '\0' ||
            strcasecmp(k, "Authorization") == 0 || strcasecmp(k, "Idempotency-Key") == 0) {
            curl_slist_free_all(h);
            return "http.call: headers must be single-line strings; Authorization and "
                   "Idempotency-Key are set by settle";
        }
        snprintf(line, sizeof line, "%s: %s", k, s);
        h = add_line(h, line);
    }
    *out = h;
    return h ? NULL : "http.call: out of memory building headers";
}

static void http_done(st_act_job_t *job, const st_act_http_reply_t *r, void *user)
{
    st_act_call_t *call = user;
    call->job = NULL;
    st_act_http_classify((int)r->curl_code, r->curl_error, r->status, r->body, r->retry_after,
                         (int64_t)time(NULL) * 1000000, &call->res);
    st_act_call_finish(call);
}

static int fail_later(st_act_call_t *call, const char *msg)
{
    st_act_call_set(call, ST_ACT_FAILED, "%s", msg);
    st_act_call_finish_later(call, 0);
    return 0;
}

int st_act_httpcall_start(st_act_call_t *call, st_err_t *err)
{
    http_req_t rq;
    memset(&rq, 0, sizeof rq);
    struct curl_slist *hdr = NULL;
    const char *bad = build_request(call, &rq);
    if (bad == NULL)
        bad = build_headers(call, &rq, &hdr);
    if (bad != NULL) {
        json_decref(rq.body);
        return fail_later(call, bad);
    }
    char *text =
        rq.body ? json_dumps(rq.body, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    json_decref(rq.body);
    st_act_job_t *job = st_act_job_new(call->runner->net);
    if (job == NULL || (rq.body && text == NULL)) {
        st_act_job_free(job);
        curl_slist_free_all(hdr);
        free(text);
        return st_err_set(err, ST_NOMEM, "cannot prepare the HTTP request");
    }
    st_act_job_keep_slist(job, hdr);
    CURL *e = st_act_job_easy(job);
    curl_easy_setopt(e, CURLOPT_URL, rq.url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(rq.method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        free(text);
    } else {
        if (strcmp(rq.method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, rq.method);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, text ? (long)strlen(text) : 0L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, text ? text : "");
        if (text)
            st_act_job_keep_mem(job, text);
    }
    call->job = job;
    st_act_job_submit(job, &call->runner->pool_http, call->timeout_us, http_done, call);
    return 0;
}
