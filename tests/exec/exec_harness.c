/*
 * exec_harness.c — see exec_harness.h.
 */
#include "exec_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/st_ops.h"
#include "store/st_migrate.h"

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

void h_init(harness_t *h)
{
    memset(h, 0, sizeof *h);
    st_test_create_db(h->dsn, sizeof h->dsn, h->db, sizeof h->db);
    h->pg = st_test_connect(h->dsn);
    st_err_t err;
    ck_assert_msg(st_migrate_apply(h->pg, NULL, &err) == 0, "migrate: %s %s", err.msg, err.detail);
    h->ops_loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = h->dsn};
    h->ops = st_store_conn_new(h->ops_loop, &cc, &err);
    ck_assert_msg(h->ops != NULL, "store: %s %s", err.msg, err.detail);
    h->loop = ev_loop_new(EVFLAG_AUTO);
    ev_timer_init(&h->tick, on_tick, 0.005, 0.005);
    ev_timer_start(h->loop, &h->tick);
}

void h_deploy(harness_t *h, const char *name, const char *src)
{
    st_ops_deployed_t d;
    char *diags = NULL;
    st_err_t err;
    int rc = st_ops_deploy(h->ops, name, src, strlen(src), &d, &diags, &err);
    ck_assert_msg(rc == 0, "deploy %s: %s\n%s", name, err.msg, diags ? diags : "");
    free(diags);
}

/* Keeps the executor's log lines (as many as fit). */
static void h_log(void *ctx, const char *line)
{
    harness_t *h = ctx;
    size_t n = strlen(line);
    if (h->log_len + n + 2 > sizeof h->log)
        return;
    memcpy(h->log + h->log_len, line, n);
    h->log_len += n;
    h->log[h->log_len++] = '\n';
    h->log[h->log_len] = '\0';
}

int h_logged(const harness_t *h, const char *const *parts)
{
    const char *line = h->log;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[2048];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        int all = 1;
        for (const char *const *p = parts; *p && all; p++)
            all = strstr(buf, *p) != NULL;
        if (all)
            return 1;
        line += len + (end != NULL);
    }
    return 0;
}

void h_exec_start(harness_t *h, int virtual_clock, const char *crash_at)
{
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = h->dsn;
    cfg.node_name = "test-node";
    cfg.clock = virtual_clock ? ST_CLOCK_VIRTUAL : ST_CLOCK_REAL;
    cfg.virtual_start_us = 1767225600LL * 1000000; /* 2026-01-01T00:00:00Z */
    cfg.claim_interval_ms = 50;
    cfg.crash_at = crash_at;
    cfg.log = h_log;
    cfg.log_ctx = h;
    if (h->metrics == NULL)
        h->metrics = st_metrics_new();
    cfg.metrics = h->metrics;
    static st_act_config_t act;
    st_act_config_defaults(&act);
    cfg.act = &act;
    st_err_t err;
    ck_assert_msg(st_exec_new(h->loop, &cfg, &h->x, &err) == 0, "exec: %s", err.msg);
    ck_assert_msg(st_exec_start(h->x, &err) == 0, "exec start: %s %s", err.msg, err.detail);
}

void h_exec_stop(harness_t *h, int graceful)
{
    if (h->x == NULL)
        return;
    if (graceful) {
        st_exec_shutdown(h->x);
        for (int i = 0; i < 2000 && !st_exec_stopped(h->x); i++)
            ev_run(h->loop, EVRUN_ONCE);
        ck_assert_msg(st_exec_stopped(h->x), "graceful shutdown did not finish");
    }
    st_exec_free(h->x);
    h->x = NULL;
}

const char *h_start(harness_t *h, const char *flow, const char *inputs, const char *key)
{
    static st_start_out_t s;
    st_err_t err;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_t *in = NULL;
    ck_assert_msg(st_start_inputs_parse(inputs, &in, &err) == 0, "inputs: %s", err.msg);
    st_start_req_t req = {.flow = flow,
                          .inputs = in,
                          .business_key = key,
                          .at = ST_START_AT_GIVEN,
                          .at_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000};
    int rc = st_start(h->ops, NULL, &req, &s, &err);
    json_decref(in);
    ck_assert_msg(rc == 0, "start %s: %s %s", flow, err.msg, err.detail);
    return s.id;
}

void h_signal(harness_t *h, const char *id, const char *name, const char *payload)
{
    st_store_uuid_t u;
    int64_t sid = 0;
    st_err_t err;
    ck_assert_int_eq(st_store_uuid_parse(id, &u), 0);
    ck_assert_msg(st_store_signal_send(h->ops, &u, name, payload, "test", &sid, &err) == 0,
                  "signal: %s", err.msg);
}

long long h_scalar(harness_t *h, const char *sql)
{
    PGresult *r = st_test_exec(h->pg, sql);
    long long v = PQgetisnull(r, 0, 0) ? -1 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

const char *h_text(harness_t *h, const char *sql)
{
    static char buf[4096];
    PGresult *r = st_test_exec(h->pg, sql);
    snprintf(buf, sizeof buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return buf;
}

int h_until(harness_t *h, const char *sql, long long want, double timeout_s)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (h_scalar(h, sql) == want)
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > timeout_s)
            return 0;
        for (int i = 0; i < 20; i++)
            ev_run(h->loop, EVRUN_ONCE);
    }
}

void h_assert_gapless(harness_t *h)
{
    long long bad = h_scalar(h, "SELECT count(*) FROM instances i WHERE "
                                "(SELECT count(DISTINCT seq) FROM history h "
                                " WHERE h.instance_id = i.id) <> i.seq + 1 OR "
                                "(SELECT max(seq) FROM history h WHERE h.instance_id = i.id) "
                                " <> i.seq");
    ck_assert_msg(bad == 0, "%lld instance(s) have gaps in their history", bad);
}

void h_fini(harness_t *h)
{
    h_exec_stop(h, 0);
    st_metrics_free(h->metrics);
    ev_timer_stop(h->loop, &h->tick);
    ev_loop_destroy(h->loop);
    st_store_conn_free(h->ops);
    ev_loop_destroy(h->ops_loop);
    PQfinish(h->pg);
    st_test_drop_db(h->db);
}
