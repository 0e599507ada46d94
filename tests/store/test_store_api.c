/*
 * test_store_api.c — the store's reads and writes for the flow API
 * (st_store_api.h, st_store_signal_send_live): an instance with its open
 * task, archived ones, the filtered newest-first listing and its keyset,
 * signals refused for finished instances, the schema check.
 */
#include <stdio.h>
#include <string.h>

#include "store/st_store_api.h"
#include "store_fixture.h"

static void exec(fx_t *f, const char *sql)
{
    PQclear(st_test_exec(f->pg, sql));
}

START_TEST(view_has_the_open_task_and_finds_archived_instances)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id = fx_start(&f, "bk-1", NULL);
    char text[37], sql[1024];
    st_store_uuid_format(&id, text);
    st_store_view_t v;
    st_err_t err;
    ck_assert_int_eq(st_store_view_get(f.c, &id, &v, &err), 0);
    ck_assert(!v.task.present);
    ck_assert_str_eq(v.inst.business_key, "bk-1");
    ck_assert_str_eq(v.inst.vars_json, "{\"n\": 0}");
    st_store_view_release(&v);
    snprintf(sql, sizeof sql,
             "INSERT INTO tasks (instance_id, seq, state_name, activity, args, idempotency_key,"
             " status, attempt, max_attempts, timeout_ms, not_before, last_error, created_at,"
             " updated_at) VALUES"
             " ('%s', 0, 'init', 'old', '{}', 'k0', 'pending', 0, 3, 1000, now(), NULL, now(),"
             " now()),"
             " ('%s', 1, 'init', 'new', '{}', 'k1', 'running', 2, 5, 1000, settle_ts(1000000),"
             " 'boom', now(), now()),"
             " ('%s', 2, 'init', 'done', '{}', 'k2', 'done', 1, 1, 1000, now(), NULL, now(),"
             " now())",
             text, text, text);
    exec(&f, sql);
    ck_assert_int_eq(st_store_view_get(f.c, &id, &v, &err), 0);
    ck_assert(v.task.present); /* the newest open one, not the done one */
    ck_assert_str_eq(v.task.activity, "new");
    ck_assert_int_eq(v.task.status, ST_STORE_TASK_RUNNING);
    ck_assert_int_eq(v.task.attempt, 2);
    ck_assert_int_eq(v.task.max_attempts, 5);
    ck_assert_int_eq(v.task.not_before_us, 1000000);
    ck_assert_str_eq(v.task.last_error, "boom");
    st_store_view_release(&v);
    /* finished and archived: still found by id, no longer listed */
    exec(&f, "UPDATE instances SET status = 'completed', updated_at = now() - interval '1 day'");
    ck_assert_int_eq(fx_int(&f, "SELECT settle_archive_instances(now(), 10)"), 1);
    ck_assert_int_eq(st_store_view_get(f.c, &id, &v, &err), 0);
    ck_assert_int_eq(v.inst.status, ST_STORE_COMPLETED);
    ck_assert(!v.task.present);
    st_store_view_release(&v);
    st_store_view_filter_t any = {.status = -1};
    st_store_views_t list;
    ck_assert_int_eq(st_store_views_list(f.c, &any, 10, &list, &err), 0);
    ck_assert_uint_eq(list.n, 0);
    st_store_views_free(&list);
    /* a signal to it is refused, saying how it ended */
    st_store_status_t status = ST_STORE_RUNNING;
    int64_t sid = -1;
    ck_assert_int_eq(st_store_signal_send_live(f.c, &id, "x", NULL, "api", &sid, &status, &err),
                     ST_CONFLICT);
    ck_assert_int_eq(status, ST_STORE_COMPLETED);
    ck_assert_int_eq(sid, -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "already completed"));
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals"), 0);
    st_store_uuid_t ghost;
    ck_assert_int_eq(st_store_uuid_parse("00000000-0000-7000-8000-00000000dead", &ghost), 0);
    ck_assert_int_eq(st_store_view_get(f.c, &ghost, &v, &err), ST_NOTFOUND);
    ck_assert_int_eq(st_store_signal_send_live(f.c, &ghost, "x", NULL, "api", NULL, NULL, &err),
                     ST_NOTFOUND);
    fx_close(&f);
}
END_TEST

START_TEST(list_filters_and_pages_newest_first)
{
    fx_t f;
    fx_open(&f);
    enum { N = 7 };
    for (int i = 0; i < N; i++)
        fx_start(&f, NULL, NULL);
    fx_start(&f, "only", NULL);
    exec(&f, "UPDATE instances SET state_name = 'paid' WHERE business_key = 'only'");
    st_err_t err;
    st_store_views_t page;
    st_store_view_filter_t by_key = {.status = -1, .business_key = "only", .state_name = "paid"};
    ck_assert_int_eq(st_store_views_list(f.c, &by_key, 10, &page, &err), 0);
    ck_assert_uint_eq(page.n, 1);
    st_store_views_free(&page);
    st_store_view_filter_t other = {.status = ST_STORE_WAITING, .flow = "demo"};
    ck_assert_int_eq(st_store_views_list(f.c, &other, 10, &page, &err), 0);
    ck_assert_uint_eq(page.n, 0);
    st_store_views_free(&page);
    /* pages of 3 through all 8, newest first, each id once */
    st_store_view_filter_t all = {.status = ST_STORE_RUNNING, .flow = "demo"};
    st_store_uuid_t cursor, prev;
    size_t seen = 0;
    for (int round = 0; round < 4; round++) {
        ck_assert_int_eq(st_store_views_list(f.c, &all, 3, &page, &err), 0);
        for (size_t i = 0; i < page.n; i++) {
            if (seen > 0)
                ck_assert(memcmp(page.v[i].inst.id.b, prev.b, 16) < 0);
            prev = page.v[i].inst.id;
            seen++;
        }
        size_t n = page.n;
        if (n > 0) {
            cursor = page.v[n - 1].inst.id;
            all.before = &cursor;
        }
        st_store_views_free(&page);
        if (n < 3)
            break;
    }
    ck_assert_uint_eq(seen, N + 1);
    st_store_view_filter_t bad = {.status = 99};
    ck_assert_int_eq(st_store_views_list(f.c, &bad, 3, &page, &err), ST_INVAL);
    fx_close(&f);
}
END_TEST

START_TEST(schema_check_reads_the_version)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    ck_assert_int_eq(st_store_schema_check(f.c, &err), 0);
    ck_assert_int_eq(st_store_schema_probe(f.dsn, &err), 0);
    char sql[128];
    snprintf(sql, sizeof sql,
             "INSERT INTO settle_schema_version (version, name, checksum)"
             " VALUES (%d, 'future', 'x')",
             st_store_schema_version() + 1);
    exec(&f, sql);
    ck_assert_int_eq(st_store_schema_check(f.c, &err), ST_SCHEMA);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer than this binary"));
    ck_assert_int_eq(st_store_schema_probe(f.dsn, &err), ST_SCHEMA);
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s dbname=no_such_db_settle password=hunter2", f.dsn);
    ck_assert_int_eq(st_store_schema_probe(dsn, &err), ST_DB);
    ck_assert_ptr_null(strstr(err.msg, "hunter2"));
    ck_assert_ptr_null(strstr(err.detail, "hunter2"));
    fx_close(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, view_has_the_open_task_and_finds_archived_instances);
    tcase_add_test(tc, list_filters_and_pages_newest_first);
    tcase_add_test(tc, schema_check_reads_the_version);
    suite_add_tcase(s, tc);
    return st_test_run(s);
}
