/*
 * st_exec.c — the executor's life cycle: connect, register the node, claim
 * work, renew the lease, listen for new work and signals, shut down.
 *
 * Two store connections: `hot` carries checkpoints through the batcher on
 * the engine's loop; `bg` runs the blocking helpers (claims, signals,
 * attempts, wake pages) on a private loop, so a nested wait for its reply
 * never runs the engine's own watchers re-entrantly. A third, plain libpq
 * connection LISTENs for new instances and signals.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "exec/exec_int.h"
#include "store/st_migrate.h"

int64_t exec_now(st_exec_t *x)
{
    return st_clock_now_us(&x->clock);
}

uint64_t exec_random(st_exec_t *x)
{
    /* xorshift64*, seeded from OpenSSL: jitter needs spread, not secrecy. */
    uint64_t s = x->rng;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    x->rng = s;
    return s * 0x2545F4914F6CDD1DULL;
}

void exec_log(st_exec_t *x, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    if (x->cfg.log == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    x->cfg.log(x->cfg.log_ctx, line);
}

static void apply_defaults(st_exec_cfg_t *c)
{
    if (c->lease_ttl_ms <= 0)
        c->lease_ttl_ms = 10000;
    if (c->claim_interval_ms == 0)
        c->claim_interval_ms = 1000;
    if (c->claim_limit == 0)
        c->claim_limit = 1000;
    if (c->horizon_us <= 0)
        c->horizon_us = 5LL * 60 * 1000000;
    if (c->shutdown_grace_ms == 0)
        c->shutdown_grace_ms = 10000;
}

static int init_clock(st_exec_t *x, st_err_t *err)
{
    if (x->cfg.clock == ST_CLOCK_VIRTUAL) {
        st_clock_t real;
        st_clock_init_real(&real);
        int64_t start =
            x->cfg.virtual_start_us > 0 ? x->cfg.virtual_start_us : st_clock_now_us(&real);
        st_clock_init_virtual(&x->clock, start);
    } else {
        st_clock_init_real(&x->clock);
    }
    (void)err;
    return 0;
}

int st_exec_new(struct ev_loop *loop, const st_exec_cfg_t *cfg, st_exec_t **out, st_err_t *err)
{
    *out = NULL;
    if (cfg->dsn == NULL)
        return st_err_set(err, ST_INVAL, "no database given");
    st_exec_t *x = calloc(1, sizeof *x);
    if (x == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    x->loop = loop;
    x->cfg = *cfg;
    apply_defaults(&x->cfg);
    x->dsn = strdup(cfg->dsn);
    x->cfg.dsn = x->dsn;
    if (cfg->node_name != NULL) {
        snprintf(x->node_name, sizeof x->node_name, "%s", cfg->node_name);
    } else {
        char host[64] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(x->node_name, sizeof x->node_name, "%s:%d", host, (int)getpid());
    }
    x->cfg.node_name = x->node_name;
    if (RAND_bytes((unsigned char *)&x->rng, sizeof x->rng) != 1 || x->rng == 0)
        x->rng = 0x9E3779B97F4A7C15ULL;
    x->progs = cfg->programs;
    if (x->progs == NULL) {
        x->progs = st_ops_progs_new();
        x->own_progs = 1;
    }
    int rc = x->progs ? init_clock(x, err) : st_err_set(err, ST_NOMEM, "out of memory");
    const char *crash = cfg->crash_at ? cfg->crash_at : getenv("SETTLE_CRASH_AT");
    if (rc == 0 && crash != NULL && crash[0] != '\0')
        rc = exec_crash_parse(x, crash, err);
    if (rc == 0) {
        if (cfg->act != NULL)
            x->act_cfg = *cfg->act;
        else
            rc = st_act_config_from_env(&x->act_cfg, err);
    }
    if (rc != 0) {
        st_exec_free(x);
        return rc;
    }
    x->cfg.act = &x->act_cfg;
    *out = x;
    return 0;
}

static int connect_all(st_exec_t *x, st_err_t *err)
{
    PGconn *pg = PQconnectdb(x->dsn);
    int rc = 0;
    if (PQstatus(pg) != CONNECTION_OK) {
        rc = st_err_set(err, ST_DB, "cannot connect to the database");
        st_err_detail(err, "%s", PQerrorMessage(pg));
        st_err_hint(err, "check the DSN and that PostgreSQL is running");
    } else {
        rc = st_migrate_check(pg, err);
    }
    PQfinish(pg);
    if (rc != 0)
        return rc;
    st_store_conn_cfg_t cc = {.dsn = x->dsn};
    x->bg_loop = ev_loop_new(EVFLAG_AUTO);
    if (x->bg_loop == NULL)
        return st_err_set(err, ST_NOMEM, "cannot create an event loop");
    x->bg = st_store_conn_new(x->bg_loop, &cc, err);
    if (x->bg == NULL)
        return err ? err->code : ST_DB;
    x->hot = st_store_conn_new(x->loop, &cc, err);
    if (x->hot == NULL)
        return err ? err->code : ST_DB;
    /* Attempt records and reschedules are audit and hints: losing the last
     * few in a crash costs at most a repeated attempt, so they commit
     * without waiting for the WAL flush instead of queueing an fsync each
     * in front of the checkpoint batches. */
    size_t n = strlen(x->dsn) + 64;
    x->aux_dsn = malloc(n);
    if (x->aux_dsn == NULL)
        return st_err_set(err, ST_NOMEM, "out of memory");
    if (strstr(x->dsn, "://") != NULL)
        snprintf(x->aux_dsn, n, "%s", x->dsn); /* URI: keep the server default */
    else
        snprintf(x->aux_dsn, n, "%s options='-c synchronous_commit=off'", x->dsn);
    st_store_conn_cfg_t ac = {.dsn = x->aux_dsn};
    x->aux = st_store_conn_new(x->loop, &ac, err);
    if (x->aux == NULL)
        return err ? err->code : ST_DB;
    /* Batches commit in parallel on a few connections: while one waits for
     * its WAL flush, the next is already being written. */
    unsigned want = x->cfg.batch_conns ? x->cfg.batch_conns : 2;
    if (x->cfg.batch.disabled)
        want = 1;
    for (x->n_more = 0; x->n_more + 1 < want && x->n_more < 7; x->n_more++) {
        x->more[x->n_more] = st_store_conn_new(x->loop, &cc, err);
        if (x->more[x->n_more] == NULL)
            return err ? err->code : ST_DB;
    }
    x->cfg.batch.more_conns = x->more;
    x->cfg.batch.n_more = x->n_more;
    x->batch = st_store_batch_new(x->hot, &x->cfg.batch, err);
    if (x->batch == NULL)
        return err ? err->code : ST_DB;
    x->act = st_act_runner_new(x->loop, &x->act_cfg, err);
    if (x->act == NULL)
        return err ? err->code : ST_INTERNAL;
    return 0;
}

/* Adopt claimed rows: build their state, queue START or re-arm their wait. */
static void adopt(st_exec_t *x, st_store_instances_t *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        const st_store_instance_t *row = &rows->v[i];
        st_err_t err;
        exec_inst_t *in = exec_inst_find(x, &row->id);
        if (in != NULL && (in->ck != NULL || in->task.inflight)) {
            /* Never replace state under a write in flight. If the instance
             * died with a lease this node lost, it is ours again: revive it,
             * so that the write (conflicting with the new epoch) ends in a
             * re-read of the row instead of forgetting an instance that no
             * other claim would ever pick up. */
            in->dead = 0;
            continue;
        }
        if (in == NULL && (in = exec_inst_add(x, &row->id)) == NULL)
            break;
        in->dead = in->reload = in->evict = 0;
        if (exec_inst_from_row(x, in, row, &err) != 0) {
            exec_log(x, "cannot adopt an instance: %s", err.msg);
            exec_inst_forget(x, in);
            continue;
        }
        if (in->core->status == ST_CORE_WAITING && in->core->has_wake)
            exec_timer_set_wake(x, in, in->core->wake_at_us);
        if (in->core->status == ST_CORE_WAITING)
            in->check_signals = 1;
        exec_kick(x, in);
    }
}

/* Re-dispatch tasks written but not finished (after a crash or takeover). */
static void recover_tasks(st_exec_t *x)
{
    st_store_tasks_t tasks = {0};
    st_err_t err;
    if (st_store_tasks_recover(x->bg, x->node_id, &tasks, &err) != 0) {
        exec_log(x, "task recovery failed (tried again each claim round): %s", err.msg);
        x->recover_again = 1;
        return;
    }
    x->recover_again = 0;
    for (size_t i = 0; i < tasks.n; i++) {
        exec_inst_t *in = exec_inst_find(x, &tasks.v[i].instance);
        /* Only tasks this node does not already know: a task it dispatched
         * (task.id set) is running or has its result on the way. */
        if (in != NULL && in->core != NULL && in->core->status == ST_CORE_RUNNING &&
            in->core->task_seq == tasks.v[i].seq && in->task.id == 0 && !in->task.inflight &&
            in->ck == NULL && in->qhead == NULL)
            exec_task_recover(x, in, &tasks.v[i]);
    }
    st_store_tasks_free(&tasks);
}

/* Run the next claim round at the loop's next turn (after due timers,
 * the lease renewal among them). */
static void claim_again_soon(st_exec_t *x)
{
    if (!ev_is_active(&x->claim_w))
        return; /* shutting down */
    ev_timer_stop(x->loop, &x->claim_w);
    ev_timer_set(&x->claim_w, 0.0, x->cfg.claim_interval_ms / 1000.0);
    ev_timer_start(x->loop, &x->claim_w);
}

/* Claims pages of work until a page comes back short, or until a quarter
 * of the lease has gone by: a node with a huge backlog must still return
 * to the loop to renew its lease, or it would outlive it while claiming. */
static void claim_round(st_exec_t *x)
{
    size_t total = 0;
    double budget = x->cfg.lease_ttl_ms / 4000.0, t0 = ev_time();
    int more = 0;
    for (;;) {
        st_store_instances_t rows = {0};
        st_err_t err;
        if (st_store_lease_claim(x->bg, x->node_id, x->cfg.claim_limit, &rows, &err) != 0) {
            exec_log(x, "claiming work failed: %s", err.msg);
            return;
        }
        size_t n = rows.n;
        adopt(x, &rows);
        st_store_instances_free(&rows);
        total += n;
        if (n < x->cfg.claim_limit)
            break;
        if (ev_time() - t0 > budget) {
            more = 1;
            break;
        }
    }
    if (total > 0)
        recover_tasks(x);
    if (more)
        claim_again_soon(x);
}

static void reload_round(st_exec_t *x)
{
    exec_inst_t *list = x->reload_head;
    int running = 0;
    x->reload_head = NULL;
    while (list != NULL) {
        exec_inst_t *in = list;
        list = in->reload_next;
        in->reload_next = NULL;
        in->reload = 0;
        st_err_t err;
        int rc = exec_inst_load(x, in, &err);
        if (rc == ST_IO || rc == ST_DB) {
            exec_reload_later(x, in); /* still unreachable */
        } else if (rc != 0) {
            exec_inst_forget(x, in);
        } else {
            if (in->core->status == ST_CORE_WAITING && in->core->has_wake)
                exec_timer_set_wake(x, in, in->core->wake_at_us);
            if (in->core->status == ST_CORE_RUNNING && !in->task.inflight) {
                /* Whatever we knew of its task may be stale: take it from
                 * the store again (same key), below. */
                exec_task_clear(&in->task);
                running = 1;
            }
            exec_kick(x, in);
        }
    }
    if (running)
        recover_tasks(x);
}

/* A dead instance is never queued: it is freed once idle, and a freed
 * entry on the reload list would be used after free by reload_round. */
void exec_reload_later(st_exec_t *x, exec_inst_t *in)
{
    if (in->reload || in->dead)
        return;
    in->reload = 1;
    exec_timer_cancel_all(x, in);
    st_core_instance_free(in->core);
    in->core = NULL;
    in->reload_next = x->reload_head;
    x->reload_head = in;
}

static void lose_everything(st_exec_t *x)
{
    /* Our lease lapsed: others may own our instances now. Never write them
     * again; re-register as a new node and claim afresh. Pending re-reads
     * are moot, and their list must not point at the instances freed
     * below. */
    while (x->reload_head != NULL) {
        exec_inst_t *in = x->reload_head;
        x->reload_head = in->reload_next;
        in->reload_next = NULL;
        in->reload = 0;
    }
    for (size_t i = 0; i < x->nbuckets; i++)
        for (exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            in->dead = 1;
    for (size_t i = 0; i < x->nbuckets; i++) {
        exec_inst_t *in = x->buckets[i];
        while (in != NULL) {
            exec_inst_t *next = in->hnext;
            exec_inst_forget(x, in);
            in = next;
        }
    }
}

static void on_renew(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    st_err_t err;
    (void)loop;
    (void)revents;
    int rc = st_store_node_renew(x->bg, x->node_id, x->cfg.lease_ttl_ms, &err);
    if (rc == ST_CONFLICT) {
        exec_log(x, "lease of node %lld lapsed; dropping its work and registering again",
                 (long long)x->node_id);
        lose_everything(x);
        if (st_store_node_register(x->bg, x->node_name, x->cfg.lease_ttl_ms, &x->node_id, &err) !=
            0)
            exec_log(x, "registering the node failed: %s", err.msg);
        x->stats.node_id = x->node_id;
    } else if (rc != 0) {
        exec_log(x, "renewing the lease failed: %s", err.msg);
    }
}

/* History partitions: today's and the next two days' exist before rows
 * need them (else they land in the default partition, which retention
 * cannot drop); partitions past the retention are dropped whole. Hourly,
 * in engine time, so a virtual clock moving weeks keeps them right too. */
static void maintain_history(st_exec_t *x)
{
    st_err_t err;
    int created = 0, dropped = 0;
    int64_t now = exec_now(x);
    if (st_store_history_ensure(x->bg, now, 3, &created, &err) != 0)
        exec_log(x, "creating history partitions failed: %s", err.msg);
    if (x->cfg.history_days > 0 &&
        st_store_history_retain(x->bg, now - (int64_t)x->cfg.history_days * 86400 * 1000000,
                                &dropped, &err) != 0)
        exec_log(x, "dropping old history partitions failed: %s", err.msg);
    if (dropped > 0)
        exec_log(x, "dropped %d history partition%s older than %u days", dropped,
                 dropped == 1 ? "" : "s", x->cfg.history_days);
}

static void on_maint(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    st_exec_t *x = w->data;
    if (!x->shutting_down)
        maintain_history(x);
}

static int start_listen(st_exec_t *x, st_err_t *err);

/* The notification connection died with PostgreSQL: open it again (each
 * claim round until it works), then catch up on what it may have missed
 * meanwhile: a clock advance and signals for the instances waiting here. */
static void relisten(st_exec_t *x)
{
    st_err_t err;
    if (ev_is_active(&x->listen_w))
        return;
    PQfinish(x->listen);
    x->listen = NULL;
    if (start_listen(x, &err) != 0)
        return;
    exec_log(x, "notification connection back; catching up on the clock and signals");
    exec_clock_poll(x);
    for (size_t i = 0; i < x->nbuckets; i++)
        for (exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            if (in->core != NULL && !in->dead && in->core->status == ST_CORE_WAITING)
                exec_signals_poll(x, in);
}

static void on_claim(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    (void)loop;
    (void)revents;
    if (x->shutting_down)
        return;
    relisten(x);
    if (x->reload_head != NULL)
        reload_round(x);
    claim_round(x);
    if (x->recover_again)
        recover_tasks(x);
}

/* Signals stored for an instance: deliver to memory, or load it first. */
static void signal_arrived(st_exec_t *x, const char *id_text)
{
    st_store_uuid_t id;
    if (st_store_uuid_parse(id_text, &id) != 0)
        return;
    exec_inst_t *in = exec_inst_find(x, &id);
    /* Absent, or only a shell the timer holds for a far wake time (no core
     * until the wake fires): read the row now, or the signal — a cancel
     * among them — would wait for the wake. */
    int shell = in != NULL && in->core == NULL && !in->dead && !in->reload && in->ck == NULL;
    if (in == NULL || shell) {
        st_err_t err;
        if (in == NULL)
            in = exec_inst_add(x, &id);
        if (in == NULL)
            return;
        if (exec_inst_load(x, in, &err) != 0) {
            /* Not ours (or gone): the owner reacts to the same notification. */
            exec_inst_forget(x, in);
            return;
        }
        if (in->core->status == ST_CORE_WAITING && in->core->has_wake)
            exec_timer_set_wake(x, in, in->core->wake_at_us);
    }
    if (in->core != NULL && !in->dead)
        exec_signals_poll(x, in);
}

static void on_listen(struct ev_loop *loop, ev_io *w, int revents)
{
    st_exec_t *x = w->data;
    int work = 0;
    (void)loop;
    (void)revents;
    if (!PQconsumeInput(x->listen)) {
        exec_log(x, "notification connection lost; reconnecting in the next claim round");
        ev_io_stop(x->loop, &x->listen_w);
        return;
    }
    PGnotify *n;
    while ((n = PQnotifies(x->listen)) != NULL) {
        if (strcmp(n->relname, "settle_signal") == 0 && !x->shutting_down)
            signal_arrived(x, n->extra);
        else if (strcmp(n->relname, "settle_work") == 0)
            work = 1;
        else if (strcmp(n->relname, "settle_clock") == 0 && !x->shutting_down)
            exec_clock_poll(x);
        PQfreemem(n);
    }
    if (work && !x->shutting_down)
        claim_round(x);
}

static int start_listen(st_exec_t *x, st_err_t *err)
{
    x->listen = PQconnectdb(x->dsn);
    if (PQstatus(x->listen) != CONNECTION_OK) {
        st_err_set(err, ST_DB, "cannot open the notification connection");
        st_err_detail(err, "%s", PQerrorMessage(x->listen));
        return ST_DB;
    }
    PGresult *r =
        PQexec(x->listen, "LISTEN settle_work; LISTEN settle_signal; LISTEN settle_clock");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return st_err_set(err, ST_DB, "LISTEN failed: %s", PQerrorMessage(x->listen));
    PQsetnonblocking(x->listen, 1);
    ev_io_init(&x->listen_w, on_listen, PQsocket(x->listen), EV_READ);
    x->listen_w.data = x;
    ev_io_start(x->loop, &x->listen_w);
    return 0;
}

int st_exec_start(st_exec_t *x, st_err_t *err)
{
    int rc = connect_all(x, err);
    if (rc == 0)
        rc = st_store_node_register(x->bg, x->node_name, x->cfg.lease_ttl_ms, &x->node_id, err);
    if (rc == 0)
        rc = exec_clock_init(x, err);
    if (rc == 0)
        rc = exec_timers_init(x, err);
    if (rc == 0)
        rc = start_listen(x, err);
    if (rc == 0)
        rc = exec_metrics_init(x, err);
    if (rc != 0)
        return rc;
    x->stats.node_id = x->node_id;
    exec_log(x, "node %lld (%s) started, %s clock", (long long)x->node_id, x->node_name,
             st_clock_kind_name(x->clock.kind));
    maintain_history(x);
    /* Armed before the first round, which may stop early and ask for the
     * next one at once (claim_again_soon). */
    double claim = x->cfg.claim_interval_ms / 1000.0;
    ev_timer_init(&x->claim_w, on_claim, claim, claim);
    x->claim_w.data = x;
    ev_timer_start(x->loop, &x->claim_w);
    claim_round(x);
    exec_clock_poll(x); /* an advance asked for while we were down */
    double renew = x->cfg.lease_ttl_ms / 3000.0;
    ev_timer_init(&x->renew_w, on_renew, renew, renew);
    x->renew_w.data = x;
    ev_timer_start(x->loop, &x->renew_w);
    ev_timer_init(&x->maint_w, on_maint, 3600.0, 3600.0);
    x->maint_w.data = x;
    ev_timer_start(x->loop, &x->maint_w);
    st_timer_driver_start(x->driver);
    return 0;
}

static int busy(const st_exec_t *x)
{
    for (size_t i = 0; i < x->nbuckets; i++)
        for (const exec_inst_t *in = x->buckets[i]; in != NULL; in = in->hnext)
            if (in->ck != NULL || in->task.inflight)
                return 1;
    return 0;
}

static void finish_shutdown(st_exec_t *x)
{
    st_err_t err;
    ev_timer_stop(x->loop, &x->grace_w);
    st_store_batch_flush(x->batch);
    if (st_store_node_release(x->bg, x->node_id, &err) != 0)
        exec_log(x, "releasing leases failed: %s (they expire by themselves)", err.msg);
    ev_io_stop(x->loop, &x->listen_w);
    ev_timer_stop(x->loop, &x->renew_w);
    ev_timer_stop(x->loop, &x->maint_w);
    exec_metrics_stop(x);
    st_act_runner_free(x->act); /* finishes anything left as transient */
    x->act = NULL;
    x->stopped = 1;
    exec_log(x, "node %lld stopped; leases released", (long long)x->node_id);
    ev_break(x->loop, EVBREAK_ALL);
}

static void on_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    (void)revents;
    if (!busy(x) || ev_now(loop) >= x->grace_deadline)
        finish_shutdown(x);
}

void st_exec_shutdown(st_exec_t *x)
{
    if (x->shutting_down)
        return;
    x->shutting_down = 1;
    exec_log(x, "shutting down: no new work; waiting up to %u ms for activities in flight",
             x->cfg.shutdown_grace_ms);
    ev_timer_stop(x->loop, &x->claim_w);
    ev_timer_stop(x->loop, &x->maint_w);
    if (x->driver != NULL)
        st_timer_driver_stop(x->driver);
    x->grace_deadline = ev_now(x->loop) + x->cfg.shutdown_grace_ms / 1000.0;
    ev_timer_init(&x->grace_w, on_grace, 0.0, 0.02);
    x->grace_w.data = x;
    ev_timer_start(x->loop, &x->grace_w);
}

int st_exec_stopped(const st_exec_t *x)
{
    return x->stopped;
}

void st_exec_free(st_exec_t *x)
{
    if (x == NULL)
        return;
    x->freeing = 1;
    exec_metrics_stop(x);
    if (x->loop != NULL) {
        ev_timer_stop(x->loop, &x->renew_w);
        ev_timer_stop(x->loop, &x->claim_w);
        ev_timer_stop(x->loop, &x->grace_w);
        ev_timer_stop(x->loop, &x->maint_w);
        if (x->listen != NULL)
            ev_io_stop(x->loop, &x->listen_w);
    }
    /* Callbacks still owed (checkpoints, attempts) fire inside these frees
     * and must find their instances alive: free the producers first. */
    st_store_batch_free(x->batch);
    x->batch = NULL;
    st_act_runner_free(x->act);
    x->act = NULL;
    st_timer_driver_free(x->driver);
    x->driver = NULL;
    exec_inst_free_all(x);
    st_timer_wheel_free(x->wheel);
    st_store_conn_free(x->aux);
    for (unsigned i = 0; i < x->n_more; i++)
        st_store_conn_free(x->more[i]);
    st_store_conn_free(x->hot);
    st_store_conn_free(x->bg);
    free(x->aux_dsn);
    if (x->bg_loop != NULL)
        ev_loop_destroy(x->bg_loop);
    if (x->listen != NULL)
        PQfinish(x->listen);
    if (x->ctl != NULL)
        PQfinish(x->ctl);
    exec_prog_free_all(x);
    OPENSSL_cleanse(&x->act_cfg, sizeof x->act_cfg); /* holds API keys */
    free(x->dsn);
    free(x);
}

int st_exec_advance(st_exec_t *x, int64_t delta_us, st_err_t *err)
{
    return st_timer_driver_advance(x->driver, delta_us, err);
}

void st_exec_get_stats(const st_exec_t *x, st_exec_stats_t *out)
{
    *out = x->stats;
    if (x->batch != NULL) {
        st_store_batch_stats_t b;
        st_store_batch_get_stats(x->batch, &b);
        out->batches = b.batches;
    }
}

st_clock_t *st_exec_clock(st_exec_t *x)
{
    return &x->clock;
}
