/*
 * store_fixture.c — see store_fixture.h.
 */
#include "store_fixture.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/st_migrate.h"

int64_t fx_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void register_demo(fx_t *f)
{
    static const unsigned char bytes[] = {0x0a, 0x04, 'd', 'e', 'm', 'o', 0x00, 0xff};
    unsigned char md[32];
    unsigned len = 0;
    EVP_Digest(bytes, sizeof bytes, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(f->hash + 2 * i, 3, "%02x", md[i]);
    st_store_program_t p = {f->hash,        "demo", 1,           "workflows/demo.flow",
                            "flow demo {}", bytes,  sizeof bytes};
    st_err_t err;
    int created = -1;
    ck_assert_int_eq(st_store_program_register(f->c, &p, &created, &err), 0);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(st_store_flow_set_current(f->c, "demo", f->hash, &err), 0);
}

void fx_open(fx_t *f)
{
    memset(f, 0, sizeof *f);
    st_test_create_db(f->dsn, sizeof f->dsn, f->db, sizeof f->db);
    f->pg = st_test_connect(f->dsn);
    st_err_t err;
    char buf[2048];
    int rc = st_migrate_apply(f->pg, NULL, &err);
    ck_assert_msg(rc == 0, "migrate: %s", st_err_format(&err, buf, sizeof buf));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cfg = {.dsn = f->dsn, .backoff_min_ms = 10, .backoff_max_ms = 200};
    f->c = st_store_conn_new(f->loop, &cfg, &err);
    ck_assert_msg(f->c != NULL, "connect: %s", st_err_format(&err, buf, sizeof buf));
    ck_assert_int_eq(st_store_node_register(f->c, "test:1", 60000, &f->node, &err), 0);
    register_demo(f);
}

void fx_close(fx_t *f)
{
    st_store_conn_free(f->c);
    ev_loop_destroy(f->loop);
    PQfinish(f->pg);
    st_test_drop_db(f->db);
}

st_store_start_t fx_start_spec(const fx_t *f, const char *business_key)
{
    st_store_start_t s = {0};
    s.flow = "demo";
    s.business_key = business_key;
    s.state = 0;
    s.state_name = "init";
    s.status = ST_STORE_RUNNING;
    s.vars_json = "{\"n\": 0}";
    s.owner_node = f->node;
    s.wake_at_us = ST_STORE_NO_TIME;
    s.now_us = fx_now_us();
    return s;
}

st_store_uuid_t fx_start(fx_t *f, const char *business_key, int64_t *epoch)
{
    st_store_start_t s = fx_start_spec(f, business_key);
    st_store_started_t out;
    st_err_t err;
    char buf[2048];
    int rc = st_store_start(f->c, &s, &out, &err);
    ck_assert_msg(rc == 0, "start: %s", st_err_format(&err, buf, sizeof buf));
    if (epoch)
        *epoch = out.lease_epoch;
    return out.id;
}

void fx_ckpt(st_store_ckpt_t *k, const fx_t *f, const st_store_uuid_t *id, int64_t epoch,
             int64_t seq, st_store_status_t status)
{
    static const char *const names[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"};
    memset(k, 0, sizeof *k);
    k->instance = *id;
    k->node_id = f->node;
    k->lease_epoch = epoch;
    k->expected_seq = seq;
    k->state = (int32_t)(seq + 1);
    k->state_name = names[(seq + 1) % 9];
    k->status = status;
    k->vars_json = "{\"n\": 1}";
    k->wake_at_us = ST_STORE_NO_TIME;
    k->at_us = fx_now_us();
}

typedef struct run_ctx {
    int fired;
    int rc;
} run_ctx_t;

static void run_cb(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    run_ctx_t *r = ud;
    r->fired++;
    r->rc = rc;
}

int fx_ckpt_run(fx_t *f, st_store_batch_t *b, st_store_ckpt_t *k)
{
    run_ctx_t r = {0, 0};
    st_err_t err;
    ck_assert_int_eq(st_store_batch_submit(b, k, run_cb, &r, &err), 0);
    while (!r.fired)
        ev_run(f->loop, EVRUN_ONCE);
    ck_assert_int_eq(r.fired, 1);
    return r.rc;
}

long long fx_int(fx_t *f, const char *sql)
{
    PGresult *r = st_test_exec(f->pg, sql);
    ck_assert_msg(PQntuples(r) == 1, "expected one row from %s", sql);
    long long v = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
