/*
 * st_store_sql.h — names of the store's prepared statements.
 *
 * Layer: store (internal). The SQL text of every statement lives in
 * st_store_sql.c, side by side; each is prepared once per connection.
 * Invariant: every value reaches PostgreSQL as a parameter, never spliced
 * into SQL text.
 */
#ifndef ST_STORE_SQL_H
#define ST_STORE_SQL_H

/* The ADMIN_* block at the end: operator statements (st_store_admin*.c,
 * SQL in st_store_admin_sql.h). */
#define ST_STORE_Q_MAP(X)     \
    X(PROGRAM_REGISTER)       \
    X(FLOW_SET_CURRENT)       \
    X(FLOW_CURRENT)           \
    X(PROGRAM_LOAD)           \
    X(START)                  \
    X(INSTANCE_LOAD)          \
    X(FLOW_COUNT)             \
    X(CHECKPOINT)             \
    X(NODE_REGISTER)          \
    X(NODE_RENEW)             \
    X(NODE_DISOWN)            \
    X(NODE_STOP)              \
    X(LEASE_CLAIM)            \
    X(INSTANCES_OWNED)        \
    X(SIGNAL_SEND)            \
    X(SIGNAL_DISCARD)         \
    X(SIGNAL_SEND_CORRELATED) \
    X(SIGNALS_PENDING)        \
    X(CORRELATE)              \
    X(TASKS_CLAIM_DUE)        \
    X(TASK_ATTEMPT)           \
    X(TASK_RESCHEDULE)        \
    X(TASK_FINISH)            \
    X(TASKS_RECOVER)          \
    X(WAKES_PAGE)             \
    X(HISTORY_ENSURE)         \
    X(HISTORY_RETAIN)         \
    X(ARCHIVE)                \
    X(FLOW_COUNTS_ALL)        \
    X(HISTORY_LIST)           \
    X(CORR_LOCK)              \
    X(SIGNAL_REFUSE)          \
    X(CLOCK_OPEN)             \
    X(CLOCK_READ)             \
    X(CLOCK_ADVANCE)          \
    X(CLOCK_REACHED)          \
    X(ADMIN_SESSION)          \
    X(ADMIN_FIND)             \
    X(ADMIN_WAITING_PROGRAMS) \
    X(ADMIN_PROGRAM_RESOLVE)  \
    X(ADMIN_NODE_INFO)        \
    X(ADMIN_DB_NOW)           \
    X(ADMIN_TASKS)            \
    X(ADMIN_TIMELINE)         \
    X(ADMIN_TASK_REPORT)      \
    X(ADMIN_STUCK)            \
    X(ADMIN_LIVE_STATES)      \
    X(ADMIN_THROUGHPUT)       \
    X(ADMIN_OLDEST_WAITING)   \
    X(ADMIN_LIVE_NODES)       \
    X(ADMIN_VERSIONS)         \
    X(ADMIN_REPAIR)           \
    ST_STORE_Q_MAP_API(X)     \
    ST_STORE_Q_MAP_RECLAIM(X)

/* The flow API's and the webhooks' statements (st_store_api.c,
 * st_store_webhook.c): reads with the open task, the schema version for
 * /readyz, and the batched webhook insert. */
#define ST_STORE_Q_MAP_API(X) \
    X(VIEW_GET)               \
    X(VIEWS_LIST)             \
    X(SCHEMA_VERSION)         \
    X(WEBHOOKS_STORE)

/* A node registering under an identity it holds the lock of
 * (st_store_ident.c). */
#define ST_STORE_Q_MAP_RECLAIM(X) X(NODE_REGISTER_FENCED)

typedef enum {
#define ST_STORE_Q_ENUM(name) ST_STORE_Q_##name,
    ST_STORE_Q_MAP(ST_STORE_Q_ENUM)
#undef ST_STORE_Q_ENUM
        ST_STORE_Q_COUNT
} st_store_q_t;

typedef struct st_store_stmt {
    const char *name; /* prepared statement name */
    const char *sql;
} st_store_stmt_t;

extern const st_store_stmt_t st_store_stmts[ST_STORE_Q_COUNT];

/* The columns st_store_instance_from_row reads, on an instance aliased i. */
#define ST_STORE_INSTANCE_COLS                                                              \
    "i.id, i.flow, i.program_hash, i.state, i.state_name, i.status, i.vars, i.seq, "        \
    "settle_us(i.wake_at), i.wait_reason, i.business_key, i.owner_node, "                   \
    "i.lease_epoch, settle_us(i.created_at), settle_us(i.updated_at), i.cancel_requested, " \
    "EXISTS (SELECT 1 FROM signals s WHERE s.instance_id = i.id AND s.consumed_at IS NULL)"
#define ST_STORE_INSTANCE_NCOLS 17

/* The columns of a task row, on a task aliased t. */
#define ST_STORE_TASK_COLS                                                              \
    "t.id, t.instance_id, t.seq, t.state_name, t.activity, t.args, t.idempotency_key, " \
    "t.status, t.attempt, t.max_attempts, t.timeout_ms, settle_us(t.not_before)"

#endif
