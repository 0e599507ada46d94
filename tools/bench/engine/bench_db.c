/*
 * bench_db.c — see bench_db.h.
 */
#include "bench_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>

#include "ops/st_ops.h"
#include "store/st_migrate.h"

double bench_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void bench_die(const char *what, const char *why)
{
    fprintf(stderr, "bench: %s: %s\n", what, why);
    exit(1);
}

PGconn *bench_connect(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    if (PQstatus(c) != CONNECTION_OK)
        bench_die("cannot connect", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

void bench_sql(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die(q, PQerrorMessage(c));
    PQclear(r);
}

long long bench_scalar(PGconn *c, const char *q)
{
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die(q, PQerrorMessage(c));
    long long v = PQgetisnull(r, 0, 0) ? 0 : atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

void bench_drop_db(const char *admin_dsn, const char *db)
{
    char q[256];
    PGconn *admin = bench_connect(admin_dsn);
    snprintf(q, sizeof q, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    bench_sql(admin, q);
    PQfinish(admin);
}

void bench_fresh_db(const char *admin_dsn, const char *db, char *dsn, size_t cap)
{
    char q[256];
    bench_drop_db(admin_dsn, db);
    PGconn *admin = bench_connect(admin_dsn);
    snprintf(q, sizeof q, "CREATE DATABASE %s", db);
    bench_sql(admin, q);
    PQfinish(admin);
    snprintf(dsn, cap, "%s dbname=%s", admin_dsn, db);
    PGconn *c = bench_connect(dsn);
    st_err_t err;
    if (st_migrate_apply(c, NULL, &err) != 0)
        bench_die("migrate", err.msg);
    PQfinish(c);
}

void bench_deploy(const char *dsn, const char *name, const char *src, char hash[65])
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cc, &err);
    st_ops_deployed_t d;
    char *diags = NULL;
    if (c == NULL || st_ops_deploy(c, name, src, strlen(src), &d, &diags, &err) != 0)
        bench_die("deploy", err.msg);
    free(diags);
    memcpy(hash, d.hash, 65);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
}
