-- 0007_cancel_requested.sql — remember that an instance's cancel path runs.
--
-- A CANCEL event moves an instance with a cancel path into that path and
-- marks it; a second CANCEL is then ignored. The mark lived only in memory,
-- so after a restart (or on another node) a second cancel entered the path
-- again, repeating its side effects under new idempotency keys. The mark is
-- now part of the instance row, written by the same checkpoint.

ALTER TABLE instances ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
ALTER TABLE instances_archive ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;

-- The archive's columns no longer line up with instances.* (the new column
-- follows archived_at there), so the copy names them.
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
    DELETE FROM task_attempts a USING gone_tasks g WHERE a.task_id = g.id),
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
