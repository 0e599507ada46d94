-- 0002_store.sql — helpers the store module (engine/store) relies on.
--
-- * settle_ts / settle_us convert between timestamptz and int64 microseconds
--   since the Unix epoch, the only time representation the C code uses.
-- * History partitions are daily ranges named history_pYYYYMMDD (UTC days).
--   settle_history_ensure creates them ahead of time (moving any rows the
--   default partition already holds for that day), settle_history_drop_before
--   drops whole partitions whose range ends at or before a cutoff: retention
--   never deletes rows one by one.
-- * instances_archive holds completed and cancelled instances moved out of
--   the hot table by settle_archive_instances. flow_counts is unchanged by
--   archiving: it counts instances by their (final) status wherever they live.

CREATE FUNCTION settle_ts(us bigint) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT to_timestamp(0) + us * interval '1 microsecond' $$;

CREATE FUNCTION settle_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

CREATE FUNCTION settle_history_ensure(first_day date, days integer) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  d    date;
  part text;
  lo   timestamptz;
  hi   timestamptz;
  made integer := 0;
BEGIN
  FOR i IN 0 .. days - 1 LOOP
    d := first_day + i;
    part := 'history_p' || to_char(d, 'YYYYMMDD');
    CONTINUE WHEN to_regclass(part) IS NOT NULL;
    lo := d::timestamp AT TIME ZONE 'UTC';
    hi := (d + 1)::timestamp AT TIME ZONE 'UTC';
    EXECUTE format('CREATE TABLE %I (LIKE history INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('WITH moved AS (DELETE FROM history_default WHERE at >= %L AND at < %L '
                   'RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE history ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    made := made + 1;
  END LOOP;
  RETURN made;
END $$;

CREATE FUNCTION settle_history_drop_before(cutoff timestamptz) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  r       record;
  hi      timestamptz;
  dropped integer := 0;
BEGIN
  FOR r IN SELECT c.relname
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'history'::regclass
              AND c.relname ~ '^history_p[0-9]{8}$'
            ORDER BY c.relname LOOP
    hi := (to_date(substr(r.relname, 10), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC';
    IF hi <= cutoff THEN
      EXECUTE format('DROP TABLE %I', r.relname);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  RETURN dropped;
END $$;

CREATE TABLE instances_archive (
  LIKE instances INCLUDING DEFAULTS,
  archived_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (id)
);

CREATE INDEX instances_finished ON instances (updated_at)
  WHERE status IN ('completed', 'cancelled');

CREATE FUNCTION settle_archive_instances(before timestamptz, lim integer) RETURNS integer
  LANGUAGE sql AS $$
  WITH victims AS (
    SELECT id FROM instances
     WHERE status IN ('completed', 'cancelled') AND updated_at < before
     ORDER BY updated_at LIMIT lim
       FOR UPDATE SKIP LOCKED),
  moved AS (
    DELETE FROM instances i USING victims v WHERE i.id = v.id RETURNING i.*),
  archived AS (
    INSERT INTO instances_archive SELECT m.*, now() FROM moved m RETURNING 1)
  SELECT count(*)::integer FROM archived
$$;
