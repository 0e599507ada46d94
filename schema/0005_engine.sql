-- 0005_engine.sql — what the executor needs beyond the data model.
--
-- * Notifications, delivered at commit so a node never reacts to a row it
--   cannot see yet: inserting instances NOTIFYs settle_work (a node claims
--   them at once instead of at its next poll); a signal that reaches an
--   instance — inserted for it, or a parked signal handed to it when its
--   correlation appears — NOTIFYs settle_signal with the instance id;
--   moving the virtual clock's target NOTIFYs settle_clock.
-- * settle_clock: the durable virtual clock (one row), see
--   engine/exec/st_exec_clock.c.

CREATE FUNCTION settle_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('settle_work', '');
  RETURN NULL;
END $$;

CREATE TRIGGER instances_notify_work AFTER INSERT ON instances
  FOR EACH STATEMENT EXECUTE FUNCTION settle_notify_work();

CREATE FUNCTION settle_notify_signal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.instance_id IS NOT NULL AND NEW.consumed_at IS NULL THEN
    PERFORM pg_notify('settle_signal', NEW.instance_id::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER signals_notify_insert AFTER INSERT ON signals
  FOR EACH ROW EXECUTE FUNCTION settle_notify_signal();

CREATE TRIGGER signals_notify_handover AFTER UPDATE OF instance_id ON signals
  FOR EACH ROW WHEN (OLD.instance_id IS NULL AND NEW.instance_id IS NOT NULL)
  EXECUTE FUNCTION settle_notify_signal();

CREATE TABLE settle_clock (
  id         boolean PRIMARY KEY DEFAULT true CHECK (id),
  now_us     bigint NOT NULL,       -- virtual time the nodes reached
  target_us  bigint NOT NULL,       -- virtual time asked for
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION settle_notify_clock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.target_us IS DISTINCT FROM OLD.target_us THEN
    PERFORM pg_notify('settle_clock', NEW.target_us::text);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER settle_clock_notify AFTER UPDATE ON settle_clock
  FOR EACH ROW EXECUTE FUNCTION settle_notify_clock();
