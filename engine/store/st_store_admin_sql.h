/*
 * st_store_admin_sql.h — SQL text of the operator statements (filtered
 * listings, reports, repairs), included by st_store_sql.c into the one
 * statement table (the ADMIN_* block at its end).
 *
 * Layer: store (internal). Depends on schema 0001..0009 (0008: count shards, 0009:
 * task_attempt_log).
 *
 * Invariants: every value is a parameter; "now" for the flows' logic is
 * the virtual clock when one ran (settle_clock), else the database clock;
 * lease checks use the database clock, as the engine does; the repair
 * statement writes only while seq, lease_epoch and owner_node are those
 * the caller read, and moves flow_counts in the same statement.
 */
#ifndef ST_STORE_ADMIN_SQL_H
#define ST_STORE_ADMIN_SQL_H

/* "now" on the flows' clock. */
#define ST_ADMIN_NOW "COALESCE((SELECT settle_ts(now_us) FROM settle_clock), now())"
/* A timestamptz as ISO 8601 UTC text, to the second. */
#define ST_ADMIN_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Operator connections plan each statement for its values (filters with
 * many optional terms): undo the engine's generic plans for this session. */
#define ST_ADMIN_SQL_SESSION "SELECT set_config('plan_cache_mode', 'auto', false)"

/* $1 flow $2 hash prefix $3 state $4 status $5 older_than_us $6 key
 * $7 "hash:state" pairs $8 after id $9 limit; NULL: no filter */
#define ST_ADMIN_SQL_FIND                                                            \
    "SELECT " ST_STORE_INSTANCE_COLS " FROM instances i"                             \
    " WHERE ($1::text IS NULL OR i.flow = $1::text)"                                 \
    "   AND ($2::text IS NULL OR left(i.program_hash, length($2::text)) = $2::text)" \
    "   AND ($3::text IS NULL OR i.state_name = $3::text)"                           \
    "   AND ($4::settle_status IS NULL OR i.status = $4::settle_status)"             \
    "   AND ($5::bigint IS NULL OR i.updated_at <= " ST_ADMIN_NOW                    \
    "        - $5::bigint * interval '1 microsecond')"                               \
    "   AND ($6::text IS NULL OR i.business_key = $6::text)"                         \
    "   AND ($7::text[] IS NULL OR (i.status = 'waiting'"                            \
    "        AND i.program_hash || ':' || i.state_name = ANY($7::text[])))"          \
    "   AND ($8::uuid IS NULL OR i.id > $8::uuid)"                                   \
    " ORDER BY i.id LIMIT $9::int"

/* $1 flow|NULL */
#define ST_ADMIN_SQL_WAITING_PROGRAMS                                      \
    "SELECT DISTINCT program_hash FROM instances WHERE status = 'waiting'" \
    " AND ($1::text IS NULL OR flow = $1::text) ORDER BY 1"

/* $1 prefix */
#define ST_ADMIN_SQL_PROGRAM_RESOLVE                                          \
    "SELECT hash, name FROM programs WHERE left(hash, length($1::text)) = $1" \
    " ORDER BY hash LIMIT 2"

/* $1 node */
#define ST_ADMIN_SQL_NODE_INFO                                                       \
    "SELECT name, stopped_at IS NULL AND lease_until > clock_timestamp() FROM nodes" \
    " WHERE id = $1"

#define ST_ADMIN_SQL_DB_NOW "SELECT settle_us(clock_timestamp())"

/* $1 instance */
#define ST_ADMIN_SQL_TASKS \
    "SELECT " ST_STORE_TASK_COLS " FROM tasks t WHERE t.instance_id = $1 ORDER BY t.id"

/* $1 instance. Columns: at, source, seq, a..f (see st_store_report_timeline). */
#define ST_ADMIN_SQL_TIMELINE                                                                      \
    "SELECT " ST_ADMIN_TS(                                                                         \
        "x.at") ", x.src, x.seq, x.a, x.b, x.c, x.d, x.e, x.f FROM ("                              \
                " SELECT h.at, h.seq AS k, 1 AS ord, 'history' AS src, h.seq, h.kind AS a,"        \
                "   h.from_state AS b, h.to_state AS c, h.actor AS d, h.detail::text AS e, "       \
                "NULL::text AS f"                                                                  \
                "  FROM history h WHERE h.instance_id = $1::uuid"                                  \
                " UNION ALL"                                                                       \
                " SELECT a.started_at, COALESCE((SELECT max(h.seq) FROM history h"                 \
                "   WHERE h.instance_id = $1::uuid AND h.kind = 'repair' AND h.detail->>'action' " \
                "= 'retry'"                                                                        \
                "     AND (h.detail->>'task')::bigint = t.id"                                      \
                "     AND a.attempt > (h.detail->>'attempts_before')::int),"                       \
                "   substring(t.idempotency_key from '_([0-9]+)$')::bigint, t.seq), 2,"            \
                "   'attempt', t.seq, t.activity, a.attempt || '/' || t.max_attempts,"             \
                "   a.outcome, a.code, a.error, (a.latency_us / 1000)::text"                       \
                "  FROM task_attempts a JOIN tasks t ON t.id = a.task_id WHERE t.instance_id = "   \
                "$1::uuid"                                                                         \
                " UNION ALL"                                                                       \
                " SELECT s.created_at, COALESCE(s.consumed_seq, 9223372036854775807), 0, "         \
                "'signal',"                                                                        \
                "   s.consumed_seq, s.name, s.source,"                                             \
                "   CASE WHEN s.consumed_at IS NULL THEN 'pending' ELSE 'consumed' END, NULL,"     \
                "   s.payload::text, NULL"                                                         \
                "  FROM signals s WHERE s.instance_id = $1::uuid) x ORDER BY x.k, x.ord, x.at"

/* $1 instance */
#define ST_ADMIN_SQL_TASK_REPORT                                               \
    "SELECT t.id, t.seq, t.state_name, t.activity, t.status::text, t.attempt," \
    "  t.max_attempts, t.idempotency_key, " ST_ADMIN_TS(                       \
        "t.not_before") ", t.outcome,"                                         \
                        "  t.last_error FROM tasks t WHERE t.instance_id = $1::uuid ORDER BY t.id"

/* $1 retrying_us $2 late_us $3 flow|NULL $4 limit.
 * Columns: order, kind, id, flow, state, status, age_us, a..f. */
#define ST_ADMIN_SQL_STUCK                                                                         \
    "WITH now_ AS (SELECT settle_us(" ST_ADMIN_NOW ") AS us),"                                     \
    " live_nodes AS (SELECT count(*) AS n FROM nodes"                                              \
    "  WHERE stopped_at IS NULL AND lease_until > clock_timestamp())"                              \
    " SELECT * FROM ("                                                                             \
    " SELECT 1 AS o, 'failed' AS kind, i.id, i.flow, i.state_name, i.status::text,"                \
    "   (SELECT us FROM now_) - settle_us(i.updated_at) AS age, i.wait_reason AS a,"               \
    "   t.activity AS b, t.status::text AS c, t.attempt::text AS d, la.code AS e,"                 \
    "   COALESCE(la.error, t.last_error) AS f"                                                     \
    "  FROM instances i"                                                                           \
    "  LEFT JOIN LATERAL (SELECT * FROM tasks t WHERE t.instance_id = i.id"                        \
    "    ORDER BY t.id DESC LIMIT 1) t ON true"                                                    \
    "  LEFT JOIN LATERAL (SELECT * FROM task_attempts a WHERE a.task_id = t.id"                    \
    "    ORDER BY a.attempt DESC LIMIT 1) la ON true"                                              \
    "  WHERE i.status = 'failed' AND ($3::text IS NULL OR i.flow = $3::text)"                      \
    " UNION ALL"                                                                                   \
    " SELECT 2, 'retrying', i.id, i.flow, i.state_name, i.status::text,"                           \
    "   (SELECT us FROM now_) - settle_us(fa.first), t.activity,"                                  \
    "   t.attempt || '/' || t.max_attempts, " ST_ADMIN_TS(                                         \
        "t.not_before") ", la.outcome,"                                                            \
                        "   la.code, COALESCE(t.last_error, la.error)"                             \
                        "  FROM instances i JOIN tasks t ON t.instance_id = i.id AND t.seq = "     \
                        "i.seq"                                                                    \
                        "   AND t.status IN ('pending', 'running')"                                \
                        "  JOIN LATERAL (SELECT min(started_at) AS first FROM task_attempts a"     \
                        "    WHERE a.task_id = t.id) fa ON fa.first IS NOT NULL"                   \
                        "  LEFT JOIN LATERAL (SELECT * FROM task_attempts a WHERE a.task_id = "    \
                        "t.id"                                                                     \
                        "    ORDER BY a.attempt DESC LIMIT 1) la ON true"                          \
                        "  WHERE i.status = 'running' AND ($3::text IS NULL OR i.flow = $3::text)" \
                        "    AND settle_us(fa.first) <= (SELECT us FROM now_) - $1::bigint"        \
                        " UNION ALL"                                                               \
                        " SELECT 3, 'late', i.id, i.flow, i.state_name, i.status::text,"           \
                        "   (SELECT us FROM now_) - settle_us(i.wake_at), " ST_ADMIN_TS(           \
                            "i.wake_at") ","                                                       \
                                         "   i.wait_reason, NULL, NULL, NULL, NULL"                \
                                         "  FROM instances i WHERE i.status = 'waiting' AND "      \
                                         "i.wake_at IS NOT NULL"                                   \
                                         "    AND ($3::text IS NULL OR i.flow = $3::text)"         \
                                         "    AND settle_us(i.wake_at) <= (SELECT us FROM now_) "  \
                                         "- $2::bigint"                                            \
                                         " UNION ALL"                                              \
                                         " SELECT 4, 'orphaned', i.id, i.flow, i.state_name, "     \
                                         "i.status::text,"                                         \
                                         "   settle_us(clock_timestamp()) - "                      \
                                         "settle_us(COALESCE(n.lease_until, i.updated_at)),"       \
                                         "   n.id::text, n.name, " ST_ADMIN_TS(                    \
                                             "n.lease_until") ","                                  \
                                                              "   (SELECT n FROM "                 \
                                                              "live_nodes)::text, NULL, NULL"      \
                                                              "  FROM instances i LEFT JOIN "      \
                                                              "nodes n ON n.id = i.owner_node"     \
                                                              "  WHERE i.status IN ('running', "   \
                                                              "'waiting') AND ($3::text IS NULL "  \
                                                              "OR i.flow = $3::text)"              \
                                                              "    AND ((n.id IS NOT NULL AND "    \
                                                              "(n.lease_until < clock_timestamp()" \
                                                              "          OR n.stopped_at IS NOT "  \
                                                              "NULL))"                             \
                                                              "      OR (SELECT n FROM "           \
                                                              "live_nodes) = 0)"                   \
                                                              " UNION ALL"                         \
                                                              " SELECT 5, 'old_version', i.id, "   \
                                                              "i.flow, i.state_name, "             \
                                                              "i.status::text,"                    \
                                                              "   (SELECT us FROM now_) - "        \
                                                              "settle_us(i.updated_at), "          \
                                                              "i.program_hash, f.current_hash,"    \
                                                              "   NULL, NULL, NULL, NULL"          \
                                                              "  FROM instances i JOIN flows f "   \
                                                              "ON f.name = i.flow"                 \
                                                              "  WHERE i.status IN ('running', "   \
                                                              "'waiting', 'suspended')"            \
                                                              "    AND i.program_hash <> "         \
                                                              "f.current_hash AND ($3::text IS "   \
                                                              "NULL OR i.flow = $3::text)"         \
                                                              " UNION ALL"                         \
                                                              " SELECT 6, 'suspended', i.id, "     \
                                                              "i.flow, i.state_name, "             \
                                                              "i.status::text,"                    \
                                                              "   (SELECT us FROM now_) - "        \
                                                              "settle_us(COALESCE((SELECT "        \
                                                              "max(h.at) FROM history h"           \
                                                              "     WHERE h.instance_id = i.id "   \
                                                              "AND h.kind = 'repair'"              \
                                                              "       AND h.detail->>'action' = "  \
                                                              "'suspend'), i.updated_at)), "       \
                                                              "i.wait_reason,"                     \
                                                              "   NULL, NULL, NULL, NULL, NULL"    \
                                                              "  FROM instances i WHERE i.status " \
                                                              "= 'suspended'"                      \
                                                              "    AND ($3::text IS NULL OR "      \
                                                              "i.flow = $3::text)) x"              \
                                                              " ORDER BY x.o, x.age DESC, x.id "   \
                                                              "LIMIT $4::int"

#define ST_ADMIN_SQL_LIVE_STATES                                     \
    "SELECT flow, state_name, status::text, count(*) FROM instances" \
    " WHERE status IN ('running', 'waiting', 'suspended', 'failed')" \
    " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"

/* $1 minutes */
#define ST_ADMIN_SQL_THROUGHPUT                                  \
    "SELECT count(*) FILTER (WHERE kind = 'start' AND seq = 0)," \
    " count(*) FILTER (WHERE kind <> 'repair' AND seq > 0),"     \
    " count(*) FILTER (WHERE kind = 'repair')"                   \
    " FROM history WHERE at > " ST_ADMIN_NOW " - $1::int * interval '1 minute'"

#define ST_ADMIN_SQL_OLDEST_WAITING                                          \
    "SELECT id, flow, state_name, " ST_ADMIN_TS(                             \
        "updated_at") ","                                                    \
                      " settle_us(" ST_ADMIN_NOW ") - settle_us(updated_at)" \
                      " FROM instances WHERE status = 'waiting' ORDER BY updated_at, id LIMIT 1"

#define ST_ADMIN_SQL_LIVE_NODES      \
    "SELECT id, name, " ST_ADMIN_TS( \
        "lease_until") " FROM nodes" \
                       " WHERE stopped_at IS NULL AND lease_until > clock_timestamp() ORDER BY id"

#define ST_ADMIN_SQL_VERSIONS                                                                    \
    "SELECT p.name, p.hash, " ST_ADMIN_TS(                                                       \
        "p.deployed_at") ", p.deployed_by,"                                                      \
                         "  COALESCE(f.current_hash = p.hash, false), p.retired_at IS NOT NULL," \
                         "  count(i.id) FILTER (WHERE i.status = 'running'),"                    \
                         "  count(i.id) FILTER (WHERE i.status = 'waiting'),"                    \
                         "  count(i.id) FILTER (WHERE i.status = 'suspended'),"                  \
                         "  count(i.id) FILTER (WHERE i.status = 'failed')"                      \
                         " FROM programs p LEFT JOIN flows f ON f.name = p.name"                 \
                         " LEFT JOIN instances i ON i.program_hash = p.hash"                     \
                         "  AND i.status IN ('running', 'waiting', 'suspended', 'failed')"       \
                         " GROUP BY p.name, p.hash, p.deployed_at, p.deployed_by, "              \
                         "f.current_hash, p.retired_at"                                          \
                         " ORDER BY p.name, p.deployed_at DESC, p.hash"

/*
 * One repair. $1 id $2 seq read $3 epoch read $4 owner read|NULL
 * $5 new seq $6 program_hash $7 state $8 state_name $9 status $10 vars
 * $11 wake_us|NULL $12 wait_reason $13 fence $14 actor $15 to_state
 * $16 detail $17 retry task|NULL $18 retry budget $19 reset running tasks
 * $20 signal name|NULL $21 signal payload|NULL $22 notify settle_work.
 * Returns one row (new epoch, signal id) when applied, none otherwise.
 */
#define ST_ADMIN_SQL_REPAIR                                                                     \
    "WITH locked AS ("                                                                          \
    "  SELECT i.id, i.flow, i.status AS old_status, i.state_name AS old_state"                  \
    "   FROM instances i WHERE i.id = $1::uuid AND i.seq = $2::bigint"                          \
    "     AND i.lease_epoch = $3::bigint AND i.owner_node IS NOT DISTINCT FROM $4::bigint"      \
    "   FOR NO KEY UPDATE),"                                                                    \
    " upd AS ("                                                                                 \
    "  UPDATE instances i SET seq = $5::bigint, program_hash = $6::text, state = $7::int,"      \
    "    state_name = $8::text, status = $9::settle_status, vars = $10::jsonb,"                 \
    "    wake_at = settle_ts($11::bigint), wait_reason = $12::text,"                            \
    "    owner_node = CASE WHEN $13::boolean THEN NULL ELSE i.owner_node END,"                  \
    "    lease_epoch = i.lease_epoch + CASE WHEN $13::boolean THEN 1 ELSE 0 END"                \
    "   FROM locked l WHERE i.id = l.id RETURNING i.lease_epoch),"                              \
    " sig AS ("                                                                                 \
    "  INSERT INTO signals (instance_id, name, payload, source)"                                \
    "  SELECT l.id, $20::text, COALESCE($21::jsonb, '{}'::jsonb), $14::text FROM locked l"      \
    "   WHERE $20::text IS NOT NULL RETURNING id),"                                             \
    " hist AS ("                                                                                \
    "  INSERT INTO history (instance_id, seq, at, kind, from_state, to_state, actor, detail)"   \
    "  SELECT l.id, $5::bigint, greatest(" ST_ADMIN_NOW ","                                     \
    "    (SELECT max(h.at) FROM history h WHERE h.instance_id = l.id AND h.seq = $5::bigint)"   \
    "     + interval '1 microsecond'), 'repair', l.old_state, $15::text, $14::text,"            \
    "    $16::jsonb || COALESCE((SELECT jsonb_build_object('signal_id', id) FROM sig),"         \
    "                           '{}'::jsonb)"                                                   \
    "   FROM locked l),"                                                                        \
    " kept AS ("                                                                                \
    "  INSERT INTO task_attempt_log (task_id, attempt, started_at, finished_at, outcome,"       \
    "    code, error, latency_us)"                                                              \
    "  SELECT t.id, t.attempt, t.final_started_at, t.final_finished_at, t.final_outcome,"       \
    "    t.final_code, t.final_error,"                                                          \
    "    settle_us(t.final_finished_at) - settle_us(t.final_started_at)"                        \
    "   FROM tasks t JOIN locked l ON t.instance_id = l.id"                                     \
    "   WHERE t.id = $17::bigint AND t.final_outcome IS NOT NULL ON CONFLICT DO NOTHING),"      \
    " retry AS ("                                                                               \
    "  UPDATE tasks t SET status = 'pending', seq = $5::bigint,"                                \
    "    max_attempts = t.attempt + $18::int, not_before = t.created_at, outcome = NULL,"       \
    "    result = NULL, updated_at = now(), final_started_at = NULL,"                           \
    "    final_finished_at = NULL, final_outcome = NULL, final_code = NULL, final_error = NULL" \
    "   FROM locked l WHERE t.id = $17::bigint AND t.instance_id = l.id),"                      \
    " reset AS ("                                                                               \
    "  UPDATE tasks t SET status = 'pending', updated_at = now()"                               \
    "   FROM locked l WHERE $19::boolean AND t.instance_id = l.id AND t.status = 'running'),"   \
    " cnt AS ("                                                                                 \
    "  INSERT INTO flow_counts (flow, status, shard, n)"                                        \
    "  SELECT flow, st, settle_count_shard(), d FROM ("                                         \
    "    SELECT l.flow, l.old_status AS st, -1 AS d FROM locked l"                              \
    "     WHERE l.old_status <> $9::settle_status"                                              \
    "    UNION ALL SELECT l.flow, $9::settle_status, 1 FROM locked l"                           \
    "     WHERE l.old_status <> $9::settle_status) x ORDER BY st"                               \
    "  ON CONFLICT (flow, status, shard) DO UPDATE SET n = flow_counts.n + excluded.n),"        \
    " note AS (SELECT pg_notify('settle_work', '') FROM locked WHERE $22::boolean)"             \
    " SELECT (SELECT lease_epoch FROM upd), (SELECT id FROM sig),"                              \
    "  (SELECT count(*) FROM note) FROM locked"

#endif
