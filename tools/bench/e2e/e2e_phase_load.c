/*
 * e2e_phase_load.c — the load phases of the end-to-end benchmark:
 *
 *   throughput  N flows of K test.echo steps started by C keep-alive
 *               clients with POST /v1/instances;
 *   batch       the same flows started with POST /v1/instances/batch, B
 *               items per request (skipped with a notice when the settled
 *               under test has no such endpoint);
 *   light       one flow of K steps at a time: the next starts only when
 *               the last one is seen completed in the database.
 *
 * Flow latency is from the moment a flow's start request was sent to the
 * commit of its last step (the completed instance row's updated_at, read
 * after the run). Durable steps/s count N x K steps from the first start
 * sent to the last completion seen.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e_bench.h"
#include "e2e_http.h"
#include "e2e_starts.h"

typedef struct steps_ctx {
    size_t k;
    const char *prefix;
} steps_ctx_t;

static int body_steps(size_t i, char *buf, size_t cap, void *ctx)
{
    const steps_ctx_t *c = ctx;
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e\",\"inputs\":{\"n\":%zu},\"business_key\":\"%s%zu\"}", c->k,
                    c->prefix, i);
}

/* Latency of flows 0..n-1 from sent[i] to their completion; dies when one
 * is missing or did not complete. */
static void flow_latency(e2e_stack_t *st, const char *prefix, size_t n, const int64_t *sent,
                         double *p50_ms, double *p99_ms)
{
    int64_t *at = calloc(n, sizeof *at);
    if (at == NULL)
        e2e_die("latency", "out of memory");
    size_t found = e2e_updated_at(st, "e2e", prefix, n, at);
    if (found != n)
        e2e_die("latency", "a flow's completion is missing in the database");
    for (size_t i = 0; i < n; i++)
        at[i] -= sent[i];
    *p50_ms = e2e_pct(at, n, 50) / 1e3;
    *p99_ms = e2e_pct(at, n, 99) / 1e3;
    free(at);
}

static void check_completed(e2e_stack_t *st, const char *what)
{
    if (e2e_scalar(st, "SELECT count(*) FROM instances WHERE flow = 'e2e' "
                       "AND status <> 'completed'") > 0)
        e2e_die(what, "some flows did not complete (see the database's instances)");
}

void e2e_phase_load(e2e_stack_t *st, const e2e_opts_t *o, int batch)
{
    const char *name = batch ? "batch" : "throughput";
    e2e_stack_fresh(st, batch ? "settle_e2e_batch" : "settle_e2e_tp");
    e2e_stack_deploy(st, "e2e.flow", E2E_FLOW_STEPS);
    e2e_stack_run(st);
    if (batch && !e2e_batch_supported(st->port)) {
        printf("batch: not supported by this settled (POST /v1/instances/batch answers "
               "404/405)\n");
        e2e_stack_close(st);
        return;
    }
    size_t n = o->flows, k = o->steps;
    int64_t *sent = calloc(n, sizeof *sent);
    if (sent == NULL)
        e2e_die(name, "out of memory");
    steps_ctx_t ctx = {.k = k, .prefix = batch ? "b" : "t"};
    e2e_starts_t s = {.body = body_steps,
                      .ctx = &ctx,
                      .clients = batch ? o->batch_clients : o->clients,
                      .per_batch = batch ? o->per_batch : 0,
                      .sent_us = sent};
    double t0 = e2e_mono_s();
    double start_s = e2e_starts_run(st->port, n, &s);
    e2e_wait_count(st,
                   "SELECT count(*) FROM instances WHERE flow = 'e2e' "
                   "AND status NOT IN ('running', 'waiting')",
                   (double)n, 600 + (double)n / 100, "completion of every flow");
    double all_s = e2e_mono_s() - t0;
    check_completed(st, name);
    double p50, p99;
    flow_latency(st, ctx.prefix, n, sent, &p50, &p99);
    if (batch)
        printf("batch: %zu flows x %zu steps, %zu per request, %u clients: %.0f starts/s "
               "(%.2f s), ",
               n, k, o->per_batch, s.clients, (double)n / start_s, start_s);
    else
        printf("throughput: %zu flows x %zu steps, %u clients: %.0f starts/s (%.2f s), ", n, k,
               s.clients, (double)n / start_s, start_s);
    printf("%.0f durable steps/s end to end (%.2f s), flow latency p50 %.1f ms p99 %.1f ms\n",
           (double)(n * k) / all_s, all_s, p50, p99);
    char fig[64];
    snprintf(fig, sizeof fig, "%s_starts_per_s", name);
    e2e_figure(fig, (double)n / start_s);
    snprintf(fig, sizeof fig, "%s_steps_per_s", name);
    e2e_figure(fig, (double)(n * k) / all_s);
    snprintf(fig, sizeof fig, "%s_latency_p50_ms", name);
    e2e_figure(fig, p50);
    snprintf(fig, sizeof fig, "%s_latency_p99_ms", name);
    e2e_figure(fig, p99);
    free(sent);
    e2e_stack_close(st);
}

/* ---- light load ---------------------------------------------------------------- */

typedef struct light {
    e2e_stack_t *st;
    steps_ctx_t steps;
    int64_t *sent, *seen; /* per flow: request sent, completion seen */
} light_t;

/* Poll flow i's row until it has ended; return when that was seen. */
static int64_t wait_done(e2e_stack_t *st, size_t i)
{
    char key[32];
    snprintf(key, sizeof key, "l%zu", i);
    const char *params[] = {key};
    for (double t0 = e2e_mono_s(); e2e_mono_s() - t0 < 30; usleep(200)) {
        PGresult *r = PQexecPrepared(st->db, "e2e_light_done", 1, params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            e2e_die("light: polling", PQresultErrorMessage(r));
        int done = PQntuples(r) == 1;
        PQclear(r);
        if (done)
            return e2e_wall_us();
    }
    e2e_die("light", "a flow did not end within 30 s");
}

static int body_light(size_t i, char *buf, size_t cap, void *ctx)
{
    light_t *l = ctx;
    if (i > 0)
        l->seen[i - 1] = wait_done(l->st, i - 1);
    return body_steps(i, buf, cap, &l->steps);
}

void e2e_phase_light(e2e_stack_t *st, const e2e_opts_t *o)
{
    size_t n = o->light;
    e2e_stack_fresh(st, "settle_e2e_light");
    e2e_stack_deploy(st, "e2e.flow", E2E_FLOW_STEPS);
    e2e_stack_run(st);
    PGresult *r = PQprepare(st->db, "e2e_light_done",
                            "SELECT 1 FROM instances WHERE flow = 'e2e' AND business_key = $1 "
                            "AND status NOT IN ('running', 'waiting')",
                            1, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        e2e_die("light: prepare", PQresultErrorMessage(r));
    PQclear(r);
    light_t l = {.st = st, .steps = {.k = o->steps, .prefix = "l"}};
    l.sent = calloc(n, sizeof *l.sent);
    l.seen = calloc(n, sizeof *l.seen);
    if (l.sent == NULL || l.seen == NULL)
        e2e_die("light", "out of memory");
    /* One connection: body_light holds flow i's request back until flow
     * i-1 has ended, so exactly one flow is ever in flight. */
    e2e_starts_t s = {.body = body_light, .ctx = &l, .clients = 1, .sent_us = l.sent};
    e2e_starts_run(st->port, n, &s);
    l.seen[n - 1] = wait_done(st, n - 1);
    check_completed(st, "light");
    double p50, p99;
    flow_latency(st, "l", n, l.sent, &p50, &p99);
    for (size_t i = 0; i < n; i++)
        l.seen[i] -= l.sent[i];
    double s50 = e2e_pct(l.seen, n, 50) / 1e3, s99 = e2e_pct(l.seen, n, 99) / 1e3;
    printf("light: %zu flows of %zu steps one at a time: completion latency p50 %.2f ms "
           "p99 %.2f ms (to the last step's commit; seen by polling: p50 %.2f ms p99 %.2f ms)\n",
           n, o->steps, p50, p99, s50, s99);
    e2e_figure("light_latency_p50_ms", p50);
    e2e_figure("light_latency_p99_ms", p99);
    e2e_figure("light_seen_p50_ms", s50);
    e2e_figure("light_seen_p99_ms", s99);
    free(l.sent);
    free(l.seen);
    e2e_stack_close(st);
}
