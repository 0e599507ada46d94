/*
 * st_migrate.c — schema migrations under an advisory lock (see st_migrate.h).
 */
#include "store/st_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/st_dsn.h"
#include "common/st_hex.h"
#include "store/st_schema.h"
#include "store/st_store.h"

#define VERSION_TABLE                                    \
    "CREATE TABLE IF NOT EXISTS settle_schema_version (" \
    " version integer PRIMARY KEY,"                      \
    " name text NOT NULL,"                               \
    " checksum text NOT NULL,"                           \
    " applied_at timestamptz NOT NULL DEFAULT now())"

int st_migrate_latest(void)
{
    if (st_schema_migration_count == 0)
        return 0;
    return st_schema_migrations[st_schema_migration_count - 1].version;
}

static void sha256_hex(const char *text, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(text, strlen(text), md, &len, EVP_sha256(), NULL);
    st_hex_encode(md, len < 32 ? len : 32, out);
}

/* Run a statement that returns no rows; on failure fill err. */
static int exec_cmd(PGconn *c, const char *sql, const char *what, st_err_t *err)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        st_err_set(err, ST_DB, "%s failed", what);
        st_err_detail(err, "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    return ok ? 0 : ST_DB;
}

static int version_table_exists(PGconn *c, int *exists, st_err_t *err)
{
    PGresult *r = PQexec(c, "SELECT to_regclass('settle_schema_version') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "cannot read the schema version");
        st_err_detail(err, "%s", PQresultErrorMessage(r));
        st_err_hint(err, "check that the DSN names the right database and that it is reachable");
        PQclear(r);
        return ST_DB;
    }
    *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return 0;
}

int st_migrate_current(PGconn *conn, int *version, st_err_t *err)
{
    int exists = 0;
    int rc = version_table_exists(conn, &exists, err);
    *version = 0;
    if (rc != 0 || !exists)
        return rc;
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM settle_schema_version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "cannot read the schema version");
        st_err_detail(err, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return ST_DB;
    }
    *version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* Refuse a database that is newer than us or whose history was rewritten. */
static int verify_applied(PGconn *c, st_err_t *err)
{
    PGresult *r = PQexec(c, "SELECT version, name, checksum FROM settle_schema_version "
                            "ORDER BY version");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "cannot read settle_schema_version");
        st_err_detail(err, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return ST_DB;
    }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        int v = atoi(PQgetvalue(r, i, 0));
        if (v > st_migrate_latest()) {
            rc = st_err_set(err, ST_SCHEMA,
                            "database schema is at version %d, newer than this binary knows "
                            "(up to %d)",
                            v, st_migrate_latest());
            st_err_hint(err, "run a settle build at least as new as the one that migrated this "
                             "database; nothing was changed");
            break;
        }
        for (unsigned m = 0; m < st_schema_migration_count; m++) {
            if (st_schema_migrations[m].version != v)
                continue;
            char sum[65];
            sha256_hex(st_schema_migrations[m].sql, sum);
            if (strcmp(sum, PQgetvalue(r, i, 2)) != 0) {
                rc = st_err_set(err, ST_SCHEMA,
                                "migration %s was applied with different contents than this "
                                "binary's copy",
                                st_schema_migrations[m].name);
                st_err_hint(err, "applied migrations must never be edited; add a new numbered "
                                 "migration instead; nothing was changed");
            }
        }
    }
    PQclear(r);
    return rc;
}

static int apply_one(PGconn *c, const st_schema_migration_t *m, st_err_t *err)
{
    char sum[65];
    char version[16];
    const char *params[3] = {version, m->name, sum};
    sha256_hex(m->sql, sum);
    snprintf(version, sizeof version, "%d", m->version);

    if (exec_cmd(c, "BEGIN", "BEGIN", err) != 0)
        return ST_DB;
    PGresult *r = PQexec(c, m->sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        st_err_set(err, ST_DB, "migration %s failed", m->name);
        st_err_detail(err, "%s", PQresultErrorMessage(r));
        st_err_hint(err, "the database is left at the previous version; fix the cause and run "
                         "`settled migrate` again");
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return ST_DB;
    }
    PQclear(r);
    r = PQexecParams(c,
                     "INSERT INTO settle_schema_version (version, name, checksum) "
                     "VALUES ($1::int, $2, $3)",
                     3, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
        st_err_set(err, ST_DB, "cannot record migration %s", m->name);
        st_err_detail(err, "%s", PQresultErrorMessage(r));
    }
    PQclear(r);
    if (!ok) {
        PQclear(PQexec(c, "ROLLBACK"));
        return ST_DB;
    }
    return exec_cmd(c, "COMMIT", "COMMIT", err);
}

static int migrate_locked(PGconn *c, st_migrate_report_t *rep, st_err_t *err)
{
    int current = 0;
    int rc = exec_cmd(c, VERSION_TABLE, "creating settle_schema_version", err);
    if (rc == 0)
        rc = verify_applied(c, err);
    if (rc == 0)
        rc = st_migrate_current(c, &current, err);
    if (rc != 0)
        return rc;
    rep->from_version = rep->to_version = current;
    for (unsigned i = 0; i < st_schema_migration_count; i++) {
        const st_schema_migration_t *m = &st_schema_migrations[i];
        if (m->version <= current)
            continue;
        rc = apply_one(c, m, err);
        if (rc != 0)
            return rc;
        rep->to_version = m->version;
        rep->applied++;
    }
    return 0;
}

int st_migrate_apply(PGconn *conn, st_migrate_report_t *report, st_err_t *err)
{
    st_migrate_report_t local = {0, 0, 0};
    char sql[96];
    if (report == NULL)
        report = &local;
    *report = local;
    snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%lld)", ST_MIGRATE_LOCK_KEY);
    if (exec_cmd(conn, sql, "taking the migration lock", err) != 0)
        return ST_DB;
    /* Quiet NOTICEs such as "relation already exists, skipping". */
    PQclear(PQexec(conn, "SET client_min_messages = warning"));
    int rc = migrate_locked(conn, report, err);
    snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%lld)", ST_MIGRATE_LOCK_KEY);
    PQclear(PQexec(conn, sql));
    return rc;
}

int st_migrate_check_version(int v, st_err_t *err)
{
    if (v < st_migrate_latest()) {
        st_err_set(err, ST_SCHEMA, "database schema is at version %d, this binary needs %d", v,
                   st_migrate_latest());
        st_err_hint(err, "run `settled migrate` against this database");
        return ST_SCHEMA;
    }
    if (v > st_migrate_latest()) {
        st_err_set(err, ST_SCHEMA, "database schema is at version %d, newer than this binary (%d)",
                   v, st_migrate_latest());
        st_err_hint(err, "upgrade this settle binary");
        return ST_SCHEMA;
    }
    return 0;
}

int st_migrate_check(PGconn *conn, st_err_t *err)
{
    int v = 0;
    int rc = st_migrate_current(conn, &v, err);
    return rc != 0 ? rc : st_migrate_check_version(v, err);
}

int st_store_schema_check_dsn(const char *dsn, st_err_t *err)
{
    if (dsn == NULL)
        return st_err_set(err, ST_INVAL, "no database given");
    PGconn *pg = PQconnectdb(dsn);
    int rc;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        rc = st_err_set(err, ST_DB, "cannot connect to the database");
        st_err_detail(err, "%s", pg ? PQerrorMessage(pg) : "out of memory");
        st_err_hint(err, "check the DSN and that PostgreSQL is running");
    } else {
        rc = st_migrate_check(pg, err);
    }
    PQfinish(pg);
    return rc;
}

int st_migrate_apply_dsn(const char *dsn, st_migrate_report_t *report, st_err_t *err)
{
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        char shown[1024];
        const char *why = PQerrorMessage(conn);
        size_t wl = strcspn(why, "\n");
        st_err_set(err, ST_DB, "cannot connect to the database (%s)",
                   st_dsn_redact(dsn, shown, sizeof shown));
        st_err_detail(err, "%.*s", (int)wl, why);
        st_err_hint(err, "check that PostgreSQL is running and the DSN is right");
        PQfinish(conn);
        return ST_DB;
    }
    int rc = st_migrate_apply(conn, report, err);
    PQfinish(conn);
    return rc;
}
