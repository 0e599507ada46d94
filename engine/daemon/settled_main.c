/*
 * settled_main.c — the settled command: parses the command line and hands
 * over to the engine. Edge code: the only place that prints and exits.
 *
 *   settled run      [--dsn DSN] [options]   run flows until SIGTERM
 *   settled migrate  [--dsn DSN]             bring the schema up to date
 *   settled deploy   [--dsn DSN] FILE.flow   compile and register a flow
 *   settled start    [--dsn DSN] FLOW [--input JSON] [--key KEY]
 *   settled clock    [--dsn DSN] show | advance DURATION
 *   settled version
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ev.h>
#include <libpq-fe.h>

#include "common/st_dsn.h"
#include "common/st_err.h"
#include "common/st_file.h"
#include "exec/st_exec.h"
#include "core/st_core.h"
#include "http/st_http.h"
#include "common/st_input.h"
#include "ops/st_ops.h"
#include "store/st_migrate.h"

#define SETTLED_VERSION "0.1.0"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: settled <command> [options]\n"
        "\n"
        "commands:\n"
        "  run [options]               run flows until SIGTERM or SIGINT\n"
        "      --clock real|virtual    virtual time moves only when advanced (tests, demo)\n"
        "      --node NAME             node name shown to operators (default host:pid)\n"
        "      --linger-us N           group-commit linger in microseconds (default 0)\n"
        "      --batch-max N           checkpoints per transaction (default 1024)\n"
        "      --no-batch              one transaction per checkpoint\n"
        "      --lease-ttl-ms N        node lease (default 10000)\n"
        "      --history-days N        drop history partitions older than N days (default: keep)\n"
        "      --http [ADDR:]PORT      serve webhooks, the flow API and /metrics (port 0: any)\n"
        "      --webhook-tolerance S   accepted signature age in seconds (default 300)\n"
        "                              secrets: SETTLE_WEBHOOK_SECRETS[_FILE], tokens:\n"
        "                              SETTLE_API_TOKENS[_FILE] (see docs/http-api.md)\n"
        "  migrate                     apply the schema migrations this binary carries\n"
        "  deploy FILE.flow            compile FILE and make it the flow's current version\n"
        "  start FLOW [--input JSON] [--key KEY]\n"
        "                              start an instance (idempotent by KEY)\n"
        "  clock show | clock advance DURATION\n"
        "                              read or move the virtual clock (e.g. advance 3d)\n"
        "  version                     print the version and schema version\n"
        "\n"
        "Every command takes --dsn DSN (a libpq connection string) or reads $SETTLE_DSN.\n"
        "SETTLE_CRASH_AT=point:N aborts at the Nth pass of a crash point (crash tests).\n");
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

static long parse_num(const char *opt, const char *s, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "error: %s wants a whole number from %ld to %ld, not '%s'\n", opt, min, max,
                s);
        exit(2);
    }
    return v;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void log_line(void *ctx, const char *line)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s settled: %s\n", stamp, line);
    (void)ctx;
}

/* ---------------------------------------------------------------- run */

/* A stop that arrives while the executor is still starting (its start
 * may turn the loop) is held until the start is over. */
static int g_started, g_stop_asked;

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    if (g_started)
        st_exec_shutdown(w->data);
    else
        g_stop_asked = 1;
}

/* Parse "[ADDR:]PORT" and start the HTTP side with keys from the environment. */
static st_http_server_t *start_http(const char *spec, const char *dsn, st_metrics_t *metrics,
                                    long tolerance_s, st_err_t *err)
{
    char addr[64] = "127.0.0.1";
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon ? colon + 1 : spec;
    if (colon != NULL && colon > spec)
        snprintf(addr, sizeof addr, "%.*s", (int)(colon - spec), spec);
    long port = parse_num("--http", port_text, 0, 65535);
    st_http_keys_t keys;
    memset(&keys, 0, sizeof keys);
    if (st_http_keys_from_env(&keys, err) != 0)
        return NULL;
    st_http_cfg_t hc = {
        .bind = addr,
        .port = (uint16_t)port,
        .dsn = dsn,
        .webhook_secrets = (const char *const *)keys.secrets,
        .n_webhook_secrets = keys.n_secrets,
        .tolerance_s = tolerance_s,
        .tokens = keys.tokens,
        .n_tokens = keys.n_tokens,
        .metrics = metrics,
        .log = log_line,
    };
    st_http_server_t *srv = st_http_server_new(&hc, err);
    unsigned n_secrets = keys.n_secrets;
    st_http_keys_release(&keys); /* the server keeps its own copies */
    if (srv != NULL) {
        printf("settled http listening on %s:%u\n", addr, (unsigned)st_http_server_port(srv));
        fflush(stdout);
        if (n_secrets == 0)
            log_line(NULL, "no webhook secret configured: /webhooks/stripe answers 503 "
                           "(set SETTLE_WEBHOOK_SECRETS)");
    }
    return srv;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"dsn", required_argument, NULL, 'd'},
                                         {"clock", required_argument, NULL, 'c'},
                                         {"node", required_argument, NULL, 'n'},
                                         {"linger-us", required_argument, NULL, 'l'},
                                         {"batch-max", required_argument, NULL, 'm'},
                                         {"no-batch", no_argument, NULL, 'B'},
                                         {"lease-ttl-ms", required_argument, NULL, 't'},
                                         {"http", required_argument, NULL, 'H'},
                                         {"history-days", required_argument, NULL, 'R'},
                                         {"webhook-tolerance", required_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *flag = NULL, *http = NULL;
    long webhook_tolerance = 0;
    st_err_t err;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            flag = optarg;
            break;
        case 'H':
            http = optarg;
            break;
        case 'W':
            webhook_tolerance = parse_num("--webhook-tolerance", optarg, 1, 366L * 86400);
            break;
        case 'R':
            cfg.history_days = (uint32_t)parse_num("--history-days", optarg, 1, 36500);
            break;
        case 'c':
            if (st_clock_parse_kind(optarg, &cfg.clock, &err) != 0) {
                report(&err);
                return 2;
            }
            break;
        case 'n':
            cfg.node_name = optarg;
            break;
        case 'l':
            cfg.batch.linger_us = (unsigned)parse_num("--linger-us", optarg, 0, 1000000);
            break;
        case 'm':
            cfg.batch.max_size = (unsigned)parse_num("--batch-max", optarg, 1, 100000);
            break;
        case 'B':
            cfg.batch.disabled = 1;
            break;
        case 't':
            cfg.lease_ttl_ms = (int32_t)parse_num("--lease-ttl-ms", optarg, 100, 3600000);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    cfg.dsn = dsn_or_die(flag);
    cfg.log = log_line;
    st_metrics_t *metrics = st_metrics_new();
    cfg.metrics = metrics;
    struct ev_loop *loop = EV_DEFAULT;
    st_exec_t *x = NULL;
    st_http_server_t *srv = NULL;
    /* Watch SIGTERM/SIGINT before starting: recovery of a large backlog
     * takes a while, and a stop asked for meanwhile must still be graceful
     * (libev records it and handles it once the loop runs). */
    ev_signal term, intr;
    int made = metrics != NULL && st_exec_new(loop, &cfg, &x, &err) == 0;
    if (made) {
        ev_signal_init(&term, on_stop_signal, SIGTERM);
        ev_signal_init(&intr, on_stop_signal, SIGINT);
        term.data = intr.data = x;
        ev_signal_start(loop, &term);
        ev_signal_start(loop, &intr);
    }
    if (!made || st_exec_start(x, &err) != 0 ||
        (http != NULL &&
         (srv = start_http(http, cfg.dsn, metrics, webhook_tolerance, &err)) == NULL)) {
        if (metrics == NULL)
            st_err_set(&err, ST_NOMEM, "out of memory");
        report(&err);
        st_exec_free(x);
        st_metrics_free(metrics);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    g_started = 1;
    if (g_stop_asked)
        st_exec_shutdown(x);
    ev_run(loop, 0);
    int stopped = st_exec_stopped(x);
    st_http_server_free(srv);
    st_exec_free(x);
    st_metrics_free(metrics);
    return stopped ? 0 : 1;
}

/* -------------------------------------------------- migrate, deploy, start */

static PGconn *connect_or_report(const char *dsn)
{
    char shown[1024];
    PGconn *conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr,
                "error: cannot connect to the database (%s)\n  detail: %s"
                "  hint: check that PostgreSQL is running and the DSN is right\n",
                st_dsn_redact(dsn, shown, sizeof shown), PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

static int cmd_migrate(const char *dsn)
{
    PGconn *conn = connect_or_report(dsn);
    if (conn == NULL)
        return 1;
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

static st_store_conn_t *store_or_report(struct ev_loop *loop, const char *dsn)
{
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cc, &err);
    if (c == NULL)
        report(&err);
    return c;
}

static int cmd_deploy(const char *dsn, const char *path)
{
    size_t len = 0;
    char *src = NULL;
    st_err_t ferr;
    if (st_file_read(path, 0, &src, &len, &ferr) != 0) {
        report(&ferr);
        return 1;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_t *c = store_or_report(loop, dsn);
    int rc = 1;
    if (c != NULL) {
        st_ops_deployed_t d;
        char *diags = NULL;
        st_err_t err;
        int r = st_ops_deploy(c, path, src, len, &d, &diags, &err);
        if (diags != NULL)
            fputs(diags, stderr);
        if (r != 0) {
            report(&err);
        } else {
            printf("deployed %s %.12s (%s)\n", d.name, d.hash,
                   d.created ? "new version" : "already registered");
            rc = 0;
        }
        free(diags);
        st_store_conn_free(c);
    }
    ev_loop_destroy(loop);
    free(src);
    return rc;
}

/* The limits the flow API applies (common/st_input.h): a usable business key
 * and plausible input values. An unknown flow or input JSON the core
 * rejects is left to st_ops_start, which says so in its own words. */
static int start_limits(st_store_conn_t *c, const char *flow, const char *input, const char *key,
                        st_err_t *err)
{
    if (key != NULL && st_input_key_check(key, err) != 0)
        return ST_INVAL;
    json_t *inputs = json_loads(input ? input : "{}", 0, NULL);
    char hash[65];
    st_store_program_rec_t rec;
    int rc = 0;
    if (json_is_object(inputs) && st_store_flow_current(c, flow, hash, err) == 0 &&
        st_store_program_load(c, hash, &rec, err) == 0) {
        st_core_program_t *prog = NULL;
        if (st_core_program_load(rec.bytes, rec.len, &prog, err) == 0 &&
            st_core_inputs_check(prog, inputs, err) == 0)
            rc = st_core_inputs_plausible(prog, inputs, err);
        st_core_program_free(prog);
        st_store_program_rec_release(&rec);
    }
    json_decref(inputs);
    if (rc != 0)
        st_err_prefix(err, "inputs of %s", flow);
    return rc;
}

static int cmd_start(const char *dsn, const char *flow, const char *input, const char *key)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_t *c = store_or_report(loop, dsn);
    int rc = 1;
    if (c != NULL) {
        st_ops_started_t s;
        st_err_t err;
        st_err_clear(&err);
        if (start_limits(c, flow, input, key, &err) != 0 ||
            st_ops_start(c, flow, input, key, wall_us(), &s, &err) != 0) {
            report(&err);
        } else {
            printf("%s%s\n", s.id, s.existing ? " (existing instance for this key)" : "");
            rc = 0;
        }
        st_store_conn_free(c);
    }
    ev_loop_destroy(loop);
    return rc;
}

static void print_clock(const st_ops_clock_t *c)
{
    char now[40], target[40];
    time_t n = (time_t)(c->now_us / 1000000), t = (time_t)(c->target_us / 1000000);
    struct tm tm;
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&n, &tm));
    strftime(target, sizeof target, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    printf("virtual time %s (target %s)\n", now, target);
}

/* settled clock show | settled clock advance DURATION */
static int cmd_clock(const char *dsn, int argc, char **argv)
{
    st_err_t err;
    st_ops_clock_t c;
    int64_t delta = 0;
    int show = argc == 1 && strcmp(argv[0], "show") == 0;
    int adv = argc == 2 && strcmp(argv[0], "advance") == 0;
    if (!show && !adv) {
        fprintf(stderr, "error: settled clock takes `show` or `advance DURATION`\n");
        return 2;
    }
    if (adv && (st_ops_duration_parse(argv[1], &delta, &err) != 0 ||
                st_input_advance_check(delta, &err) != 0)) {
        report(&err);
        return 2;
    }
    PGconn *pg = connect_or_report(dsn);
    if (pg == NULL)
        return 1;
    int rc = show ? st_ops_clock_show(pg, &c, &err) : st_ops_clock_advance(pg, delta, &c, &err);
    PQfinish(pg);
    if (rc != 0) {
        report(&err);
        return 1;
    }
    print_clock(&c);
    return 0;
}

/* migrate, deploy, start and clock share their option parsing. */
static int cmd_simple(const char *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"dsn", required_argument, NULL, 'd'},
                                         {"input", required_argument, NULL, 'i'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *flag = NULL, *input = NULL, *key = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'd') {
            flag = optarg;
        } else if (c == 'i' && strcmp(cmd, "start") == 0) {
            input = optarg;
        } else if (c == 'k' && strcmp(cmd, "start") == 0) {
            key = optarg;
        } else {
            usage(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (strcmp(cmd, "clock") == 0)
        return cmd_clock(dsn_or_die(flag), argc - optind, argv + optind);
    int want = strcmp(cmd, "migrate") == 0 ? 0 : 1;
    if (argc - optind != want) {
        fprintf(stderr, "error: settled %s takes %s\n  hint: see settled --help\n", cmd,
                want ? "exactly one argument" : "no arguments");
        return 2;
    }
    const char *dsn = dsn_or_die(flag);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate(dsn);
    if (strcmp(cmd, "deploy") == 0)
        return cmd_deploy(dsn, argv[optind]);
    return cmd_start(dsn, argv[optind], input, key);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "migrate") == 0 || strcmp(cmd, "deploy") == 0 || strcmp(cmd, "start") == 0 ||
        strcmp(cmd, "clock") == 0)
        return cmd_simple(cmd, argc - 1, argv + 1);
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
