/*
 * test_store_admin.c — the store's operator interface: repairs are
 * conditional on the row read (seq, lease epoch, owner) and write the row,
 * flow_counts and one history row together; filtered listings; the
 * strict instance-id parser; the checked operator connection.
 */
#include <stdio.h>
#include <string.h>

#include "store/st_store_admin.h"
#include "store_fixture.h"

static long long q(fx_t *f, const char *fmt, const st_store_uuid_t *id)
{
    char ids[37], sql[512];
    st_store_uuid_format(id, ids);
    snprintf(sql, sizeof sql, fmt, ids);
    return fx_int(f, sql);
}

static void load(fx_t *f, const st_store_uuid_t *id, st_store_instance_t *row)
{
    st_err_t err;
    ck_assert_int_eq(st_store_instance_load(f->c, id, row, &err), 0);
}

START_TEST(a_fenced_repair_writes_row_counts_and_one_history_row)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id = fx_start(&f, NULL, NULL);
    st_store_instance_t row;
    load(&f, &id, &row);
    st_store_repair_t r;
    st_store_repair_init(&r, &row, "settlectl:t@h");
    r.status = ST_STORE_SUSPENDED;
    r.wait_reason = "held";
    r.fence = r.notify = true;
    r.detail_json = "{\"action\": \"suspend\"}";
    st_store_repaired_t done;
    st_err_t err;
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), 0);
    ck_assert_int_eq(done.lease_epoch, row.lease_epoch + 1);
    ck_assert_int_eq(done.signal_id, 0);
    ck_assert_int_eq(q(&f,
                       "SELECT count(*) FROM instances WHERE id = '%s' AND status = 'suspended'"
                       " AND owner_node IS NULL AND seq = 0 AND wait_reason = 'held'",
                       &id),
                     1);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'running'"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT sum(n) FROM flow_counts WHERE status = 'suspended'"), 1);
    ck_assert_int_eq(q(&f,
                       "SELECT count(*) FROM history WHERE instance_id = '%s' AND kind = 'repair'"
                       " AND seq = 0 AND from_state = 'init' AND to_state = 'init'"
                       " AND actor = 'settlectl:t@h' AND detail->>'action' = 'suspend'",
                       &id),
                     1);
    /* after every row of its seq (the start row) */
    ck_assert_int_eq(q(&f,
                       "SELECT count(*) FROM history a JOIN history b USING (instance_id, seq)"
                       " WHERE a.instance_id = '%s' AND a.kind = 'repair' AND b.kind = 'start'"
                       " AND a.at > b.at",
                       &id),
                     1);
    st_store_instance_release(&row);
    fx_close(&f);
}
END_TEST

/* The row moved after it was read: nothing of the repair is written. */
START_TEST(a_repair_of_a_row_that_moved_conflicts_and_writes_nothing)
{
    fx_t f;
    fx_open(&f);
    int64_t ep;
    st_store_uuid_t id = fx_start(&f, NULL, &ep);
    st_store_instance_t row;
    load(&f, &id, &row);
    /* a node checkpoints it after the read */
    st_err_t err;
    st_store_batch_cfg_t cfg = {0};
    st_store_batch_t *b = st_store_batch_new(f.c, &cfg, &err);
    st_store_ckpt_t k;
    fx_ckpt(&k, &f, &id, ep, 0, ST_STORE_RUNNING);
    ck_assert_int_eq(fx_ckpt_run(&f, b, &k), 0);
    st_store_batch_free(b);
    st_store_repair_t r;
    st_store_repair_init(&r, &row, "op");
    r.status = ST_STORE_SUSPENDED;
    r.fence = r.notify = true;
    r.signal_name = "poke";
    st_store_repaired_t done;
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), ST_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "changed since it was read"));
    ck_assert_int_eq(q(&f,
                       "SELECT count(*) FROM instances WHERE id = '%s' AND status = 'running'"
                       " AND owner_node IS NOT NULL AND seq = 1",
                       &id),
                     1);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM history WHERE kind = 'repair'"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM signals"), 0);
    ck_assert_int_eq(fx_int(&f, "SELECT count(*) FROM flow_counts WHERE status = 'suspended'"), 0);
    st_store_instance_release(&row);
    /* a claim after the read (epoch), or a lost owner, conflict too */
    load(&f, &id, &row);
    q(&f,
      "WITH u AS (UPDATE instances SET lease_epoch = lease_epoch + 1"
      " WHERE id = '%s' RETURNING 1) SELECT count(*) FROM u",
      &id);
    st_store_repair_init(&r, &row, "op");
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), ST_CONFLICT);
    st_store_instance_release(&row);
    load(&f, &id, &row);
    q(&f,
      "WITH u AS (UPDATE instances SET owner_node = NULL WHERE id = '%s'"
      " RETURNING 1) SELECT count(*) FROM u",
      &id);
    st_store_repair_init(&r, &row, "op");
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), ST_CONFLICT);
    st_store_instance_release(&row);
    /* read again: it applies */
    load(&f, &id, &row);
    st_store_repair_init(&r, &row, "op");
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), 0);
    st_store_instance_release(&row);
    fx_close(&f);
}
END_TEST

/* A signal goes through the inbox: the owner keeps the instance. */
START_TEST(a_signal_repair_keeps_the_owner_and_records_the_signal_id)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t id = fx_start(&f, NULL, NULL);
    st_store_instance_t row;
    load(&f, &id, &row);
    st_store_repair_t r;
    st_store_repair_init(&r, &row, "op");
    r.signal_name = "hello";
    r.signal_payload = "{\"a\": 1}";
    r.detail_json = "{\"action\": \"signal\"}";
    st_store_repaired_t done;
    st_err_t err;
    ck_assert_int_eq(st_store_repair_apply(f.c, &r, &done, &err), 0);
    ck_assert_int_eq(done.lease_epoch, row.lease_epoch);
    ck_assert(done.signal_id > 0);
    ck_assert_int_eq(q(&f,
                       "SELECT count(*) FROM instances WHERE id = '%s' AND owner_node IS NOT NULL"
                       " AND status = 'running'",
                       &id),
                     1);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM signals s JOIN history h ON h.kind = 'repair'"
             " AND (h.detail->>'signal_id')::bigint = s.id WHERE s.id = %lld AND s.name = 'hello'"
             " AND s.source = 'op' AND s.payload->>'a' = '1'",
             (long long)done.signal_id);
    ck_assert_int_eq(fx_int(&f, sql), 1);
    st_store_instance_release(&row);
    fx_close(&f);
}
END_TEST

START_TEST(filtered_listing)
{
    fx_t f;
    fx_open(&f);
    st_store_uuid_t a = fx_start(&f, "k1", NULL), b = fx_start(&f, "k2", NULL);
    (void)b;
    st_store_filter_t flt;
    st_store_filter_init(&flt);
    flt.business_key = "k1";
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", f.hash);
    flt.version = prefix;
    flt.status = ST_STORE_RUNNING;
    st_store_instances_t out;
    st_err_t err;
    ck_assert_int_eq(st_store_instances_find(f.c, &flt, NULL, 10, &out, &err), 0);
    ck_assert_uint_eq(out.n, 1);
    ck_assert(st_store_uuid_equal(&out.v[0].id, &a));
    st_store_instances_free(&out);
    /* no waiting state matches an empty set of pairs */
    st_store_filter_init(&flt);
    flt.by_waiting_state = true;
    ck_assert_int_eq(st_store_instances_find(f.c, &flt, NULL, 10, &out, &err), 0);
    ck_assert_uint_eq(out.n, 0);
    st_store_filter_init(&flt);
    ck_assert_int_eq(st_store_instances_find(f.c, &flt, &a, 10, &out, &err), 0);
    ck_assert_uint_eq(out.n, 1);
    st_store_instances_free(&out);
    char hash[65], name[256];
    ck_assert_int_eq(st_store_program_resolve(f.c, prefix, hash, name, &err), 0);
    ck_assert_str_eq(hash, f.hash);
    ck_assert_str_eq(name, "demo");
    ck_assert_int_eq(st_store_program_resolve(f.c, "ffffffffffff", hash, name, &err), ST_NOTFOUND);
    fx_close(&f);
}
END_TEST

START_TEST(an_instance_id_has_hyphens_only_where_a_uuid_has_them)
{
    st_store_uuid_t u;
    char back[37];
    ck_assert_int_eq(st_store_uuid_parse("0190ABCD-ef12-7abc-8def-0123456789ab", &u), 0);
    st_store_uuid_format(&u, back);
    ck_assert_str_eq(back, "0190abcd-ef12-7abc-8def-0123456789ab");
    static const char *const bad[] = {
        "0190abcdef127abc8def0123456789ab",      "0190ab-cdef12-7abc-8def-0123456789ab",
        "01-90abcdef127abc8def0123456789ab",     "-0190abcd-ef12-7abc-8def-0123456789ab",
        "0190abcd-ef12-7abc-8def-0123456789ab-", "0190abcd-ef12-7abc-8def-0123456789a",
        "0190abcd-ef12-7abc-8def-0123456789abc", "0190abcd-ef12-7abc-8def-0123456789ag",
        "0190abcd+ef12-7abc-8def-0123456789ab",  ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(st_store_uuid_parse(bad[i], &u) != 0, "accepted %s", bad[i]);
}
END_TEST

START_TEST(the_operator_connection_checks_the_schema_first)
{
    fx_t f;
    fx_open(&f);
    st_err_t err;
    st_store_conn_t *c = st_store_admin_open(f.loop, f.dsn, &err);
    ck_assert_ptr_nonnull(c);
    st_store_conn_free(c);
    PQclear(st_test_exec(f.pg, "DELETE FROM settle_schema_version WHERE version ="
                               " (SELECT max(version) FROM settle_schema_version)"));
    ck_assert_ptr_null(st_store_admin_open(f.loop, f.dsn, &err));
    ck_assert_int_eq(err.code, ST_SCHEMA);
    ck_assert_ptr_null(
        st_store_admin_open(f.loop, "host=/nonexistent dbname=x password=hunter2", &err));
    ck_assert_int_eq(err.code, ST_IO);
    ck_assert_ptr_null(strstr(err.msg, "hunter2"));
    ck_assert_ptr_null(strstr(err.detail, "hunter2"));
    fx_close(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("store_admin");
    TCase *tc = tcase_create("store_admin");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_fenced_repair_writes_row_counts_and_one_history_row);
    tcase_add_test(tc, a_repair_of_a_row_that_moved_conflicts_and_writes_nothing);
    tcase_add_test(tc, a_signal_repair_keeps_the_owner_and_records_the_signal_id);
    tcase_add_test(tc, filtered_listing);
    tcase_add_test(tc, an_instance_id_has_hyphens_only_where_a_uuid_has_them);
    tcase_add_test(tc, the_operator_connection_checks_the_schema_first);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
