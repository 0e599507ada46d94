/*
 * e2e_fixture.h — everything a shipped flow talks to, started for real by
 * one test: a fresh migrated database, settle's HTTP server (webhooks and
 * the flow API) in-process, stripe-sim as a child process posting its
 * signed webhooks to that server, a real SMTP server (aiosmtpd, through
 * tests/activity/smtp_sink.py), an ERP sink (libmicrohttpd, in-process)
 * and the executor on a libev loop in this process. In daemon mode the
 * engine and the HTTP side are `settled run --http` instead, a child
 * process configured only through its flags and environment.
 *
 * Invariants the fixture keeps so that assertions mean something:
 *   * the executor reaches the outside world only through the activity
 *     configuration built here (stripe-sim, the SMTP sink, the ERP sink);
 *   * with a virtual clock, stripe-sim runs a frozen clock that starts at
 *     the same instant (daemon mode: both at the wall-clock time), and
 *     e2e_advance moves both by the same amount, the simulator first, so
 *     Stripe never lags behind the engine;
 *   * the ERP sink keeps every request (duplicates included) in memory
 *     under a mutex; readers take copies through e2e_erp_*.
 */
#ifndef E2E_FIXTURE_H
#define E2E_FIXTURE_H

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "exec/st_exec.h"
#include "http/st_http.h"
#include "st_test.h"

#define E2E_STRIPE_KEY     "sk_test_settle_e2e_000000000000000000"
#define E2E_WEBHOOK_SECRET "whsec_settle_e2e_0123456789abcdef"
#define E2E_API_TOKEN      "tok_settle_e2e_write_0123456789"
#define E2E_ERP_MAX        1024
/* 2026-01-01T00:00:00Z: where virtual time starts, in the engine and the sim. */
#define E2E_VIRTUAL_START 1767225600LL

typedef struct e2e_erp_rec {
    char path[64]; /* /payments, /write-offs, /refunds */
    char key[128]; /* Idempotency-Key header */
    char external_id[128];
    char type[32];
    char reference[128];
    long long amount;
    char currency[8];
} e2e_erp_rec_t;

typedef struct e2e_opts {
    int virtual_clock;  /* engine virtual clock + frozen sim clock */
    const char *faults; /* stripe-sim fault spec, or NULL */
    unsigned seed;      /* stripe-sim seed; 0: 7 */
    int daemon;         /* run `settled run --http` as a child instead of the
                         * in-process executor and HTTP server; configured only
                         * through its command line and environment */
} e2e_opts_t;

typedef struct e2e {
    e2e_opts_t o;
    char dsn[512];
    char db[128];
    PGconn *pg;
    struct ev_loop *ops_loop;
    struct st_store_conn *ops;
    struct ev_loop *loop;
    ev_timer tick;
    st_exec_t *x;      /* in-process mode */
    pid_t settled_pid; /* daemon mode */
    st_act_config_t act;
    st_http_server_t *http;
    unsigned http_port;
    pid_t sim_pid;
    unsigned sim_port;
    pid_t smtp_pid;
    int smtp_port;
    char mail_dir[64];
    struct MHD_Daemon *erp;
    unsigned erp_port;
    pthread_mutex_t erp_mu;
    e2e_erp_rec_t erp_recs[E2E_ERP_MAX];
    int n_erp;
} e2e_t;

void e2e_init(e2e_t *e, const e2e_opts_t *o);
void e2e_fini(e2e_t *e);

/* Deploy a shipped flow (path relative to the source tree) or a text. */
void e2e_deploy_file(e2e_t *e, const char *rel);
void e2e_deploy_text(e2e_t *e, const char *name, const char *src);
/* Read a file of the source tree (malloc'd). */
char *e2e_read_src(const char *rel);

/* Start an instance (in daemon mode through settled's flow API); returns
 * its id in a static buffer. */
const char *e2e_start(e2e_t *e, const char *flow, const char *inputs_json);
/* Run settled (the binary of this build) with args; returns its exit code. */
int e2e_settled(e2e_t *e, const char *const *args);
/* POST a JSON body to settle's flow API; returns the status. */
long e2e_api_post(e2e_t *e, const char *path, const char *json_body);
/* Send a signal through settle's flow API (POST /v1/instances/ID/signals);
 * 202, or with finished_ok also 409 (the instance already finished).
 * Returns the status. */
long e2e_api_signal(e2e_t *e, const char *id, const char *name, int finished_ok);

/* A request to stripe-sim (form-encoded body or NULL); returns the parsed
 * answer (caller decrefs) and the HTTP status in *status when not NULL. */
json_t *e2e_sim(e2e_t *e, const char *method, const char *path, const char *form, long *status);
/* Move virtual time forward by seconds (sim first, then the engine: in
 * daemon mode `settled clock advance`); returns once the engine got there. */
void e2e_advance(e2e_t *e, int64_t seconds);

/* Turn the executor's loop until sql returns want or timeout_s passes. */
int e2e_until(e2e_t *e, const char *sql, long long want, double timeout_s);
/* Turn the loop for a bounded while (lets in-flight work land). */
void e2e_spin(e2e_t *e, double seconds);
long long e2e_scalar(e2e_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text of a one-value query ("" when no row), in one of four static buffers
 * used in turn. */
const char *e2e_text(e2e_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every instance's history covers seq 0..seq with no gap. */
void e2e_assert_gapless(e2e_t *e);

/* Messages the SMTP sink accepted, parsed: one JSON object each with
 * to, subject, message_id, idem_key (caller decrefs the array). */
json_t *e2e_mail(e2e_t *e);
/* Copies of the ERP sink's requests; returns the count. */
int e2e_erp(e2e_t *e, e2e_erp_rec_t *out, int cap);

#endif
