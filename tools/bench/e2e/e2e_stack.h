/*
 * e2e_stack.h — what the end-to-end benchmark runs against: a fresh
 * database on the benchmark cluster, flows deployed with the settled under
 * test, and that settled running with its HTTP API on a free port.
 *
 * Everything goes through the binary under test and its public interfaces
 * (settled migrate / deploy / run --http); the database is read to observe
 * (completion, timestamps) and written only to put flows to sleep for days
 * in bulk (e2e_asleep.c), which the API would take minutes for. A database
 * may be kept between runs (e2e_stack_kept) so that bulk is made once.
 * Failures stop the program with a message: this is benchmark code.
 */
#ifndef E2E_STACK_H
#define E2E_STACK_H

#include <stdint.h>
#include <sys/types.h>

#include <libpq-fe.h>

#define E2E_TOKEN "e2e-bench-token-0123456789"

typedef struct e2e_stack {
    const char *settled;         /* the binary under test */
    const char *admin_dsn;       /* a cluster where databases may be made */
    const char *const *run_args; /* extra arguments for `settled run` */
    const char *node;            /* `settled run --node`, NULL: its default */
    int keep;                    /* e2e_stack_close keeps the database */
    char dbname[64];             /* the fresh database: <base>_<pid> */
    char dsn[1024];              /* its DSN */
    char log[256];               /* settled's output goes here */
    int port;                    /* settled's HTTP port */
    pid_t pid;                   /* the running settled, 0 when none */
    PGconn *db;                  /* observer connection */
} e2e_stack_t;

void e2e_die(const char *what, const char *why) __attribute__((noreturn));

/* Drop and create database `base`_<pid>, migrate it with `settled migrate`, open
 * the observer connection. */
void e2e_stack_fresh(e2e_stack_t *s, const char *name);
/* Open database `name` kept from an earlier run when its comment is `mark`;
 * else make it afresh (dropping a stale one) and leave it unmarked. Migrates
 * it either way and sets keep. Returns 1 when the kept one was reused. */
int e2e_stack_kept(e2e_stack_t *s, const char *name, const char *mark);
/* Mark the current database with comment `mark` (for e2e_stack_kept). */
void e2e_stack_mark(e2e_stack_t *s, const char *mark);
/* Deploy flow source `src` with `settled deploy`. */
void e2e_stack_deploy(e2e_stack_t *s, const char *file_name, const char *src);
/* Start `settled run --http 127.0.0.1:PORT` and wait until /readyz is 200.
 * Keeps the port across restarts. */
void e2e_stack_run(e2e_stack_t *s);
/* Send sig to settled and reap it. */
void e2e_stack_kill(e2e_stack_t *s, int sig);
/* Stop settled (SIGTERM), close the observer and drop the database. */
void e2e_stack_close(e2e_stack_t *s);

/* One number from the observer connection (NULL reads as 0). */
double e2e_scalar(e2e_stack_t *s, const char *sql);
/* Run a statement that returns no rows; the rows it changed. */
long long e2e_exec(e2e_stack_t *s, const char *sql);

#endif
