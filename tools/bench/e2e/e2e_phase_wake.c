/*
 * e2e_phase_wake.c — wake-up lateness through the API: M flows of e2e_wake
 * are started with POST /v1/instances, each to `sleep until` a due time
 * 1–10 s (random per flow, --sleep-max) after its start was sent, then to take one
 * test.echo step and end. Lateness is the commit of that step (the ended
 * instance row's updated_at) minus the due time, so it covers the wake-up,
 * the step and its commit.
 *
 * With --asleep N, N other flows sleep for days in the same database
 * (e2e_asleep.c). That database is kept between runs under a name made of
 * N and the binary under test (path, size, mtime), so alternating rounds of
 * two binaries each reuse their own; a round's sleepers get business keys
 * unique to the round.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2e_bench.h"
#include "e2e_http.h"
#include "e2e_starts.h"

typedef struct wake {
    unsigned seed, spread_us; /* due 1 s + [0, spread) after the start is sent */
    char prefix[32];
    int64_t *due;
} wake_t;

static int body_wake(size_t i, char *buf, size_t cap, void *ctx)
{
    wake_t *w = ctx;
    unsigned r = (unsigned)(i * 2654435761u) ^ (w->seed * 40503u);
    w->due[i] = e2e_wall_us() + 1000000 + (int64_t)(r % w->spread_us);
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e_wake\",\"inputs\":{\"due\":%lld},\"business_key\":\"%s%zu\"}",
                    (long long)w->due[i], w->prefix, i);
}

static int body_template(size_t i, char *buf, size_t cap, void *ctx)
{
    int64_t due = e2e_wall_us() + 3LL * 86400 * 1000000;
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e_nap\",\"inputs\":{\"due\":%lld},"
                    "\"business_key\":\"nap_template\"}",
                    (long long)due);
}

typedef struct probe {
    char key[48];
    int64_t due;
} probe_t;

static int body_probe(size_t i, char *buf, size_t cap, void *ctx)
{
    probe_t *p = ctx;
    p->due = e2e_wall_us() + 200000;
    return snprintf(buf, cap,
                    "{\"flow\":\"e2e_wake\",\"inputs\":{\"due\":%lld},\"business_key\":\"%s\"}",
                    (long long)p->due, p->key);
}

/* Sleepers that no live node owns. */
static const char ADRIFT[] =
    "SELECT count(*) FROM instances WHERE flow = 'e2e_nap' AND status = 'waiting' "
    "AND (owner_node IS NULL OR owner_node NOT IN (SELECT id FROM nodes "
    "WHERE stopped_at IS NULL AND lease_until > now()))";

/* A node that has just started on a million live flows may first take them
 * all over (claims, loads) before it steps anything new: that is its
 * start-up, not its wake lateness. Wait until it stops taking sleepers over
 * (the number no live node owns holds still for a few seconds: all taken,
 * or an engine that leaves far sleepers alone), vacuum the instances so
 * every round starts without the dead rows of that takeover, then step one
 * probe flow due 200 ms after its start; say how long it all took and how
 * late the probe was (a figure of its own: the engine may never be on time
 * with this many asleep). */
static void warm_up(e2e_stack_t *st, size_t asleep)
{
    unsigned still_s = 1 + (unsigned)(asleep / 200000);
    double t0 = e2e_mono_s(), adrift = e2e_scalar(st, ADRIFT), was;
    do {
        was = adrift;
        sleep(still_s);
        adrift = e2e_scalar(st, ADRIFT);
        if (e2e_mono_s() - t0 > 1800)
            e2e_die("asleep", "settled was still taking sleepers over after 30 min");
    } while (adrift != was);
    e2e_exec(st, "VACUUM (ANALYZE) instances");
    probe_t p;
    snprintf(p.key, sizeof p.key, "probe%lld", (long long)(e2e_wall_us() / 1000));
    e2e_starts_t s = {.body = body_probe, .ctx = &p, .clients = 1};
    e2e_starts_run(st->port, 1, &s);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE flow = 'e2e_wake' AND business_key = '%s' "
             "AND status NOT IN ('running', 'waiting')",
             p.key);
    e2e_wait_count(st, sql, 1, 600, "a probe flow's step");
    snprintf(sql, sizeof sql,
             "SELECT (extract(epoch FROM updated_at) * 1e6)::bigint FROM instances "
             "WHERE flow = 'e2e_wake' AND business_key = '%s'",
             p.key);
    double late_ms = (e2e_scalar(st, sql) - (double)p.due) / 1e3;
    printf("asleep: settled took the sleepers over (%.0f no live node owns) and stepped a "
           "probe %.1f ms late, %.1f s after its start\n",
           adrift, late_ms, e2e_mono_s() - t0);
    e2e_figure("asleep_warm_up_s", e2e_mono_s() - t0);
}

/* The kept database for --asleep n and this binary. */
static void asleep_db(const e2e_opts_t *o, char *name, size_t cap, char *mark, size_t mcap)
{
    struct stat sb;
    char real[4096];
    if (stat(o->settled, &sb) != 0 || realpath(o->settled, real) == NULL)
        e2e_die(o->settled, "cannot stat the binary under test");
    uint32_t h = 2166136261u;
    for (const char *p = real; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ (uint32_t)sb.st_size) * 16777619u;
    h = (h ^ (uint32_t)sb.st_mtime) * 16777619u;
    snprintf(name, cap, "settle_e2e_asleep%zu_%08x", o->asleep, h);
    snprintf(mark, mcap, "bench_e2e asleep %zu of %s", o->asleep, real);
}

/* Open the wake phase's database and run settled on it. */
static void wake_stack(e2e_stack_t *st, const e2e_opts_t *o)
{
    if (o->asleep == 0) {
        e2e_stack_fresh(st, "settle_e2e_wake");
        e2e_stack_deploy(st, "e2e_wake.flow", E2E_FLOW_WAKE);
        e2e_stack_run(st);
        return;
    }
    char name[64], mark[512];
    asleep_db(o, name, sizeof name, mark, sizeof mark);
    int reused = e2e_stack_kept(st, name, mark);
    e2e_stack_deploy(st, "e2e_wake.flow", E2E_FLOW_WAKE);
    if (!reused) {
        e2e_stack_deploy(st, "e2e_nap.flow", E2E_FLOW_NAP);
        e2e_stack_run(st);
        e2e_starts_t s = {.body = body_template, .clients = 1};
        e2e_starts_run(st->port, 1, &s);
        e2e_wait_count(st,
                       "SELECT count(*) FROM instances WHERE business_key = 'nap_template' "
                       "AND status = 'waiting' AND wake_at IS NOT NULL",
                       1, 30, "the sleeping template flow");
        e2e_stack_kill(st, SIGTERM);
        e2e_asleep_fill(st, o->asleep);
        e2e_stack_mark(st, mark);
    } else {
        printf("asleep: reusing %s (%zu flows asleep for days)\n", name, o->asleep);
    }
    e2e_stack_run(st);
    warm_up(st, o->asleep);
}

void e2e_phase_wake(e2e_stack_t *st, const e2e_opts_t *o)
{
    size_t m = o->sleepers;
    wake_stack(st, o);
    wake_t w = {.seed = o->seed, .spread_us = (o->sleep_max_s - 1) * 1000000u + 1};
    snprintf(w.prefix, sizeof w.prefix, "w%lld_", (long long)(e2e_wall_us() / 1000));
    w.due = calloc(m, sizeof *w.due);
    int64_t *late = calloc(m, sizeof *late), *answered = calloc(m, sizeof *answered);
    if (w.due == NULL || late == NULL || answered == NULL)
        e2e_die("wake", "out of memory");
    e2e_starts_t s = {.body = body_wake, .ctx = &w, .clients = o->clients, .answered_us = answered};
    e2e_starts_run(st->port, m, &s);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM instances WHERE flow = 'e2e_wake' AND left(business_key, %zu) "
             "= '%s' AND status NOT IN ('running', 'waiting')",
             strlen(w.prefix), w.prefix);
    e2e_wait_count(st, sql, (double)m, 120 + (double)m / 50, "every sleeper's step");
    if (e2e_updated_at(st, "e2e_wake", w.prefix, m, late) != m)
        e2e_die("wake", "a sleeper's end is missing in the database");
    size_t n = 0, early = 0;
    for (size_t i = 0; i < m; i++) {
        if (w.due[i] <= answered[i]) {
            early++; /* due before its start was answered: not a wake figure */
            continue;
        }
        late[n++] = late[i] - w.due[i];
    }
    if (n == 0)
        e2e_die("wake", "every flow was due before the starts were answered; use fewer");
    double p50 = e2e_pct(late, n, 50) / 1e3, p99 = e2e_pct(late, n, 99) / 1e3;
    double max = (double)late[n - 1] / 1e3;
    printf("wake: %zu flows asleep 1-%u s, %zu others asleep for days (%zu due before their "
           "start was answered, left out): lateness due -> step committed p50 %.1f ms "
           "p99 %.1f ms max %.1f ms\n",
           m, o->sleep_max_s, o->asleep, early, p50, p99, max);
    e2e_figure("wake_late_p50_ms", p50);
    e2e_figure("wake_late_p99_ms", p99);
    e2e_figure("wake_late_max_ms", max);
    free(w.due);
    free(late);
    free(answered);
    e2e_stack_close(st);
}
