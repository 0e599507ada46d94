/*
 * test_store_partitions.c — daily history partitions, retention, archive.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

#define DAY_US 86400000000LL

START_TEST(partitions_and_retention)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t now = fx_now_us();
    int64_t old = now - 10 * DAY_US;
    /* history written 10 days ago lands in the default partition */
    st_store_start_t s = fx_start_spec(&f, NULL);
    s.now_us = old;
    st_store_started_t out;
    ck_assert_int_eq(st_store_start(f.c, &s, &out, &err), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history_default"), 1);
    /* creating that day's partition moves the row into it */
    int made = 0;
    ck_assert_int_eq(st_store_history_ensure(f.c, old, 1, &made, &err), 0);
    ck_assert_int_eq(made, 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history_default"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history"), 1);
    /* today and three days ahead; idempotent */
    ck_assert_int_eq(st_store_history_ensure(f.c, now, 4, &made, &err), 0);
    ck_assert_int_eq(made, 4);
    ck_assert_int_eq(st_store_history_ensure(f.c, now, 4, &made, &err), 0);
    ck_assert_int_eq(made, 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM pg_inherits WHERE inhparent = "
                                "'history'::regclass"),
                     6);
    /* a checkpoint now writes into today's partition, not the default */
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &out.id, out.lease_epoch, 0, ST_STORE_RUNNING);
    st_store_hist_t h[2] = {{"transition", "init", "s1", NULL}, {"activity", NULL, NULL, "{}"}};
    k.hist = h;
    k.nhist = 2;
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history_default"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE seq = 1"), 2);
    /* retention of 7 days drops the old day's partition whole */
    int dropped = 0;
    ck_assert_int_eq(st_store_history_retain(f.c, now - 7 * DAY_US, &dropped, &err), 0);
    ck_assert_int_eq(dropped, 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'start'"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history"), 2);
    ck_assert_int_eq(st_store_history_ensure(f.c, now, 0, &made, &err), ST_INVAL);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

START_TEST(archive_moves_completed)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep[3];
    st_store_uuid_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    for (int i = 0; i < 2; i++) {
        fx_ckpt(&k, &f, &id[i], ep[i], 0, i == 0 ? ST_STORE_COMPLETED : ST_STORE_CANCELLED);
        ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    }
    int moved = 0;
    ck_assert_int_eq(st_store_archive(f.c, fx_now_us() + 1000000, 100, &moved, &err), 0);
    ck_assert_int_eq(moved, 2);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances"), 1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM instances_archive WHERE seq = 1"), 2);
    st_store_instance_t in;
    ck_assert_int_eq(st_store_instance_load(f.c, &id[0], &in, &err), ST_NOTFOUND);
    /* counts are by final status wherever the instance lives */
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'completed'"), 1);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_partitions");
    TCase *tc = tcase_create("partitions");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, partitions_and_retention);
    tcase_add_test(tc, archive_moves_completed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
