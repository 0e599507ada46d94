/*
 * test_migrate.c — schema migrations against a real PostgreSQL.
 *
 * Each test gets a fresh database: migrations apply on an empty database,
 * re-apply as a no-op, refuse a newer or altered schema without changing
 * anything, and serialise concurrent runners.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "st_test.h"
#include "store/st_migrate.h"
#include "store/st_schema.h"

static char dsn[512];
static char dbname[128];

static void setup(void)
{
    st_test_create_db(dsn, sizeof dsn, dbname, sizeof dbname);
}

static void teardown(void)
{
    st_test_drop_db(dbname);
}

static long scalar(PGconn *c, const char *sql)
{
    PGresult *r = st_test_exec(c, sql);
    long v = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

START_TEST(applies_on_empty_database)
{
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    st_migrate_report_t rep;
    int v = -1;

    ck_assert_int_eq(st_migrate_current(c, &v, &err), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(st_migrate_apply(c, &rep, &err), 0);
    ck_assert_int_eq(rep.from_version, 0);
    ck_assert_int_eq(rep.to_version, st_migrate_latest());
    ck_assert_int_eq(rep.applied, (int)st_schema_migration_count);
    ck_assert_int_eq(st_migrate_check(c, &err), 0);
    /* The data model's tables exist and are usable. */
    const char *tables[] = {"programs",     "flows",          "nodes",         "instances",
                            "history",      "tasks",          "task_attempts", "signals",
                            "correlations", "webhook_events", "flow_counts"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i]);
        ck_assert_int_eq(scalar(c, sql), 0);
    }
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM settle_schema_version"),
                     (long)st_schema_migration_count);
    PQfinish(c);
}
END_TEST

START_TEST(reapply_is_a_noop)
{
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    st_migrate_report_t rep;
    ck_assert_int_eq(st_migrate_apply(c, &rep, &err), 0);
    PQclear(st_test_exec(c, "INSERT INTO nodes (name, lease_until) VALUES ('n1', now())"));
    long applied_at = scalar(c, "SELECT extract(epoch FROM max(applied_at))::bigint * 1000000 + "
                                "extract(microseconds FROM max(applied_at))::bigint "
                                "FROM settle_schema_version");

    ck_assert_int_eq(st_migrate_apply(c, &rep, &err), 0);
    ck_assert_int_eq(rep.applied, 0);
    ck_assert_int_eq(rep.from_version, st_migrate_latest());
    ck_assert_int_eq(rep.to_version, st_migrate_latest());
    /* Data survives and the version rows are untouched. */
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM nodes"), 1);
    ck_assert_int_eq(scalar(c, "SELECT extract(epoch FROM max(applied_at))::bigint * 1000000 + "
                               "extract(microseconds FROM max(applied_at))::bigint "
                               "FROM settle_schema_version"),
                     applied_at);
    PQfinish(c);
}
END_TEST

START_TEST(refuses_newer_schema)
{
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    ck_assert_int_eq(st_migrate_apply(c, NULL, &err), 0);
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO settle_schema_version (version, name, checksum) "
             "VALUES (%d, '9999_future.sql', 'x')",
             st_migrate_latest() + 1);
    PQclear(st_test_exec(c, sql));
    long before = scalar(c, "SELECT count(*) FROM settle_schema_version");

    ck_assert_int_eq(st_migrate_apply(c, NULL, &err), ST_SCHEMA);
    ck_assert_ptr_nonnull(strstr(err.msg, "newer than this binary"));
    ck_assert_str_ne(err.hint, "");
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM settle_schema_version"), before);
    ck_assert_int_eq(st_migrate_check(c, &err), ST_SCHEMA);
    PQfinish(c);
}
END_TEST

START_TEST(refuses_altered_migration)
{
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    ck_assert_int_eq(st_migrate_apply(c, NULL, &err), 0);
    PQclear(st_test_exec(c, "UPDATE settle_schema_version SET checksum = 'edited' "
                            "WHERE version = 1"));
    ck_assert_int_eq(st_migrate_apply(c, NULL, &err), ST_SCHEMA);
    ck_assert_ptr_nonnull(strstr(err.msg, "0001_core.sql"));
    PQfinish(c);
}
END_TEST

START_TEST(check_reports_outdated_database)
{
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    ck_assert_int_eq(st_migrate_check(c, &err), ST_SCHEMA);
    ck_assert_ptr_nonnull(strstr(err.msg, "version 0"));
    ck_assert_ptr_nonnull(strstr(err.hint, "settled migrate"));
    PQfinish(c);
}
END_TEST

START_TEST(failed_migration_reports_and_keeps_version)
{
    /* A table squatting on a name the first migration creates makes it fail;
     * the runner must name the migration and leave nothing half-applied. */
    PGconn *c = st_test_connect(dsn);
    st_err_t err;
    PQclear(st_test_exec(c, "CREATE TABLE history (x int)"));
    ck_assert_int_eq(st_migrate_apply(c, NULL, &err), ST_DB);
    ck_assert_ptr_nonnull(strstr(err.msg, "0001_core.sql"));
    ck_assert_ptr_nonnull(strstr(err.detail, "history"));
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM settle_schema_version"), 0);
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'programs'"), 0);
    PQfinish(c);
}
END_TEST

static void *migrate_thread(void *arg)
{
    PGconn *c = PQconnectdb(dsn);
    st_err_t err;
    int *rc = arg;
    *rc = st_migrate_apply(c, NULL, &err);
    PQfinish(c);
    return NULL;
}

START_TEST(concurrent_runners_apply_once)
{
    pthread_t t[4];
    int rc[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, migrate_thread, &rc[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(rc[i], 0);
    }
    PGconn *c = st_test_connect(dsn);
    ck_assert_int_eq(scalar(c, "SELECT count(*) FROM settle_schema_version"),
                     (long)st_schema_migration_count);
    PQfinish(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("migrate");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, applies_on_empty_database);
    tcase_add_test(tc, reapply_is_a_noop);
    tcase_add_test(tc, refuses_newer_schema);
    tcase_add_test(tc, refuses_altered_migration);
    tcase_add_test(tc, check_reports_outdated_database);
    tcase_add_test(tc, failed_migration_reports_and_keeps_version);
    tcase_add_test(tc, concurrent_runners_apply_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_test_run(suite());
}
