/*
 * settled_main.c — the settled command: parses the command line and hands
 * over to the engine. Edge code: the only place that prints and exits.
 * Every database access goes through the store and ops libraries (no libpq
 * here). `run` checks every option and the HTTP keys, and binds the HTTP
 * port, before the executor registers and claims work: a bad option never
 * leaves leases behind to expire.
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

#include "common/st_dsn.h"
#include "common/st_err.h"
#include "common/st_file.h"
#include "exec/st_exec.h"
#include "http/st_http.h"
#include "common/st_input.h"
#include "ops/st_ops.h"
#include "start/st_start_progs.h"
#include "start/st_start.h"
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
        "      --node NAME             this node's identity (default: the host name, or\n"
        "                              host-2, host-3, ... when that one runs already)\n"
        "      --state-dir DIR         where the node lock lives (default /tmp/settle-<uid>);\n"
        "                              a restart of the same node takes its work back at once\n"
        "      --linger-us N           group-commit linger in microseconds (default 0)\n"
        "      --batch-max N           checkpoints per transaction (default 1024)\n"
        "      --no-batch              one transaction per checkpoint\n"
        "      --lease-ttl-ms N        node lease (default 10000)\n"
        "      --history-days N        drop history partitions older than N days (default: keep)\n"
        "      --http [ADDR:]PORT      serve webhooks, the flow API and /metrics (port 0: any)\n"
        "      --http-threads N        HTTP handler threads, 1 to 64 (default 4)\n"
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

/* --http [ADDR:]PORT, checked while parsing the command line. */
typedef struct http_opt {
    char addr[64];
    uint16_t port;
    unsigned threads; /* --http-threads; 0: the server's default */
} http_opt_t;

static int parse_http(const char *spec, http_opt_t *out)
{
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon ? colon + 1 : spec;
    size_t alen = colon ? (size_t)(colon - spec) : 0;
    snprintf(out->addr, sizeof out->addr, "127.0.0.1");
    if (alen >= sizeof out->addr) {
        fprintf(stderr,
                "error: --http address '%.*s...' is too long\n  hint: write --http "
                "[ADDR:]PORT, e.g. --http 8080 or --http 0.0.0.0:8080\n",
                40, spec);
        return ST_INVAL;
    }
    if (alen > 0)
        snprintf(out->addr, sizeof out->addr, "%.*s", (int)alen, spec);
    char *end = NULL;
    errno = 0;
    long port = strtol(port_text, &end, 10);
    if (port_text[0] < '0' || port_text[0] > '9' || errno != 0 || *end != '\0' || port > 65535) {
        fprintf(stderr,
                "error: --http wants [ADDR:]PORT with a port from 0 to 65535, not '%s'\n"
                "  hint: e.g. --http 8080 or --http 0.0.0.0:8080 (port 0: any free port)\n",
                spec);
        return ST_INVAL;
    }
    out->port = (uint16_t)port;
    return 0;
}

/* Make the HTTP side (binds the port, so a port in use fails before
 * anything was claimed) with keys read from the environment. */
static st_http_server_t *start_http(const http_opt_t *h, const st_http_keys_t *keys,
                                    const st_exec_cfg_t *ec, long tolerance_s, st_err_t *err)
{
    st_http_cfg_t hc = {
        .bind = h->addr,
        .port = h->port,
        .dsn = ec->dsn,
        .webhook_secrets = (const char *const *)keys->secrets,
        .n_webhook_secrets = keys->n_secrets,
        .tolerance_s = tolerance_s,
        .tokens = keys->tokens,
        .n_tokens = keys->n_tokens,
        .threads = h->threads,
        .metrics = ec->metrics,
        .programs = ec->programs,
        .clock = ec->clock,
        .log = log_line,
    };
    return st_http_server_new(&hc, err);
}

/* No API token: every call of the flow API will be refused. Said loudly,
 * on stderr, with the way to add one (never a token itself). */
static void warn_no_tokens(void)
{
    fputs("\n"
          "************************************************************************\n"
          "WARNING: no API token is configured: every call to the flow API\n"
          "(/v1/instances...) will be refused with 401 Unauthorized.\n"
          "Add a token and restart settled, either in the environment:\n"
          "    SETTLE_API_TOKENS='TOKEN:write,OTHER:read' settled run --http ...\n"
          "or in a file, one TOKEN[:read|:write] per line:\n"
          "    SETTLE_API_TOKENS_FILE=/etc/settle/api-tokens settled run --http ...\n"
          "Clients then send 'Authorization: Bearer TOKEN' (docs/http-api.md).\n"
          "************************************************************************\n"
          "\n",
          stderr);
    fflush(stderr);
}

/* Said once the node runs: whoever waits for this line (scripts, tests)
 * may rely on a registered node behind the port. */
static void announce_http(const http_opt_t *h, const st_http_keys_t *keys, st_http_server_t *srv)
{
    printf("settled http listening on %s:%u\n", h->addr, (unsigned)st_http_server_port(srv));
    fflush(stdout);
    if (keys->n_secrets == 0)
        log_line(NULL, "no webhook secret configured: /webhooks/stripe answers 503 "
                       "(set SETTLE_WEBHOOK_SECRETS)");
    if (keys->n_tokens == 0)
        warn_no_tokens();
}

static int64_t exec_owner(void *x)
{
    return st_exec_owner(x);
}

static void exec_adopt(void *x, const char (*ids)[37], size_t n)
{
    st_exec_adopt(x, ids, n);
}

/* Starts made through this node's API are owned by this node and go to
 * its executor in-process (no NOTIFY, no claim round). */
static int hand_starts_to_executor(st_http_server_t *srv, st_exec_t *x, st_err_t *err)
{
    st_http_handoff_t h = {.owner = exec_owner, .adopt = exec_adopt, .ctx = x};
    return st_http_server_set_handoff(srv, &h, err);
}

/* Everything `settled run` was told, checked before any work starts. */
typedef struct run_opts {
    st_exec_cfg_t cfg;
    int http_on;
    http_opt_t http;
    long webhook_tolerance;
    const char *state_dir; /* node lock directory; NULL: the default */
} run_opts_t;

/* 0: run; otherwise the exit code (help printed, or an error reported). */
static int parse_run(int argc, char **argv, run_opts_t *o)
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
                                         {"http-threads", required_argument, NULL, 'T'},
                                         {"state-dir", required_argument, NULL, 'S'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    st_exec_cfg_t *cfg = &o->cfg;
    const char *flag = NULL;
    st_err_t err;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            flag = optarg;
            break;
        case 'H':
            if (parse_http(optarg, &o->http) != 0)
                return 2;
            o->http_on = 1;
            break;
        case 'T':
            o->http.threads = (unsigned)parse_num("--http-threads", optarg, 1, ST_HTTP_THREADS_MAX);
            break;
        case 'W':
            o->webhook_tolerance = parse_num("--webhook-tolerance", optarg, 1, 366L * 86400);
            break;
        case 'R':
            cfg->history_days = (uint32_t)parse_num("--history-days", optarg, 1, 36500);
            break;
        case 'c':
            if (st_clock_parse_kind(optarg, &cfg->clock, &err) != 0) {
                report(&err);
                return 2;
            }
            break;
        case 'n':
            cfg->node_name = optarg;
            break;
        case 'S':
            o->state_dir = optarg;
            break;
        case 'l':
            cfg->batch.linger_us = (unsigned)parse_num("--linger-us", optarg, 0, 1000000);
            break;
        case 'm':
            cfg->batch.max_size = (unsigned)parse_num("--batch-max", optarg, 1, 100000);
            break;
        case 'B':
            cfg->batch.disabled = 1;
            break;
        case 't':
            cfg->lease_ttl_ms = (int32_t)parse_num("--lease-ttl-ms", optarg, 100, 3600000);
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "error: settled run takes no arguments, got '%s'\n"
                "  hint: see settled --help\n",
                argv[optind]);
        return 2;
    }
    if (o->http.threads != 0 && !o->http_on) {
        fprintf(stderr, "error: --http-threads needs --http\n"
                        "  hint: e.g. settled run --http 8080 --http-threads 8\n");
        return 2;
    }
    cfg->dsn = dsn_or_die(flag);
    cfg->log = log_line;
    return 0;
}

/* The node's shared parts; freed in reverse order by run_release. */
typedef struct run_parts {
    st_metrics_t *metrics;
    st_start_progs_t *progs;
    st_http_keys_t keys;
    st_exec_t *x;
    st_http_server_t *srv;
    st_exec_ident_t *ident; /* the node lock, held until the process ends */
} run_parts_t;

static void run_release(run_parts_t *p)
{
    st_http_server_free(p->srv); /* before the cache and metrics it borrows */
    st_exec_free(p->x);
    st_http_keys_release(&p->keys);
    st_start_progs_free(p->progs);
    st_metrics_free(p->metrics);
    st_exec_ident_release(p->ident);
}

/* Make the node: registry, Program cache, keys, executor (booted, not
 * started), HTTP side (port bound, serving). Nothing is claimed yet. 0, 2
 * (bad keys) or 1. */
static int run_prepare(run_opts_t *o, struct ev_loop *loop, run_parts_t *p, st_err_t *err)
{
    if (o->http_on && st_http_keys_from_env(&p->keys, err) != 0)
        return 2;
    p->metrics = st_metrics_new();
    p->progs = st_start_progs_new();
    if (p->metrics == NULL || p->progs == NULL) {
        st_err_set(err, ST_NOMEM, "out of memory");
        return 1;
    }
    o->cfg.metrics = p->metrics;
    o->cfg.programs = p->progs;
    /* The node lock first: a second process of this identity stops here,
     * before it touches the database. */
    if (st_exec_ident_acquire(o->state_dir, o->cfg.node_name, o->cfg.dsn, &p->ident, err) != 0)
        return 1;
    o->cfg.ident = p->ident;
    if (st_exec_new(loop, &o->cfg, &p->x, err) != 0)
        return 1;
    /* Partitions and clock before the API can write a history row. */
    if (st_exec_boot(p->x, err) != 0)
        return 1;
    if (o->http_on &&
        (p->srv = start_http(&o->http, &p->keys, &o->cfg, o->webhook_tolerance, err)) == NULL)
        return 1;
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    run_opts_t o;
    memset(&o, 0, sizeof o);
    int rc = parse_run(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN); /* the HTTP threads serve from run_prepare on */
    struct ev_loop *loop = EV_DEFAULT;
    run_parts_t p;
    memset(&p, 0, sizeof p);
    st_err_t err;
    rc = run_prepare(&o, loop, &p, &err);
    /* Watch SIGTERM/SIGINT before starting: recovery of a large backlog
     * takes a while, and a stop asked for meanwhile must still be graceful
     * (libev records it and handles it once the loop runs). */
    ev_signal term, intr;
    if (rc == 0) {
        ev_signal_init(&term, on_stop_signal, SIGTERM);
        ev_signal_init(&intr, on_stop_signal, SIGINT);
        term.data = intr.data = p.x;
        ev_signal_start(loop, &term);
        ev_signal_start(loop, &intr);
        rc = st_exec_start(p.x, &err) == 0 ? 0 : 1;
    }
    if (rc == 0 && p.srv != NULL)
        rc = hand_starts_to_executor(p.srv, p.x, &err) == 0 ? 0 : 1;
    if (rc != 0) {
        report(&err);
        run_release(&p);
        return rc;
    }
    if (p.srv != NULL)
        announce_http(&o.http, &p.keys, p.srv);
    g_started = 1;
    if (g_stop_asked)
        st_exec_shutdown(p.x);
    ev_run(loop, 0);
    int stopped = st_exec_stopped(p.x);
    run_release(&p);
    return stopped ? 0 : 1;
}

/* -------------------------------------------------- migrate, deploy, start */

static int cmd_migrate(const char *dsn)
{
    st_err_t err;
    st_migrate_report_t rep;
    if (st_migrate_apply_dsn(dsn, &rep, &err) != 0) {
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

/* st_start, the same start as the flow API's, stamped on the clock of
 * the nodes on this database (its virtual clock when there is one). */
static int cmd_start(const char *dsn, const char *flow, const char *input, const char *key)
{
    st_err_t err;
    json_t *inputs = NULL;
    if (st_start_inputs_parse(input, &inputs, &err) != 0) {
        report(&err);
        return 1;
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_t *c = store_or_report(loop, dsn);
    int rc = 1;
    if (c != NULL) {
        st_start_req_t req = {
            .flow = flow, .inputs = inputs, .business_key = key, .at = ST_START_AT_NODES};
        st_start_out_t s;
        if (st_start(c, NULL, &req, &s, &err) != 0) {
            report(&err);
        } else {
            printf("%s%s\n", s.id, s.existing ? " (existing instance for this key)" : "");
            rc = 0;
        }
        st_store_conn_free(c);
    }
    ev_loop_destroy(loop);
    json_decref(inputs);
    return rc;
}

static void print_clock(const st_store_clock_t *c)
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
    st_store_clock_t c;
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
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_store_conn_t *sc = store_or_report(loop, dsn);
    int rc = 1;
    if (sc != NULL) {
        if ((show ? st_store_clock_read(sc, &c, &err)
                  : st_store_clock_advance(sc, delta, &c, &err)) != 0) {
            report(&err);
        } else {
            print_clock(&c);
            rc = 0;
        }
        st_store_conn_free(sc);
    }
    ev_loop_destroy(loop);
    return rc;
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
