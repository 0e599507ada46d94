/*
 * st_test.c — helpers shared by settle's Check tests (see st_test.h).
 */
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

const char *st_test_dsn(void)
{
    const char *dsn = getenv("SETTLE_TEST_DSN");
    ck_assert_msg(dsn != NULL && dsn[0] != '\0',
                  "SETTLE_TEST_DSN is not set: run the suite with tools/test, "
                  "or start a cluster with `tools/pgdev start` and export the DSN it prints");
    return dsn;
}

PGconn *st_test_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect to test database: %s",
                  PQerrorMessage(c));
    PGresult *r = PQexec(c, "SET client_min_messages = warning");
    PQclear(r);
    return c;
}

PGresult *st_test_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "SQL failed: %s\n%s",
                  PQerrorMessage(c), sql);
    return r;
}

void st_test_create_db(char *dsn_out, size_t cap, char *name_out, size_t name_cap)
{
    static unsigned counter;
    struct timespec ts;
    char sql[256];
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name_out, name_cap, "t_%ld_%d_%u_%ld", (long)ts.tv_sec, (int)getpid(), counter++,
             ts.tv_nsec % 100000);
    PGconn *admin = st_test_connect(st_test_dsn());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name_out);
    PQclear(st_test_exec(admin, sql));
    PQfinish(admin);
    snprintf(dsn_out, cap, "%s dbname=%s", st_test_dsn(), name_out);
}

void st_test_drop_db(const char *name)
{
    char sql[256];
    PGconn *admin = st_test_connect(st_test_dsn());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
    PQclear(st_test_exec(admin, sql));
    PQfinish(admin);
}

const char *st_test_src(const char *rel, char *buf, size_t cap)
{
    const char *root = getenv("SETTLE_SOURCE_DIR");
    ck_assert_msg(root != NULL, "SETTLE_SOURCE_DIR is not set (CTest sets it)");
    snprintf(buf, cap, "%s/%s", root, rel);
    return buf;
}

int st_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
