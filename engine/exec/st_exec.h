/*
 * st_exec.h — the executor: runs flows on one libev loop, durably.
 *
 * Layer: exec (below only the daemon). Ties the pure core (engine/core), the
 * PostgreSQL store (engine/store), the timer wheel (engine/timer) and the
 * activity runner (engine/activity) together; settled is a thin command
 * around it.
 *
 * What it guarantees (each has a test in tests/exec/):
 *   * every event an instance consumes is committed as one checkpoint before
 *     any of its effects (activity dispatch, timer, final status) happen, so
 *     a crash at any point replays from the last checkpoint;
 *   * an activity is dispatched with the idempotency key of the step that
 *     asked for it, and with the same key after every retry and restart;
 *   * at most one checkpoint per instance is in flight; events that arrive
 *     meanwhile queue behind it, in order;
 *   * a checkpoint rejected for seq, epoch or owner means another node owns
 *     the instance now: this node forgets it and never writes it again;
 *   * once started, the loop never waits for PostgreSQL: every store call
 *     it makes is asynchronous, so timers and activities of instances in
 *     memory keep running while the database stalls (test_stall.c).
 *
 * Ownership: st_exec_new borrows the loop (it must outlive the executor)
 * and copies the configuration; st_exec_free accepts NULL.
 */
#ifndef ST_EXEC_H
#define ST_EXEC_H

#include <stdint.h>

#include "activity/st_act.h"
#include "common/st_metrics.h"
#include "common/st_err.h"
#include "exec/st_exec_ident.h"
#include "store/st_store.h"
#include "timer/st_clock.h"

struct ev_loop;
struct st_start_progs;

typedef struct st_exec_cfg {
    const char *dsn;            /* libpq connection string (copied) */
    const char *node_name;      /* for operators; NULL: host:pid (ident: its name) */
    st_clock_kind_t clock;      /* real (default) or virtual */
    int64_t virtual_start_us;   /* virtual clock start; 0: the real time now */
    st_store_batch_cfg_t batch; /* linger, size, disabled (its conns are the executor's) */
    uint32_t batch_conns;       /* connections committing batches in parallel; 0: 2 */
    int32_t lease_ttl_ms;       /* node lease; 0: 10 s */
    uint32_t claim_interval_ms; /* polling for unowned work; 0: 1000 */
    uint32_t claim_limit;       /* instances per claim; 0: 1000 */
    int64_t horizon_us;         /* wake times kept in memory; 0: 5 min */
    const st_act_config_t *act; /* NULL: st_act_config_from_env */
    const char *crash_at;       /* "point:N[,point:N]" (tests); NULL: $SETTLE_CRASH_AT */
    uint32_t shutdown_grace_ms; /* wait for activities on SIGTERM; 0: 10 s */
    uint32_t history_days;      /* drop history partitions older than this; 0: keep forever */
    /* Where the executor's log lines go (one line, no newline, no secrets);
     * NULL: nowhere. The library itself never prints. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    /* Registry the executor feeds (transitions, checkpoint batches and
     * latency, activity calls and latency, timers pending); borrowed, must
     * outlive the executor. NULL: no metrics. */
    st_metrics_t *metrics;
    /* The node's Program cache, shared with the HTTP side (borrowed, must
     * outlive the executor; thread-safe). NULL: the executor makes its own. */
    struct st_start_progs *programs;
    /* The node lock this process holds (st_exec_ident.h; borrowed, must
     * outlive the executor). Set: the node takes its name, and registering
     * stops the earlier rows of its identity (proven dead by the lock), so
     * their instances are claimed at once instead of after their lease.
     * NULL: node_name as given, and no row but its own is ever stopped. */
    const st_exec_ident_t *ident;
} st_exec_cfg_t;

typedef struct st_exec st_exec_t;

typedef struct st_exec_stats {
    uint64_t steps;        /* checkpoints committed */
    uint64_t conflicts;    /* checkpoints rejected (instance lost) */
    uint64_t dispatched;   /* activity attempts started */
    uint64_t completed;    /* instances that reached completed */
    uint64_t failed;       /* ... failed */
    uint64_t cancelled;    /* ... cancelled */
    uint64_t timers_fired; /* wake-ups delivered */
    uint64_t signals;      /* signals consumed */
    uint64_t signal_reads; /* reads of an instance's stored signals */
    uint64_t in_memory;    /* instances held in memory now */
    uint64_t batches;      /* checkpoint transactions sent (group commits) */
    int64_t node_id;       /* this node's row in `nodes` */
    uint64_t claimed;      /* instances taken by claim rounds */
    uint64_t adopted;      /* instances handed over by this node's starts */
} st_exec_stats_t;

int st_exec_new(struct ev_loop *loop, const st_exec_cfg_t *cfg, st_exec_t **out, st_err_t *err);

/*
 * Start-up work that claims and registers nothing (blocking): check the
 * schema, open the virtual clock, make sure today's and the next days'
 * history partitions exist. Run it before anything else may write history
 * rows on this node (the HTTP side's starts): a partition created while
 * rows for its day arrive makes those inserts fail. Once per executor;
 * st_exec_start does it when it was not done.
 */
int st_exec_boot(st_exec_t *x, st_err_t *err);

/*
 * Register the node (st_exec_boot, unless done), take over unowned or
 * orphaned instances, re-dispatch their unfinished tasks, load wake times
 * already due, and start the watchers. The loop does the rest.
 */
int st_exec_start(st_exec_t *x, st_err_t *err);

/*
 * Graceful stop (SIGTERM): stop claiming and firing timers, let activities
 * in flight finish for up to the grace period and checkpoint their results,
 * release every lease and stop every watcher so ev_run returns.
 */
void st_exec_shutdown(st_exec_t *x);

/* Non-zero once a shutdown finished (leases released). */
int st_exec_stopped(const st_exec_t *x);

void st_exec_free(st_exec_t *x);

/* Virtual clock only: move time forward, firing everything due in order. */
int st_exec_advance(st_exec_t *x, int64_t delta_us, st_err_t *err);

void st_exec_get_stats(const st_exec_t *x, st_exec_stats_t *out);

/*
 * Hand-off of this node's own starts (thread-safe, any thread). A start
 * that gives its new instance the owner st_exec_owner() returns (lease
 * epoch 1) and then passes its id to st_exec_adopt is taken up by this
 * executor at once, without a claim round. st_exec_owner is 0 while the
 * node cannot take instances (not running yet, registering again, shutting
 * down): start unowned then, for the claim path. An id handed over that
 * this node does not own is checked by its first checkpoint and dropped.
 */
int64_t st_exec_owner(st_exec_t *x);
void st_exec_adopt(st_exec_t *x, const char (*ids)[37], size_t n);

/* The clock the executor runs on (borrowed). */
st_clock_t *st_exec_clock(st_exec_t *x);

#endif
