/*
 * st_http_sql.c — the SQL text of the flow API (see st_http_sql.h).
 *
 * Layer: http (internal). Depends on schema 0001_core and 0002_store.
 *
 * Invariants: reads see archived instances too (instances_archive holds
 * only finished ones); a signal is stored only for an instance that is not
 * finished, decided in the same statement that inserts it.
 */
#include "http/st_http_sql.h"

#define INST_COLS                                                                   \
    "id, flow, program_hash, state_name, status, vars, seq, wake_at, wait_reason, " \
    "business_key, created_at, updated_at"

#define SELECT_VIEW                                                                         \
    "SELECT i.id, i.flow, i.program_hash, i.state_name, i.status::text, i.vars::text,"      \
    " i.seq, settle_us(i.wake_at), i.wait_reason, i.business_key, settle_us(i.created_at)," \
    " settle_us(i.updated_at), t.activity, t.status::text, t.attempt, t.max_attempts,"      \
    " settle_us(t.not_before), t.last_error"

#define PENDING_TASK                                                                       \
    " LEFT JOIN LATERAL (SELECT activity, status, attempt, max_attempts, not_before,"      \
    " last_error FROM tasks WHERE instance_id = i.id AND status IN ('pending', 'running')" \
    " ORDER BY id DESC LIMIT 1) t ON true"

const char st_http_sql_get[] =
    SELECT_VIEW " FROM (SELECT " INST_COLS " FROM instances WHERE id = $1::uuid"
                " UNION ALL SELECT " INST_COLS " FROM instances_archive WHERE id = $1::uuid"
                " LIMIT 1) i" PENDING_TASK;

const char st_http_sql_list[] =
    SELECT_VIEW " FROM instances i" PENDING_TASK " WHERE ($1::text IS NULL OR i.flow = $1)"
                "   AND ($2::settle_status IS NULL OR i.status = $2::settle_status)"
                "   AND ($3::text IS NULL OR i.state_name = $3)"
                "   AND ($4::text IS NULL OR i.business_key = $4)"
                "   AND ($5::uuid IS NULL OR i.id < $5::uuid)"
                " ORDER BY i.id DESC LIMIT $6::integer";

const char st_http_sql_signal[] =
    "WITH i AS (SELECT id, status FROM instances WHERE id = $1::uuid"
    "           UNION ALL SELECT id, status FROM instances_archive WHERE id = $1::uuid LIMIT 1),"
    " s AS (INSERT INTO signals (instance_id, name, payload, source)"
    "       SELECT id, $2, $3::jsonb, $4 FROM i"
    "        WHERE status NOT IN ('completed', 'failed', 'cancelled') RETURNING id)"
    " SELECT i.status::text, s.id FROM i LEFT JOIN s ON true";

const char st_http_sql_flow_counts[] = "SELECT flow, status::text, n FROM flow_counts";
