/*
 * st_migrate.h — apply the embedded schema migrations to a database.
 *
 * Layer: store (libpq, blocking; runs at start-up and from commands, never
 * on the hot path).
 *
 * Invariants:
 *   * Migrations run in version order, each in its own transaction together
 *     with its row in settle_schema_version, so a failure leaves the
 *     database at the last fully applied version.
 *   * A session-level advisory lock serialises concurrent runners (two
 *     settled processes starting at once apply each migration once).
 *   * Applying twice changes nothing.
 *   * A database whose schema is newer than this binary knows, or whose
 *     recorded checksum of an applied migration differs from the embedded
 *     file, is refused with ST_SCHEMA and nothing is changed.
 */
#ifndef ST_MIGRATE_H
#define ST_MIGRATE_H

#include <libpq-fe.h>

#include "common/st_err.h"

/* Advisory lock key used while migrating ("settle" in ASCII). */
#define ST_MIGRATE_LOCK_KEY 0x736574746c65LL

typedef struct st_migrate_report {
    int from_version; /* schema version found (0 = empty database) */
    int to_version;   /* schema version after the run */
    int applied;      /* migrations applied by this run */
} st_migrate_report_t;

/* Highest migration version embedded in this binary. */
int st_migrate_latest(void);

/*
 * Bring the database up to st_migrate_latest(). `report` may be NULL.
 * Returns 0, or ST_SCHEMA (newer or altered schema), ST_DB (SQL failure; the
 * failing migration is named in err->msg and PostgreSQL's text is in
 * err->detail).
 */
int st_migrate_apply(PGconn *conn, st_migrate_report_t *report, st_err_t *err);

/*
 * st_migrate_apply on a connection of its own to `dsn` (for commands that
 * hold no connection: `settled migrate`), closed before returning. A
 * connection that fails is ST_DB "cannot connect to the database (DSN with
 * the password hidden)" with libpq's reason in err->detail.
 */
int st_migrate_apply_dsn(const char *dsn, st_migrate_report_t *report, st_err_t *err);

/*
 * Read the database's schema version without changing anything: *version is
 * 0 for a database settle has never migrated. Returns 0 or ST_DB.
 */
int st_migrate_current(PGconn *conn, int *version, st_err_t *err);

/*
 * 0 when the database is exactly at st_migrate_latest(); ST_SCHEMA with a
 * message saying which way it is off and what to run otherwise. For /readyz.
 */
int st_migrate_check(PGconn *conn, st_err_t *err);
/* The same judgement of a version read elsewhere (a store connection). */
int st_migrate_check_version(int version, st_err_t *err);

#endif
