/*
 * st_exec.c — the executor's life cycle: connect, register the node, claim
 * work, renew the lease, listen for new work and signals, shut down.
 *
 * Store connections, all on the engine's loop and all asynchronous once
 * the loop serves instances: `hot` (+ `more`) carry checkpoints through the
 * batcher, `aux` attempt records and reschedules, `ctl` everything else
 * (claims, task recovery, row and program loads, stored signals, wake
 * pages, the lease, partitions, the virtual clock) and LISTENs for new
 * instances, signals and clock moves. Start-up (schema check, node
 * registration, clock row, first partitions) and shutdown (lease release)
 * use a short-lived blocking connection on a private loop, before the loop
 * serves and after it stopped; nothing else waits for PostgreSQL.
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

/* A checkpoint batch's transaction failed: say why, once per batch. */
static void on_batch_error(const st_err_t *err, size_t n, int retried_alone, void *ud)
{
    st_exec_t *x = ud;
    char what[128];
    snprintf(what, sizeof what, "checkpoint batch of %zu failed (%s)", n,
             retried_alone ? "each retried alone" : "its instances are re-read");
    exec_log_err(x, what, err);
}

void exec_store_done(int rc, const st_err_t *err, void *ud)
{
    st_exec_t *x = ud;
    if (rc != 0 && rc != ST_CONFLICT && !x->freeing)
        exec_log_err(ud, "a store write failed", err);
}

void exec_log_err(st_exec_t *x, const char *what, const st_err_t *err)
{
    if (err == NULL || err->msg[0] == '\0')
        exec_log(x, "%s: unknown error", what);
    else if (err->detail[0] != '\0')
        exec_log(x, "%s: %s (%s)", what, err->msg, err->detail);
    else
        exec_log(x, "%s: %s", what, err->msg);
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
    exec_recover_init(x);
    /* Under a node lock every session of the executor is tagged with the
     * identity: a successor ends the ones this process leaves behind. */
    x->dsn = cfg->ident != NULL ? st_exec_ident_dsn(cfg->ident, cfg->dsn) : strdup(cfg->dsn);
    if (x->dsn == NULL) {
        /* Never go on without it: libpq would take "" for its defaults. */
        free(x);
        return st_err_set(err, ST_NOMEM, "out of memory copying the database DSN");
    }
    x->cfg.dsn = x->dsn;
    if (cfg->ident != NULL) {
        snprintf(x->node_name, sizeof x->node_name, "%s", st_exec_ident_name(cfg->ident));
        snprintf(x->identity, sizeof x->identity, "%s", st_exec_ident_key(cfg->ident));
        snprintf(x->session_tag, sizeof x->session_tag, "%s", st_exec_ident_tag(cfg->ident));
    } else if (cfg->node_name != NULL) {
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
        x->progs = st_start_progs_new();
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

/* The connections of a serving node (see st_store.h for the count). */
static int connect_all(st_exec_t *x, st_err_t *err)
{
    /* Each connection prepares its statements while the next connects;
     * the first claim waits on the loop for ctl's, not for all four. */
    st_store_conn_cfg_t cc = {.dsn = x->dsn, .prepare_later = 1, .index_plans = true};
    x->ctl = st_store_conn_new(x->loop, &cc, err);
    if (x->ctl == NULL)
        return err ? err->code : ST_DB;
    /* The batch connections, like ctl, plan with index lookups only. */
    st_store_conn_cfg_t bc = {.dsn = x->dsn, .index_plans = true};
    x->hot = st_store_conn_new(x->loop, &bc, err);
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
    st_store_conn_cfg_t ac = {.dsn = x->aux_dsn, .prepare_later = 1};
    x->aux = st_store_conn_new(x->loop, &ac, err);
    if (x->aux == NULL)
        return err ? err->code : ST_DB;
    /* Batches commit in parallel on a few connections: while one waits for
     * its WAL flush, the next is already being written. */
    unsigned want = x->cfg.batch_conns ? x->cfg.batch_conns : 2;
    if (x->cfg.batch.disabled)
        want = 1;
    for (x->n_more = 0; x->n_more + 1 < want && x->n_more < ST_EXEC_MAX_MORE; x->n_more++) {
        x->more[x->n_more] = st_store_conn_new(x->loop, &bc, err);
        if (x->more[x->n_more] == NULL)
            return err ? err->code : ST_DB;
    }
    x->cfg.batch.more_conns = x->more;
    x->cfg.batch.n_more = x->n_more;
    x->cfg.batch.on_batch_error = on_batch_error;
    x->cfg.batch.on_batch_error_ud = x;
    x->batch = st_store_batch_new(x->hot, &x->cfg.batch, err);
    if (x->batch == NULL)
        return err ? err->code : ST_DB;
    x->act = st_act_runner_new(x->loop, &x->act_cfg, err);
    if (x->act == NULL)
        return err ? err->code : ST_INTERNAL;
    return 0;
}

/* Adopt claimed rows: build their state, queue START or re-arm their wait.
 * Only rows that say so have their stored signals read. */
static void adopt(st_exec_t *x, st_store_instances_t *rows)
{
    for (size_t i = 0; i < rows->n; i++) {
        st_store_instance_t *row = &rows->v[i];
        exec_inst_t *in = exec_inst_find(x, &row->id);
        if (in != NULL && (in->ck != NULL || in->task.inflight || in->reload)) {
            /* Never replace state under a write in flight (or a re-read
             * already asked for). If the instance died with a lease this
             * node lost, it is ours again: revive it, so that the write
             * (conflicting with the new epoch) ends in a re-read of the row
             * instead of forgetting an instance that no other claim would
             * ever pick up. */
            in->dead = 0;
            continue;
        }
        if (in == NULL && (in = exec_inst_add(x, &row->id)) == NULL) {
            exec_log(x, "out of memory adopting instances (the rest wait for the lease)");
            break;
        }
        st_store_instance_t *mine = malloc(sizeof *mine);
        if (mine == NULL) {
            exec_log(x, "out of memory adopting instances (the rest wait for the lease)");
            exec_inst_forget(x, in);
            break;
        }
        *mine = *row;
        memset(row, 0, sizeof *row); /* taken */
        in->dead = in->evict = 0;
        in->loading = 0; /* a read in flight is superseded by this row */
        in->load_gen = 0;
        exec_inst_take_row(x, in, mine);
    }
}

/* Run the next claim round at the loop's next turn. */
static void claim_again_soon(st_exec_t *x)
{
    if (!ev_is_active(&x->claim_w))
        return; /* shutting down */
    ev_timer_stop(x->loop, &x->claim_w);
    ev_timer_set(&x->claim_w, 0.0, x->cfg.claim_interval_ms / 1000.0);
    ev_timer_start(x->loop, &x->claim_w);
}

static void claim_page(st_exec_t *x);

/* One page of claimed rows: adopt them, then ask for the next page until
 * one comes back short. The loop turns between pages. */
static void on_claimed(int rc, const st_err_t *err, st_store_instances_t *rows, void *ud)
{
    st_exec_t *x = ud;
    if (x->freeing)
        return;
    x->claiming = 0;
    if (rc != 0) {
        exec_log_err(x, "claiming work failed", err);
        return;
    }
    if (x->shutting_down)
        return; /* the release un-owns them */
    size_t n = rows->n;
    x->stats.claimed += n;
    adopt(x, rows);
    /* The page's instances with a task to run go out now, also in a long
     * round (a restart taking back a backlog): recovery sends one
     * statement at a time and the ids of later pages wait their turn. */
    exec_recover_tasks(x);
    if (n >= x->cfg.claim_limit) {
        claim_page(x);
        return;
    }
    if (x->claim_pending) {
        x->claim_pending = 0;
        claim_again_soon(x);
    }
}

static void claim_page(st_exec_t *x)
{
    st_err_t err;
    if (st_store_lease_claim_async(x->ctl, x->node_id, x->cfg.claim_limit, on_claimed, x, &err) !=
        0) {
        exec_log_err(x, "claiming work failed", &err);
        return;
    }
    x->claiming = 1;
}

/* Claim pages of work until a page comes back short. A round asked for
 * while one is out runs once it is done. */
static void claim_round(st_exec_t *x)
{
    if (x->shutting_down)
        return;
    if (x->claiming || x->registering) {
        x->claim_pending = 1;
        return;
    }
    claim_page(x);
}

static void reload_round(st_exec_t *x)
{
    exec_inst_t *list = x->reload_head;
    x->reload_head = NULL;
    while (list != NULL) {
        exec_inst_t *in = list;
        list = in->reload_next;
        in->reload_next = NULL;
        in->reload = 0;
        exec_inst_load(x, in); /* the row goes to exec_inst_take_row */
    }
}

/* A dead instance is never queued: it is freed once idle, and a freed
 * entry on the reload list would be used after free by reload_round. */
void exec_reload_later(st_exec_t *x, exec_inst_t *in)
{
    if (in->reload || in->dead)
        return;
    in->reload = 1;
    in->loading = 0;
    in->load_gen = 0;
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
     * below. Starts stop naming the old node id. */
    exec_recover_forget_all(x);
    exec_adopt_owner(x, 0);
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

static void on_registered(int rc, const st_err_t *err, int64_t id, void *ud)
{
    st_exec_t *x = ud;
    if (x->freeing)
        return;
    x->registering = 0;
    if (rc != 0) {
        exec_log(x, "registering the node failed (tried again): %s", err->msg);
        return; /* the next renewal conflicts again and retries */
    }
    x->node_id = id;
    x->stats.node_id = id;
    exec_adopt_owner(x, id);
    exec_log(x, "registered again as node %lld", (long long)id);
    claim_again_soon(x);
}

/* Under a node lock the new row carries the identity (and stops the
 * lapsed one), so a later restart of this process finds and stops it. */
static int register_again(st_exec_t *x, st_err_t *err)
{
    if (x->identity[0] != '\0')
        return st_store_node_register_fenced_async(x->ctl, x->node_name, x->identity, NULL,
                                                   x->cfg.lease_ttl_ms, on_registered, x, err);
    return st_store_node_register_async(x->ctl, x->node_name, x->cfg.lease_ttl_ms, on_registered, x,
                                        err);
}

static void on_renewed(int rc, const st_err_t *err, void *ud)
{
    st_exec_t *x = ud;
    if (x->freeing)
        return;
    x->renewing = 0;
    if (rc == ST_CONFLICT) {
        st_err_t e;
        exec_log(x,
                 "lease of node %lld lapsed or the node was stopped%s; dropping its work and "
                 "registering again",
                 (long long)x->node_id,
                 x->identity[0] != '\0' ? " (stopped: by a process of the same identity with "
                                          "another --state-dir?)"
                                        : "");
        lose_everything(x);
        if (register_again(x, &e) != 0)
            exec_log(x, "registering the node failed: %s", e.msg);
        else
            x->registering = 1;
    } else if (rc != 0) {
        exec_log(x, "renewing the lease failed: %s", err->msg);
    }
}

static void on_renew(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    st_err_t err;
    (void)loop;
    (void)revents;
    if (x->renewing || x->registering)
        return; /* the last one is still out */
    if (st_store_node_renew_async(x->ctl, x->node_id, x->cfg.lease_ttl_ms, on_renewed, x, &err) !=
        0)
        exec_log(x, "renewing the lease failed: %s", err.msg);
    else
        x->renewing = 1;
}

static void on_ensured(int rc, const st_err_t *err, int n, void *ud)
{
    st_exec_t *x = ud;
    (void)n;
    if (rc != 0 && !x->freeing)
        exec_log(x, "creating history partitions failed: %s", err->msg);
}

static void on_retained(int rc, const st_err_t *err, int dropped, void *ud)
{
    st_exec_t *x = ud;
    if (x->freeing)
        return;
    if (rc != 0)
        exec_log(x, "dropping old history partitions failed: %s", err->msg);
    else if (dropped > 0)
        exec_log(x, "dropped %d history partition%s older than %u days", dropped,
                 dropped == 1 ? "" : "s", x->cfg.history_days);
}

/* History partitions: today's and the next two days' exist before rows
 * need them (else they land in the default partition, which retention
 * cannot drop); partitions past the retention are dropped whole. Hourly,
 * in engine time, so a virtual clock moving weeks keeps them right too.
 * At start-up on the boot connection (blocking), then on ctl. */
static void maintain_history(st_exec_t *x, st_store_conn_t *boot)
{
    st_err_t err;
    int created = 0, dropped = 0, rc;
    int64_t now = exec_now(x);
    int64_t cutoff = now - (int64_t)x->cfg.history_days * 86400 * 1000000;
    if (boot != NULL) {
        if (st_store_history_ensure(boot, now, 3, &created, &err) != 0)
            on_ensured(err.code, &err, 0, x);
        if (x->cfg.history_days > 0) {
            rc = st_store_history_retain(boot, cutoff, &dropped, &err);
            on_retained(rc, &err, dropped, x);
        }
        return;
    }
    if (st_store_history_ensure_async(x->ctl, now, 3, on_ensured, x, &err) != 0)
        on_ensured(err.code, &err, 0, x);
    if (x->cfg.history_days > 0 &&
        st_store_history_retain_async(x->ctl, cutoff, on_retained, x, &err) != 0)
        on_retained(err.code, &err, 0, x);
}

static void on_maint(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    st_exec_t *x = w->data;
    if (!x->shutting_down)
        maintain_history(x, NULL);
}

static void on_claim(struct ev_loop *loop, ev_timer *w, int revents)
{
    st_exec_t *x = w->data;
    (void)loop;
    (void)revents;
    if (x->shutting_down)
        return;
    if (x->reload_head != NULL)
        reload_round(x);
    claim_round(x);
    if (x->recover_retry)
        exec_recover_tasks(x);
}

/* Signals stored for an instance: look at them in memory, or read its row
 * first (absent, or only a shell the timer holds for a far wake time: a
 * cancel among them must not wait for the wake). */
static void signal_arrived(st_exec_t *x, const char *id_text)
{
    st_store_uuid_t id;
    if (id_text == NULL || st_store_uuid_parse(id_text, &id) != 0)
        return;
    exec_inst_t *in = exec_inst_find(x, &id);
    if (in == NULL && (in = exec_inst_add(x, &id)) == NULL) {
        exec_log(x, "out of memory taking a signal (seen at the next wake or claim)");
        return;
    }
    if (in->dead)
        return;
    in->check_signals = 1;
    if (in->core == NULL && !in->loading && !in->reload && in->ck == NULL)
        exec_inst_load(x, in); /* its row says whether signals wait */
    else
        exec_kick(x, in);
}

/* The notification subscription came back after a reconnect: catch up on
 * what it may have missed meanwhile (a clock advance, new work, signals for
 * the instances waiting here). */
static void rescan(st_exec_t *x)
{
    exec_log(x, "notification connection back; catching up on the clock, work and signals");
    exec_clock_poll(x);
    claim_round(x);
    for (size_t i = 0; i < x->nbuckets; i++) {
        exec_inst_t *in = x->buckets[i];
        while (in != NULL) {
            exec_inst_t *next = in->hnext; /* kick may evict in */
            if (in->core != NULL && !in->dead && in->core->status == ST_CORE_WAITING)
                exec_signals_poll(x, in);
            in = next;
        }
    }
}

static void on_notify(const char *channel, const char *payload, void *ud)
{
    st_exec_t *x = ud;
    if (x->shutting_down || x->freeing)
        return;
    if (channel == NULL)
        rescan(x);
    else if (strcmp(channel, "settle_signal") == 0)
        signal_arrived(x, payload);
    else if (strcmp(channel, "settle_work") == 0)
        claim_round(x);
    else if (strcmp(channel, "settle_clock") == 0)
        exec_clock_poll(x);
}

static int start_listen(st_exec_t *x, st_err_t *err)
{
    static const char *const channels[] = {"settle_work", "settle_signal", "settle_clock"};
    return st_store_conn_listen(x->ctl, channels, 3, on_notify, x, err);
}

/* A blocking connection on a private loop for start-up and shutdown, when
 * the engine's loop does not serve: its nested waits never run the
 * engine's watchers. */
static st_store_conn_t *boot_open(st_exec_t *x, struct ev_loop **loop, st_err_t *err)
{
    *loop = ev_loop_new(EVFLAG_AUTO);
    if (*loop == NULL) {
        st_err_set(err, ST_NOMEM, "cannot create an event loop");
        return NULL;
    }
    st_store_conn_cfg_t cc = {.dsn = x->dsn};
    st_store_conn_t *c = st_store_conn_new(*loop, &cc, err);
    if (c == NULL) {
        ev_loop_destroy(*loop);
        *loop = NULL;
    }
    return c;
}

static void boot_close(st_store_conn_t *c, struct ev_loop *loop)
{
    st_store_conn_free(c);
    if (loop != NULL)
        ev_loop_destroy(loop);
}

int st_exec_boot(st_exec_t *x, st_err_t *err)
{
    if (x->booted)
        return 0;
    int rc = st_store_schema_check_dsn(x->dsn, err);
    if (rc != 0)
        return rc;
    struct ev_loop *loop = NULL;
    st_store_conn_t *c = boot_open(x, &loop, err);
    if (c == NULL)
        return err ? err->code : ST_DB;
    rc = exec_clock_init(x, c, err);
    if (rc == 0)
        maintain_history(x, c);
    if (rc == 0) {
        x->boot_c = c; /* for register_node */
        x->boot_loop = loop;
    } else {
        boot_close(c, loop);
    }
    x->booted = rc == 0;
    return rc;
}

static int register_node(st_exec_t *x, st_err_t *err)
{
    struct ev_loop *loop = x->boot_loop;
    st_store_conn_t *c = x->boot_c;
    x->boot_c = NULL;
    x->boot_loop = NULL;
    if (c == NULL && (c = boot_open(x, &loop, err)) == NULL)
        return err ? err->code : ST_DB;
    int64_t fenced = 0;
    int rc;
    if (x->identity[0] != '\0')
        rc = st_store_node_register_fenced(c, x->node_name, x->identity, x->session_tag,
                                           x->cfg.lease_ttl_ms, &x->node_id, &fenced, err);
    else
        rc = st_store_node_register(c, x->node_name, x->cfg.lease_ttl_ms, &x->node_id, err);
    boot_close(c, loop);
    if (rc == 0 && fenced > 0)
        exec_log(x,
                 "identity %s: stopped %lld earlier node row%s whose process is gone (the "
                 "node lock proves it); claiming their instances now",
                 x->identity, (long long)fenced, fenced == 1 ? "" : "s");
    return rc;
}

int st_exec_start(st_exec_t *x, st_err_t *err)
{
    int rc = st_exec_boot(x, err);
    if (rc == 0)
        rc = register_node(x, err);
    if (rc == 0)
        rc = connect_all(x, err);
    if (rc == 0)
        rc = exec_timers_init(x, err);
    if (rc == 0)
        rc = start_listen(x, err); /* first on ctl: before the first claim */
    if (rc == 0)
        rc = exec_metrics_init(x, err);
    if (rc == 0)
        rc = exec_adopt_init(x, err);
    if (rc != 0)
        return rc;
    x->stats.node_id = x->node_id;
    exec_adopt_start(x);
    exec_log(x, "node %lld (%s) started, %s clock", (long long)x->node_id, x->node_name,
             st_clock_kind_name(x->clock.kind));
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
    /* The loop serves no more: a blocking release on a connection of its
     * own (down, it fails at once and the leases expire by themselves). */
    struct ev_loop *loop = NULL;
    st_store_conn_t *c = boot_open(x, &loop, &err);
    if (c == NULL || st_store_node_release(c, x->node_id, &err) != 0)
        exec_log(x, "releasing leases failed: %s (they expire by themselves)", err.msg);
    boot_close(c, loop);
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
    exec_adopt_owner(x, 0);
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
    boot_close(x->boot_c, x->boot_loop); /* booted, never started */
    exec_metrics_stop(x);
    exec_adopt_free(x);
    if (x->loop != NULL) {
        ev_timer_stop(x->loop, &x->renew_w);
        ev_timer_stop(x->loop, &x->claim_w);
        ev_timer_stop(x->loop, &x->grace_w);
        ev_timer_stop(x->loop, &x->maint_w);
        exec_recover_stop(x);
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
    st_store_conn_free(x->ctl); /* its replies see x->freeing and drop */
    free(x->aux_dsn);
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
