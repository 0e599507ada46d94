-- 0009_step_rows.sql — fewer rows and index entries per step with an activity.
--
-- A step that ran an activity used to write, besides its checkpoint, an
-- attempt record of its own (a task_attempts row, its primary key entry and
-- a separate transaction on another connection), and each task row carried
-- three index entries. Measured with pg_waldump on bench_engine, that was
-- about a tenth of the WAL of a step and a whole statement per step. Now:
--
-- * the attempt whose result finishes a task (the usual case: a first
--   attempt that succeeded) is stored on the task row by the checkpoint
--   that takes the result (final_* columns); only attempts that did not
--   finish their task (transient failures retried later, results that
--   arrived for a flow that had moved on) go to task_attempt_log, the old
--   table under a new name;
-- * task_attempts is a view of both, with the columns it always had, so
--   every reader (settlectl, the timeline, reports) sees every attempt;
-- * tasks keep one index besides the primary key: (instance_id,
--   idempotency_key), unique. Keys are settle_<instance>_<seq>, so unique
--   per instance means unique; the same index serves reads by instance;
-- * tasks leave half of each page free, so that finishing a task (a row
--   rewritten once, larger than it was inserted) stays an in-page (HOT)
--   update more often and writes no index entries.

ALTER TABLE task_attempts RENAME TO task_attempt_log;
ALTER INDEX task_attempts_pkey RENAME TO task_attempt_log_pkey;

ALTER TABLE tasks
  ADD COLUMN final_started_at timestamptz,
  ADD COLUMN final_finished_at timestamptz,
  ADD COLUMN final_outcome text,
  ADD COLUMN final_code text,
  ADD COLUMN final_error text;

-- The attempt stored on a task row is attempt number tasks.attempt (the
-- checkpoint raises attempt to it). A record of the same attempt in the log
-- wins, so no attempt is ever listed twice.
CREATE VIEW task_attempts AS
  SELECT task_id, attempt, started_at, finished_at, outcome, code, error, latency_us
    FROM task_attempt_log
  UNION ALL
  SELECT t.id, t.attempt, t.final_started_at, t.final_finished_at, t.final_outcome, t.final_code,
         t.final_error,
         ((extract(epoch FROM t.final_finished_at) - extract(epoch FROM t.final_started_at))
           * 1000000)::bigint
    FROM tasks t
   WHERE t.final_outcome IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM task_attempt_log l
                      WHERE l.task_id = t.id AND l.attempt = t.attempt);

ALTER TABLE tasks DROP CONSTRAINT tasks_idempotency_key_key;
DROP INDEX tasks_by_instance;
CREATE UNIQUE INDEX tasks_by_instance ON tasks (instance_id, idempotency_key);
ALTER TABLE tasks SET (fillfactor = 50);

-- Archiving deletes attempts from the log (the view is not writable).
CREATE OR REPLACE FUNCTION settle_archive_instances(before timestamptz, lim integer) RETURNS integer
  LANGUAGE sql AS $$
  WITH victims AS (
    SELECT id FROM instances
     WHERE status IN ('completed', 'cancelled') AND updated_at < before
     ORDER BY id LIMIT lim
       FOR UPDATE SKIP LOCKED),
  moved AS (
    DELETE FROM instances i USING victims v WHERE i.id = v.id RETURNING i.*),
  gone_tasks AS (
    DELETE FROM tasks t USING victims v WHERE t.instance_id = v.id RETURNING t.id),
  gone_attempts AS (
    DELETE FROM task_attempt_log a USING gone_tasks g WHERE a.task_id = g.id),
  archived AS (
    INSERT INTO instances_archive (id, flow, program_hash, state, state_name, status, vars, seq,
      wake_at, wait_reason, business_key, owner_node, lease_epoch, created_at, updated_at,
      cancel_requested, archived_at)
    SELECT m.id, m.flow, m.program_hash, m.state, m.state_name, m.status, m.vars, m.seq,
      m.wake_at, m.wait_reason, m.business_key, m.owner_node, m.lease_epoch, m.created_at,
      m.updated_at, m.cancel_requested, now()
      FROM moved m RETURNING 1)
  SELECT count(*)::integer FROM archived
$$;
