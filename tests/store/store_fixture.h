/*
 * store_fixture.h — a fresh, migrated database and a store connection for
 * each store test, plus small builders for starts and checkpoints.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <ev.h>
#include <libpq-fe.h>

#include "st_test.h"
#include "store/st_store.h"

typedef struct fx {
    char dsn[512];
    char db[128];
    struct ev_loop *loop;
    st_store_conn_t *c;
    PGconn *pg;    /* plain blocking connection for assertions */
    int64_t node;  /* a registered node with a 60 s lease */
    char hash[65]; /* program of flow "demo", current */
} fx_t;

void fx_open(fx_t *f);
void fx_close(fx_t *f);
int64_t fx_now_us(void);

/* A start of flow "demo" in state 0 "init", owned by f->node. */
st_store_start_t fx_start_spec(const fx_t *f, const char *business_key);
/* Start one instance (must succeed); returns its id and epoch. */
st_store_uuid_t fx_start(fx_t *f, const char *business_key, int64_t *epoch);

/* A checkpoint moving instance from seq to seq+1 into state "s<seq+1>". */
void fx_ckpt(st_store_ckpt_t *k, const fx_t *f, const st_store_uuid_t *id, int64_t epoch,
             int64_t seq, st_store_status_t status);

/* Submit and run the loop until its callback fired; returns its rc. */
int fx_ckpt_run(fx_t *f, st_store_batch_t *b, st_store_ckpt_t *k);

/* First column of the first row of sql as an integer. */
long long fx_int(fx_t *f, const char *sql);

#endif
