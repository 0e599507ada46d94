/*
 * st_act_email.c — email.send: render a template pair (<name>.txt whose
 * first line is "Subject: ...", and <name>.html), build a multipart/
 * alternative message and send it over SMTP with libcurl's multi interface
 * (STARTTLS when the server offers it).
 *
 * Layer: engine/activity. Depends on st_act_template, st_act_net, libcurl,
 * jansson.
 *
 * Invariants: the Message-ID is <idempotency key @ SETTLE_MAIL_DOMAIN>, so a
 * retried or replayed send carries the same id and the receiving side can
 * drop the duplicate; nothing from args reaches a header unvalidated (no CR
 * or LF, addresses checked); the SMTP password never leaves the curl handle.
 *
 * Outcomes: sent; transient for 4xx SMTP replies and connection trouble;
 * failed for 5xx replies, bad args and missing templates.
 */
#include "activity/act_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A plain address: local@domain, no spaces, brackets, quotes or controls. */
static bool valid_addr(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > 254)
        return false;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
        return false;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c <= ' ' || *c >= 127 || strchr("<>()[]\\,;:\"", *c))
            return false;
    return true;
}

/* The `to` arg as a JSON array of valid addresses (new ref), or NULL. */
static json_t *recipients(const json_t *args)
{
    const json_t *to = json_object_get(args, "to");
    json_t *list = json_is_array(to) ? json_incref((json_t *)to) : json_pack("[O]", to);
    if (list == NULL || json_array_size(list) == 0) {
        json_decref(list);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(list); i++)
        if (!valid_addr(json_string_value(json_array_get(list, i)))) {
            json_decref(list);
            return NULL;
        }
    return list;
}

/* RFC 2047 encoded-word when the subject is not plain ASCII. */
static int add_subject(st_buf_t *m, const char *subj)
{
    bool ascii = true;
    for (const unsigned char *c = (const unsigned char *)subj; *c; c++)
        ascii = ascii && *c < 127;
    if (ascii)
        return st_buf_addf(m, "Subject: %s\r\n", subj);
    int rc = st_buf_adds(m, "Subject: =?UTF-8?B?");
    if (rc == 0)
        rc = st_act_buf_add_base64(m, subj, strlen(subj));
    return rc == 0 ? st_buf_adds(m, "?=\r\n") : rc;
}

/* Append text with every line ending turned into CRLF. */
static int add_crlf(st_buf_t *m, const char *text)
{
    int rc = 0;
    for (const char *p = text; *p && rc == 0; p++) {
        if (*p == '\r')
            continue;
        rc = *p == '\n' ? st_buf_adds(m, "\r\n") : st_buf_add(m, p, 1);
    }
    if (rc == 0 && m->len >= 2 && strcmp(m->p + m->len - 2, "\r\n") != 0)
        rc = st_buf_adds(m, "\r\n");
    return rc;
}

/* Split "Subject: ...\n\nbody" (rendered) into subject and body. */
static int split_subject(const char *txt, char *subj, size_t cap, const char **body, st_err_t *err)
{
    if (strncmp(txt, "Subject:", 8) != 0)
        return st_err_set(err, ST_PARSE, "text template must start with a 'Subject:' line");
    const char *s = txt + 8, *eol = strchr(s, '\n');
    while (*s == ' ')
        s++;
    size_t n = eol ? (size_t)(eol - s) : strlen(s);
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
        n--;
    snprintf(subj, cap, "%.*s", (int)n, s);
    for (char *c = subj; *c; c++)
        if (*c == '\r' || *c == '\n' || *c == '\t')
            *c = ' ';
    *body = eol ? eol + 1 : "";
    while (**body == '\r' || **body == '\n')
        (*body)++;
    return 0;
}

static int add_headers(st_buf_t *m, const st_act_config_t *cfg, const char *key, const json_t *to,
                       const char *subj, int64_t date_unix)
{
    char date[64];
    time_t t = (time_t)date_unix;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    int rc = st_buf_addf(m, "From: %s\r\nTo: ", cfg->smtp_from);
    for (size_t i = 0; rc == 0 && i < json_array_size(to); i++)
        rc = st_buf_addf(m, "%s%s", i ? ", " : "", json_string_value(json_array_get(to, i)));
    if (rc == 0)
        rc = st_buf_adds(m, "\r\n");
    if (rc == 0)
        rc = add_subject(m, subj);
    if (rc == 0)
        rc = st_buf_addf(m,
                         "Date: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
                         "X-Settle-Idempotency-Key: %s\r\n"
                         "Content-Type: multipart/alternative; boundary=\"=_settle_%s\"\r\n"
                         "\r\n",
                         date, key, cfg->mail_domain, key, key);
    return rc;
}

static int add_part(st_buf_t *m, const char *key, const char *type, const char *text)
{
    int rc = st_buf_addf(m,
                         "--=_settle_%s\r\nContent-Type: %s; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n\r\n",
                         key, type);
    return rc == 0 ? add_crlf(m, text) : rc;
}

/* Both parts rendered with the args as variables. */
static int render_pair(const st_act_config_t *cfg, const json_t *args, st_buf_t *txt,
                       st_buf_t *html, st_err_t *err)
{
    const char *name = json_string_value(json_object_get(args, "template"));
    st_buf_t raw = {0};
    int rc = st_act_template_load(cfg->template_dir, name, "txt", &raw, err);
    if (rc == 0)
        rc = st_act_template_render(raw.p, args, false, txt, err);
    st_buf_release(&raw);
    if (rc == 0)
        rc = st_act_template_load(cfg->template_dir, name, "html", &raw, err);
    if (rc == 0)
        rc = st_act_template_render(raw.p, args, true, html, err);
    st_buf_release(&raw);
    return rc;
}

int st_act_email_build(const st_act_config_t *cfg, const char *idem_key, const json_t *args,
                       int64_t date_unix, st_buf_t *out, st_err_t *err)
{
    json_t *to = recipients(args);
    if (to == NULL)
        return st_err_set(err, ST_INVAL,
                          "email.send: arg 'to' must be an address or a list of "
                          "addresses");
    st_buf_t txt = {0}, html = {0};
    char subj[512];
    const char *body = NULL;
    int rc = render_pair(cfg, args, &txt, &html, err);
    if (rc == 0)
        rc = split_subject(txt.p, subj, sizeof subj, &body, err);
    if (rc == 0)
        rc = add_headers(out, cfg, idem_key, to, subj, date_unix);
    if (rc == 0)
        rc = add_part(out, idem_key, "text/plain", body);
    if (rc == 0)
        rc = add_part(out, idem_key, "text/html", html.p);
    if (rc == 0)
        rc = st_buf_addf(out, "--=_settle_%s--\r\n", idem_key);
    if (rc == ST_NOMEM)
        st_err_set(err, ST_NOMEM, "email.send: out of memory");
    st_buf_release(&txt);
    st_buf_release(&html);
    json_decref(to);
    return rc;
}

/* ------------------------------------------------------------ transport */

typedef struct upload {
    char *msg; /* owned by the job (kept memory) */
    size_t len;
    size_t off;
} upload_t;

static size_t read_cb(char *dst, size_t size, size_t n, void *userp)
{
    upload_t *u = userp;
    size_t room = size * n, left = u->len - u->off;
    size_t k = left < room ? left : room;
    memcpy(dst, u->msg + u->off, k);
    u->off += k;
    return k;
}

static void email_done(st_act_job_t *job, const st_act_http_reply_t *r, void *user)
{
    st_act_call_t *call = user;
    call->job = NULL;
    call->res.http_status = (int)r->status;
    if (r->curl_code == CURLE_OK) {
        st_act_call_set(call, ST_ACT_SENT, "accepted by the SMTP server");
    } else {
        bool retry = r->status >= 400 && r->status < 500 ? true
                     : r->status >= 500                  ? false
                                                         : st_act_curl_transient((int)r->curl_code);
        st_act_call_set(call, retry ? ST_ACT_TRANSIENT : ST_ACT_FAILED,
                        "SMTP send failed (%ld): %s", r->status, r->curl_error);
    }
    char mid[ST_ACT_KEY_MAX + 160];
    snprintf(mid, sizeof mid, "<%s@%s>", call->idem_key, call->runner->cfg.mail_domain);
    call->res.result = json_pack("{s:s}", "message_id", mid);
    st_act_call_finish(call);
}

/* "Name <a@b>" -> "<a@b>"; "a@b" -> "<a@b>". */
static void envelope_addr(const char *from, char *dst, size_t cap)
{
    const char *lt = strrchr(from, '<');
    if (lt != NULL)
        snprintf(dst, cap, "%.*s", (int)(strcspn(lt, ">") + 1), lt);
    else
        snprintf(dst, cap, "<%s>", from);
}

static int fail_later(st_act_call_t *call, const char *msg)
{
    st_act_call_set(call, ST_ACT_FAILED, "%s", msg);
    st_act_call_finish_later(call, 0);
    return 0;
}

/* Envelope recipients as "<addr>" lines; NULL on ENOMEM. */
static struct curl_slist *rcpt_list(const json_t *args)
{
    json_t *to = recipients(args);
    struct curl_slist *l = NULL, *t;
    char line[300];
    for (size_t i = 0; to && i < json_array_size(to); i++) {
        snprintf(line, sizeof line, "<%s>", json_string_value(json_array_get(to, i)));
        if ((t = curl_slist_append(l, line)) == NULL) {
            curl_slist_free_all(l);
            l = NULL;
            break;
        }
        l = t;
    }
    json_decref(to);
    return l;
}

int st_act_email_start(st_act_call_t *call, st_err_t *err)
{
    const st_act_config_t *cfg = &call->runner->cfg;
    if (cfg->smtp_url[0] == '\0')
        return fail_later(call, "email.send: SETTLE_SMTP_URL is not set");
    st_buf_t msg = {0};
    st_err_t berr;
    st_err_clear(&berr);
    if (st_act_email_build(cfg, call->idem_key, call->args, (int64_t)time(NULL), &msg, &berr) !=
        0) {
        st_buf_release(&msg);
        return fail_later(call, berr.msg);
    }
    st_act_job_t *job = st_act_job_new(call->runner->net);
    upload_t *up = calloc(1, sizeof *up);
    struct curl_slist *rcpt = rcpt_list(call->args);
    if (job == NULL || up == NULL || rcpt == NULL) {
        st_act_job_free(job);
        free(up);
        curl_slist_free_all(rcpt);
        st_buf_release(&msg);
        return st_err_set(err, ST_NOMEM, "cannot prepare the email");
    }
    up->len = msg.len;
    up->msg = st_buf_detach(&msg);
    st_act_job_keep_mem(job, up->msg);
    st_act_job_keep_mem(job, up);
    st_act_job_keep_slist(job, rcpt);
    char from[300];
    envelope_addr(cfg->smtp_from, from, sizeof from);
    CURL *e = st_act_job_easy(job);
    curl_easy_setopt(e, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(e, CURLOPT_READDATA, up);
    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (cfg->smtp_ca_file[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->smtp_ca_file);
    if (cfg->smtp_user[0]) {
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->smtp_user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->smtp_password);
    }
    call->job = job;
    st_act_job_submit(job, &call->runner->pool_email, call->timeout_us, email_done, call);
    return 0;
}
