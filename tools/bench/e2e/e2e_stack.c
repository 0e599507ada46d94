/*
 * e2e_stack.c — database and settled process of the end-to-end benchmark
 * (see e2e_stack.h).
 */
#include "e2e_stack.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2e_http.h"

/* The settled running now, stopped by e2e_die: a benchmark that fails
 * must not leave a node stepping flows behind it. */
static pid_t g_running;

void e2e_die(const char *what, const char *why)
{
    fprintf(stderr, "bench_e2e: %s: %s\n", what, why);
    if (g_running > 0) {
        kill(g_running, SIGKILL);
        waitpid(g_running, NULL, 0);
    }
    exit(1);
}

static void quiet(void *arg, const char *msg)
{
}

static void admin_sql(const char *admin_dsn, const char *sql)
{
    PGconn *c = PQconnectdb(admin_dsn);
    if (PQstatus(c) != CONNECTION_OK)
        e2e_die("cannot connect to the benchmark cluster", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet, NULL); /* "does not exist, skipping" */
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        e2e_die(sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

/* Run settled with args (NULL-terminated after argv[0]) and wait; its
 * output goes to the stack's log. Dies unless it exits 0. */
static void run_settled(e2e_stack_t *s, const char *const *args)
{
    pid_t pid = fork();
    if (pid < 0)
        e2e_die("fork", strerror(errno));
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("SETTLE_DSN", s->dsn, 1);
        execv(s->settled, (char *const *)args);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char why[512];
        snprintf(why, sizeof why, "exit status %d; see %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 s->log);
        e2e_die(args[1], why);
    }
}

/* Connect to the stack's database, migrated by the binary under test. */
static void stack_open(e2e_stack_t *s)
{
    const char *name = s->dbname;
    snprintf(s->dsn, sizeof s->dsn, "%s dbname=%s", s->admin_dsn, name);
    snprintf(s->log, sizeof s->log, "/tmp/bench_e2e_%s.log", name);
    unlink(s->log);
    const char *args[] = {s->settled, "migrate", NULL};
    run_settled(s, args);
    s->db = PQconnectdb(s->dsn);
    if (PQstatus(s->db) != CONNECTION_OK)
        e2e_die("cannot connect to the benchmark database", PQerrorMessage(s->db));
    if (s->port == 0)
        s->port = e2e_free_port();
}

void e2e_stack_fresh(e2e_stack_t *s, const char *base)
{
    char sql[256];
    snprintf(s->dbname, sizeof s->dbname, "%s_%d", base, (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->dbname);
    admin_sql(s->admin_dsn, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", s->dbname);
    admin_sql(s->admin_dsn, sql);
    s->keep = 0;
    stack_open(s);
}

/* The comment on database `name`, "" when it has none or does not exist. */
static void db_comment(const char *admin_dsn, const char *name, char *out, size_t cap)
{
    PGconn *c = PQconnectdb(admin_dsn);
    if (PQstatus(c) != CONNECTION_OK)
        e2e_die("cannot connect to the benchmark cluster", PQerrorMessage(c));
    const char *params[] = {name};
    PGresult *r = PQexecParams(c,
                               "SELECT coalesce(shobj_description(oid, 'pg_database'), '') "
                               "FROM pg_database WHERE datname = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        e2e_die("reading a database's comment", PQresultErrorMessage(r));
    snprintf(out, cap, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
}

int e2e_stack_kept(e2e_stack_t *s, const char *name, const char *mark)
{
    char sql[256], comment[256];
    snprintf(s->dbname, sizeof s->dbname, "%s", name);
    db_comment(s->admin_dsn, name, comment, sizeof comment);
    int reuse = strcmp(comment, mark) == 0;
    if (!reuse) {
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
        admin_sql(s->admin_dsn, sql);
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
        admin_sql(s->admin_dsn, sql);
    }
    s->keep = 1;
    stack_open(s);
    return reuse;
}

void e2e_stack_mark(e2e_stack_t *s, const char *mark)
{
    char sql[512];
    snprintf(sql, sizeof sql, "COMMENT ON DATABASE %s IS '%s'", s->dbname, mark);
    admin_sql(s->admin_dsn, sql);
}

void e2e_stack_deploy(e2e_stack_t *s, const char *file_name, const char *src)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/bench_e2e_%d_%s", (int)getpid(), file_name);
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(src, f) < 0 || fclose(f) != 0)
        e2e_die(path, strerror(errno));
    const char *args[] = {s->settled, "deploy", path, NULL};
    run_settled(s, args);
    unlink(path);
}

void e2e_stack_run(e2e_stack_t *s)
{
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    const char *args[64] = {s->settled, "run", "--http", addr};
    size_t n = 4;
    if (s->node != NULL) {
        args[n++] = "--node";
        args[n++] = s->node;
    }
    for (size_t i = 0; s->run_args != NULL && s->run_args[i] != NULL && n < 63; i++)
        args[n++] = s->run_args[i];
    args[n] = NULL;
    s->pid = fork();
    if (s->pid < 0)
        e2e_die("fork", strerror(errno));
    if (s->pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("SETTLE_DSN", s->dsn, 1);
        setenv("SETTLE_API_TOKENS", E2E_TOKEN ":write", 1);
        execv(s->settled, (char *const *)args);
        _exit(127);
    }
    g_running = s->pid;
    for (double t0 = e2e_mono_s(); e2e_mono_s() - t0 < 30; usleep(5000)) {
        if (e2e_http_get_status(s->port, "/readyz") == 200)
            return;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = g_running = 0;
            e2e_die("settled run exited at start", s->log);
        }
    }
    e2e_die("settled was not ready within 30 s", s->log);
}

void e2e_stack_kill(e2e_stack_t *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    g_running = 0;
}

void e2e_stack_close(e2e_stack_t *s)
{
    e2e_stack_kill(s, SIGTERM);
    PQfinish(s->db);
    s->db = NULL;
    if (!s->keep) {
        char sql[256];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->dbname);
        admin_sql(s->admin_dsn, sql);
    }
    unlink(s->log);
}

double e2e_scalar(e2e_stack_t *s, const char *sql)
{
    PGresult *r = PQexec(s->db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        e2e_die(sql, PQresultErrorMessage(r));
    double v = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) ? strtod(PQgetvalue(r, 0, 0), NULL) : 0;
    PQclear(r);
    return v;
}

long long e2e_exec(e2e_stack_t *s, const char *sql)
{
    PGresult *r = PQexec(s->db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        e2e_die(sql, PQresultErrorMessage(r));
    long long n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return n;
}
