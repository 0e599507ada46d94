-- 0011_notify_unowned.sql — wake the nodes only for work nobody owns.
--
-- Every insert into instances used to send NOTIFY settle_work, and every
-- node answers one with a claim round. A node's own API starts are written
-- already owned by it and handed to its executor in the same process, so
-- those notifications only cost claim rounds that find nothing: about 135
-- a second while 3,600 starts a second arrived in batches. The statement
-- trigger now looks at the rows the statement inserted and notifies only
-- when one of them has no owner (a start by `settled start`, by another
-- process, or by a node that is not serving).

CREATE OR REPLACE FUNCTION settle_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM settle_inserted WHERE owner_node IS NULL) THEN
    PERFORM pg_notify('settle_work', '');
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER instances_notify_work ON instances;
CREATE TRIGGER instances_notify_work AFTER INSERT ON instances
  REFERENCING NEW TABLE AS settle_inserted
  FOR EACH STATEMENT EXECUTE FUNCTION settle_notify_work();
