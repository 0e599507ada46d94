-- 0006_hot_path.sql — make the rows a step rewrites cheap to rewrite.
--
-- Every durable step updates its instance row and finishes the task row the
-- previous step wrote. PostgreSQL can rewrite a row in place of its old
-- version (a HOT update: no new index entries, old version pruned within
-- the page) only when no indexed column changes and the page has room.
-- Before this migration neither held: instances_by_flow_state indexed the
-- state name and instances_finished the update time, both changed by every
-- step; tasks_ready's predicate read the task status. Each step therefore
-- paid about a dozen index insertions, plus the foreign-key checks of the
-- task and attempt rows. Now:
--
-- * instances keeps indexes only on columns a step does not change while
--   the instance keeps running (flow, owner, wake time, status predicates);
--   finished instances are found for archiving by id (UUIDv7, time
--   ordered) and filtered by update time;
-- * tasks loses tasks_ready: the engine never scans for due tasks (it
--   dispatches the task its checkpoint wrote and reloads a node's pending
--   tasks through its instances on recovery), so the status is unindexed;
-- * both tables leave 30% of each page free for in-page updates;
-- * task rows and attempt records no longer carry foreign keys: the
--   checkpoint writes a task only for an instance row it has just locked,
--   and attempts only for a task the engine holds; archiving deletes an
--   instance's tasks and attempts itself instead of relying on cascades.

DROP INDEX instances_by_flow_state;
CREATE INDEX instances_by_flow ON instances (flow)
  WHERE status IN ('running', 'waiting', 'suspended', 'failed');

DROP INDEX instances_finished;
CREATE INDEX instances_finished ON instances (id)
  WHERE status IN ('completed', 'cancelled');

DROP INDEX tasks_ready;

ALTER TABLE tasks DROP CONSTRAINT tasks_instance_id_fkey;
ALTER TABLE task_attempts DROP CONSTRAINT task_attempts_task_id_fkey;

ALTER TABLE instances SET (fillfactor = 70);
ALTER TABLE tasks SET (fillfactor = 70);

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
    INSERT INTO instances_archive SELECT m.*, now() FROM moved m RETURNING 1)
  SELECT count(*)::integer FROM archived
$$;
