/*
 * http_testd.c — a settle HTTP server on a fresh, migrated database, for
 * tests driven from outside C (tests/http/node). Prints
 * "settle-http listening on 127.0.0.1:PORT" once ready and runs until its
 * standard input closes; then stops and drops the database.
 *
 *   http_testd SECRET[,SECRET...] TOKEN[:role][,...]
 *
 * Reads the admin DSN from SETTLE_TEST_DSN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "http/st_http.h"
#include "store/st_migrate.h"

static int admin_exec(const char *admin_dsn, const char *sql)
{
    PGconn *c = PQconnectdb(admin_dsn);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "http_testd: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int serve(const char *dsn, const char *secrets, const char *tokens)
{
    st_err_t err;
    PGconn *c = PQconnectdb(dsn);
    int rc = st_migrate_apply(c, NULL, &err);
    PQfinish(c);
    if (rc != 0) {
        fprintf(stderr, "http_testd: migrate: %s\n", err.msg);
        return 1;
    }
    st_http_keys_t keys = {0};
    if (st_http_keys_add_secrets(&keys, secrets, ',', &err) != 0 ||
        st_http_keys_add_tokens(&keys, tokens, ',', &err) != 0) {
        fprintf(stderr, "http_testd: %s\n", err.msg);
        return 1;
    }
    st_http_cfg_t cfg = {
        .dsn = dsn,
        .webhook_secrets = (const char *const *)keys.secrets,
        .n_webhook_secrets = keys.n_secrets,
        .tokens = keys.tokens,
        .n_tokens = keys.n_tokens,
    };
    st_http_server_t *s = st_http_server_new(&cfg, &err);
    if (s == NULL) {
        fprintf(stderr, "http_testd: %s\n", err.msg);
        st_http_keys_release(&keys);
        return 1;
    }
    printf("settle-http listening on 127.0.0.1:%u\n", st_http_server_port(s));
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        ;
    st_http_server_free(s);
    st_http_keys_release(&keys);
    return 0;
}

int main(int argc, char **argv)
{
    const char *admin = getenv("SETTLE_TEST_DSN");
    if (argc != 3 || admin == NULL || admin[0] == '\0') {
        fprintf(stderr, "usage: SETTLE_TEST_DSN=... http_testd SECRETS TOKENS\n");
        return 2;
    }
    char db[64], sql[128], dsn[1024];
    snprintf(db, sizeof db, "http_testd_%d", (int)getpid());
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (admin_exec(admin, sql) != 0)
        return 1;
    snprintf(dsn, sizeof dsn, "%s dbname=%s", admin, db);
    int rc = serve(dsn, argv[1], argv[2]);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    admin_exec(admin, sql);
    return rc;
}
