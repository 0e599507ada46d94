/*
 * st_act.h — the activity layer: side effects that flows' `do` steps run.
 *
 * Layer: engine/activity. Depends on common (st_err), jansson, libev and
 * libcurl; knows nothing of the store, the daemon or the pure core (the
 * scheduler translates a RUN_ACTIVITY command into an st_act_request_t).
 *
 * One call of st_act_start runs ONE attempt of an activity on the runner's
 * libev loop and reports it through the callback. Retrying is the caller's
 * business: the pure functions st_act_backoff_* / st_act_next_attempt tell
 * when (so the scheduler can persist `not_before`), and st_act_run_retrying
 * is an in-memory loop for tools and tests.
 *
 * Ownership, in one sentence: everything passed in is borrowed for the
 * duration of the call (args are deep-copied), and everything in a result
 * (including result->result) belongs to the activity layer and is valid only
 * until the callback returns (json_incref it to keep it).
 *
 * Contract: a callback fires exactly once for every st_act_start that
 * returned 0, never synchronously inside st_act_start, and never for a start
 * that failed. st_act_runner_free finishes calls still in flight with the
 * outcome "transient" ("runner shut down") before it returns. Never free the
 * runner from inside one of its callbacks.
 *
 * Secrets (API keys, SMTP passwords, bearer tokens) come from the
 * environment or files, never from a flow's args, and never appear in a
 * result message, an st_err_t or a log line.
 */
#ifndef ST_ACT_H
#define ST_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/st_err.h"

struct ev_loop;

/* ------------------------------------------------------------- outcomes */

/* Catalog outcomes (static strings; compare with strcmp). */
#define ST_ACT_SUCCEEDED       "succeeded"
#define ST_ACT_PROCESSING      "processing"
#define ST_ACT_REQUIRES_ACTION "requires_action"
#define ST_ACT_DECLINED        "declined"
#define ST_ACT_PENDING         "pending"
#define ST_ACT_FAILED          "failed"
#define ST_ACT_SENT            "sent"
#define ST_ACT_OK              "ok"
#define ST_ACT_REJECTED        "rejected"
/* Not a catalog outcome: this attempt failed and may be retried. */
#define ST_ACT_TRANSIENT "transient"

#define ST_ACT_CODE_MAX 64
#define ST_ACT_MSG_MAX  512
#define ST_ACT_KEY_MAX  128

/* Retry policy of a `do` step (from the RUN_ACTIVITY command). */
typedef struct st_act_policy {
    uint32_t max_attempts;  /* >= 1; attempts in total, the first included */
    int64_t backoff_min_us; /* base of the exponential backoff */
    int64_t backoff_max_us; /* cap of the backoff (before Retry-After) */
} st_act_policy_t;

/* One attempt to run. Everything is borrowed for the st_act_start call. */
typedef struct st_act_request {
    const char *activity;   /* catalog name, e.g. "stripe.pay_invoice" */
    const json_t *args;     /* JSON object of evaluated args (NULL = {}) */
    const char *idem_key;   /* settle_<instance>_<seq>; same on every retry */
    int64_t timeout_us;     /* per attempt; <= 0 means the driver default */
    st_act_policy_t policy; /* carried for the retrying wrapper */
    uint32_t attempt;       /* 1-based attempt number (0 is taken as 1) */
} st_act_request_t;

/* One attempt's result, owned by the activity layer (see the header). */
typedef struct st_act_result {
    const char *outcome;                /* catalog outcome or ST_ACT_TRANSIENT; static */
    bool permanent;                     /* outcome is final (not transient) */
    char code[ST_ACT_CODE_MAX];         /* what `declined(code)` matches: the
                                           decline_code, else the error code */
    char error_code[ST_ACT_CODE_MAX];   /* raw error `code` (e.g. card_declined) */
    char decline_code[ST_ACT_CODE_MAX]; /* raw `decline_code`, may be empty */
    char message[ST_ACT_MSG_MAX];       /* redacted human message for operators */
    int64_t retry_after_us;             /* server's Retry-After hint, -1 when none */
    int http_status;                    /* HTTP / SMTP status of the reply, 0 if none */
    json_t *result;                     /* object with driver fields, never NULL */
    uint32_t attempt;                   /* attempt number this result belongs to */
    int64_t latency_us;                 /* wall time of the attempt */
    const char *activity;               /* the request's activity name (for observers) */
    const char *idem_key;               /* the request's idempotency key (for observers) */
} st_act_result_t;

typedef void (*st_act_cb)(const st_act_result_t *res, void *user);

/* ------------------------------------------------------------ the runner */

/* Configuration; st_act_config_from_env fills it from the environment. */
typedef struct st_act_config {
    char stripe_base[256];      /* STRIPE_API_BASE, default https://api.stripe.com */
    char stripe_key[256];       /* STRIPE_API_KEY or file STRIPE_API_KEY_FILE (secret) */
    char stripe_version[32];    /* STRIPE_API_VERSION, default ST_ACT_STRIPE_VERSION */
    char smtp_url[256];         /* SETTLE_SMTP_URL, e.g. smtp://127.0.0.1:2525 */
    char smtp_from[256];        /* SETTLE_SMTP_FROM, default settle@localhost */
    char smtp_user[128];        /* SETTLE_SMTP_USER (optional) */
    char smtp_ca_file[256];     /* SETTLE_SMTP_CA_FILE: CA bundle for STARTTLS (optional) */
    char smtp_password[256];    /* SETTLE_SMTP_PASSWORD[_FILE] (secret, optional) */
    char mail_domain[128];      /* SETTLE_MAIL_DOMAIN: right side of Message-ID */
    char template_dir[512];     /* SETTLE_TEMPLATE_DIR, default: the source tree */
    char erp_url[256];          /* SETTLE_ERP_URL, base of the ERP API */
    char erp_token[256];        /* SETTLE_ERP_TOKEN[_FILE] (secret, optional) */
    char crm_url[256];          /* SETTLE_CRM_URL (Salesforce data API base) */
    char crm_token[256];        /* SETTLE_CRM_TOKEN[_FILE] (secret) */
    char support_url[256];      /* SETTLE_SUPPORT_URL (Zendesk API v2 base) */
    char support_token[256];    /* SETTLE_SUPPORT_TOKEN[_FILE] (secret) */
    int64_t default_timeout_us; /* when a request gives none; 30 s */
    uint32_t max_conc_stripe;   /* concurrent Stripe calls (queue beyond) */
    uint32_t max_conc_email;
    uint32_t max_conc_http; /* http.call, erp.*, crm.*, support.* */
    double stripe_rate;     /* token bucket: requests per second */
    double stripe_burst;    /* token bucket: capacity */
} st_act_config_t;

#define ST_ACT_STRIPE_VERSION "2020-08-27"

/* Defaults only (no environment): conc 64/8/32, 90 req/s burst 90. */
void st_act_config_defaults(st_act_config_t *cfg);

/* Defaults, then the environment variables above. Fails (ST_IO) when a
 * *_FILE cannot be read; the message names the file, never its content. */
int st_act_config_from_env(st_act_config_t *cfg, st_err_t *err);

typedef struct st_act_runner st_act_runner_t;

/* A runner on `loop` (borrowed; must outlive the runner). cfg is copied. */
st_act_runner_t *st_act_runner_new(struct ev_loop *loop, const st_act_config_t *cfg, st_err_t *err);
/* Finishes in-flight calls as transient, then frees. Accepts NULL. */
void st_act_runner_free(st_act_runner_t *r);

/* Every attempt's result, before the call's own callback (metrics, audit). */
void st_act_runner_set_observer(st_act_runner_t *r, st_act_cb fn, void *user);

/* Calls started and not yet finished (for tests and shutdown). */
size_t st_act_runner_inflight(const st_act_runner_t *r);

/*
 * Start one attempt. Returns 0 (the callback will fire exactly once) or
 * ST_NOTFOUND (unknown activity), ST_INVAL (bad request struct), ST_STATE
 * (runner shutting down), ST_NOMEM. Bad *args* are not a start error: they
 * give the permanent outcome "failed" through the callback.
 */
int st_act_start(st_act_runner_t *r, const st_act_request_t *req, st_act_cb cb, void *user,
                 st_err_t *err);

/* The attempt as a JSON record for the task row, history and the admin
 * tool (new reference, NULL on ENOMEM): activity, idem_key, attempt,
 * outcome, code, error_code, decline_code, message, http_status,
 * latency_us, retry_after_us (when hinted) and result. */
json_t *st_act_result_json(const st_act_result_t *res);

/* ------------------------------------------------------------- registry */

/* The outcomes an activity can produce (NULL-terminated), or NULL when the
 * activity is unknown. For the compiler and the admin tool. */
const char *const *st_act_outcomes(const char *activity);

/* Catalog size and the i-th activity name (in table order). */
size_t st_act_catalog_size(void);
const char *st_act_catalog_name(size_t i);

/* ---------------------------------------------- retry timing (pure code) */

/* Exponential cap for `attempt` (1-based attempt that just failed):
 * min(backoff_max, backoff_min * 2^(attempt-1)); never negative. */
int64_t st_act_backoff_cap(const st_act_policy_t *p, uint32_t attempt);

/* Full jitter: a delay uniform in [0, cap] drawn from random_u64, raised to
 * retry_after_us when the server asked for longer (retry_after_us < 0 means
 * no hint). The hint is itself bounded by ST_ACT_RETRY_AFTER_MAX_US. */
int64_t st_act_backoff_delay(const st_act_policy_t *p, uint32_t attempt, int64_t retry_after_us,
                             uint64_t random_u64);

#define ST_ACT_RETRY_AFTER_MAX_US (3600LL * 1000000LL)

/* Parse a Retry-After header: delta-seconds or an HTTP-date (relative to
 * now_unix_us). Returns 0 and sets *out_us (>= 0), or ST_PARSE. */
int st_act_parse_retry_after(const char *value, int64_t now_unix_us, int64_t *out_us);

/*
 * After attempt res->attempt finished at now_us: returns true and sets
 * *not_before_us when another attempt should run; false when res is final
 * (a permanent outcome, or a transient one with the attempts spent; the
 * caller then records "failed").
 */
bool st_act_next_attempt(const st_act_policy_t *p, const st_act_result_t *res, int64_t now_us,
                         uint64_t random_u64, int64_t *not_before_us);

/* ------------------------------------------- in-memory retrying wrapper */

/*
 * Runs attempts until a permanent outcome or max_attempts, sleeping on the
 * loop between them. The callback gets the last attempt's result; when
 * attempts ran out on a transient error its outcome is rewritten to
 * "failed" with the message "gave up after N attempts: ...". Every attempt
 * still goes to the runner's observer. Same start contract as st_act_start.
 */
int st_act_run_retrying(st_act_runner_t *r, const st_act_request_t *req, st_act_cb cb, void *user,
                        st_err_t *err);

#endif
