/*
 * http_fixture.h — a real settle HTTP server on a fresh, migrated database,
 * and a libcurl client to talk to it, for the engine/http tests.
 *
 * Every fixture gets its own database and its own server on a free port.
 * Secrets and tokens are fixed test values (FX_SECRET_*, FX_TOKEN_*).
 */
#ifndef HTTP_FIXTURE_H
#define HTTP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "http/st_http.h"
#include "st_test.h"

#define FX_SECRET_NEW  "whsec_fixture_new_0123456789"
#define FX_SECRET_OLD  "whsec_fixture_old_9876543210"
#define FX_TOKEN_WRITE "tok-write-5f1c"
#define FX_TOKEN_READ  "tok-read-77aa"
#define FX_BODY_LIMIT  (64 * 1024)

typedef struct fx {
    char dsn[512];
    char db[128];
    PGconn *pg; /* plain connection for assertions */
    st_http_server_t *srv;
    st_metrics_t *metrics;
    uint16_t port;
} fx_t;

typedef struct fx_resp {
    long status;
    char *body; /* NUL terminated (malloc'd) */
    size_t len;
    char headers[4096]; /* raw response headers */
} fx_resp_t;

/* Fresh migrated database and a running server (threads: 4). migrate=0
 * leaves the database empty (readyz tests). */
void fx_open(fx_t *f, int migrate);
/* Like fx_open with a caller-tuned configuration (dsn, secrets, tokens,
 * body limit filled in when left zero/NULL). */
void fx_open_cfg(fx_t *f, int migrate, st_http_cfg_t *cfg);
void fx_close(fx_t *f);

/* Compile and deploy a flow given as text. */
void fx_deploy(fx_t *f, const char *path, const char *src);

/* One request. headers: NULL-terminated list of "Name: value". body may be
 * NULL (no body). Fails the test when the transfer itself fails. */
void fx_request(fx_t *f, const char *method, const char *path, const char *const *headers,
                const char *body, size_t len, fx_resp_t *out);
void fx_resp_free(fx_resp_t *r);

/* POST a JSON body with the write token (or `token`; NULL: none). */
void fx_api(fx_t *f, const char *method, const char *path, const char *token, const char *body,
            fx_resp_t *out);
/* POST /webhooks/stripe with a signature made by st_webhook_sig_sign. */
void fx_webhook(fx_t *f, const char *secret, int64_t t, const char *payload, fx_resp_t *out);

/* Assert the body is an error of this type with a message and a hint. */
void fx_assert_error(const fx_resp_t *r, long status, const char *type);

long long fx_scalar(fx_t *f, const char *sql);
const char *fx_text(fx_t *f, const char *sql); /* static buffer */
/* JSON field of the response body as text (static buffer), "" if absent. */
const char *fx_json_str(const fx_resp_t *r, const char *field);

/* A stripe-sim child process that posts every event, signed with
 * FX_SECRET_NEW, to the fixture's /webhooks/stripe. */
typedef struct fx_sim {
    int pid;
    unsigned port;
} fx_sim_t;

void fx_sim_start(fx_sim_t *s, const fx_t *f, const char *bin);
void fx_sim_stop(fx_sim_t *s);
/* POST form fields to the simulator's path with the test key; fails the
 * test unless it answers 200. Returns the decoded body (json_decref it). */
struct json_t *fx_sim_post(const fx_sim_t *s, const char *path, const char *fields);

#endif
