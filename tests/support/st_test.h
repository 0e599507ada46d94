/*
 * st_test.h — helpers shared by settle's Check tests.
 *
 * Database tests get a fresh, uniquely named database on the cluster named
 * by SETTLE_TEST_DSN (tools/test starts one); a missing variable is a test
 * failure with instructions, never a silent skip.
 */
#ifndef ST_TEST_H
#define ST_TEST_H

#include <check.h>
#include <libpq-fe.h>

/* The admin DSN from SETTLE_TEST_DSN; fails the test when unset. */
const char *st_test_dsn(void);

/*
 * Create an empty database with a unique name and return a DSN for it in
 * dsn_out (caller-provided buffer). The database is dropped by
 * st_test_drop_db. Fails the test on error.
 */
void st_test_create_db(char *dsn_out, size_t cap, char *name_out, size_t name_cap);
void st_test_drop_db(const char *name);

/* Connect or fail the test. Caller owns the connection (PQfinish). */
PGconn *st_test_connect(const char *dsn);

/* Run SQL that must succeed; returns the result (caller PQclear). */
PGresult *st_test_exec(PGconn *c, const char *sql);

/* Absolute path of a file in the source tree (SETTLE_SOURCE_DIR). */
const char *st_test_src(const char *rel, char *buf, size_t cap);

/* Run a suite with CK_FORK and exit with its status (for main()). */
int st_test_run(Suite *s);

#endif
