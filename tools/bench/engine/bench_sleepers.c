/*
 * bench_sleepers.c — engine memory with millions of flows asleep in
 * PostgreSQL, and what waking them costs.
 *
 * A real executor (virtual clock) owns N waiting instances of a sleeping
 * flow whose wake times are spread over 30 days. Only wake times inside the
 * timer horizon (5 min) are loaded into memory, page by page, as virtual
 * time moves, so the engine's RSS must not grow with N. The rows are
 * inserted by a second thread while the executor's loop runs (its lease
 * stays renewed), owned by the executor's node from the start.
 *
 * Prints: RSS before and after the rows exist, then after advancing the
 * virtual clock by H hours (every flow due in that span woken, stepped and
 * checkpointed), the fires per second, and the largest number of
 * instances the executor held in memory.
 *
 *   bench_sleepers [-n FLOWS] [--hours H] [--dsn DSN]
 */
#include <ev.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec/st_exec.h"
#include "ops/st_ops.h"
#include "bench_db.h"

#define T0_US   (1767225600LL * 1000000) /* 2026-01-01T00:00:00Z, virtual */
#define HOUR_US (3600LL * 1000000)

static const char FLOW[] = "flow sleeper\n"
                           "state nap {\n"
                           "  sleep 30d\n"
                           "  on wake -> done\n"
                           "}\n"
                           "final done\n";

typedef struct job {
    char dsn[1024];
    char hash[65];
    long long n;
    long long node;
    volatile int done;
    double secs;
} job_t;

static long rss_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Insert the sleepers in chunks of one million rows, one transaction each. */
static void *insert_rows(void *arg)
{
    job_t *j = arg;
    double t0 = bench_mono();
    PGconn *c = bench_connect(j->dsn);
    for (long long from = 0; from < j->n; from += 1000000) {
        long long to = from + 1000000 < j->n ? from + 1000000 : j->n;
        char q[2048];
        /* Wake times: uniform between one hour after T0 and 30 days. */
        snprintf(q, sizeof q,
                 "INSERT INTO instances (id, flow, program_hash, state, state_name, status, "
                 "vars, seq, wake_at, wait_reason, owner_node, lease_epoch, created_at, "
                 "updated_at) SELECT gen_random_uuid(), 'sleeper', '%s', 0, 'nap', 'waiting', "
                 "'{}', 1, settle_ts(%lld + %lld + floor(random() * %lld)::bigint), "
                 "'sleeping', %lld, 1, now(), now() FROM generate_series(%lld, %lld) i",
                 j->hash, T0_US, HOUR_US, 29 * 24 * HOUR_US, j->node, from, to - 1);
        bench_sql(c, q);
        fprintf(stderr, "  %lld rows\n", to);
    }
    char q[256];
    snprintf(q, sizeof q,
             "INSERT INTO flow_counts (flow, status, n) VALUES ('sleeper', 'waiting', %lld) "
             "ON CONFLICT (flow, status, shard) DO UPDATE SET n = flow_counts.n + %lld",
             j->n, j->n);
    bench_sql(c, q);
    bench_sql(c, "ANALYZE instances");
    PQfinish(c);
    j->secs = bench_mono() - t0;
    j->done = 1;
    return NULL;
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop, (void)w, (void)revents;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"dsn", required_argument, NULL, 'd'},
                                         {"hours", required_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    const char *admin = getenv("SETTLE_BENCH_DSN");
    long long n = 10000000, hours = 2;
    int c;
    while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        if (c == 'n')
            n = atoll(optarg);
        else if (c == 'd')
            admin = optarg;
        else if (c == 'H')
            hours = atoll(optarg);
        else
            return 2;
    }
    if (admin == NULL || n < 1 || hours < 1) {
        fprintf(stderr, "usage: bench_sleepers [-n FLOWS] [--hours H] --dsn DSN\n");
        return 2;
    }
    job_t job;
    memset(&job, 0, sizeof job);
    job.n = n;
    char db[64];
    snprintf(db, sizeof db, "bench_sleepers_%d", (int)getpid());
    bench_fresh_db(admin, db, job.dsn, sizeof job.dsn);
    bench_deploy(job.dsn, "sleeper.flow", FLOW, job.hash);

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    st_exec_cfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.dsn = job.dsn;
    cfg.node_name = "bench-sleepers";
    cfg.clock = ST_CLOCK_VIRTUAL;
    cfg.virtual_start_us = T0_US;
    st_act_config_t act;
    st_act_config_defaults(&act);
    cfg.act = &act;
    st_err_t err;
    st_exec_t *x = NULL;
    if (st_exec_new(loop, &cfg, &x, &err) != 0 || st_exec_start(x, &err) != 0)
        bench_die("exec", err.msg);
    st_exec_stats_t st;
    st_exec_get_stats(x, &st);
    job.node = st.node_id;
    long rss0 = rss_kb();

    ev_timer tick;
    ev_timer_init(&tick, on_tick, 0.05, 0.05);
    ev_timer_start(loop, &tick);
    pthread_t th;
    pthread_create(&th, NULL, insert_rows, &job);
    while (!job.done)
        ev_run(loop, EVRUN_ONCE);
    pthread_join(th, NULL);
    long rss1 = rss_kb();

    PGconn *pg = PQconnectdb(job.dsn);
    char q[256];
    snprintf(q, sizeof q, "SELECT count(*) FROM instances WHERE wake_at < settle_ts(%lld)",
             T0_US + hours * HOUR_US);
    long long due = bench_scalar(pg, q);
    double t0 = bench_mono();
    if (st_exec_advance(x, hours * HOUR_US, &err) != 0)
        bench_die("advance", err.msg);
    uint64_t most = 0;
    for (;;) {
        ev_run(loop, EVRUN_ONCE);
        st_exec_get_stats(x, &st);
        most = st.in_memory > most ? st.in_memory : most;
        if ((long long)st.completed >= due)
            break;
    }
    double secs = bench_mono() - t0;
    long rss2 = rss_kb();
    printf("sleepers: %lld flows asleep in PostgreSQL (inserted in %.0f s)\n", n, job.secs);
    printf("engine RSS: %ld MiB at start, %ld MiB with all of them asleep, %ld MiB after "
           "waking %lld of them\n",
           rss0 / 1024, rss1 / 1024, rss2 / 1024, due);
    printf("advance %lld h of virtual time: %lld wake-ups fired, stepped and checkpointed "
           "in %.1f s (%.0f/s); at most %llu instances in memory\n",
           hours, due, secs, due / secs, (unsigned long long)most);
    ev_timer_stop(loop, &tick);
    st_exec_free(x);
    ev_loop_destroy(loop);
    PQfinish(pg);
    bench_drop_db(admin, db);
    return 0;
}
