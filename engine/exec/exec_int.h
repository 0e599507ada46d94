/*
 * exec_int.h — private to the exec file family (st_exec*.c).
 *
 * The executor keeps in memory the instances it is working on: those with a
 * checkpoint or an activity in flight, and waiting ones whose wake time is
 * inside the timer horizon. A waiting instance further out lives only in
 * PostgreSQL; the horizon loader brings a shell (id, seq, wake entry) back
 * when its time comes, and the shell is filled from its row when it fires.
 *
 * Invariants:
 *   * inst->core is the last *committed* state; a step works on a clone and
 *     replaces core only when its checkpoint committed;
 *   * inst->ck != NULL  <=>  a checkpoint of inst is in flight; events that
 *     arrive then wait in inst->q;
 *   * an instance is freed only when it has no checkpoint and no activity in
 *     flight (inst->ck == NULL && !inst->task.inflight), so callbacks never
 *     see freed memory;
 *   * the loop never waits for PostgreSQL: reads of the control connection
 *     (row loads, program loads, stored signals) answer later, through a
 *     request (exec_req_t) that names the instance by id and generation, so
 *     a reply for an instance freed or reloaded meanwhile is dropped;
 *   * inst->loading  <=>  its row (or its row's program) is being read;
 *     inst->core is NULL then and events wait in inst->q;
 *   * inst->fetching  <=>  a read of its stored signals is in flight; a
 *     fetched signal is stepped only if the instance is still idle at the
 *     seq it was read for, otherwise the read is made again.
 */
#ifndef EXEC_INT_H
#define EXEC_INT_H

#include <ev.h>
#include <jansson.h>

#include "core/st_core.h"
#include "exec/st_exec.h"
#include "start/st_start_progs.h"
#include "timer/st_timer_driver.h"
#include "timer/st_timer_wheel.h"

#define EXEC_TIMER_WAKE  1 /* st_timer_entry_t.spare: which timer of an instance */
#define EXEC_TIMER_RETRY 2

/* A Program from the node's shared cache (start/st_start_progs.h): valid as
 * long as the cache, which outlives the executor. */
typedef st_start_prog_t exec_prog_t;

/* A Program read in flight on the control connection; once parsed it
 * goes to the shared cache and this entry is dropped. */
typedef struct exec_prog_load {
    char hash[65];
    struct exec_prog_load *next;
} exec_prog_load_t;

/* What a reply of the control connection is for: the instance by id (it
 * may be gone by then) and the generation of the request it answers. */
typedef struct exec_req {
    st_exec_t *x;
    st_store_uuid_t id;
    uint64_t gen;
    int64_t seq; /* signal reads: the instance's seq when asked */
} exec_req_t;

/* An event waiting for an instance; every pointer is owned by the event. */
typedef struct exec_ev {
    struct exec_ev *next;
    st_core_event_kind_t kind;
    json_t *inputs;    /* START */
    int64_t task_seq;  /* RESULT */
    int64_t task_id;   /* RESULT: task row to finish */
    int task_failed;   /* RESULT: the task ends FAILED rather than DONE */
    char *outcome;     /* RESULT */
    char *code;        /* RESULT, may be NULL */
    json_t *result;    /* RESULT, may be NULL */
    int64_t wake_seq;  /* TIMER */
    char *signal;      /* SIGNAL */
    json_t *payload;   /* SIGNAL, may be NULL */
    int64_t signal_id; /* SIGNAL: row to consume */
    /* RESULT: the attempt that produced it, stored on the task row by the
     * checkpoint that takes the result (att.outcome NULL: none; strings
     * owned); written to the attempt log instead if no checkpoint takes it */
    st_store_attempt_t att;
} exec_ev_t;

/* The activity a DO state waits on. */
typedef struct exec_task {
    int64_t id;  /* tasks.id; 0: none */
    int64_t seq; /* the step that created it */
    char idem_key[ST_CORE_IDEM_MAX];
    char *activity; /* owned */
    json_t *args;   /* owned reference */
    int64_t timeout_us;
    st_act_policy_t policy;
    uint32_t attempt;   /* attempts started so far */
    int inflight;       /* an attempt is running in the activity runner */
    int64_t started_us; /* wall time the running attempt started */
} exec_task_t;

typedef struct exec_ckpt exec_ckpt_t;

typedef struct exec_inst {
    st_store_uuid_t id;
    st_exec_t *x;             /* the executor it belongs to (for callbacks) */
    struct exec_inst *hnext;  /* hash chain */
    const exec_prog_t *prog;  /* NULL for a shell */
    st_core_instance_t *core; /* committed state; NULL for a shell */
    int64_t epoch;            /* lease epoch from the claim */
    int64_t shell_seq;        /* a shell's seq from its wake row */
    st_timer_entry_t wake;    /* sleep / await timer */
    st_timer_entry_t retry;   /* next attempt of a transient failure */
    exec_task_t task;
    exec_ckpt_t *ck; /* checkpoint in flight */
    exec_ev_t *qhead, *qtail;
    int dead;   /* lost or finished: free once idle */
    int reload; /* state unknown: re-read the row (see reload list) */
    struct exec_inst *reload_next;
    int check_signals;        /* look for stored signals once idle */
    int evict;                /* waiting beyond the horizon: drop from memory once idle */
    int loading;              /* row or program read in flight (see invariants) */
    uint64_t load_gen;        /* the row read it waits for (0: its program) */
    st_store_instance_t *row; /* owned: the row kept while its program loads */
    int fetching;             /* stored-signal read in flight */
    uint64_t fetch_gen;
} exec_inst_t;

/* A horizon load in flight (st_exec_timer.c). */
typedef struct exec_wload {
    int64_t from, to, after_us;
    st_store_uuid_t after_id;
    int pages;
} exec_wload_t;

typedef struct exec_crash {
    char point[32];
    uint64_t at; /* abort on this hit (1-based) */
    uint64_t hits;
} exec_crash_t;

#define EXEC_MAX_CRASH 8

/* Batch connections beyond `hot`: a node holds at most 3 + this many
 * connections while it serves (see st_store.h). */
#define ST_EXEC_MAX_MORE 7

struct st_exec {
    struct ev_loop *loop; /* borrowed: the engine's loop */
    char *dsn;
    char node_name[128];
    char identity[ST_EXEC_IDENT_NAME_MAX + 72]; /* nodes.identity; "" without a node lock */
    char session_tag[32];                       /* its sessions' application_name */
    /* st_exec_boot's blocking connection, kept for the registration that
     * follows (one connection and prepare less before the first claim). */
    st_store_conn_t *boot_c;
    struct ev_loop *boot_loop;
    st_exec_cfg_t cfg; /* copied; pointers below replace its strings */
    st_clock_t clock;
    st_store_conn_t *more[ST_EXEC_MAX_MORE]; /* further batch connections, on loop */
    unsigned n_more;
    st_store_conn_t *hot; /* checkpoints (batcher), on loop */
    st_store_conn_t *aux; /* attempt records and reschedules, on loop, async commit */
    char *aux_dsn;
    /* control: claims, task recovery, row and program loads, stored
     * signals, wake pages, lease, partitions, the clock, LISTEN; on loop,
     * asynchronous only */
    st_store_conn_t *ctl;
    st_store_batch_t *batch;
    st_timer_wheel_t *wheel;
    st_timer_driver_t *driver;
    st_act_config_t act_cfg;
    st_act_runner_t *act;
    ev_timer renew_w, claim_w, grace_w, maint_w;
    int64_t node_id;
    st_start_progs_t *progs;  /* the node's Program cache (cfg.programs or own) */
    int own_progs;            /* progs was made here */
    exec_prog_load_t *loads;  /* Program reads in flight */
    exec_inst_t *reload_head; /* instances waiting for exec_reload_later */
    uint64_t gen;             /* last request generation handed out */
    int claiming;             /* a claim page is in flight */
    int claim_pending;        /* work was announced during a round: one more */
    int recovering;           /* task recovery in flight (st_exec_recover.c) */
    int recover_retry;        /* task recovery failed: retry each claim round */
    st_store_uuid_t *rec_ids; /* instances whose open tasks to recover */
    size_t rec_n, rec_cap;
    size_t rec_inflight; /* the first rec_inflight ids are in flight */
    ev_timer recover_w;  /* sends the list at the loop's next turn */
    int booted;          /* st_exec_boot done */
    int renewing, registering;
    int clock_polling, clock_again;
    exec_wload_t wl;
    exec_inst_t **buckets;
    size_t nbuckets, ninst;
    int shutting_down, stopped;
    int freeing;           /* st_exec_free runs: callbacks only release what they hold */
    double grace_deadline; /* loop time at which shutdown stops waiting */
    uint64_t rng;
    exec_crash_t crash[EXEC_MAX_CRASH];
    unsigned ncrash;
    st_exec_stats_t stats;
    st_metrics_std_t m; /* families, when cfg.metrics is set */
    ev_timer metrics_w; /* samples gauges once a second */
    ev_check batch_w;   /* turns batcher totals into batch sizes */
    uint64_t seen_batches, seen_ckpts;
    struct exec_adopt *adopt; /* starts of this node handed over (st_exec_adopt.c) */
};

/* st_exec_adopt.c — instances started on this node, handed over in-process */
typedef struct exec_adopt exec_adopt_t;
int exec_adopt_init(st_exec_t *x, st_err_t *err);
void exec_adopt_start(st_exec_t *x);                  /* loop: accept hand-offs */
void exec_adopt_owner(st_exec_t *x, int64_t node_id); /* offer node_id (0: none) */
void exec_adopt_free(st_exec_t *x);

/* st_exec_inst.c — the instance table; Programs through the shared cache */
exec_inst_t *exec_inst_find(st_exec_t *x, const st_store_uuid_t *id);
exec_inst_t *exec_inst_add(st_exec_t *x, const st_store_uuid_t *id);
void exec_inst_forget(st_exec_t *x, exec_inst_t *in); /* free now if idle, else mark dead */
void exec_inst_release_if_idle(st_exec_t *x, exec_inst_t *in);
/* Drop an idle, still-owned instance from memory (its row stays ours). */
void exec_inst_evict(st_exec_t *x, exec_inst_t *in);
void exec_inst_free_all(st_exec_t *x);
void exec_prog_free_all(st_exec_t *x);
/* Take a stored row (claim, reload, shell wake-up, signal) into in: build
 * its state once its program is in memory (loading it first if need be),
 * re-arm its wake, ask for its task, run what is queued. Owns row. */
void exec_inst_take_row(st_exec_t *x, exec_inst_t *in, st_store_instance_t *row);
/* Read in's row by id (a shell, a signalled or a reloaded instance); the
 * row goes to exec_inst_take_row when it arrives. */
void exec_inst_load(st_exec_t *x, exec_inst_t *in);
/* A request naming in for a reply of the control connection (NULL: out
 * of memory). */
exec_req_t *exec_req_new(st_exec_t *x, const exec_inst_t *in);
/* The instance a reply is for, if it still waits for that reply (its row
 * read, or with fetch its signal read); NULL while st_exec_free runs.
 * Frees req. */
exec_inst_t *exec_req_take(exec_req_t *req, int fetch);

/* st_exec_step.c — events and checkpoints */
exec_ev_t *exec_ev_new(st_core_event_kind_t kind);
void exec_ev_free(exec_ev_t *ev);
/* Hand an event to an instance (takes ownership of ev) and run what is queued. */
void exec_deliver(st_exec_t *x, exec_inst_t *in, exec_ev_t *ev);
/* Queue an event without running it (from inside a commit callback). */
void exec_enqueue(exec_inst_t *in, exec_ev_t *ev);
/* Run queued events of an idle instance. */
void exec_kick(st_exec_t *x, exec_inst_t *in);
/* The instance's last checkpoint has an unknown outcome: forget its state
 * and re-read the row once the database answers again. */
void exec_reload_later(st_exec_t *x, exec_inst_t *in);
/* Look for stored signals the instance waits for (asynchronously). */
void exec_signals_poll(st_exec_t *x, exec_inst_t *in);

/* st_exec_recover.c — task recovery of instances just taken */
void exec_recover_init(st_exec_t *x);
void exec_recover_stop(st_exec_t *x); /* stops its timer and frees the list */
/* The node lost its lease: the listed instances are no longer its own. */
void exec_recover_forget_all(st_exec_t *x);
/* Recover in's open task: at the loop's next turn (soon), or at the next
 * claim round (after a shortage of memory). */
void exec_recover_want(st_exec_t *x, const exec_inst_t *in, int soon);
/* Send what is listed now (coalesced while a round is in flight). */
void exec_recover_tasks(st_exec_t *x);

/* st_exec_act.c — activities */
void exec_task_clear(exec_task_t *t);
/* Log ev's attempt (if it carries one) on the audit connection: for a
 * result no checkpoint stores. */
void exec_ev_log_attempt(st_exec_t *x, const exec_ev_t *ev);
int exec_task_dispatch(st_exec_t *x, exec_inst_t *in);
/* Attach a task found in the store at start-up and run or schedule it. */
void exec_task_recover(st_exec_t *x, exec_inst_t *in, const st_store_task_t *t);
void exec_retry_fired(st_exec_t *x, exec_inst_t *in);

/* st_exec_timer.c — wheel driver hooks */
int exec_timers_init(st_exec_t *x, st_err_t *err);
void exec_timer_set_wake(st_exec_t *x, exec_inst_t *in, int64_t at_us);
void exec_timer_set_retry(st_exec_t *x, exec_inst_t *in, int64_t at_us);
void exec_timer_cancel_all(st_exec_t *x, exec_inst_t *in);

/* st_exec_clock.c — the virtual clock's control channel */
int exec_clock_init(st_exec_t *x, st_store_conn_t *boot, st_err_t *err);
void exec_clock_reached(void *arg);
void exec_clock_poll(st_exec_t *x);

/* st_exec_metrics.c — feeding the metrics registry */
int exec_metrics_init(st_exec_t *x, st_err_t *err);
void exec_metrics_stop(st_exec_t *x);
void exec_metrics_step(st_exec_t *x, const exec_inst_t *in, int64_t submitted_us);
void exec_metrics_attempt(st_exec_t *x, const char *activity, const char *outcome,
                          int64_t latency_us);

/* st_exec_crash.c — named crash points for the crash tests */
int exec_crash_parse(st_exec_t *x, const char *spec, st_err_t *err);
void exec_crash_point(st_exec_t *x, const char *point);

/* Helpers shared by the family. */
int64_t exec_now(st_exec_t *x);
uint64_t exec_random(st_exec_t *x);
void exec_log(st_exec_t *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "what: <err's message> (<detail>)": a failed statement's line names the
 * statement, PostgreSQL's message and its SQLSTATE (st_store_db_error). */
void exec_log_err(st_exec_t *x, const char *what, const st_err_t *err);
/* Completion of a write nobody waits for (ud: the executor): logs a
 * failure. ST_CONFLICT (the row moved on, e.g. a task already finished) is
 * an expected outcome and not logged. */
void exec_store_done(int rc, const st_err_t *err, void *ud);

#endif
