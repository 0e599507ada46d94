/*
 * bench_steps.c — durable steps per second through the store's batcher.
 *
 * Layer: tool. Uses only the public store API (store/st_store.h) and the
 * migration runner; prints results, which library code never does.
 *
 * Workload: N flows × K steps. Each step is one checkpoint (instance row,
 * one history row; the first step also writes an outbox task; statuses
 * move running → waiting → ... → completed, so flow_counts change too).
 * All flows run concurrently: a flow submits its next step from the
 * callback of the previous one. The same workload runs with group commit
 * and with batching disabled (one transaction per checkpoint), each in a
 * fresh database on the cluster named by --dsn / SETTLE_BENCH_DSN /
 * SETTLE_TEST_DSN, with the cluster's durability settings (fsync on).
 *
 * To put the pure core in the loop, replace next_step(): it turns a flow's
 * state into the checkpoint of its next transition.
 */
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/st_migrate.h"
#include "store/st_store.h"

typedef struct flow {
    st_store_uuid_t id;
    int64_t epoch;
    int64_t seq;
    int64_t first_us, last_us; /* first submit, last completion */
    st_store_ckpt_t ck;
    st_store_hist_t hist;
    st_store_task_new_t task;
    char key[64];
} flow_t;

typedef struct run {
    struct ev_loop *loop;
    st_store_batch_t *batch;
    int64_t node;
    flow_t *flows;
    size_t n, k;
    size_t done_flows;
    int64_t *step_lat; /* per checkpoint, µs */
    size_t nsteps;
    int failed;
} run_t;

typedef struct opts {
    const char *dsn;
    size_t n, k, unbatched_n;
    unsigned linger_us, max_batch, conns;
    int skip_unbatched;
} opts_t;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, const st_err_t *err)
{
    char buf[2048];
    fprintf(stderr, "bench_steps: %s\n%s", what, st_err_format(err, buf, sizeof buf));
    exit(1);
}

/* ---- the flow logic (where the core will go) ------------------------------------- */

static const char *const state_names[] = {"start", "charge", "wait", "confirm", "settle", "done"};

static void next_step(run_t *r, flow_t *f)
{
    st_store_ckpt_t *k = &f->ck;
    int last = (size_t)(f->seq + 1) == r->k;
    memset(k, 0, sizeof *k);
    k->instance = f->id;
    k->node_id = r->node;
    k->lease_epoch = f->epoch;
    k->expected_seq = f->seq;
    k->state = (int32_t)(f->seq + 1);
    k->state_name = state_names[(f->seq + 1) % 6];
    k->status = last ? ST_STORE_COMPLETED : (f->seq % 2 ? ST_STORE_RUNNING : ST_STORE_WAITING);
    k->vars_json = "{\"invoice\": \"in_123\", \"amount\": 4200, \"attempt\": 1}";
    k->wake_at_us = ST_STORE_NO_TIME;
    k->at_us = now_us();
    f->hist = (st_store_hist_t){"transition", state_names[f->seq % 6], k->state_name, NULL};
    k->hist = &f->hist;
    k->nhist = 1;
    if (f->seq == 0) {
        f->task = (st_store_task_new_t){"stripe.charge", "{\"amount\": 4200}", f->key, 3, 10000,
                                        k->at_us};
        k->task = &f->task;
    }
}

static void on_step(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud);

static void submit(run_t *r, flow_t *f)
{
    st_err_t err;
    next_step(r, f);
    if (st_store_batch_submit(r->batch, &f->ck, on_step, r, &err) < 0)
        die("submit", &err);
}

static void on_step(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud)
{
    run_t *r = ud;
    flow_t *f = (flow_t *)((char *)ck - offsetof(flow_t, ck));
    if (rc < 0) {
        char buf[2048];
        fprintf(stderr, "bench_steps: checkpoint failed\n%s", st_err_format(err, buf, sizeof buf));
        r->failed++;
        r->done_flows++;
        return;
    }
    int64_t t = now_us();
    r->step_lat[r->nsteps++] = t - ck->at_us;
    f->seq++;
    if ((size_t)f->seq == r->k) {
        f->last_us = t;
        r->done_flows++;
        return;
    }
    submit(r, f);
}

/* ---- setup ------------------------------------------------------------------------ */

static void make_db(const char *admin_dsn, const char *name, int create)
{
    PGconn *c = PQconnectdb(admin_dsn);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench_steps: %s", PQerrorMessage(c));
        exit(1);
    }
    char sql[256];
    snprintf(sql, sizeof sql, create ? "CREATE DATABASE %s" : "DROP DATABASE IF EXISTS %s", name);
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_steps: %s", PQerrorMessage(c));
        exit(1);
    }
    PQclear(res);
    PQfinish(c);
}

static void migrate(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);
    st_err_t err;
    if (PQstatus(c) != CONNECTION_OK || st_migrate_apply(c, NULL, &err) < 0) {
        st_err_set(&err, ST_DB, "migration failed");
        st_err_detail(&err, "%s", PQerrorMessage(c));
        die("migrate", &err);
    }
    PQfinish(c);
}

static void setup_flows(run_t *r, st_store_conn_t *c)
{
    static const unsigned char bytes[] = "bench program";
    const char *hash = "be0c000000000000000000000000000000000000000000000000000000000001";
    st_store_program_t p = {hash, "bench", 1, "bench.flow", "flow bench {}", bytes, sizeof bytes};
    st_err_t err;
    if (st_store_program_register(c, &p, NULL, &err) < 0 ||
        st_store_flow_set_current(c, "bench", hash, &err) < 0 ||
        st_store_node_register(c, "bench_steps", 600000, &r->node, &err) < 0)
        die("setup", &err);
    enum { CHUNK = 1000 };
    st_store_start_t s[CHUNK];
    st_store_started_t out[CHUNK];
    for (size_t base = 0; base < r->n; base += CHUNK) {
        size_t m = r->n - base < CHUNK ? r->n - base : CHUNK;
        for (size_t i = 0; i < m; i++)
            s[i] = (st_store_start_t){.flow = "bench",
                                      .state_name = "start",
                                      .status = ST_STORE_RUNNING,
                                      .owner_node = r->node,
                                      .wake_at_us = ST_STORE_NO_TIME,
                                      .now_us = now_us()};
        if (st_store_start_many(c, s, m, out, &err) < 0)
            die("start", &err);
        for (size_t i = 0; i < m; i++) {
            flow_t *f = &r->flows[base + i];
            f->id = out[i].id;
            f->epoch = out[i].lease_epoch;
            char text[37];
            st_store_uuid_format(&f->id, text);
            snprintf(f->key, sizeof f->key, "settle_%s_1", text);
        }
    }
}

/* ---- measuring -------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(int64_t *v, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1));
    return n ? v[i] : 0;
}

typedef struct result {
    double steps_per_s;
    double secs;
    int64_t flow_p50, flow_p99, step_p50, step_p99;
    st_store_batch_stats_t stats;
    int64_t completed; /* flow_counts of completed flows after the run */
} result_t;

static result_t run_mode(const opts_t *o, size_t n, int disabled)
{
    char name[64], dsn[1024];
    snprintf(name, sizeof name, "settle_bench_%d_%d", (int)getpid(), disabled);
    make_db(o->dsn, name, 1);
    snprintf(dsn, sizeof dsn, "%s dbname=%s", o->dsn, name);
    migrate(dsn);
    run_t r = {0};
    r.loop = ev_loop_new(EVFLAG_AUTO);
    r.n = n;
    r.k = o->k;
    r.flows = calloc(n, sizeof *r.flows);
    r.step_lat = calloc(n * o->k, sizeof *r.step_lat);
    st_err_t err;
    st_store_conn_cfg_t cc = {.dsn = dsn};
    st_store_conn_t *c = st_store_conn_new(r.loop, &cc, &err);
    if (!c || !r.flows || !r.step_lat)
        die("connect", &err);
    st_store_conn_t *more[16];
    unsigned n_more = o->conns - 1;
    for (unsigned i = 0; i < n_more; i++)
        if (!(more[i] = st_store_conn_new(r.loop, &cc, &err)))
            die("connect", &err);
    setup_flows(&r, c);
    st_store_batch_cfg_t bc = {.linger_us = o->linger_us,
                               .max_size = o->max_batch,
                               .disabled = disabled,
                               .more_conns = more,
                               .n_more = n_more};
    r.batch = st_store_batch_new(c, &bc, &err);
    if (!r.batch)
        die("batcher", &err);
    int64_t t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        r.flows[i].first_us = now_us();
        submit(&r, &r.flows[i]);
    }
    while (r.done_flows < n)
        ev_run(r.loop, EVRUN_ONCE);
    int64_t t1 = now_us();
    if (r.failed)
        fprintf(stderr, "bench_steps: %d flows failed\n", r.failed);
    result_t res = {0};
    res.secs = (double)(t1 - t0) / 1e6;
    res.steps_per_s = (double)r.nsteps / res.secs;
    int64_t *flow_lat = calloc(n, sizeof *flow_lat);
    for (size_t i = 0; i < n; i++)
        flow_lat[i] = r.flows[i].last_us - r.flows[i].first_us;
    qsort(flow_lat, n, sizeof *flow_lat, cmp_i64);
    qsort(r.step_lat, r.nsteps, sizeof *r.step_lat, cmp_i64);
    res.flow_p50 = pct(flow_lat, n, 0.50);
    res.flow_p99 = pct(flow_lat, n, 0.99);
    res.step_p50 = pct(r.step_lat, r.nsteps, 0.50);
    res.step_p99 = pct(r.step_lat, r.nsteps, 0.99);
    st_store_batch_get_stats(r.batch, &res.stats);
    st_store_batch_free(r.batch);
    /* read back what was committed: every flow must be completed */
    if (st_store_flow_count(c, "bench", ST_STORE_COMPLETED, &res.completed, &err) < 0)
        die("verify", &err);
    if (res.completed != (int64_t)n || r.failed) {
        fprintf(stderr, "bench_steps: %lld of %zu flows completed, %d failed\n",
                (long long)res.completed, n, r.failed);
        exit(1);
    }
    for (unsigned i = 0; i < n_more; i++)
        st_store_conn_free(more[i]);
    st_store_conn_free(c);
    ev_loop_destroy(r.loop);
    free(flow_lat);
    free(r.step_lat);
    free(r.flows);
    make_db(o->dsn, name, 0);
    return res;
}

static void print_result(const char *label, size_t n, size_t k, const result_t *r)
{
    printf("%-10s %zu flows x %zu steps: %.0f flows/s, %.0f durable steps/s (%.2f s), "
           "flow latency p50 %.1f ms p99 %.1f ms, step latency p50 %.2f ms p99 %.2f ms, "
           "%" PRIu64 " transactions (%.1f checkpoints each), %" PRIu64 " conflicts, "
           "%lld completed in flow_counts\n",
           label, n, k, r->secs > 0 ? (double)n / r->secs : 0., r->steps_per_s, r->secs,
           r->flow_p50 / 1e3, r->flow_p99 / 1e3, r->step_p50 / 1e3, r->step_p99 / 1e3,
           r->stats.batches,
           r->stats.batches ? (double)r->stats.checkpoints / (double)r->stats.batches : 0.,
           r->stats.conflicts, (long long)r->completed);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_steps [--dsn DSN] [-n flows] [-k steps] [--linger-us US]\n"
                    "                   [--max-batch N] [--conns N] [--unbatched-n flows]\n"
                    "                   [--skip-unbatched]\n"
                    "DSN defaults to $SETTLE_BENCH_DSN, then $SETTLE_TEST_DSN; it names a cluster\n"
                    "where the bench may create and drop databases.\n");
    exit(2);
}

static opts_t parse(int argc, char **argv)
{
    opts_t o = {.n = 20000, .k = 5, .linger_us = 1000, .max_batch = 2048, .conns = 2};
    o.dsn = getenv("SETTLE_BENCH_DSN") ? getenv("SETTLE_BENCH_DSN") : getenv("SETTLE_TEST_DSN");
    static const struct option lo[] = {{"dsn", 1, 0, 'd'},
                                       {"linger-us", 1, 0, 'l'},
                                       {"max-batch", 1, 0, 'm'},
                                       {"unbatched-n", 1, 0, 'u'},
                                       {"skip-unbatched", 0, 0, 's'},
                                       {"conns", 1, 0, 'c'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:k:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            o.dsn = optarg;
            break;
        case 'n':
            o.n = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            o.k = strtoul(optarg, NULL, 10);
            break;
        case 'l':
            o.linger_us = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            o.max_batch = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'u':
            o.unbatched_n = strtoul(optarg, NULL, 10);
            break;
        case 's':
            o.skip_unbatched = 1;
            break;
        case 'c':
            o.conns = (unsigned)strtoul(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (!o.dsn || !o.n || !o.k || o.k > 1000 || o.conns < 1 || o.conns > 16)
        usage();
    if (!o.unbatched_n)
        o.unbatched_n = o.n;
    return o;
}

int main(int argc, char **argv)
{
    opts_t o = parse(argc, argv);
    result_t b = run_mode(&o, o.n, 0);
    print_result("batched", o.n, o.k, &b);
    fflush(stdout);
    if (o.skip_unbatched)
        return 0;
    result_t u = run_mode(&o, o.unbatched_n, 1);
    print_result("unbatched", o.unbatched_n, o.k, &u);
    printf("ratio      batched/unbatched throughput: %.1fx\n", b.steps_per_s / u.steps_per_s);
    return 0;
}
