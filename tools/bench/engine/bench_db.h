/*
 * bench_db.h — what the engine benchmarks share: a fresh database per run,
 * one-line SQL helpers that stop the program on failure, a monotonic clock
 * and deploying a flow given as text. Benchmark code, not library code: it
 * prints and exits.
 */
#ifndef BENCH_DB_H
#define BENCH_DB_H

#include <stddef.h>

#include <libpq-fe.h>

double bench_mono(void);
void bench_die(const char *what, const char *why) __attribute__((noreturn));
PGconn *bench_connect(const char *dsn);
void bench_sql(PGconn *c, const char *q);
long long bench_scalar(PGconn *c, const char *q); /* NULL reads as 0 */

/* Drop and create database `db` on the cluster of admin_dsn, migrate it and
 * write its DSN into dsn. */
void bench_fresh_db(const char *admin_dsn, const char *db, char *dsn, size_t cap);
/* Drop database `db` on the cluster of admin_dsn. */
void bench_drop_db(const char *admin_dsn, const char *db);

/* Compile and deploy `src` (named `name`) into the database of dsn; the
 * Program's hash into hash. */
void bench_deploy(const char *dsn, const char *name, const char *src, char hash[65]);

#endif
