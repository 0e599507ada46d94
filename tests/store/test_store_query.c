/*
 * test_store_query.c — operator reads: counts, timelines, listings.
 */
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

START_TEST(counts_history_and_listing)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    int64_t ep[5];
    st_store_uuid_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = fx_start(&f, NULL, &ep[i]);
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_hist_t h[2] = {{"signal", NULL, NULL, "{\"name\": \"paid\"}"},
                            {"transition", "init", "s1", NULL}};
    st_store_ckpt_t k;
    for (int i = 0; i < 2; i++) {
        fx_ckpt(&k, &f, &id[i], ep[i], 0, ST_STORE_COMPLETED);
        k.hist = h;
        k.nhist = 2;
        ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    }
    st_store_counts_t counts;
    ck_assert_int_eq(st_store_flow_counts(f.c, &counts, &err), 0);
    ck_assert_uint_eq(counts.n, 2);
    ck_assert_str_eq(counts.v[0].flow, "demo");
    ck_assert_int_eq(counts.v[0].status, ST_STORE_RUNNING);
    ck_assert_int_eq(counts.v[0].n, 3);
    ck_assert_int_eq(counts.v[1].status, ST_STORE_COMPLETED);
    ck_assert_int_eq(counts.v[1].n, 2);
    st_store_counts_free(&counts);
    /* the timeline of id[0] in pages of two: start, signal, transition */
    st_store_hist_rows_t rows;
    ck_assert_int_eq(st_store_history_list(f.c, &id[0], -1, 0, 2, &rows, &err), 0);
    ck_assert_uint_eq(rows.n, 2);
    ck_assert_str_eq(rows.v[0].kind, "start");
    ck_assert_int_eq(rows.v[0].seq, 0);
    ck_assert_str_eq(rows.v[1].kind, "signal");
    ck_assert_ptr_null(rows.v[1].from_state);
    ck_assert(strstr(rows.v[1].detail_json, "paid") != NULL);
    int64_t s = rows.v[1].seq, at = rows.v[1].at_us;
    st_store_hist_rows_free(&rows);
    ck_assert_int_eq(st_store_history_list(f.c, &id[0], s, at, 2, &rows, &err), 0);
    ck_assert_uint_eq(rows.n, 1);
    ck_assert_str_eq(rows.v[0].kind, "transition");
    ck_assert_str_eq(rows.v[0].to_state, "s1");
    ck_assert_str_eq(rows.v[0].actor, "engine");
    ck_assert_int_eq(rows.v[0].at_us, at + 1); /* second row of the checkpoint */
    st_store_hist_rows_free(&rows);
    /* listings with filters and a cursor */
    st_store_instances_t list;
    ck_assert_int_eq(st_store_instances_list(f.c, "demo", ST_STORE_RUNNING, NULL, 10, &list, &err),
                     0);
    ck_assert_uint_eq(list.n, 3);
    st_store_uuid_t mid = list.v[0].id;
    st_store_instances_free(&list);
    ck_assert_int_eq(st_store_instances_list(f.c, NULL, -1, &mid, 10, &list, &err), 0);
    char sql[160], text[37];
    st_store_uuid_format(&mid, text);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM instances WHERE id > '%s'", text);
    ck_assert_uint_eq(list.n, (size_t)fx_int(&f, sql));
    for (size_t i = 1; i < list.n; i++) /* ordered by id */
        ck_assert_int_lt(memcmp(list.v[i - 1].id.b, list.v[i].id.b, 16), 0);
    st_store_instances_free(&list);
    ck_assert_int_eq(st_store_instances_list(f.c, "nope", -1, NULL, 10, &list, &err), 0);
    ck_assert_uint_eq(list.n, 0);
    ck_assert_int_eq(st_store_instances_list(f.c, NULL, 99, NULL, 10, &list, &err), ST_INVAL);
    st_store_batch_free(b);
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_query");
    TCase *tc = tcase_create("query");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, counts_history_and_listing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
