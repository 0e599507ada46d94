/*
 * st_store_admin.h — the store's operator interface: opening a checked
 * connection for a tool, operator reads (filtered listings, reports) and
 * repairs of instances (retry, wake, cancel, signal, suspend, resume,
 * migration to another Program version).
 *
 * Layer: store. Depends on st_store.h. Used by settlectl; every call is a
 * blocking helper (see st_store.h), meant for a connection on a loop of its
 * own.
 *
 * Repairs have the checkpoint's contract:
 *   * a repair is computed from an instance row read before
 *     (st_store_instance_load) and written by one statement that applies
 *     only while the row still has the seq, lease_epoch and owner_node that
 *     were read; otherwise nothing is written and the call returns
 *     ST_CONFLICT (read the row again and decide anew);
 *   * flow_counts moves in the same statement when the status changes;
 *   * the statement writes exactly one history row, kind `repair`, shaped
 *     like the checkpoint's (instance, seq, at, kind, from_state, to_state,
 *     actor, detail), at the repaired seq and at a time on the flows' clock
 *     after every row of that seq.
 *
 * Owner rule. A repair that moves the row ("fence") never races the node
 * that owns the instance: being conditional on the epoch and owner read, it
 * loses to any checkpoint or claim made after the read; when it wins, it
 * bumps lease_epoch and clears owner_node, so the owner's next checkpoint
 * of the instance conflicts, the node drops its copy, and the next claim
 * round rebuilds the instance from the repaired row (the repair NOTIFYs
 * settle_work). A signal (no fence) goes through the instance's inbox:
 * the owner delivers it.
 *
 * Ownership: result lists are owned by the caller and freed with their
 * _free function; records passed in are borrowed for the call.
 */
#ifndef ST_STORE_ADMIN_H
#define ST_STORE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/st_err.h"
#include "store/st_store.h"

struct ev_loop;
struct pg_conn;

/* ---- opening ------------------------------------------------------------------ */

/*
 * A store connection on loop for an operator tool, after checking that the
 * database schema is exactly the one this binary needs. Errors: ST_IO
 * "cannot connect to the database" (detail: the first line of libpq's
 * reason, never the DSN), ST_SCHEMA (which way the schema is off and what
 * to run), ST_DB.
 */
st_store_conn_t *st_store_admin_open(struct ev_loop *loop, const char *dsn, st_err_t *err);

/* ---- report rows ---------------------------------------------------------------- */

/* Rows of an operator report as text cells; the columns of each report are
 * listed at its function. */
typedef struct st_store_rows {
    size_t n, ncols;
    char **cell; /* n * ncols, row-major; NULL for SQL NULL */
} st_store_rows_t;

/* The cell, or NULL for SQL NULL (and out of range). */
const char *st_store_rows_get(const st_store_rows_t *r, size_t row, size_t col);
void st_store_rows_free(st_store_rows_t *r);

/* ---- filtered listings ---------------------------------------------------------- */

typedef struct st_store_filter {
    const char *flow;           /* NULL: any */
    const char *version;        /* Program hash or a prefix of it; NULL: any */
    const char *state;          /* state name; NULL: any */
    int status;                 /* st_store_status_t, or -1: any */
    int64_t older_than_us;      /* last change at least this long ago on the
                                 * flows' clock; ST_STORE_NO_TIME: any */
    const char *business_key;   /* NULL: any */
    bool by_waiting_state;      /* only waiting instances in one of: */
    const char *const *waiting; /* "hash:state" pairs (may be none) */
    size_t nwaiting;
} st_store_filter_t;

/* A filter that matches every instance. */
void st_store_filter_init(st_store_filter_t *f);

/* Instances matching f with id > after (NULL: from the start), ordered by
 * id, at most limit. */
int st_store_instances_find(st_store_conn_t *c, const st_store_filter_t *f,
                            const st_store_uuid_t *after, unsigned limit, st_store_instances_t *out,
                            st_err_t *err);

/* The Program hashes of waiting instances of flow (NULL: any flow).
 * Columns: hash. */
int st_store_waiting_programs(st_store_conn_t *c, const char *flow, st_store_rows_t *out,
                              st_err_t *err);

/* The one registered Program whose hash starts with prefix: hash into
 * hash[65], flow name into name[256]. ST_NOTFOUND when none does, ST_INVAL
 * when more than one does. */
int st_store_program_resolve(st_store_conn_t *c, const char *prefix, char hash[65], char name[256],
                             st_err_t *err);

/* ---- single reads --------------------------------------------------------------- */

typedef struct st_store_node_info {
    char name[256];
    bool alive; /* leased and not stopped, on the database clock */
} st_store_node_info_t;

/* ST_NOTFOUND when there is no node node_id. */
int st_store_node_info(st_store_conn_t *c, int64_t node_id, st_store_node_info_t *out,
                       st_err_t *err);
/* The database clock (leases and suspension times use it). */
int st_store_db_now(st_store_conn_t *c, int64_t *us, st_err_t *err);
/* Every task of instance, ordered by id. */
int st_store_instance_tasks(st_store_conn_t *c, const st_store_uuid_t *instance,
                            st_store_tasks_t *out, st_err_t *err);

/* ---- reports (times as ISO 8601 UTC text; ages in microseconds) ------------------ */

/*
 * An instance's timeline: history, activity attempts and signals, ordered
 * by step (an attempt under the step that created its task or the `retry`
 * repair that re-ran it; a consumed signal just before the step that
 * consumed it, a pending one last; within a step signals, history,
 * attempts, by time). Columns: at, source (history|attempt|signal), seq,
 * then a..f: history kind, from, to, actor, detail; attempt activity,
 * "n/max", outcome, code, error, latency_ms; signal name, source,
 * pending|consumed, NULL, payload.
 */
int st_store_report_timeline(st_store_conn_t *c, const st_store_uuid_t *instance,
                             st_store_rows_t *out, st_err_t *err);
/* Columns: id, seq, state, activity, status, attempt, max_attempts,
 * idempotency_key, not_before, outcome, last_error. */
int st_store_report_tasks(st_store_conn_t *c, const st_store_uuid_t *instance, st_store_rows_t *out,
                          st_err_t *err);
/*
 * Instances that need a person, kinds in this order: failed, retrying
 * (first attempt at least retrying_us ago), late (wake time passed at least
 * late_us ago), orphaned, old_version, suspended; by age within a kind.
 * Columns: order, kind, id, flow, state, status, age_us, then a..f per
 * kind (failed: reason, activity, task status, attempt, code, error;
 * retrying: activity, "n/max", next attempt, outcome, code, error; late:
 * wake_at, reason; orphaned: node id, node name, lease until, live nodes;
 * old_version: hash, current hash; suspended: reason).
 */
int st_store_report_stuck(st_store_conn_t *c, int64_t retrying_us, int64_t late_us,
                          const char *flow, unsigned limit, st_store_rows_t *out, st_err_t *err);
/* Live and failed instances by flow and state. Columns: flow, state,
 * status, count. */
int st_store_report_live_states(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err);
/* History over the last minutes on the flows' clock. One row: starts,
 * transitions, repairs. */
int st_store_report_throughput(st_store_conn_t *c, int minutes, st_store_rows_t *out,
                               st_err_t *err);
/* The longest waiting instance (none or one row). Columns: id, flow,
 * state, since, age_us. */
int st_store_report_oldest_waiting(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err);
/* Nodes with a live lease. Columns: id, name, lease_until. */
int st_store_report_live_nodes(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err);
/* Every registered Program. Columns: flow, hash, deployed_at, deployed_by,
 * current (t/f), retired (t/f), running, waiting, suspended, failed. */
int st_store_report_versions(st_store_conn_t *c, st_store_rows_t *out, st_err_t *err);

/* ---- repairs -------------------------------------------------------------------- */

typedef struct st_store_repair {
    const st_store_instance_t *row; /* as read: id, seq, lease_epoch, owner_node */
    /* the row after the repair (st_store_repair_init copies row's values) */
    int64_t seq; /* row->seq, or row->seq + 1 when the repair is a step */
    const char *program_hash;
    int32_t state;
    const char *state_name;
    st_store_status_t status;
    const char *vars_json;
    int64_t wake_at_us;      /* ST_STORE_NO_TIME: none */
    const char *wait_reason; /* NULL: none */
    bool fence;              /* bump lease_epoch and clear owner_node */
    bool notify;             /* NOTIFY settle_work (nodes claim at once) */
    /* the history row (kind `repair`) */
    const char *actor;
    const char *to_state;    /* from_state is row->state_name */
    const char *detail_json; /* a JSON object; the signal id is added */
    /* effects on the instance's tasks and inbox */
    int64_t retry_task_id;      /* 0: none; else back to pending at seq, with */
    int32_t retry_budget;       /* this many more attempts */
    bool reset_running_tasks;   /* running tasks back to pending */
    const char *signal_name;    /* NULL: none; else stored for the instance */
    const char *signal_payload; /* JSON object; NULL: {} */
} st_store_repair_t;

/* A repair that changes nothing yet: the row's values, no side effect. */
void st_store_repair_init(st_store_repair_t *r, const st_store_instance_t *row, const char *actor);

typedef struct st_store_repaired {
    int64_t lease_epoch; /* the row's epoch after the repair */
    int64_t signal_id;   /* the stored signal, 0 when none */
} st_store_repaired_t;

/* Apply r in one statement (see the contract above). ST_CONFLICT when the
 * row is gone or moved since it was read: nothing was written. */
int st_store_repair_apply(st_store_conn_t *c, const st_store_repair_t *r, st_store_repaired_t *out,
                          st_err_t *err);

#endif
