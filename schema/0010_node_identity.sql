-- 0010_node_identity.sql — a node that can prove it is the only live
-- process of its identity takes its own work back at once.
--
-- `settled run` holds an exclusive OS file lock named after its node
-- identity for as long as it runs. A process that gets the lock knows every
-- earlier process of that identity on its machine is gone, so at
-- registration it stops their rows that still look alive (their leases have
-- not lapsed yet) and LEASE_CLAIM, which counts stopped nodes as lapsed,
-- hands it their instances without waiting for the lease. The identity is
-- "<host name>/<node name>": the lock proves nothing about other machines.
-- Rows without an identity (library users, older binaries) are never
-- stopped this way.

ALTER TABLE nodes ADD COLUMN identity text;

-- Registration looks up the live rows of one identity.
CREATE INDEX nodes_identity_live ON nodes (identity)
  WHERE stopped_at IS NULL AND identity IS NOT NULL;
