/*
 * st_store.h — the PostgreSQL store of settle: the one public header.
 *
 * Layer: store. Depends on common (st_err), libpq, libev, OpenSSL (RAND).
 * Knows nothing of the core's types: checkpoints are plain records.
 *
 * Model. A st_store_conn_t is one libpq connection in non-blocking pipeline
 * mode driven by a libev loop (ev_io on PQsocket). Every operation is a
 * pipeline segment ending in a Sync, so each operation is one implicit
 * transaction: it commits at the Sync or rolls back entirely on an error.
 * When the connection drops, operations in flight fail with ST_IO (their
 * outcome is unknown: re-read the rows) and the connection is re-established
 * with exponential backoff; operations not yet sent wait for it.
 *
 * Checkpoints (the hot path) are asynchronous and go through the batcher
 * (st_store_batch_t), which groups checkpoints of many instances into one
 * transaction (group commit). Everything the engine's loop does while it
 * serves has an `_async` variant (task attempts, retries, completion, lease
 * renewal and re-registration, claims, task recovery, row and program
 * loads, pending and refused signals, due tasks, wake pages, partitions,
 * the virtual clock) that pipelines its statement and calls back from the
 * loop; LISTEN is a subscription of a connection (st_store_conn_listen).
 * The rest — start, signal inserts, operator reads, start-up work — is a
 * blocking helper that runs the connection's loop (ev_run ONCE, nested)
 * until its reply arrives; use them at start-up, in tools and tests, or on
 * a connection with a loop of its own. Blocking helpers fail at once with
 * ST_IO while the connection is down.
 *
 * One connection type, one rule. Every connection of a node is a
 * st_store_conn_t: reconnect with exponential backoff, operations in
 * flight when it drops end with ST_IO (outcome unknown: re-read), queued
 * ones wait for the reconnect, a LISTEN subscription is renewed first and
 * its subscriber told to rescan. An operation whose statements could not
 * all be queued rolls back entirely (never a partial commit at its Sync).
 *
 * A serving settled node (st_exec) holds 3 + B connections, B = batch
 * connections beyond the first (st_exec_cfg_t.batch_conns - 1, default 1,
 * at most 7): `ctl` (claims, recovery, loads, signals, wake pages, lease,
 * partitions, clock, LISTEN), `hot` + B (checkpoint batches), `aux`
 * (attempt records and reschedules, asynchronous commit); so 4 by
 * default and never more than 10. Start-up and shutdown open one more,
 * short-lived, before the loop serves and after it stopped. The HTTP API
 * and tools add their own (see their modules).
 * Operator listings, reports and repairs are in st_store_admin.h.
 *
 * Time is int64 microseconds since the Unix epoch everywhere; ST_STORE_NO_TIME
 * means "none". The caller passes the clock (real or virtual) where a
 * statement needs "now" for the flow's logic; leases use the database clock
 * so that nodes with skewed clocks agree.
 *
 * Ownership. `_new` returns an object the caller frees with `_free` (NULL
 * accepted). Records filled by the store (st_store_instance_t, lists, program
 * bytes) are owned by the caller and released with their `_release` / `_free`
 * function. Records the caller passes in (checkpoints, starts) are borrowed:
 * synchronous calls do not keep them; a submitted checkpoint must stay valid
 * and unchanged until its callback has fired. A callback fires exactly once
 * for every successful submit and never when submit fails.
 */
#ifndef ST_STORE_H
#define ST_STORE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/st_err.h"

struct ev_loop;

#define ST_STORE_NO_TIME INT64_MIN

/* ---- identifiers and enums -------------------------------------------- */

typedef struct st_store_uuid {
    unsigned char b[16]; /* big-endian RFC 9562 layout */
} st_store_uuid_t;

/* UUIDv7 from unix_ms and 74 random bits (RAND_bytes). */
int st_store_uuid_v7(st_store_uuid_t *out, int64_t unix_ms, st_err_t *err);
/* Canonical lower-case text form; out must hold 37 bytes. Parse accepts
 * the canonical 8-4-4-4-12 form only and returns 0 or ST_PARSE; both
 * delegate to common/st_uuid.h. */
void st_store_uuid_format(const st_store_uuid_t *u, char out[37]);
/* 8-4-4-4-12 hex digits or 32 without hyphens (either case); else ST_PARSE. */
int st_store_uuid_parse(const char *text, st_store_uuid_t *out);
int st_store_uuid_equal(const st_store_uuid_t *a, const st_store_uuid_t *b);

typedef enum {
    ST_STORE_RUNNING,
    ST_STORE_WAITING,
    ST_STORE_COMPLETED,
    ST_STORE_FAILED,
    ST_STORE_CANCELLED,
    ST_STORE_SUSPENDED,
    ST_STORE_STATUS_COUNT
} st_store_status_t;

const char *st_store_status_name(st_store_status_t s); /* "running", ... */
int st_store_status_parse(const char *name, st_store_status_t *out);

typedef enum {
    ST_STORE_TASK_PENDING,
    ST_STORE_TASK_RUNNING,
    ST_STORE_TASK_DONE,
    ST_STORE_TASK_FAILED,
    ST_STORE_TASK_CANCELLED,
    ST_STORE_TASK_STATUS_COUNT
} st_store_task_status_t;

const char *st_store_task_status_name(st_store_task_status_t s);
int st_store_task_status_parse(const char *name, st_store_task_status_t *out);

/* ---- connection -------------------------------------------------------- */

typedef struct st_store_conn st_store_conn_t;

typedef struct st_store_conn_cfg {
    const char *dsn;         /* libpq connection string (copied) */
    unsigned backoff_min_ms; /* first reconnect delay; 0 = 50 */
    unsigned backoff_max_ms; /* reconnect delay cap; 0 = 5000 */
    /* A connection whose statements all find their rows by index (the
     * checkpoint batches, the executor's control connection: claims, loads,
     * wake pages, recovery): its plans, made once and generic, never scan a
     * whole table where an index serves (enable_seqscan off), so they stay
     * lookups as tables grow. Without it the claim's generic plan read all
     * of a million sleeping rows every round to find none orphaned. */
    bool index_plans;
    /* Non-zero: return once connected; the statements prepare on the loop
     * meanwhile and ops queue until they are (several connections then
     * prepare in parallel). A failed prepare retries like a lost
     * connection. 0: wait for them, and fail at once if they fail. */
    int prepare_later;
} st_store_conn_cfg_t;

/*
 * Connect (blocking, once) and enter pipeline mode (see prepare_later). The
 * loop must outlive the connection. Returns NULL and fills err on failure.
 */
st_store_conn_t *st_store_conn_new(struct ev_loop *loop, const st_store_conn_cfg_t *cfg,
                                   st_err_t *err);
/* Operations still queued or in flight complete with ST_STATE. */
void st_store_conn_free(st_store_conn_t *c);
int st_store_conn_is_up(const st_store_conn_t *c);
struct ev_loop *st_store_conn_loop(const st_store_conn_t *c);
/* Connections re-established since st_store_conn_new. */
unsigned st_store_conn_reconnects(const st_store_conn_t *c);
/* Drop the socket as a network fault would (tests of the reconnect path). */
void st_store_conn_break(st_store_conn_t *c);

/* ---- programs ---------------------------------------------------------- */

typedef struct st_store_program {
    const char *hash;        /* 64 lower-case hex: SHA-256 of bytes */
    const char *name;        /* flow name */
    int format_version;      /* Program format version */
    const char *source_name; /* e.g. "workflows/dunning.flow" */
    const char *source;      /* the .flow text */
    const unsigned char *bytes;
    size_t len;
} st_store_program_t;

/* Idempotent by hash: *created says whether this call inserted the row. */
int st_store_program_register(st_store_conn_t *c, const st_store_program_t *p, int *created,
                              st_err_t *err);
/* Make hash the version new instances of flow start on. */
int st_store_flow_set_current(st_store_conn_t *c, const char *flow, const char *hash,
                              st_err_t *err);
/* The current hash of flow into out[65]; ST_NOTFOUND if none. */
int st_store_flow_current(st_store_conn_t *c, const char *flow, char out[65], st_err_t *err);

/* A loaded program: every pointer is owned by the record. */
typedef struct st_store_program_rec {
    char *hash, *name, *source_name, *source;
    int format_version;
    unsigned char *bytes;
    size_t len;
} st_store_program_rec_t;

int st_store_program_load(st_store_conn_t *c, const char *hash, st_store_program_rec_t *out,
                          st_err_t *err);
void st_store_program_rec_release(st_store_program_rec_t *p);

/* ---- instances --------------------------------------------------------- */

/* A stored instance row; strings are owned by the record. */
typedef struct st_store_instance {
    st_store_uuid_t id;
    char *flow, *program_hash, *state_name, *vars_json;
    char *wait_reason, *business_key; /* NULL when SQL NULL */
    int32_t state;
    st_store_status_t status;
    int64_t seq;
    int64_t wake_at_us; /* ST_STORE_NO_TIME when none */
    int64_t owner_node; /* 0 when unowned */
    int64_t lease_epoch;
    int64_t created_us, updated_us;
    bool cancel_requested; /* the cancel path was entered */
    bool signals_pending;  /* stored signals not consumed yet (when read) */
} st_store_instance_t;

void st_store_instance_release(st_store_instance_t *in);

typedef struct st_store_instances {
    st_store_instance_t *v;
    size_t n;
} st_store_instances_t;

void st_store_instances_free(st_store_instances_t *list); /* releases each, keeps list */

typedef struct st_store_kv {
    const char *key, *value;
} st_store_kv_t;

typedef struct st_store_start {
    const char *flow;
    const char *program_hash; /* NULL: the flow's current version */
    const char *business_key; /* NULL: not idempotent */
    int32_t state;            /* initial state index and name */
    const char *state_name;
    st_store_status_t status; /* usually ST_STORE_RUNNING */
    const char *vars_json;    /* NULL: {} */
    int64_t owner_node;       /* 0: unowned (claimable); else owned, epoch 1 */
    int64_t wake_at_us;       /* ST_STORE_NO_TIME: none */
    int64_t now_us;           /* creation time; also the UUIDv7 time */
    const char *actor;        /* history actor; NULL: "api" */
    const st_store_kv_t *correlations;
    unsigned ncorrelations;
    /* Time part of the UUIDv7 (id order); 0: now_us. A start stamped on a
     * virtual clock that stands still gives wall time here, so ids still
     * follow the order the starts arrived in. */
    int64_t id_time_us;
    /* 1: start only while program_hash is the flow's current version;
     * otherwise nothing is written and st_store_started_t.stale is 1 (the
     * caller validated against that version and must look again). */
    int check_hash;
} st_store_start_t;

typedef struct st_store_started {
    st_store_uuid_t id;
    int existing;        /* 1: the business key already had this instance */
    int64_t lease_epoch; /* the instance's epoch after the call */
    int stale;           /* check_hash only: the flow has another current version */
} st_store_started_t;

/*
 * Start n instances in one transaction; out[i] answers in[i]. An instance
 * starts with seq 0, a "start" history row and its flow_counts increment.
 * A business key already used for the flow returns the first instance
 * (also when an earlier item of the same call used it).
 */
int st_store_start_many(st_store_conn_t *c, const st_store_start_t *in, size_t n,
                        st_store_started_t *out, st_err_t *err);
int st_store_start(st_store_conn_t *c, const st_store_start_t *in, st_store_started_t *out,
                   st_err_t *err);

int st_store_instance_load(st_store_conn_t *c, const st_store_uuid_t *id, st_store_instance_t *out,
                           st_err_t *err);

/* Count of instances of flow with status, from flow_counts (no scan). */
int st_store_flow_count(st_store_conn_t *c, const char *flow, st_store_status_t s, int64_t *n,
                        st_err_t *err);

/* ---- checkpoints and the batcher ---------------------------------------- */

typedef struct st_store_hist {
    const char *kind;        /* transition, activity, signal, timer, ... */
    const char *from_state;  /* NULL allowed */
    const char *to_state;    /* NULL allowed */
    const char *detail_json; /* NULL allowed */
} st_store_hist_t;

typedef struct st_store_task_new {
    const char *activity;
    const char *args_json;
    const char *idempotency_key; /* settle_<instance>_<seq> */
    int32_t max_attempts;
    int32_t timeout_ms;
    int64_t not_before_us;
} st_store_task_new_t;

typedef struct st_store_task_done {
    int64_t task_id;
    st_store_task_status_t status; /* DONE, FAILED or CANCELLED */
    const char *outcome;           /* NULL allowed */
    const char *result_json;       /* NULL allowed */
    int32_t attempt;               /* attempts made; the row keeps the highest
                                    * it has seen (0: leave as is) */
    /* The attempt whose result finishes the task (number `attempt`), kept on
     * the task row instead of a task_attempts record of its own; NULL: none.
     * Only CHECKPOINT stores it. */
    const struct st_store_attempt *final;
} st_store_task_done_t;

typedef struct st_store_ckpt st_store_ckpt_t;

/* rc 0: committed. ST_CONFLICT: seq, epoch or owner did not match (or the
 * consumed signal / completed task was already used): nothing of this
 * checkpoint was written. ST_IO: connection lost, outcome unknown. Other
 * negative codes: the batch failed (err says why). */
typedef void (*st_store_ckpt_cb)(st_store_ckpt_t *ck, int rc, const st_err_t *err, void *ud);

/*
 * One transition of one instance: the instance row (checked against
 * expected_seq, lease_epoch and owner_node, then set to seq expected_seq+1),
 * history rows, an optional task, an optional consumed signal, an
 * optional completed task and new correlation keys, all-or-nothing (a
 * webhook about an object the step just learnt finds the instance as soon
 * as the step is visible). History row i is stamped at
 * at_us + i microseconds (its key is instance, seq, at).
 */
struct st_store_ckpt {
    st_store_uuid_t instance;
    int64_t node_id;      /* owner that must hold the lease */
    int64_t lease_epoch;  /* epoch from the claim */
    int64_t expected_seq; /* the row's seq before this transition */
    int32_t state;        /* new state index and name */
    const char *state_name;
    st_store_status_t status;
    const char *vars_json;
    int64_t wake_at_us;      /* ST_STORE_NO_TIME: none */
    const char *wait_reason; /* NULL: none */
    int64_t at_us;           /* time of the transition */
    const char *actor;       /* NULL: "engine" */
    bool cancel_requested;   /* the instance is in its cancel path */
    const st_store_hist_t *hist;
    unsigned nhist;
    const st_store_task_new_t *task;       /* NULL: none */
    int64_t consume_signal_id;             /* 0: none */
    const st_store_task_done_t *task_done; /* NULL: none */
    const st_store_kv_t *correlations;     /* keys learnt in this step (idempotent) */
    unsigned ncorrelations;
    int64_t task_id; /* out: id of the task this checkpoint inserted (0: none), on rc 0 */
    /* private to the batcher while submitted */
    st_store_ckpt_t *next_;
    st_store_ckpt_cb cb_;
    void *ud_;
};

typedef struct st_store_batch st_store_batch_t;

typedef struct st_store_batch_cfg {
    unsigned linger_us; /* wait this long for more checkpoints; 0 = next loop turn */
    unsigned max_size;  /* checkpoints per transaction; 0 = 1024 */
    int disabled;       /* 1: one transaction per checkpoint (benchmark baseline) */
    /* Optional further connections (same loop): batches then run on the
     * server in parallel, one per connection. Borrowed; must outlive the
     * batcher. Checkpoints of one instance still commit in submit order. */
    st_store_conn_t *const *more_conns;
    unsigned n_more;
    /* Optional: told once per failed batch transaction (the statement
     * failed, e.g. a deadlock or a bad value, or the connection was lost)
     * with the error, which names the statement, PostgreSQL's message and
     * SQLSTATE, and the number of checkpoints it held; retried_alone: each
     * of them is now retried in a transaction of its own. For logging;
     * the checkpoints' callbacks still report each outcome. */
    void (*on_batch_error)(const st_err_t *err, size_t n, int retried_alone, void *ud);
    void *on_batch_error_ud;
} st_store_batch_cfg_t;

typedef struct st_store_batch_stats {
    uint64_t batches;     /* transactions sent */
    uint64_t checkpoints; /* checkpoints completed */
    uint64_t committed;   /* of which committed */
    uint64_t conflicts;   /* of which rejected by seq/epoch/owner */
} st_store_batch_stats_t;

st_store_batch_t *st_store_batch_new(st_store_conn_t *c, const st_store_batch_cfg_t *cfg,
                                     st_err_t *err);
/* Checkpoints not yet sent complete with ST_STATE (also those of a batch
 * queued on a connection that is down); waits for batches already sent.
 * Free batchers before their connection. */
void st_store_batch_free(st_store_batch_t *b);
/* Queue ck; cb(ck, rc, err, ud) fires once from the loop. Two checkpoints
 * of one instance never share a transaction. */
int st_store_batch_submit(st_store_batch_t *b, st_store_ckpt_t *ck, st_store_ckpt_cb cb, void *ud,
                          st_err_t *err);
/* Send what is queued now instead of waiting out the linger. */
void st_store_batch_flush(st_store_batch_t *b);
void st_store_batch_get_stats(const st_store_batch_t *b, st_store_batch_stats_t *out);

/* ---- nodes and leases ----------------------------------------------------- */

/* Insert a nodes row leased for ttl_ms (database clock). */
int st_store_node_register(st_store_conn_t *c, const char *name, int32_t ttl_ms, int64_t *node_id,
                           st_err_t *err);
/* One UPDATE of the node row. ST_CONFLICT when the lease already lapsed or
 * the node was stopped: its instances may have been taken; re-register. */
int st_store_node_renew(st_store_conn_t *c, int64_t node_id, int32_t ttl_ms, st_err_t *err);
/* Graceful shutdown: un-own every instance and mark the node stopped. */
int st_store_node_release(st_store_conn_t *c, int64_t node_id, st_err_t *err);

/*
 * Claim up to limit live (running/waiting) instances that are unowned or
 * whose owner's lease lapsed: FOR UPDATE SKIP LOCKED, owner set to node_id,
 * lease_epoch bumped. The claimed rows are returned (with the new epoch).
 */
int st_store_lease_claim(st_store_conn_t *c, int64_t node_id, unsigned limit,
                         st_store_instances_t *out, st_err_t *err);
/* Live instances owned by node_id, after `after` (keyset; NULL = start). */
int st_store_instances_owned(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *after,
                             unsigned limit, st_store_instances_t *out, st_err_t *err);

/* ---- signals ----------------------------------------------------------------- */

typedef struct st_store_signal {
    int64_t id;
    st_store_uuid_t instance;
    char *name, *payload_json, *source;
    int64_t created_us;
} st_store_signal_t;

typedef struct st_store_signals {
    st_store_signal_t *v;
    size_t n;
} st_store_signals_t;

void st_store_signals_free(st_store_signals_t *list);

/* Store a signal for instance unless it is finished, decided in the same
 * statement: 0 (*signal_id set), ST_NOTFOUND (no such instance, archived
 * ones included) or ST_CONFLICT (finished: *status says how). status may
 * be NULL. */
int st_store_signal_send_live(st_store_conn_t *c, const st_store_uuid_t *instance, const char *name,
                              const char *payload_json, const char *source, int64_t *signal_id,
                              st_store_status_t *status, st_err_t *err);
/* st_store_signal_send_live without the status. */
int st_store_signal_send(st_store_conn_t *c, const st_store_uuid_t *instance, const char *name,
                         const char *payload_json, const char *source, int64_t *signal_id,
                         st_err_t *err);
/* One signal per instance correlated with (key, value); *count says how
 * many. With none yet, the signal is parked (*count = 0) and handed to the
 * first instance that learns (key, value) by a checkpoint, a start or
 * st_store_correlate. */
int st_store_signal_send_correlated(st_store_conn_t *c, const char *key, const char *value,
                                    const char *name, const char *payload_json, const char *source,
                                    size_t *count, st_err_t *err);
/* Mark a stored signal of instance consumed at seq without a transition:
 * one the flow has no use for and must never be offered again. */
int st_store_signal_discard(st_store_conn_t *c, int64_t signal_id, const st_store_uuid_t *instance,
                            int64_t seq, st_err_t *err);
/* Unconsumed signals of instance, oldest first. */
int st_store_signals_pending(st_store_conn_t *c, const st_store_uuid_t *instance,
                             st_store_signals_t *out, st_err_t *err);
/* Add a correlation key of an instance (idempotent); it takes over the
 * signals parked for that key. */
int st_store_correlate(st_store_conn_t *c, const st_store_uuid_t *instance, const char *key,
                       const char *value, st_err_t *err);

/* ---- tasks (the outbox) ------------------------------------------------------- */

typedef struct st_store_task {
    int64_t id;
    st_store_uuid_t instance;
    int64_t seq;
    char *state_name, *activity, *args_json, *idempotency_key;
    st_store_task_status_t status;
    int32_t attempt, max_attempts, timeout_ms;
    int64_t not_before_us;
} st_store_task_t;

typedef struct st_store_tasks {
    st_store_task_t *v;
    size_t n;
} st_store_tasks_t;

void st_store_tasks_free(st_store_tasks_t *list);

/* Pending tasks of node_id's instances with not_before <= now_us: marked
 * running, attempt incremented (SKIP LOCKED, so dispatchers never share). */
int st_store_tasks_claim_due(st_store_conn_t *c, int64_t node_id, int64_t now_us, unsigned limit,
                             st_store_tasks_t *out, st_err_t *err);

typedef struct st_store_attempt {
    int64_t task_id;
    int32_t attempt;
    int64_t started_us, finished_us;
    const char *outcome; /* succeeded, declined, transient, failed, ... */
    const char *code;    /* NULL allowed */
    const char *error;   /* redacted; NULL allowed */
} st_store_attempt_t;

int st_store_task_attempt_record(st_store_conn_t *c, const st_store_attempt_t *a, st_err_t *err);
/* Transient failure: back to pending, due at not_before_us. */
int st_store_task_reschedule(st_store_conn_t *c, int64_t task_id, int64_t not_before_us,
                             const char *last_error, st_err_t *err);
/* Finish outside a checkpoint (e.g. permanently failed). ST_CONFLICT if the
 * task was already finished. */
int st_store_task_finish(st_store_conn_t *c, const st_store_task_done_t *d, st_err_t *err);

/* ---- recovery and timers ------------------------------------------------------ */

/* The most instances one task recovery names. */
#define ST_STORE_RECOVER_MAX 1000

/* Tasks written but not finished (pending, or running when their runner
 * died) of those of the n instances `ids` (at most ST_STORE_RECOVER_MAX)
 * that are live and owned by node_id: running ones go back to pending with
 * the same idempotency key and are returned with the pending ones. Name
 * only instances the node has just taken (claimed or re-read), never one
 * whose task it is running. Locks the instance rows before their tasks,
 * each in id order, like every statement that locks both, so it waits for
 * a checkpoint of one of them but never deadlocks with one. */
int st_store_tasks_recover(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *ids,
                           size_t n, st_store_tasks_t *out, st_err_t *err);

typedef struct st_store_wake {
    st_store_uuid_t instance;
    int64_t wake_at_us;
    int64_t seq;
} st_store_wake_t;

/*
 * Waiting instances of node_id with wake_at < horizon_us, ordered by
 * (wake_at, id), after the keyset cursor (after_us, after_id); pass
 * after_us = ST_STORE_NO_TIME for the first page. out holds cap entries;
 * *n receives how many were filled.
 */
int st_store_wakes_page(st_store_conn_t *c, int64_t node_id, int64_t horizon_us, int64_t after_us,
                        const st_store_uuid_t *after_id, st_store_wake_t *out, size_t cap,
                        size_t *n, st_err_t *err);

/* ---- history partitions and archive ------------------------------------------ */

/* Create daily history partitions for [day of from_us, + days). */
int st_store_history_ensure(st_store_conn_t *c, int64_t from_us, int days, int *created,
                            st_err_t *err);
/* Drop whole partitions whose range ends at or before cutoff_us. */
int st_store_history_retain(st_store_conn_t *c, int64_t cutoff_us, int *dropped, st_err_t *err);
/* Move up to limit completed/cancelled instances last updated before
 * before_us to instances_archive. */
int st_store_archive(st_store_conn_t *c, int64_t before_us, unsigned limit, int *moved,
                     st_err_t *err);

/* ---- asynchronous writes ------------------------------------------------------------ */

/*
 * Writes off the hot path that must not block the loop (activity attempts,
 * retries, lease renewal). Each is its own transaction on the connection's
 * pipeline; the arguments are copied, so they may die when the call
 * returns. cb may be NULL; otherwise it fires exactly once from the loop
 * with the same codes as the blocking version, and never if the call
 * itself returns an error.
 */
typedef void (*st_store_done_cb)(int rc, const st_err_t *err, void *ud);

int st_store_task_attempt_record_async(st_store_conn_t *c, const st_store_attempt_t *a,
                                       st_store_done_cb cb, void *ud, st_err_t *err);
int st_store_task_reschedule_async(st_store_conn_t *c, int64_t task_id, int64_t not_before_us,
                                   const char *last_error, st_store_done_cb cb, void *ud,
                                   st_err_t *err);
int st_store_task_finish_async(st_store_conn_t *c, const st_store_task_done_t *d,
                               st_store_done_cb cb, void *ud, st_err_t *err);
int st_store_node_renew_async(st_store_conn_t *c, int64_t node_id, int32_t ttl_ms,
                              st_store_done_cb cb, void *ud, st_err_t *err);

/*
 * Reads for the loop: the callback gets the rows (an empty list when
 * rc < 0). They are valid during the callback; to keep them, copy the list
 * struct and zero the original (then free the copy later with its _free
 * function); whatever is left is freed when the callback returns.
 */
typedef struct st_store_wakes {
    st_store_wake_t *v;
    size_t n;
} st_store_wakes_t;

void st_store_wakes_free(st_store_wakes_t *list);

typedef void (*st_store_instances_cb)(int rc, const st_err_t *err, st_store_instances_t *rows,
                                      void *ud);
typedef void (*st_store_signals_cb)(int rc, const st_err_t *err, st_store_signals_t *list,
                                    void *ud);
typedef void (*st_store_tasks_cb)(int rc, const st_err_t *err, st_store_tasks_t *list, void *ud);
typedef void (*st_store_wakes_cb)(int rc, const st_err_t *err, st_store_wakes_t *page, void *ud);

int st_store_lease_claim_async(st_store_conn_t *c, int64_t node_id, unsigned limit,
                               st_store_instances_cb cb, void *ud, st_err_t *err);
int st_store_signals_pending_async(st_store_conn_t *c, const st_store_uuid_t *instance,
                                   st_store_signals_cb cb, void *ud, st_err_t *err);
int st_store_tasks_claim_due_async(st_store_conn_t *c, int64_t node_id, int64_t now_us,
                                   unsigned limit, st_store_tasks_cb cb, void *ud, st_err_t *err);
/* As st_store_wakes_page, with at most `limit` wake times per page. */
int st_store_wakes_page_async(st_store_conn_t *c, int64_t node_id, int64_t horizon_us,
                              int64_t after_us, const st_store_uuid_t *after_id, unsigned limit,
                              st_store_wakes_cb cb, void *ud, st_err_t *err);

/* ---- operator reads ------------------------------------------------------------ */

typedef struct st_store_count {
    char *flow;
    st_store_status_t status;
    int64_t n;
} st_store_count_t;

typedef struct st_store_counts {
    st_store_count_t *v;
    size_t n;
} st_store_counts_t;

void st_store_counts_free(st_store_counts_t *list);
/* Every (flow, status) count, from flow_counts (no scan of instances). */
int st_store_flow_counts(st_store_conn_t *c, st_store_counts_t *out, st_err_t *err);

typedef struct st_store_hist_row {
    int64_t seq, at_us;
    char *kind;
    char *from_state, *to_state, *actor, *detail_json; /* NULL when SQL NULL */
} st_store_hist_row_t;

typedef struct st_store_hist_rows {
    st_store_hist_row_t *v;
    size_t n;
} st_store_hist_rows_t;

void st_store_hist_rows_free(st_store_hist_rows_t *list);
/* The timeline of instance ordered by (seq, at), after the keyset cursor
 * (after_seq, after_at_us); pass after_seq = -1 for the first page. */
int st_store_history_list(st_store_conn_t *c, const st_store_uuid_t *instance, int64_t after_seq,
                          int64_t after_at_us, unsigned limit, st_store_hist_rows_t *out,
                          st_err_t *err);

/* Instances ordered by id after `after` (NULL: from the start), filtered by
 * flow (NULL: any) and status (-1: any). */
int st_store_instances_list(st_store_conn_t *c, const char *flow, int status,
                            const st_store_uuid_t *after, unsigned limit, st_store_instances_t *out,
                            st_err_t *err);

/* ---- the engine loop's control calls -------------------------------------------- */

/*
 * Everything the executor does while its loop serves instances goes through
 * these (and the `_async` calls above) on a connection of that loop: none
 * waits for PostgreSQL. Same contract as the other `_async` calls: the
 * arguments are copied, cb (may be NULL where noted) fires exactly once
 * from the loop after a successful call, never when the call fails; rows
 * shown to a callback are valid during it (take them by copying the struct
 * and zeroing the original).
 */

/* The instance row by id: rows->n is 1, or 0 when there is no such row. */
int st_store_instance_load_async(st_store_conn_t *c, const st_store_uuid_t *id,
                                 st_store_instances_cb cb, void *ud, st_err_t *err);

/* A program by hash; rc ST_NOTFOUND when none. rec is empty when rc < 0. */
typedef void (*st_store_program_cb)(int rc, const st_err_t *err, st_store_program_rec_t *rec,
                                    void *ud);
int st_store_program_load_async(st_store_conn_t *c, const char *hash, st_store_program_cb cb,
                                void *ud, st_err_t *err);

/* As st_store_tasks_recover; ids are copied before it returns. */
int st_store_tasks_recover_async(st_store_conn_t *c, int64_t node_id, const st_store_uuid_t *ids,
                                 size_t n, st_store_tasks_cb cb, void *ud, st_err_t *err);

/* As st_store_signal_discard (cb may be NULL). */
int st_store_signal_discard_async(st_store_conn_t *c, int64_t signal_id,
                                  const st_store_uuid_t *instance, int64_t seq, st_store_done_cb cb,
                                  void *ud, st_err_t *err);
/* A stored signal the flow refused (its payload does not fit): marked
 * consumed at seq so that the signals behind it get through, with a
 * `signal_refused` history row at at_us saying why. Idempotent. */
int st_store_signal_refuse_async(st_store_conn_t *c, int64_t signal_id,
                                 const st_store_uuid_t *instance, int64_t seq, int64_t at_us,
                                 const char *reason, st_store_done_cb cb, void *ud, st_err_t *err);

/* Node registration, lease-lapse recovery: id is the new node's. */
typedef void (*st_store_id_cb)(int rc, const st_err_t *err, int64_t id, void *ud);
int st_store_node_register_async(st_store_conn_t *c, const char *name, int32_t ttl_ms,
                                 st_store_id_cb cb, void *ud, st_err_t *err);

/* History partition upkeep; n is created / dropped partitions. */
typedef void (*st_store_count_cb)(int rc, const st_err_t *err, int n, void *ud);
int st_store_history_ensure_async(st_store_conn_t *c, int64_t from_us, int days,
                                  st_store_count_cb cb, void *ud, st_err_t *err);
int st_store_history_retain_async(st_store_conn_t *c, int64_t cutoff_us, st_store_count_cb cb,
                                  void *ud, st_err_t *err);

/*
 * LISTEN on a connection. Each notification on one of `channels` calls
 * cb(channel, payload, ud) from the loop. The subscription follows the
 * connection's reconnect rule: after a reconnect the LISTENs are issued
 * again before any other operation, and then cb(NULL, NULL, ud) says that
 * notifications may have been missed while the connection was down, so the
 * caller rescans what they would have announced. Channels are copied (at
 * most 8, each a plain identifier). One subscription per connection; the
 * first LISTEN is pipelined like any operation (not waited for).
 */
typedef void (*st_store_notify_cb)(const char *channel, const char *payload, void *ud);
int st_store_conn_listen(st_store_conn_t *c, const char *const *channels, unsigned n,
                         st_store_notify_cb cb, void *ud, st_err_t *err);

/* 0 when the database at dsn is at the schema version this binary needs;
 * ST_SCHEMA (with the command to run as hint) or ST_DB otherwise. Blocking,
 * for start-up. */
int st_store_schema_check_dsn(const char *dsn, st_err_t *err);

/* ---- the virtual clock ------------------------------------------------------------- */

/* settle_clock: the durable virtual time of every --clock virtual node.
 * Operators (settled clock / settlectl clock) raise target_us; nodes advance
 * to it and write back the time they reached to now_us. */
typedef struct st_store_clock {
    int64_t now_us;    /* virtual time the nodes reached */
    int64_t target_us; /* virtual time asked for */
} st_store_clock_t;

/* Create the clock row at start_us if there is none (a node's start-up);
 * out gets the row, which may be ahead of start_us (durable time). */
int st_store_clock_open(st_store_conn_t *c, int64_t start_us, st_store_clock_t *out, st_err_t *err);
/* ST_NOTFOUND when no virtual node ever ran on this database. */
int st_store_clock_read(st_store_conn_t *c, st_store_clock_t *out, st_err_t *err);
/* Raise the target by delta_us (> 0) from the current target; NOTIFYs
 * settle_clock. ST_NOTFOUND without a clock row. */
int st_store_clock_advance(st_store_conn_t *c, int64_t delta_us, st_store_clock_t *out,
                           st_err_t *err);

typedef void (*st_store_clock_cb)(int rc, const st_err_t *err, const st_store_clock_t *clk,
                                  void *ud);
int st_store_clock_read_async(st_store_conn_t *c, st_store_clock_cb cb, void *ud, st_err_t *err);
/* A node reached now_us (monotonic: never moves now_us back); cb may be NULL. */
int st_store_clock_reached_async(st_store_conn_t *c, int64_t now_us, st_store_done_cb cb, void *ud,
                                 st_err_t *err);

/* ---- node identity (st_store_ident.c) ------------------------------------------------- */

/*
 * Register like st_store_node_register, under `identity` (stored in
 * nodes.identity), and in the same statement stop every earlier row of that
 * identity not stopped yet; *fenced (may be NULL) gets how many. Only for a
 * caller that holds proof no other live process runs as `identity` (the
 * node lock, exec/st_exec_ident.h): the stopped rows' instances are then
 * claimable at once, their epochs bumped by the claim. tag (may be NULL):
 * the application_name of the identity's sessions; those of this role
 * other than c's own are ended (pg_terminate_backend), so nothing the dead
 * process left executing holds locks or commits later.
 */
int st_store_node_register_fenced(st_store_conn_t *c, const char *name, const char *identity,
                                  const char *tag, int32_t ttl_ms, int64_t *node_id,
                                  int64_t *fenced, st_err_t *err);
/* The same on the loop (re-registration after a lapsed lease). */
int st_store_node_register_fenced_async(st_store_conn_t *c, const char *name, const char *identity,
                                        const char *tag, int32_t ttl_ms, st_store_id_cb cb,
                                        void *ud, st_err_t *err);

#endif
