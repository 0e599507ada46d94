/*
 * st_store_sql.c — the SQL text of every statement the store sends.
 *
 * Layer: store (internal). Depends on schema 0001_core and 0002_store.
 *
 * Invariants:
 *   * every value is a parameter ($n); times are int64 microseconds turned
 *     into timestamptz by settle_ts() and back by settle_us();
 *   * instance writers check seq, lease_epoch and owner_node and lock the
 *     row (FOR UPDATE) before writing, so a stale writer writes nothing;
 *   * flow_counts changes in the same statement as the status it counts, in
 *     the writing session's shard (settle_count_shard(), 0008); readers sum;
 *   * claims use FOR UPDATE SKIP LOCKED and re-check ownership on the
 *     locked row version, so two nodes never own one instance;
 *   * lock order, so that no two statements wait for each other in a
 *     cycle: a statement that locks rows of several tables locks instance
 *     rows first, then task rows, then signal rows, then flow_counts rows,
 *     and rows of one table in id (resp. (flow, status)) order. CHECKPOINT
 *     locks its instances (`locked`, ORDER BY id) before it writes their
 *     tasks; TASKS_RECOVER locks the named instances (ORDER BY id) before
 *     their tasks (ORDER BY id); the repair (st_store_admin_sql.h) locks
 *     its one instance before its tasks; NODE_DISOWN takes the node's
 *     instances in id order. A task row is written without its instance's
 *     lock only by one-row statements (TASK_RESCHEDULE, TASK_FINISH, the
 *     attempt record's key share), which hold no other row while they
 *     wait. Statements that never wait for a row (SKIP LOCKED: LEASE_CLAIM,
 *     TASKS_CLAIM_DUE, the archive) are outside the order.
 */
#include "store/st_store_sql.h"
#include "store/st_store_admin_sql.h"

#define Q(id, text) [ST_STORE_Q_##id] = {"st_" #id, text}

/*
 * The one way signals addressed by correlation are stored, shared by
 * SIGNAL_SEND_CORRELATED (one signal, one pair) and WEBHOOKS_STORE (a batch
 * of events, several pairs each). Given the CTEs pairs(ord, key, value,
 * pord) and, after SIG_CORR_TARGETS, sigin(ord, name, payload, source):
 * `targets` holds the instances correlated with any pair of each ord,
 * `sig` stores one signal per (ord, instance) and `park` one signal per ord
 * without any instance yet, parked under that ord's first pair. Runs after
 * CORR_LOCK on the pairs.
 */
#define SIG_CORR_TARGETS                                             \
    " targets AS (SELECT DISTINCT p.ord, c.instance_id FROM pairs p" \
    "   JOIN correlations c ON c.key = p.key AND c.value = p.value),"
#define SIG_CORR_INSERT                                                                            \
    " sig AS (INSERT INTO signals (instance_id, name, payload, source)"                            \
    "   SELECT t.instance_id, s.name, s.payload, s.source FROM sigin s JOIN targets t USING (ord)" \
    "    ORDER BY t.ord, t.instance_id RETURNING id),"                                             \
    " park AS (INSERT INTO signals (instance_id, corr_key, corr_value, name, payload, source)"     \
    "   SELECT DISTINCT ON (s.ord) NULL::uuid, p.key, p.value, s.name, s.payload, s.source"        \
    "     FROM sigin s JOIN pairs p USING (ord)"                                                   \
    "    WHERE NOT EXISTS (SELECT 1 FROM targets t WHERE t.ord = s.ord)"                           \
    "    ORDER BY s.ord, p.pord RETURNING id)"

/* The instance columns of a view read (ST_STORE_INSTANCE_COLS without the
 * alias), for the UNION of instances and instances_archive. */
#define VIEW_INST                                                                         \
    "id, flow, program_hash, state, state_name, status, vars, seq, wake_at, wait_reason," \
    " business_key, owner_node, lease_epoch, created_at, updated_at, cancel_requested"

/* An instance's open task (the newest pending or running one), aliased t. */
#define VIEW_TASK                                                                          \
    " LEFT JOIN LATERAL (SELECT activity, status, attempt, max_attempts, not_before,"      \
    " last_error FROM tasks WHERE instance_id = i.id AND status IN ('pending', 'running')" \
    " ORDER BY id DESC LIMIT 1) t ON true"
#define VIEW_COLS                                               \
    ST_STORE_INSTANCE_COLS ", t.activity, t.status, t.attempt," \
                           " t.max_attempts, settle_us(t.not_before), t.last_error"

const st_store_stmt_t st_store_stmts[ST_STORE_Q_COUNT] = {
    /* $1 hash $2 name $3 format_version $4 source_name $5 source $6 bytes */
    Q(PROGRAM_REGISTER,
      "WITH ins AS (INSERT INTO programs (hash, name, format_version, source_name, source, program)"
      " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hash) DO NOTHING RETURNING 1)"
      " SELECT count(*) FROM ins"),

    /* $1 flow $2 hash: only a program of that flow can become current */
    Q(FLOW_SET_CURRENT,
      "INSERT INTO flows (name, current_hash) SELECT $1, hash FROM programs"
      " WHERE hash = $2 AND name = $1"
      " ON CONFLICT (name) DO UPDATE SET current_hash = excluded.current_hash, updated_at = now()"
      " RETURNING 1"),

    Q(FLOW_CURRENT, "SELECT current_hash FROM flows WHERE name = $1"),

    Q(PROGRAM_LOAD, "SELECT hash, name, format_version, source_name, source, program"
                    " FROM programs WHERE hash = $1"),

    /* Starts n instances, one per element of the parallel arrays $1..$13
     * (WITH ORDINALITY: ord 1..n): $1 id $2 flow $3 hash|NULL (current)
     * $4 state $5 state_name $6 status $7 vars $8 business_key $9 owner|NULL
     * $10 wake_us $11 now_us $12 actor $13 checked (insert only while the
     * hash is the flow's current one); correlations in $14 ord $15 key
     * $16 value. Returns (ord, id, existing, lease_epoch, stale): a started
     * row, the instance an existing business key names, or a checked item
     * whose hash is no longer current (stale, nothing written). No row for
     * an item whose key a concurrent start (or an earlier item of the same
     * call) took after this statement's snapshot: run it again. Counts go
     * to the session's shard, one row per (flow, status). */
    Q(START,
      "WITH c AS ("
      "  SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[],"
      "    $6::settle_status[], $7::jsonb[], $8::text[], $9::bigint[], $10::bigint[],"
      "    $11::bigint[], $12::text[], $13::boolean[])"
      "  WITH ORDINALITY AS c(id, flow, hash, state, state_name, status, vars, bkey, owner,"
      "    wake_us, now_us, actor, checked, ord)),"
      " v AS ("
      "  SELECT c.*, f.current_hash AS cur, (c.checked AND f.current_hash IS DISTINCT FROM c.hash)"
      "    AS stale FROM c LEFT JOIN flows f ON f.name = c.flow),"
      " ins AS ("
      "  INSERT INTO instances (id, flow, program_hash, state, state_name, status, vars, seq,"
      "    wake_at, business_key, owner_node, lease_epoch, created_at, updated_at)"
      "  SELECT id, flow, COALESCE(hash, cur), state, state_name, status,"
      "    COALESCE(vars, '{}'::jsonb), 0, settle_ts(wake_us), bkey, owner,"
      "    CASE WHEN owner IS NULL THEN 0 ELSE 1 END, settle_ts(now_us), settle_ts(now_us)"
      "   FROM v WHERE NOT stale ORDER BY ord"
      "  ON CONFLICT (flow, business_key) WHERE business_key IS NOT NULL DO NOTHING"
      "  RETURNING id, lease_epoch, flow, status),"
      " done AS (SELECT v.*, ins.lease_epoch FROM v JOIN ins USING (id)),"
      " cnt AS ("
      "  INSERT INTO flow_counts (flow, status, shard, n)"
      "  SELECT flow, status, settle_count_shard(), count(*) FROM ins"
      "   GROUP BY flow, status ORDER BY flow, status"
      "  ON CONFLICT (flow, status, shard) DO UPDATE SET n = flow_counts.n + excluded.n),"
      " hist AS ("
      "  INSERT INTO history (instance_id, seq, at, kind, to_state, actor)"
      "  SELECT id, 0, settle_ts(now_us), 'start', state_name, COALESCE(actor, 'api') FROM done),"
      " pairs AS ("
      "  SELECT d.id, d.ord, p.k, p.v FROM unnest($14::bigint[], $15::text[], $16::text[])"
      "   AS p(ord, k, v) JOIN done d ON d.ord = p.ord),"
      " corr AS ("
      "  INSERT INTO correlations (key, value, instance_id) SELECT k, v, id FROM pairs"
      "  ON CONFLICT DO NOTHING),"
      " adopt AS ("
      "  UPDATE signals s SET instance_id = x.id"
      "   FROM (SELECT DISTINCT ON (k, v) k, v, id FROM pairs ORDER BY k, v, ord) x"
      "   WHERE s.instance_id IS NULL AND s.corr_key = x.k AND s.corr_value = x.v)"
      " SELECT ord, id, false, lease_epoch, false FROM done"
      " UNION ALL"
      " SELECT v.ord, i.id, true, i.lease_epoch, false FROM v"
      "  JOIN instances i ON i.flow = v.flow AND i.business_key = v.bkey"
      "  WHERE v.bkey IS NOT NULL AND NOT v.stale AND NOT EXISTS (SELECT 1 FROM ins"
      "    WHERE ins.id = v.id)"
      " UNION ALL"
      " SELECT ord, NULL, false, NULL, true FROM v WHERE stale"),

    Q(INSTANCE_LOAD, "SELECT " ST_STORE_INSTANCE_COLS " FROM instances i WHERE i.id = $1"),

    /* Counts are sharded (0008_count_shards): a count is the sum of its shards. */
    Q(FLOW_COUNT, "SELECT coalesce(sum(n), 0) FROM flow_counts"
                  " WHERE flow = $1 AND status = $2::settle_status"),

    /* One row per checkpoint in parallel arrays ($1..$23, $33: the
     * finished task's attempt count, $34: in the cancel path, $35..$39: the
     * attempt whose result finishes the task, stored on its row (0009_step_rows);
     * NULL outcome: none), history rows in $24..$29 and
     * correlations in $30..$32 pointing at their checkpoint by ordinality.
     * Rows whose seq, epoch, owner, signal or task do not match are left out of `locked`
     * and write nothing; the statement returns the ordinals it applied
     * (ord, NULL, NULL) and the tasks it inserted (NULL, instance, task id):
     * a union, not a join, whose generic plan would be a nested loop.
     * The signal and task checks are scalar subqueries on the primary keys,
     * not joins: the plan is made once per connection (force_generic_plan),
     * often while tasks is still tiny, and the join became a hash join over a
     * sequential scan of the whole tasks table in every later batch. A scalar
     * subquery is never hashed, and the batch connections plan without
     * sequential scans (st_store_conn_cfg_t.index_plans), so each check is
     * one index lookup whatever the tables held when the plan was made. */
    Q(CHECKPOINT,
      "WITH c AS ("
      "  SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[],"
      "    $6::text[], $7::settle_status[], $8::jsonb[], $9::bigint[], $10::text[], $11::bigint[],"
      "    $12::text[], $13::bigint[], $14::bigint[], $15::settle_task_status[], $16::text[],"
      "    $17::jsonb[], $18::text[], $19::jsonb[], $20::text[], $21::int[], $22::int[],"
      "    $23::bigint[], $33::int[], $34::boolean[], $35::bigint[], $36::bigint[], $37::text[],"
      "    $38::text[], $39::text[])"
      "  WITH ORDINALITY AS c(id, node, epoch, expected, state, state_name, status, vars, wake_us,"
      "    wait_reason, at_us, actor, sig, done_task, done_status, done_outcome, done_result,"
      "    t_activity, t_args, t_key, t_max, t_timeout, t_nb, done_attempt, cancel_req,"
      "    f_started, f_finished, f_outcome, f_code, f_error, ord)),"
      " locked AS ("
      "  SELECT c.*, i.flow, i.status AS old_status FROM c JOIN instances i ON i.id = c.id"
      "   WHERE i.seq = c.expected AND i.lease_epoch = c.epoch AND i.owner_node = c.node"
      "     AND (c.sig IS NULL OR (SELECT s.instance_id = c.id AND s.consumed_at IS NULL"
      "          FROM signals s WHERE s.id = c.sig))"
      "     AND (c.done_task IS NULL OR (SELECT t.instance_id = c.id"
      "          AND t.status IN ('pending', 'running') FROM tasks t WHERE t.id = c.done_task))"
      "   ORDER BY c.id FOR NO KEY UPDATE OF i),"
      " upd AS ("
      "  UPDATE instances i SET seq = l.expected + 1, state = l.state, state_name = l.state_name,"
      "    status = l.status, vars = l.vars, wake_at = settle_ts(l.wake_us),"
      "    wait_reason = l.wait_reason, updated_at = settle_ts(l.at_us),"
      "    cancel_requested = l.cancel_req"
      "   FROM locked l WHERE i.id = l.id RETURNING l.ord),"
      " hist AS ("
      "  INSERT INTO history (instance_id, seq, at, kind, from_state, to_state, actor, detail)"
      "  SELECT l.id, l.expected + 1, settle_ts(l.at_us + h.idx), h.kind, h.from_s, h.to_s,"
      "    COALESCE(l.actor, 'engine'), h.detail"
      "   FROM unnest($24::bigint[], $25::int[], $26::text[], $27::text[], $28::text[],"
      "    $29::jsonb[]) AS h(ord, idx, kind, from_s, to_s, detail)"
      "   JOIN locked l ON l.ord = h.ord),"
      " task AS ("
      "  INSERT INTO tasks (instance_id, seq, state_name, activity, args, idempotency_key,"
      "    max_attempts, timeout_ms, not_before, created_at, updated_at)"
      "  SELECT l.id, l.expected + 1, l.state_name, l.t_activity, l.t_args, l.t_key, l.t_max,"
      "    l.t_timeout, settle_ts(l.t_nb), settle_ts(l.at_us), settle_ts(l.at_us)"
      "   FROM locked l WHERE l.t_activity IS NOT NULL"
      "  ON CONFLICT (instance_id, idempotency_key) DO NOTHING RETURNING id, instance_id),"
      " corr AS ("
      "  INSERT INTO correlations (key, value, instance_id)"
      "  SELECT x.k, x.v, l.id FROM unnest($30::bigint[], $31::text[], $32::text[]) AS x(ord, k, v)"
      "   JOIN locked l ON l.ord = x.ord"
      "  ON CONFLICT DO NOTHING),"
      " adopt AS ("
      "  UPDATE signals s SET instance_id = l.id"
      "   FROM unnest($30::bigint[], $31::text[], $32::text[]) AS x(ord, k, v)"
      "   JOIN locked l ON l.ord = x.ord"
      "   WHERE s.instance_id IS NULL AND s.corr_key = x.k AND s.corr_value = x.v),"
      " sig AS ("
      "  UPDATE signals s SET consumed_at = settle_ts(l.at_us), consumed_seq = l.expected + 1"
      "   FROM locked l WHERE l.sig IS NOT NULL AND s.id = l.sig),"
      " done AS ("
      "  UPDATE tasks t SET status = l.done_status, outcome = l.done_outcome,"
      "    result = l.done_result, updated_at = settle_ts(l.at_us),"
      "    attempt = greatest(t.attempt, l.done_attempt),"
      "    final_started_at = settle_ts(l.f_started), final_finished_at = settle_ts(l.f_finished),"
      "    final_outcome = l.f_outcome, final_code = l.f_code, final_error = l.f_error"
      "   FROM locked l WHERE l.done_task IS NOT NULL AND t.id = l.done_task),"
      " cnt AS ("
      "  INSERT INTO flow_counts (flow, status, shard, n)"
      "  SELECT flow, st, settle_count_shard(), sum(d) FROM ("
      "    SELECT flow, old_status AS st, -1 AS d FROM locked WHERE status <> old_status"
      "    UNION ALL"
      "    SELECT flow, status, 1 FROM locked WHERE status <> old_status) x"
      "   GROUP BY flow, st ORDER BY flow, st"
      "  ON CONFLICT (flow, status, shard) DO UPDATE SET n = flow_counts.n + excluded.n)"
      " SELECT ord, NULL::uuid, NULL::bigint FROM upd"
      " UNION ALL SELECT NULL, instance_id, id FROM task"),

    /* $1 name $2 ttl_ms; leases use the database clock */
    Q(NODE_REGISTER, "INSERT INTO nodes (name, lease_until)"
                     " VALUES ($1, clock_timestamp() + $2::int * interval '1 millisecond')"
                     " RETURNING id"),

    /* One statement per node per interval; no instance row is touched. */
    Q(NODE_RENEW,
      "UPDATE nodes SET lease_until = clock_timestamp() + $2::int * interval '1 millisecond'"
      " WHERE id = $1 AND stopped_at IS NULL AND lease_until > clock_timestamp() RETURNING 1"),

    /* in id order (the lock order of the file header) */
    Q(NODE_DISOWN, "WITH mine AS (SELECT id FROM instances"
                   "  WHERE owner_node = $1 AND status IN ('running', 'waiting')"
                   "  ORDER BY id FOR NO KEY UPDATE)"
                   " UPDATE instances i SET owner_node = NULL FROM mine"
                   "  WHERE i.id = mine.id AND i.owner_node = $1"),

    Q(NODE_STOP, "UPDATE nodes SET stopped_at = clock_timestamp(), lease_until = clock_timestamp()"
                 " WHERE id = $1"),

    /* $1 node $2 limit. `lapsed` is computed once; the re-check of the
     * locked row version (EvalPlanQual) sees an owner claimed meanwhile by
     * a live node and skips the row. A node whose own lease lapsed claims
     * nothing (it must register again first), and never counts its own
     * rows as orphaned: re-claiming them under a dead lease would bump
     * their epochs forever while its own checkpoints conflict. */
    Q(LEASE_CLAIM,
      /* Two lookups on the partial index instances_live (owner_node), one
       * for unowned rows and one for rows of lapsed nodes, so a claim costs
       * what it finds, not a scan of every live instance. */
      "WITH lapsed AS MATERIALIZED ("
      "  SELECT array_agg(id) AS ids FROM nodes"
      "   WHERE (lease_until < clock_timestamp() OR stopped_at IS NOT NULL) AND id <> $1),"
      " alive AS MATERIALIZED ("
      "  SELECT 1 FROM nodes WHERE id = $1 AND stopped_at IS NULL"
      "   AND lease_until > clock_timestamp()),"
      " unowned AS ("
      "  SELECT i.id FROM instances i"
      "   WHERE i.status IN ('running', 'waiting') AND i.owner_node IS NULL"
      "     AND EXISTS (SELECT 1 FROM alive)"
      "   LIMIT $2 FOR UPDATE SKIP LOCKED),"
      " orphaned AS ("
      "  SELECT i.id FROM instances i"
      "   WHERE i.status IN ('running', 'waiting')"
      "     AND i.owner_node = ANY ((SELECT ids FROM lapsed)::bigint[])"
      "     AND EXISTS (SELECT 1 FROM alive)"
      "   LIMIT $2 FOR UPDATE SKIP LOCKED),"
      " cand AS (SELECT id FROM unowned UNION ALL SELECT id FROM orphaned LIMIT $2)"
      " UPDATE instances i SET owner_node = $1, lease_epoch = i.lease_epoch + 1"
      "  FROM cand WHERE i.id = cand.id RETURNING " ST_STORE_INSTANCE_COLS),

    /* $1 node $2 after id|NULL $3 limit */
    Q(INSTANCES_OWNED, "SELECT " ST_STORE_INSTANCE_COLS " FROM instances i"
                       " WHERE i.owner_node = $1 AND i.status IN ('running', 'waiting')"
                       "   AND ($2::uuid IS NULL OR i.id > $2::uuid)"
                       " ORDER BY i.id LIMIT $3"),

    /* $1 signal $2 instance $3 seq: consumed with nothing to do (a second
     * cancel while the cancel path runs), so it is never offered again. */
    Q(SIGNAL_DISCARD, "UPDATE signals SET consumed_at = now(), consumed_seq = $3"
                      " WHERE id = $1 AND instance_id = $2 AND consumed_at IS NULL"),

    /* $1 instance $2 name $3 payload $4 source: stored only for an
     * instance that is not finished, decided in the same statement.
     * Returns (status, signal id or NULL); no row: no such instance. */
    Q(SIGNAL_SEND,
      "WITH i AS (SELECT id, status FROM instances WHERE id = $1::uuid"
      "  UNION ALL SELECT id, status FROM instances_archive WHERE id = $1::uuid LIMIT 1),"
      " s AS (INSERT INTO signals (instance_id, name, payload, source)"
      "  SELECT id, $2::text, COALESCE($3::jsonb, '{}'::jsonb), $4::text FROM i"
      "   WHERE status NOT IN ('completed', 'failed', 'cancelled') RETURNING id)"
      " SELECT i.status, s.id FROM i LEFT JOIN s ON true"),

    /* $1 key $2 value $3 name $4 payload $5 source: one signal per
     * correlated instance, or one parked signal when there is none yet.
     * Runs after CORR_LOCK on the pair. Returns (id, parked). */
    Q(SIGNAL_SEND_CORRELATED,
      "WITH pairs AS (SELECT 1::bigint AS ord, $1::text AS key, $2::text AS value,"
      "   1::bigint AS pord)," SIG_CORR_TARGETS
      " sigin AS (SELECT 1::bigint AS ord, $3::text AS name,"
      "   COALESCE($4::jsonb, '{}'::jsonb) AS payload, $5::text AS source)," SIG_CORR_INSERT
      " SELECT id, false FROM sig UNION ALL SELECT id, true FROM park"),

    Q(SIGNALS_PENDING, "SELECT id, instance_id, name, payload, source, settle_us(created_at)"
                       " FROM signals WHERE instance_id = $1 AND consumed_at IS NULL"
                       " ORDER BY id"),

    /* $1 instance $2 key $3 value; runs after CORR_LOCK on the pair and
     * hands the instance the signals parked for it */
    Q(CORRELATE, "WITH ins AS ("
                 "  INSERT INTO correlations (instance_id, key, value) VALUES ($1, $2, $3)"
                 "  ON CONFLICT DO NOTHING)"
                 " UPDATE signals SET instance_id = $1::uuid"
                 "  WHERE instance_id IS NULL AND corr_key = $2 AND corr_value = $3"),

    /* $1 node $2 now_us $3 limit */
    Q(TASKS_CLAIM_DUE,
      "WITH due AS ("
      "  SELECT t.id FROM tasks t JOIN instances i ON i.id = t.instance_id"
      "   WHERE t.status = 'pending' AND t.not_before <= settle_ts($2) AND i.owner_node = $1"
      "   ORDER BY t.not_before LIMIT $3 FOR UPDATE OF t SKIP LOCKED)"
      " UPDATE tasks t SET status = 'running', attempt = t.attempt + 1, updated_at = settle_ts($2)"
      "  FROM due WHERE t.id = due.id RETURNING " ST_STORE_TASK_COLS),

    /* $1 task $2 attempt $3 started_us $4 finished_us $5 outcome $6 code $7 error */
    /* An insert only: the task row learns its attempt count from the
     * checkpoint that finishes it, from a reschedule, or on recovery from
     * these records, so a step does not rewrite its task row twice. The
     * attempt that finishes its task is not sent here: the checkpoint stores
     * it on the task row (0009_step_rows); task_attempts shows both. */
    Q(TASK_ATTEMPT,
      "INSERT INTO task_attempt_log (task_id, attempt, started_at, finished_at, outcome,"
      "  code, error, latency_us)"
      " VALUES ($1, $2, settle_ts($3), settle_ts($4), $5, $6, $7, $4::bigint - $3::bigint)"
      " ON CONFLICT (task_id, attempt) DO NOTHING"),

    /* $1 task $2 not_before_us $3 last_error. Sent after the attempt's
     * record on the same connection, so the count below includes it. */
    Q(TASK_RESCHEDULE, "UPDATE tasks SET status = 'pending', not_before = settle_ts($2),"
                       " last_error = $3, updated_at = now(),"
                       " attempt = greatest(attempt, (SELECT max(a.attempt) FROM task_attempt_log a"
                       "   WHERE a.task_id = $1))"
                       " WHERE id = $1 AND status IN ('pending', 'running') RETURNING 1"),

    /* $1 task $2 status $3 outcome $4 result */
    Q(TASK_FINISH, "UPDATE tasks SET status = $2::settle_task_status, outcome = $3,"
                   " result = $4::jsonb, updated_at = now()"
                   " WHERE id = $1 AND status IN ('pending', 'running') RETURNING 1"),

    /* $1 node $2 instance ids: unfinished tasks of those of the instances
     * that are live and still the node's, running ones reset. The lock
     * order of the file header: the instance rows first, in id order (a
     * checkpoint of one of them finishes before, or waits), then their
     * task rows in id order. `inst` is materialised and `mine` sorted, so
     * every instance lock is taken before the first task lock. */
    Q(TASKS_RECOVER, "WITH inst AS MATERIALIZED ("
                     "  SELECT i.id FROM instances i"
                     "   WHERE i.id = ANY ($2::uuid[]) AND i.owner_node = $1"
                     "     AND i.status IN ('running', 'waiting')"
                     "   ORDER BY i.id FOR NO KEY UPDATE OF i),"
                     " mine AS ("
                     "  SELECT t.id FROM tasks t JOIN inst ON inst.id = t.instance_id"
                     "   WHERE t.status IN ('pending', 'running')"
                     "   ORDER BY t.id FOR UPDATE OF t)"
                     " UPDATE tasks t SET status = 'pending',"
                     "   attempt = greatest(t.attempt, (SELECT max(a.attempt) FROM task_attempts a"
                     "     WHERE a.task_id = t.id))"
                     "  FROM mine WHERE t.id = mine.id"
                     " RETURNING " ST_STORE_TASK_COLS),

    /* $1 node $2 horizon_us $3 after_us $4 after_id $5 limit (keyset) */
    Q(WAKES_PAGE, "SELECT id, settle_us(wake_at), seq FROM instances"
                  " WHERE status = 'waiting' AND wake_at IS NOT NULL AND owner_node = $1"
                  "   AND wake_at < settle_ts($2)"
                  "   AND (wake_at, id) > (settle_ts($3), $4::uuid)"
                  " ORDER BY wake_at, id LIMIT $5"),

    Q(HISTORY_ENSURE, "SELECT settle_history_ensure((settle_ts($1) AT TIME ZONE 'UTC')::date, $2)"),
    Q(HISTORY_RETAIN, "SELECT settle_history_drop_before(settle_ts($1))"),
    Q(ARCHIVE, "SELECT settle_archive_instances(settle_ts($1), $2)"),

    /* $1 keys $2 values: serialises writers of the same correlation pairs
     * (0004_signal_parking); sent as a statement of its own so that the
     * statements after it see what the previous holder committed. */
    Q(CORR_LOCK, "SELECT settle_corr_lock($1::text[], $2::text[])"),

    /* Operator reads (settlectl, /metrics). */
    Q(FLOW_COUNTS_ALL, "SELECT flow, status, sum(n) FROM flow_counts"
                       " GROUP BY flow, status ORDER BY flow, status"),

    /* $1 instance $2 after_seq $3 after_at_us $4 limit (keyset on seq, at) */
    Q(HISTORY_LIST, "SELECT seq, settle_us(at), kind, from_state, to_state, actor, detail"
                    " FROM history WHERE instance_id = $1"
                    "   AND (seq, at) > ($2::bigint, settle_ts($3))"
                    " ORDER BY seq, at LIMIT $4"),

    /* ---- the engine loop's control calls and the virtual clock ---- */

    /* $1 signal $2 instance $3 seq $4 at_us $5 reason: a stored signal the
     * flow refused is marked consumed (never offered again) and the
     * refusal noted in the instance's history. */
    Q(SIGNAL_REFUSE,
      "WITH d AS (UPDATE signals SET consumed_at = now(), consumed_seq = $3"
      "            WHERE id = $1 AND instance_id = $2 AND consumed_at IS NULL"
      "            RETURNING id, name)"
      " INSERT INTO history (instance_id, seq, at, kind, actor, detail)"
      " SELECT $2, $3, settle_ts($4), 'signal_refused', 'engine',"
      "        jsonb_build_object('signal', d.name, 'signal_id', d.id, 'reason', $5::text)"
      "   FROM d ON CONFLICT DO NOTHING"),

    /* $1 start_us: the one clock row, created at the node's start time */
    Q(CLOCK_OPEN, "INSERT INTO settle_clock (now_us, target_us) VALUES ($1, $1)"
                  " ON CONFLICT (id) DO UPDATE SET id = true RETURNING now_us, target_us"),
    Q(CLOCK_READ, "SELECT now_us, target_us FROM settle_clock"),
    /* $1 delta_us, from the target already asked for (advances add up) */
    Q(CLOCK_ADVANCE, "UPDATE settle_clock SET target_us = greatest(target_us, now_us) + $1::bigint,"
                     " updated_at = now() RETURNING now_us, target_us"),
    /* $1 now_us a node reached (monotonic) */
    Q(CLOCK_REACHED, "UPDATE settle_clock SET now_us = greatest(now_us, $1::bigint),"
                     " updated_at = now() RETURNING now_us, target_us"),

    /* ---- the flow API and webhooks (st_store_api.c, st_store_webhook.c) ---- */

    /* $1 instance: the row (archived ones too) and its open task */
    Q(VIEW_GET, "SELECT " VIEW_COLS " FROM (SELECT " VIEW_INST " FROM instances WHERE id = $1::uuid"
                " UNION ALL SELECT " VIEW_INST " FROM instances_archive WHERE id = $1::uuid"
                " LIMIT 1) i" VIEW_TASK),

    /* $1 flow $2 status $3 state $4 business key (each NULL: any) $5 before
     * id|NULL $6 limit: newest first (ids are UUIDv7), keyset on id */
    Q(VIEWS_LIST, "SELECT " VIEW_COLS " FROM instances i" VIEW_TASK
                  " WHERE ($1::text IS NULL OR i.flow = $1::text)"
                  "   AND ($2::settle_status IS NULL OR i.status = $2::settle_status)"
                  "   AND ($3::text IS NULL OR i.state_name = $3::text)"
                  "   AND ($4::text IS NULL OR i.business_key = $4::text)"
                  "   AND ($5::uuid IS NULL OR i.id < $5::uuid)"
                  " ORDER BY i.id DESC LIMIT $6::integer"),

    Q(SCHEMA_VERSION, "SELECT coalesce(max(version), 0) FROM settle_schema_version"),

    /* $1 event ids $2 types $3 payloads (jsonb) $4 pair -> event index
     * (1-based) $5 keys $6 values, after CORR_LOCK on the pairs. Each new
     * event id (ON CONFLICT decides new vs redelivery; within the batch the
     * first occurrence wins) is stored, processed when it reached an
     * instance, and becomes signals through SIG_CORR_*: named after its
     * type, payload data.object, source webhook:<id>. Returns (index,
     * signals delivered) per new event. */
    Q(WEBHOOKS_STORE,
      "WITH inp AS (SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])"
      "   WITH ORDINALITY AS t(event_id, type, payload, ord)),"
      " firsts AS (SELECT DISTINCT ON (event_id) event_id, type, payload, ord"
      "   FROM inp ORDER BY event_id, ord),"
      " pairs AS (SELECT * FROM unnest($4::bigint[], $5::text[], $6::text[])"
      "   WITH ORDINALITY AS p(ord, key, value, pord))," SIG_CORR_TARGETS
      " tcount AS (SELECT ord, count(*) AS n FROM targets GROUP BY ord),"
      " ev AS (INSERT INTO webhook_events (event_id, type, payload, processed_at)"
      "   SELECT f.event_id, f.type, f.payload, CASE WHEN tc.n > 0 THEN now() END"
      "     FROM firsts f LEFT JOIN tcount tc USING (ord) ORDER BY f.ord"
      "   ON CONFLICT (event_id) DO NOTHING RETURNING event_id),"
      " sigin AS (SELECT f.ord, f.type AS name,"
      "   COALESCE(f.payload->'data'->'object', '{}'::jsonb) AS payload,"
      "   'webhook:' || f.event_id AS source FROM ev JOIN firsts f USING "
      "(event_id))," SIG_CORR_INSERT " SELECT f.ord, COALESCE(tc.n, 0)"
      "   FROM ev JOIN firsts f USING (event_id) LEFT JOIN tcount tc USING (ord) ORDER BY f.ord"),

    /* Operator statements (settlectl): filtered listings, reports, repairs. */
    Q(ADMIN_SESSION, ST_ADMIN_SQL_SESSION),
    Q(ADMIN_FIND, ST_ADMIN_SQL_FIND),
    Q(ADMIN_WAITING_PROGRAMS, ST_ADMIN_SQL_WAITING_PROGRAMS),
    Q(ADMIN_PROGRAM_RESOLVE, ST_ADMIN_SQL_PROGRAM_RESOLVE),
    Q(ADMIN_NODE_INFO, ST_ADMIN_SQL_NODE_INFO),
    Q(ADMIN_DB_NOW, ST_ADMIN_SQL_DB_NOW),
    Q(ADMIN_TASKS, ST_ADMIN_SQL_TASKS),
    Q(ADMIN_TIMELINE, ST_ADMIN_SQL_TIMELINE),
    Q(ADMIN_TASK_REPORT, ST_ADMIN_SQL_TASK_REPORT),
    Q(ADMIN_STUCK, ST_ADMIN_SQL_STUCK),
    Q(ADMIN_LIVE_STATES, ST_ADMIN_SQL_LIVE_STATES),
    Q(ADMIN_THROUGHPUT, ST_ADMIN_SQL_THROUGHPUT),
    Q(ADMIN_OLDEST_WAITING, ST_ADMIN_SQL_OLDEST_WAITING),
    Q(ADMIN_LIVE_NODES, ST_ADMIN_SQL_LIVE_NODES),
    Q(ADMIN_VERSIONS, ST_ADMIN_SQL_VERSIONS),
    Q(ADMIN_REPAIR, ST_ADMIN_SQL_REPAIR),

    /* $1 name $2 ttl_ms $3 identity $4 session tag|NULL. Every earlier row
     * of the identity that still looks alive is stopped in the same
     * statement (its process is proven gone by the caller's lock), so
     * LEASE_CLAIM takes its instances at once; the sessions that process
     * left running (a statement still executing, its row locks held) are
     * ended, only those of this role tagged with $4, never this one.
     * Returns (new id, rows stopped, sessions ended). */
    Q(NODE_REGISTER_FENCED,
      "WITH fenced AS ("
      "  UPDATE nodes SET stopped_at = clock_timestamp(),"
      "    lease_until = least(lease_until, clock_timestamp())"
      "   WHERE identity = $3 AND stopped_at IS NULL RETURNING id),"
      " gone AS ("
      "  SELECT pg_terminate_backend(a.pid) AS ended FROM pg_stat_activity a"
      "   WHERE $4::text IS NOT NULL AND a.application_name = $4::text"
      "     AND a.pid <> pg_backend_pid() AND a.usename = current_user)"
      " INSERT INTO nodes (name, lease_until, identity)"
      " VALUES ($1, clock_timestamp() + $2::int * interval '1 millisecond', $3)"
      " RETURNING id, (SELECT count(*) FROM fenced),"
      "   (SELECT count(*) FROM gone WHERE ended)"),
};
