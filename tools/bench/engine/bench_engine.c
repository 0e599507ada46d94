/*
 * bench_engine.c — flows and durable steps per second through the whole
 * engine: the executor with the pure core, the batcher, the activity runner
 * and the timer wheel, against a real PostgreSQL (fsync as the cluster has
 * it; tools/pgdev keeps PostgreSQL's defaults).
 *
 * Workload: N flows of K steps; each step is a `do test.echo` (a real
 * asynchronous activity on the loop, no network) followed by a decision,
 * so every step is one durable checkpoint plus one task row and one
 * attempt record. The same workload runs with group commit and with
 * batching disabled (one transaction per checkpoint), each in a fresh
 * database, side by side in one run.
 *
 *   bench_engine [-n FLOWS] [-k STEPS] [--dsn DSN] [--only batched|unbatched]
 *                [--finished N [--rounds R]] [--light N]
 *
 * With --finished N, the batched workload then runs alternately in an
 * empty database and in one already holding N finished instances (each
 * with its history rows and its done task), --rounds times each (default
 * 3), after one short unmeasured warm-up run in each, and the medians
 * show whether a long-lived installation slows the hot path.
 *
 * With --light N, the batched engine instead runs N flows one at a time,
 * each started only when the one before completed, so every checkpoint is
 * alone in its transaction: it prints p50/p99 of the flow latency (first
 * transition after the start to completion, from the history rows), what
 * a lone flow waits for on an idle engine.
 *
 * The DSN names the cluster (--dsn, SETTLE_BENCH_DSN or SETTLE_TEST_DSN);
 * the benchmark creates and drops its own databases there.
 */
#include <ev.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/st_exec.h"
#include "ops/st_ops.h"
#include "bench_db.h"

static const char FLOW[] = "flow bench\n"
                           "input n: int\n"
                           "var i: int = 0\n"
                           "state work {\n"
                           "  do test.echo(i: i)\n"
                           "  on ok -> next\n"
                           "  on failed -> broken\n"
                           "}\n"
                           "state next {\n"
                           "  set i = i + 1\n"
                           "  if i >= n -> done\n"
                           "  else -> work\n"
                           "}\n"
                           "final done\n"
                           "fail broken \"echo failed\"\n";

/* Start n unowned instances of the Program `hash`, a transaction per
 * thousand. */
static void start_flows(const char *dsn, const char *hash, int n, int k)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = dsn};
    st_store_conn_t *c = st_store_conn_new(loop, &cc, &err);
    if (c == NULL)
        bench_die("store", err.msg);
    char vars[64];
    snprintf(vars, sizeof vars, "{\"n\": %d}", k);
    enum { CHUNK = 1000 };
    st_store_start_t *in = calloc(CHUNK, sizeof *in);
    st_store_started_t *out = calloc(CHUNK, sizeof *out);
    for (int done = 0; done < n;) {
        int m = n - done < CHUNK ? n - done : CHUNK;
        for (int i = 0; i < m; i++) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            in[i] = (st_store_start_t){.flow = "bench",
                                       .program_hash = hash,
                                       .state_name = "work",
                                       .status = ST_STORE_RUNNING,
                                       .vars_json = vars,
                                       .wake_at_us = ST_STORE_NO_TIME,
                                       .now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000};
        }
        if (st_store_start_many(c, in, (size_t)m, out, &err) != 0)
            bench_die("start", err.msg);
        done += m;
    }
    free(in);
    free(out);
    st_store_conn_free(c);
    ev_loop_destroy(loop);
}

typedef struct poll_w {
    ev_timer t;
    long long want;
} poll_w_t;

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    PGconn *c = w->data;
    (void)revents;
    /* flow_counts, not COUNT(*): the same counter operators read. */
    if (bench_scalar(c, "SELECT coalesce(sum(n), 0) FROM flow_counts WHERE status = 'completed'") >=
        ((poll_w_t *)w)->want)
        ev_break(loop, EVBREAK_ALL);
}

/* N completed instances of the flow with two history rows and a done task
 * each, ids time-ordered like the engine's UUIDv7 and dated a day back,
 * inserted in chunks of a million; then VACUUM ANALYZE, as autovacuum
 * would have done long before, and a CHECKPOINT, so the loading's dirty
 * pages are not written during the measurement. */
static void preload(const char *dsn, const char *hash, long long n)
{
    PGconn *c = bench_connect(dsn);
    for (long long from = 0; from < n; from += 1000000) {
        long long to = from + 1000000 < n ? from + 1000000 : n;
        char q[2560];
        snprintf(q, sizeof q,
                 "WITH g AS (SELECT i, now() - interval '1 day' + i * interval '1 us' AS t, "
                 "md5(i::text) AS r FROM generate_series(%lld, %lld) i), "
                 "ins AS (INSERT INTO instances (id, flow, program_hash, state, state_name, "
                 "status, vars, seq, created_at, updated_at) SELECT (lpad(to_hex((extract(epoch "
                 "FROM t) * 1000)::bigint), 12, '0') || '7' || substr(r, 1, 3) || '8' || "
                 "substr(r, 4, 15))::uuid, 'bench', '%s', 3, 'done', 'completed', "
                 "'{\"n\": 1, \"i\": 1}', 2, t, t FROM g RETURNING id, created_at), "
                 "h AS (INSERT INTO history (instance_id, seq, at, kind, to_state) "
                 "SELECT id, s, created_at + s * interval '1 ms', 'transition', 'done' "
                 "FROM ins, generate_series(0, 1) s) "
                 "INSERT INTO tasks (instance_id, seq, state_name, activity, args, "
                 "idempotency_key, status, attempt, max_attempts, timeout_ms, not_before, "
                 "outcome, created_at, updated_at) SELECT id, 1, 'work', 'test.echo', '{}', "
                 "'settle_' || id || '_1', 'done', 1, 1, 1000, created_at, 'ok', created_at, "
                 "created_at FROM ins",
                 from, to - 1, hash);
        bench_sql(c, q);
        fprintf(stderr, "  preloaded %lld finished instances\n", to);
    }
    char q[256];
    snprintf(q, sizeof q,
             "INSERT INTO flow_counts (flow, status, n) VALUES ('bench', 'completed', %lld) "
             "ON CONFLICT (flow, status, shard) DO UPDATE SET n = flow_counts.n + %lld",
             n, n);
    bench_sql(c, q);
    bench_sql(c, "VACUUM ANALYZE");
    bench_sql(c, "CHECKPOINT");
    PQfinish(c);
}

typedef struct bench_db {
    char name[64];
    char dsn[1024];
    char hash[65];
} bench_db_t;

static void db_setup(bench_db_t *d, const char *admin_dsn, const char *suffix, long long finished)
{
    snprintf(d->name, sizeof d->name, "bench_engine_%d_%s", (int)getpid(), suffix);
    bench_fresh_db(admin_dsn, d->name, d->dsn, sizeof d->dsn);
    bench_deploy(d->dsn, "bench.flow", FLOW, d->hash);
    if (finished > 0)
        preload(d->dsn, d->hash, finished);
}

/* One measured run of n flows x k steps in d; returns durable steps/s.
 * Only this run's instances count (created after its start). */
static double measure(const bench_db_t *d, const char *label, int disabled, int n, int k)
{
    PGconn *c = bench_connect(d->dsn);
    long long t0_us =
        bench_scalar(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint");
    start_flows(d->dsn, d->hash, n, k);
    long long before = bench_scalar(c, "SELECT coalesce(sum(n), 0) FROM flow_counts WHERE status = "
                                       "'completed'");

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = d->dsn;
    cfg.node_name = "bench";
    cfg.batch.disabled = disabled;
    cfg.claim_limit = 5000;
    cfg.batch_conns = getenv("BENCH_CONNS") ? (uint32_t)atoi(getenv("BENCH_CONNS")) : 0;
    st_act_config_t act;
    st_act_config_defaults(&act);
    cfg.act = &act;
    st_err_t err;
    st_exec_t *x = NULL;
    double t0 = bench_mono();
    if (st_exec_new(loop, &cfg, &x, &err) != 0 || st_exec_start(x, &err) != 0)
        bench_die("exec", err.msg);
    poll_w_t pw;
    ev_timer_init(&pw.t, on_poll, 0.02, 0.02);
    pw.t.data = c;
    pw.want = before + n;
    ev_timer_start(loop, &pw.t);
    ev_run(loop, 0);
    double secs = bench_mono() - t0;
    ev_timer_stop(loop, &pw.t);
    st_exec_stats_t st;
    st_exec_get_stats(x, &st);
    st_exec_free(x);
    ev_loop_destroy(loop);

    /* Flow latency: first transition after start to completion. */
    char q[512];
    snprintf(q, sizeof q,
             "WITH f AS (SELECT extract(epoch FROM max(at) - min(at)) AS s FROM history "
             "WHERE kind <> 'start' AND at >= settle_ts(%lld) GROUP BY instance_id) "
             "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), "
             "percentile_cont(0.99) WITHIN GROUP (ORDER BY s) FROM f",
             t0_us);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die("latency query", PQresultErrorMessage(r));
    double p50 = atof(PQgetvalue(r, 0, 0)) * 1000, p99 = atof(PQgetvalue(r, 0, 1)) * 1000;
    PQclear(r);
    snprintf(q, sizeof q, "SELECT sum(seq) FROM instances WHERE created_at >= settle_ts(%lld)",
             t0_us);
    long long steps = bench_scalar(c, q);
    PQfinish(c);
    printf("%-10s %6d flows x %d steps: %6.2f s  %8.0f flows/s  %8.0f durable steps/s  "
           "flow latency p50 %.0f ms p99 %.0f ms  %.1f checkpoints/transaction\n",
           label, n, k, secs, n / secs, steps / secs, p50, p99,
           st.batches ? (double)st.steps / (double)st.batches : 0.0);
    fflush(stdout);
    return steps / secs;
}

typedef struct light_w {
    ev_timer t;
    st_exec_t *x;
    uint64_t want;
} light_w_t;

/* Polls the executor's own counter (no query): the flow completed. */
static void on_light(struct ev_loop *loop, ev_timer *w, int revents)
{
    light_w_t *lw = (light_w_t *)w;
    st_exec_stats_t st;
    (void)revents;
    st_exec_get_stats(lw->x, &st);
    if (st.completed >= lw->want)
        ev_break(loop, EVBREAK_ALL);
}

/* n flows of k steps one after the other on an idle engine. */
static void light(const char *admin_dsn, int n, int k)
{
    bench_db_t d;
    db_setup(&d, admin_dsn, "light", 0);
    PGconn *c = bench_connect(d.dsn);
    long long t0_us =
        bench_scalar(c, "SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint");
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = d.dsn;
    cfg.node_name = "bench";
    cfg.claim_interval_ms = 2; /* the start is not what is measured */
    st_act_config_t act;
    st_act_config_defaults(&act);
    cfg.act = &act;
    st_err_t err;
    st_exec_t *x = NULL;
    if (st_exec_new(loop, &cfg, &x, &err) != 0 || st_exec_start(x, &err) != 0)
        bench_die("exec", err.msg);
    light_w_t lw = {.x = x};
    ev_timer_init(&lw.t, on_light, 0.0002, 0.0002);
    for (int i = 0; i < n; i++) {
        start_flows(d.dsn, d.hash, 1, k);
        lw.want = (uint64_t)i + 1;
        ev_timer_start(loop, &lw.t);
        ev_run(loop, 0);
        ev_timer_stop(loop, &lw.t);
    }
    st_exec_free(x);
    ev_loop_destroy(loop);
    char q[512];
    snprintf(q, sizeof q,
             "WITH f AS (SELECT extract(epoch FROM max(at) - min(at)) AS s FROM history "
             "WHERE kind <> 'start' AND at >= settle_ts(%lld) GROUP BY instance_id) "
             "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), "
             "percentile_cont(0.99) WITHIN GROUP (ORDER BY s), count(*) FROM f",
             t0_us);
    PGresult *r = PQexec(c, q);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        bench_die("latency query", PQresultErrorMessage(r));
    printf("light      %6s flows x %d steps one at a time: flow latency p50 %.2f ms p99 %.2f ms\n",
           PQgetvalue(r, 0, 2), k, atof(PQgetvalue(r, 0, 0)) * 1000,
           atof(PQgetvalue(r, 0, 1)) * 1000);
    PQclear(r);
    PQfinish(c);
    bench_drop_db(admin_dsn, d.name);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The same workload alternately in an empty database and in one holding
 * `finished` old instances, `rounds` times each, so both see the same
 * machine; prints the median of each and their ratio. */
static void compare_finished(const char *admin_dsn, long long finished, int rounds, int n, int k)
{
    bench_db_t empty, full;
    db_setup(&empty, admin_dsn, "empty", 0);
    db_setup(&full, admin_dsn, "full", finished);
    double a[16], b[16];
    char label[32];
    snprintf(label, sizeof label, "+%lld old", finished);
    /* A short unmeasured run in each first: a serving installation has its
     * hot index pages cached; the first touch after loading does not. */
    measure(&empty, "warm-up", 0, n / 10 > 0 ? n / 10 : 1, k);
    measure(&full, "warm-up", 0, n / 10 > 0 ? n / 10 : 1, k);
    for (int i = 0; i < rounds; i++) {
        a[i] = measure(&empty, "empty db", 0, n, k);
        b[i] = measure(&full, label, 0, n, k);
    }
    qsort(a, (size_t)rounds, sizeof a[0], cmp_double);
    qsort(b, (size_t)rounds, sizeof b[0], cmp_double);
    double ma = a[rounds / 2], mb = b[rounds / 2];
    printf("median of %d alternating rounds: empty %.0f, with %lld finished %.0f durable "
           "steps/s (%.2fx)\n",
           rounds, ma, finished, mb, mb / ma);
    bench_drop_db(admin_dsn, empty.name);
    bench_drop_db(admin_dsn, full.name);
}

static void run(const char *admin_dsn, const char *label, int disabled, int n, int k)
{
    bench_db_t d;
    db_setup(&d, admin_dsn, label, 0);
    measure(&d, label, disabled, n, k);
    bench_drop_db(admin_dsn, d.name);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"dsn", required_argument, NULL, 'd'},
                                         {"only", required_argument, NULL, 'o'},
                                         {"finished", required_argument, NULL, 'f'},
                                         {"rounds", required_argument, NULL, 'r'},
                                         {"light", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int n = 20000, k = 5, rounds = 3, c, nlight = 0;
    long long finished = 0;
    const char *dsn = getenv("SETTLE_BENCH_DSN"), *only = NULL;
    if (dsn == NULL)
        dsn = getenv("SETTLE_TEST_DSN");
    while ((c = getopt_long(argc, argv, "n:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = atoi(optarg);
            break;
        case 'k':
            k = atoi(optarg);
            break;
        case 'd':
            dsn = optarg;
            break;
        case 'o':
            only = optarg;
            break;
        case 'f':
            finished = atoll(optarg);
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'l':
            nlight = atoi(optarg);
            break;
        default:
            printf("usage: bench_engine [-n FLOWS] [-k STEPS] [--dsn DSN] "
                   "[--only batched|unbatched] [--finished N [--rounds R]] [--light N]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (dsn == NULL || n < 1 || k < 1 || rounds < 1 || rounds > 16) {
        fprintf(stderr, "bench_engine: give a cluster DSN (--dsn or SETTLE_BENCH_DSN; "
                        "tools/pgdev start prints one), positive -n/-k and 1-16 rounds\n");
        return 2;
    }
    if (nlight > 0) {
        light(dsn, nlight, k);
        return 0;
    }
    if (only == NULL || strcmp(only, "batched") == 0)
        run(dsn, "batched", 0, n, k);
    if (only == NULL || strcmp(only, "unbatched") == 0)
        run(dsn, "unbatched", 1, n, k);
    if (finished > 0)
        compare_finished(dsn, finished, rounds, n, k);
    return 0;
}
