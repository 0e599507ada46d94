/*
 * test_start_progs.c — the node's shared Program cache (start/st_start_progs.h):
 * one entry per hash however many threads add it at once (the losers'
 * copies are freed: ASan sees a leak otherwise), find never touches the
 * database, load reads the store once and then serves from memory, and a
 * Program that is not there is the store's ST_NOTFOUND.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "http_fixture.h"
#include "http_flows.h"
#include "start/st_start_progs.h"
#include "store/st_store.h"

#define THREADS 8

typedef struct race {
    st_start_progs_t *pc;
    const void *bytes;
    size_t len;
    const char *hash;
    pthread_barrier_t *go;
    const st_start_prog_t *got;
    int rc;
} race_t;

static void *add_one(void *arg)
{
    race_t *r = arg;
    st_err_t err;
    st_core_program_t *p = NULL;
    r->rc = st_core_program_load(r->bytes, r->len, &p, &err);
    pthread_barrier_wait(r->go);
    if (r->rc == 0)
        r->rc = st_start_progs_add(r->pc, r->hash, p, &r->got, &err);
    return NULL;
}

typedef struct fixture {
    fx_t f;
    struct ev_loop *loop;
    st_store_conn_t *c;
    char hash[65];
    st_store_program_rec_t rec;
} fixture_t;

static void open_fixture(fixture_t *x)
{
    fx_open(&x->f, 1);
    fx_deploy(&x->f, "wait_invoice.flow", FLOW_WAIT_INVOICE);
    st_err_t err;
    x->loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = x->f.dsn};
    x->c = st_store_conn_new(x->loop, &cc, &err);
    ck_assert_msg(x->c != NULL, "connect: %s", err.msg);
    ck_assert_int_eq(st_store_flow_current(x->c, "wait_invoice", x->hash, &err), 0);
    ck_assert_int_eq(st_store_program_load(x->c, x->hash, &x->rec, &err), 0);
}

static void close_fixture(fixture_t *x)
{
    st_store_program_rec_release(&x->rec);
    st_store_conn_free(x->c);
    ev_loop_destroy(x->loop);
    fx_close(&x->f);
}

START_TEST(threads_adding_one_hash_share_one_entry)
{
    fixture_t x;
    open_fixture(&x);
    st_start_progs_t *pc = st_start_progs_new();
    ck_assert_ptr_nonnull(pc);
    ck_assert_ptr_null(st_start_progs_find(pc, x.hash));
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    pthread_t t[THREADS];
    race_t r[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] =
            (race_t){.pc = pc, .bytes = x.rec.bytes, .len = x.rec.len, .hash = x.hash, .go = &go};
        ck_assert_int_eq(pthread_create(&t[i], NULL, add_one, &r[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&go);
    const st_start_prog_t *one = st_start_progs_find(pc, x.hash);
    ck_assert_ptr_nonnull(one);
    ck_assert_str_eq(one->hash, x.hash);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(r[i].rc, 0);
        ck_assert_ptr_eq(r[i].got, one);
    }
    ck_assert_str_eq(st_core_program_name(one->p), "wait_invoice");
    st_start_progs_free(pc);
    close_fixture(&x);
}
END_TEST

START_TEST(load_reads_the_store_once)
{
    fixture_t x;
    open_fixture(&x);
    st_start_progs_t *pc = st_start_progs_new();
    const st_start_prog_t *a = NULL, *b = NULL;
    st_err_t err;
    ck_assert_int_eq(st_start_progs_load(pc, x.c, x.hash, &a, &err), 0);
    /* Asked through a connection to a database without it: the cache
     * answers and never asks the store. */
    fx_t empty;
    fx_open(&empty, 1);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_cfg_t cc = {.dsn = empty.dsn};
    st_store_conn_t *other = st_store_conn_new(loop, &cc, &err);
    ck_assert_msg(other != NULL, "connect: %s", err.msg);
    ck_assert_msg(st_start_progs_load(pc, other, x.hash, &b, &err) == 0, "%s", err.msg);
    ck_assert_ptr_eq(a, b);
    st_store_conn_free(other);
    ev_loop_destroy(loop);
    fx_close(&empty);
    char missing[65];
    memset(missing, 'a', 64);
    missing[64] = '\0';
    ck_assert_int_eq(st_start_progs_load(pc, x.c, missing, &b, &err), ST_NOTFOUND);
    ck_assert_ptr_null(st_start_progs_find(pc, missing));
    st_start_progs_free(pc);
    st_start_progs_free(NULL);
    close_fixture(&x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("start_progs");
    TCase *tc = tcase_create("progs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, threads_adding_one_hash_share_one_entry);
    tcase_add_test(tc, load_reads_the_store_once);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
