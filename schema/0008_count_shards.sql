-- 0008_count_shards.sql — per-flow counters no longer serialise writers.
--
-- flow_counts held one row per (flow, status). Every start of a flow and
-- every checkpoint that changed an instance's status updated that row and
-- kept it locked until its commit, so all writers of one flow queued behind
-- each other (a start waited on the row lock far more often than on its
-- own fsync). The counters are now split into shards: a writer adds its
-- deltas to the shard of its own database session (settle_count_shard(),
-- from the backend's process id), so two sessions committing at once
-- almost never touch the same row, and a session only ever locks rows of
-- its own shard.
--
-- Counts stay exact: a count is the sum of its shards (readers use
-- sum(n) ... GROUP BY flow, status). Existing rows become shard 0. There
-- are at most 64 shards per (flow, status).

ALTER TABLE flow_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE flow_counts DROP CONSTRAINT flow_counts_pkey;
ALTER TABLE flow_counts ADD PRIMARY KEY (flow, status, shard);

-- The shard of the calling session: stable for its whole life, different
-- for sessions whose backends were started one after the other.
CREATE FUNCTION settle_count_shard() RETURNS smallint
  LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT (pg_backend_pid() % 64)::smallint $$;
