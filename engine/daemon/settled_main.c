/*
 * settled_main.c — the settled command: parses the command line and hands
 * over to the engine. Edge code: the only place that prints and exits.
 *
 *   settled migrate [--dsn DSN]   bring the database schema up to date
 *   settled version
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/st_err.h"
#include "common/st_dsn.h"
#include "store/st_migrate.h"

#define SETTLED_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(out, "usage: settled <command> [options]\n"
                 "\n"
                 "commands:\n"
                 "  migrate [--dsn DSN]   apply the schema migrations this binary carries\n"
                 "  version               print the version and schema version\n"
                 "\n"
                 "The database is named by --dsn or $SETTLE_DSN (a libpq connection string).\n");
}

static void report(const st_err_t *err)
{
    char buf[2048];
    fputs(st_err_format(err, buf, sizeof buf), stderr);
}

static const char *dsn_or_die(const char *flag)
{
    const char *dsn = st_dsn_pick(flag);
    if (dsn == NULL) {
        fprintf(stderr, "error: no database given\n"
                        "  hint: pass --dsn 'host=... dbname=...' or set SETTLE_DSN; "
                        "tools/pgdev start prints one for a private cluster\n");
        exit(2);
    }
    return dsn;
}

static int cmd_migrate(int argc, char **argv)
{
    static const struct option opts[] = {{"dsn", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *flag = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "d:h", opts, NULL)) != -1) {
        if (c == 'd') {
            flag = optarg;
        } else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    const char *dsn = dsn_or_die(flag);
    char shown[1024];
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr,
                "error: cannot connect to the database (%s)\n  detail: %s"
                "  hint: check that PostgreSQL is running and the DSN is right\n",
                st_dsn_redact(dsn, shown, sizeof shown), PQerrorMessage(conn));
        PQfinish(conn);
        return 1;
    }
    st_err_t err;
    st_migrate_report_t rep;
    int rc = st_migrate_apply(conn, &rep, &err);
    PQfinish(conn);
    if (rc != 0) {
        report(&err);
        return 1;
    }
    if (rep.applied == 0)
        printf("schema is up to date (version %d)\n", rep.to_version);
    else
        printf("schema migrated from version %d to %d (%d migration%s applied)\n", rep.from_version,
               rep.to_version, rep.applied, rep.applied == 1 ? "" : "s");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0) {
        printf("settled %s (schema version %d)\n", SETTLED_VERSION, st_migrate_latest());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "error: unknown command '%s'\n  hint: run `settled --help`\n", cmd);
    return 2;
}
