/*
 * act_int.h — private interfaces shared by the engine/activity file family.
 *
 * Layer: engine/activity (internal). Depends on st_act.h, libcurl, libev,
 * jansson. Not for use outside engine/activity and its tests.
 *
 * Files and their jobs:
 *   st_act_registry.c  driver table, runner, call lifecycle (start/finish)
 *   st_act_config.c    configuration from the environment, secret redaction
 *   st_act_buf.c       growable byte buffer and escaping helpers
 *   st_act_backoff.c   retry timing (pure)
 *   st_act_bucket.c    token bucket (pure)
 *   st_act_retry.c     in-memory retrying wrapper
 *   st_act_net.c       libcurl multi on libev: pools, limits, reuse
 *   st_act_stripe_form.c      Stripe form encoding (pure)
 *   st_act_stripe_classify.c  Stripe reply -> outcome (pure)
 *   st_act_stripe.c    Stripe driver (endpoints, headers)
 *   st_act_template.c  {{var}} templates (pure apart from reading files)
 *   st_act_email.c     email.send: MIME + SMTP over libcurl
 *   st_act_httpcall.c  http.call and its configurations (erp, crm, support)
 *   st_act_testfam.c   test.* activities
 *
 * Invariants: a call is in its runner's in-flight list from a successful
 * start until st_act_call_finish; finish runs at most once per call and
 * frees it. Drivers never call the user's callback themselves.
 */
#ifndef ST_ACT_INT_H
#define ST_ACT_INT_H

#include <curl/curl.h>
#include <ev.h>

#include "activity/st_act.h"
#include "common/st_buf.h"

/* ------------------------------------------------------------- buffers */

/* Escaping appended to the common growable buffer (st_act_buf.c). */
/* application/x-www-form-urlencoded component (RFC 3986 unreserved kept). */
int st_act_buf_add_urlenc(st_buf_t *b, const char *s);
/* &, <, >, ", ' as entities. */
int st_act_buf_add_html(st_buf_t *b, const char *s);
int st_act_buf_add_base64(st_buf_t *b, const void *p, size_t n);

/* ------------------------------------------------------ config, secrets */

/* Replace every occurrence of the runner's secrets and anything shaped like
 * a Stripe key or a bearer token in s (in place) with "[REDACTED]". */
void st_act_redact(char *s, size_t cap, const char *const *secrets, size_t n_secrets);

/* ---------------------------------------------------------- token bucket */

typedef struct st_act_bucket {
    double rate;     /* tokens per second (> 0) */
    double burst;    /* capacity (>= 1) */
    double tokens;   /* available now */
    int64_t last_us; /* time of the last refill */
} st_act_bucket_t;

void st_act_bucket_init(st_act_bucket_t *b, double rate, double burst, int64_t now_us);
/* Take one token: 0 on success, else microseconds until one is available
 * (nothing taken). Time going backwards is treated as no time passing. */
int64_t st_act_bucket_take(st_act_bucket_t *b, int64_t now_us);

/* --------------------------------------------------------- the HTTP net */

typedef struct st_act_net st_act_net_t;
typedef struct st_act_job st_act_job_t;

/* A concurrency class: at most max_conc transfers at once, FIFO beyond. */
typedef struct st_act_pool {
    const char *name;    /* "stripe", "email", "http" */
    uint32_t max_conc;   /* >= 1 */
    uint32_t active;     /* transfers inside the multi handle */
    uint32_t peak;       /* highest `active` seen (tests, metrics) */
    st_act_job_t *qhead; /* waiting jobs, FIFO */
    st_act_job_t *qtail;
    st_act_bucket_t *bucket; /* optional rate limit (owned by the pool) */
    ev_timer wait;           /* wakes the queue when the bucket refills */
    st_act_net_t *net;       /* back pointer */
} st_act_pool_t;

/* What a finished transfer produced; valid during the job callback. */
typedef struct st_act_http_reply {
    CURLcode curl_code;               /* CURLE_OK when a reply arrived */
    char curl_error[CURL_ERROR_SIZE]; /* curl's error text (redacted) */
    long status;                      /* HTTP status or SMTP reply code, 0 if none */
    const char *body;                 /* reply body, NUL-terminated, never NULL */
    size_t body_len;
    char retry_after[64];  /* Retry-After header or "" */
    char should_retry[16]; /* Stripe-Should-Retry header or "" */
    char request_id[96];   /* Request-Id header or "" */
    char replayed[16];     /* Idempotent-Replayed header or "" */
} st_act_http_reply_t;

typedef void (*st_act_job_cb)(st_act_job_t *job, const st_act_http_reply_t *reply, void *user);

st_act_net_t *st_act_net_new(struct ev_loop *loop, st_err_t *err);
/* Cancels queued and running jobs without callbacks. Accepts NULL. */
void st_act_net_free(st_act_net_t *net);
/* rate > 0 adds a token bucket. Returns 0 or ST_NOMEM. */
int st_act_pool_init(st_act_pool_t *pool, st_act_net_t *net, const char *name, uint32_t max_conc,
                     double rate, double burst);
void st_act_pool_release(st_act_pool_t *pool);

/* A job with a fresh easy handle carrying the common options (write and
 * header capture, error buffer, no signals, keep-alive). NULL on ENOMEM. */
st_act_job_t *st_act_job_new(st_act_net_t *net);
CURL *st_act_job_easy(st_act_job_t *job);
/* Memory the job frees when it ends (slists via curl_slist_free_all). */
void st_act_job_keep_slist(st_act_job_t *job, struct curl_slist *list);
int st_act_job_keep_mem(st_act_job_t *job, void *p);
/* Queue on pool; the callback fires once, later, from the loop. The job is
 * freed after its callback. timeout_us bounds the whole transfer. */
void st_act_job_submit(st_act_job_t *job, st_act_pool_t *pool, int64_t timeout_us, st_act_job_cb cb,
                       void *user);
/* Abort (queued or running) without a callback, and free. */
void st_act_job_cancel(st_act_job_t *job);
/* Free a job never submitted. */
void st_act_job_free(st_act_job_t *job);

/* ----------------------------------------------------- runner and calls */

typedef struct st_act_call st_act_call_t;
typedef struct st_act_retry st_act_retry_t;
typedef struct st_act_driver st_act_driver_t;

/* A driver starts the attempt and later calls st_act_call_finish. Returning
 * non-zero means "could not start" (the call is freed, no callback). */
struct st_act_driver {
    const char *name; /* catalog name (common/st_catalog.h lists its outcomes) */
    int (*start)(st_act_call_t *call, st_err_t *err);
    const void *conf; /* driver-specific static data */
};

struct st_act_call {
    st_act_runner_t *runner;
    const st_act_driver_t *driver;
    json_t *args; /* deep copy of the request args, owned */
    char idem_key[ST_ACT_KEY_MAX];
    int64_t timeout_us; /* resolved (> 0) */
    st_act_policy_t policy;
    uint32_t attempt; /* >= 1 */
    st_act_cb cb;
    void *user;
    int64_t started_us;         /* monotonic */
    st_act_result_t res;        /* built by the driver */
    ev_timer timer;             /* for deferred finishes and test.sleep */
    st_act_job_t *job;          /* in-flight transfer, if any */
    st_act_call_t *prev, *next; /* runner's in-flight list */
};

struct st_act_runner {
    struct ev_loop *loop;   /* borrowed */
    st_act_config_t cfg;    /* copy (holds secrets) */
    const char *secrets[6]; /* pointers into cfg, for redaction */
    size_t n_secrets;
    st_act_net_t *net;
    st_act_pool_t pool_stripe, pool_email, pool_http;
    st_act_call_t *calls; /* in flight */
    size_t n_calls;
    bool closing;
    st_act_cb observer;
    void *observer_user;
    json_t *test_counts;     /* test.fail_then_succeed: key -> failures */
    st_act_retry_t *retries; /* retrying wrappers waiting between attempts */
};

/* Finish every waiting retrying wrapper as transient (runner shutdown). */
void st_act_retry_shutdown(st_act_runner_t *r);

int64_t st_act_now_us(void); /* monotonic microseconds */

/* Set outcome + printf message on call->res (message redacted at finish). */
void st_act_call_set(st_act_call_t *call, const char *outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Report call->res to observer and callback, then free the call. */
void st_act_call_finish(st_act_call_t *call);
/* Same, but from the loop after `delay_us` (0 = next iteration). */
void st_act_call_finish_later(st_act_call_t *call, int64_t delay_us);

/* Driver entry points (one per file). */
int st_act_stripe_start(st_act_call_t *call, st_err_t *err);
int st_act_email_start(st_act_call_t *call, st_err_t *err);
int st_act_httpcall_start(st_act_call_t *call, st_err_t *err);
int st_act_test_start(st_act_call_t *call, st_err_t *err);

/* Static configuration of each Stripe catalog entry (driver conf). */
typedef enum st_act_stripe_kind {
    ST_ACT_STRIPE_CREATE_PAYMENT,
    ST_ACT_STRIPE_CONFIRM_PAYMENT,
    ST_ACT_STRIPE_PAY_INVOICE,
    ST_ACT_STRIPE_REFUND,
    ST_ACT_STRIPE_VOID_INVOICE,
    ST_ACT_STRIPE_CANCEL_PAYMENT,
    ST_ACT_STRIPE_RETRIEVE_PAYMENT,
} st_act_stripe_kind_t;

/* ------------------------------------------------ Stripe (pure parts) */

/* Form-encode a JSON object the way Stripe reads it: nested objects as
 * a[b][c], arrays as a[0], booleans true/false, null as "" (unset). A
 * money object {"minor":N,"currency":C} under key k becomes k=N plus
 * currency=C (unless currency is given). Keys in `skip` (NULL-terminated,
 * may be NULL) are left out. Reals are refused (no floats near money). */
int st_act_stripe_form(const json_t *obj, const char *const *skip, st_buf_t *out, st_err_t *err);

/* A Stripe reply as the classifier sees it (all borrowed). */
typedef struct st_act_stripe_reply {
    int curl_code;            /* 0 = a reply arrived; else a CURLcode */
    const char *curl_error;   /* redacted text for curl failures, may be NULL */
    long status;              /* HTTP status */
    const char *body;         /* may be NULL */
    const char *retry_after;  /* header value or NULL */
    const char *should_retry; /* Stripe-Should-Retry or NULL */
    const char *request_id;   /* Request-Id or NULL */
    const char *replayed;     /* Idempotent-Replayed or NULL */
} st_act_stripe_reply_t;

/* Pure: reply -> outcome, codes, message and result fields (out->result is
 * replaced by a new object the caller owns). now_unix_us dates Retry-After. */
void st_act_stripe_classify(st_act_stripe_kind_t kind, const st_act_stripe_reply_t *reply,
                            int64_t now_unix_us, st_act_result_t *out);

/* Pure: generic HTTP classification used by http.call / erp / crm / support:
 * 2xx ok, 408/409/425/429/5xx transient, other 4xx rejected, transport
 * errors transient unless they are configuration errors (failed). */
void st_act_http_classify(int curl_code, const char *curl_error, long status, const char *body,
                          const char *retry_after, int64_t now_unix_us, st_act_result_t *out);

/* True for curl errors worth retrying (timeouts, connection trouble). */
bool st_act_curl_transient(int curl_code);

/* ------------------------------------------------------------ templates */

/* Render `tmpl`, replacing {{name}} (spaces allowed inside the braces) with
 * vars[name] (string, integer, boolean, or money as "12.34 EUR"), HTML-
 * escaped when html. Unknown variables and unterminated braces are errors
 * (ST_PARSE, naming the variable). */
int st_act_template_render(const char *tmpl, const json_t *vars, bool html, st_buf_t *out,
                           st_err_t *err);
/* Read dir/name.ext (name must be [A-Za-z0-9_-]+) into out. */
int st_act_template_load(const char *dir, const char *name, const char *ext, st_buf_t *out,
                         st_err_t *err);

/* Build the full RFC 5322 message for email.send (pure apart from the
 * template files): headers, multipart/alternative text + HTML, CRLF. */
int st_act_email_build(const st_act_config_t *cfg, const char *idem_key, const json_t *args,
                       int64_t date_unix, st_buf_t *out, st_err_t *err);

#endif
