-- 0001_core.sql — the durable data model of settle.
--
-- Invariants:
--   * programs rows are immutable; a Program is identified by the SHA-256 of
--     its protobuf bytes (hex), and instances pin the hash they started on.
--   * an instance row has constant size however long the flow lives: the
--     timeline goes to history (append-only, partitioned by time), side
--     effects to tasks, inputs to signals.
--   * every transition bumps instances.seq; writers update
--     "WHERE id = $1 AND seq = $2 AND lease_epoch = $3", so a stale writer
--     (a paused node, a duplicate delivery) changes nothing.
--   * a waiting instance has at most one wake time: the durable timer is
--     instances.wake_at itself.

CREATE TYPE settle_status AS ENUM
  ('running', 'waiting', 'completed', 'failed', 'cancelled', 'suspended');

CREATE TYPE settle_task_status AS ENUM
  ('pending', 'running', 'done', 'failed', 'cancelled');

CREATE TABLE programs (
  hash           text PRIMARY KEY CHECK (hash ~ '^[0-9a-f]{64}$'),
  name           text NOT NULL,
  format_version integer NOT NULL,
  source_name    text NOT NULL,
  source         text NOT NULL,
  program        bytea NOT NULL,
  deployed_at    timestamptz NOT NULL DEFAULT now(),
  deployed_by    text NOT NULL DEFAULT current_user,
  retired_at     timestamptz            -- set when an operator undeploys it
);
CREATE INDEX programs_by_name ON programs (name, deployed_at DESC);

-- The version new instances of a flow start on.
CREATE TABLE flows (
  name         text PRIMARY KEY,
  current_hash text NOT NULL REFERENCES programs (hash),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Nodes (settled processes). A node renews its lease with one statement per
-- interval; instances point at their owner node, so renewal never touches
-- instance rows. A node that restarts registers anew.
CREATE TABLE nodes (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,             -- host:pid, for operators
  started_at  timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz NOT NULL,
  stopped_at  timestamptz                -- set on graceful shutdown
);

CREATE TABLE instances (
  id           uuid PRIMARY KEY,          -- UUIDv7: time-ordered
  flow         text NOT NULL,
  program_hash text NOT NULL REFERENCES programs (hash),
  state        integer NOT NULL,          -- index into Program.states
  state_name   text NOT NULL,             -- for operators and filters
  status       settle_status NOT NULL,
  vars         jsonb NOT NULL,
  seq          bigint NOT NULL DEFAULT 0, -- transitions committed so far
  wake_at      timestamptz,               -- durable timer while waiting
  wait_reason  text,                      -- why it waits / failed, one line
  business_key text,                      -- optional idempotent start key
  owner_node   bigint REFERENCES nodes (id) ON DELETE SET NULL,
  lease_epoch  bigint NOT NULL DEFAULT 0, -- bumped on every claim
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX instances_business_key ON instances (flow, business_key)
  WHERE business_key IS NOT NULL;
CREATE INDEX instances_wake ON instances (wake_at)
  WHERE status = 'waiting' AND wake_at IS NOT NULL;
CREATE INDEX instances_live ON instances (owner_node)
  WHERE status IN ('running', 'waiting');
CREATE INDEX instances_by_flow_state ON instances (flow, state_name)
  WHERE status IN ('running', 'waiting', 'suspended', 'failed');

-- Counts operators need, kept by the engine in the same transaction as the
-- status change, so no COUNT(*) over instances is ever needed.
CREATE TABLE flow_counts (
  flow   text NOT NULL,
  status settle_status NOT NULL,
  n      bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (flow, status)
);

-- Append-only timeline. Partitioned by time so retention drops partitions
-- instead of deleting rows; the default partition catches anything outside
-- the ranges the engine has created.
CREATE TABLE history (
  instance_id uuid NOT NULL,
  seq         bigint NOT NULL,
  at          timestamptz NOT NULL,
  kind        text NOT NULL,              -- start, transition, activity, signal, timer, repair, ...
  from_state  text,
  to_state    text,
  actor       text,                       -- who caused it: node, api, settlectl user
  detail      jsonb,
  PRIMARY KEY (instance_id, seq, at)
) PARTITION BY RANGE (at);
CREATE TABLE history_default PARTITION OF history DEFAULT;

-- Outbox of side effects, written in the transition that asked for them.
CREATE TABLE tasks (
  id              bigserial PRIMARY KEY,
  instance_id     uuid NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
  seq             bigint NOT NULL,        -- the instance seq that created it
  state_name      text NOT NULL,
  activity        text NOT NULL,
  args            jsonb NOT NULL,
  idempotency_key text NOT NULL UNIQUE,   -- settle_<instance>_<seq>
  status          settle_task_status NOT NULL DEFAULT 'pending',
  attempt         integer NOT NULL DEFAULT 0,
  max_attempts    integer NOT NULL CHECK (max_attempts >= 1),
  timeout_ms      integer NOT NULL CHECK (timeout_ms > 0),
  not_before      timestamptz NOT NULL,
  outcome         text,
  result          jsonb,
  last_error      text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX tasks_ready ON tasks (not_before) WHERE status = 'pending';
CREATE INDEX tasks_by_instance ON tasks (instance_id, seq);

-- Every attempt of every task, for the admin tool and metrics.
CREATE TABLE task_attempts (
  task_id     bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  outcome     text NOT NULL,             -- succeeded, declined, transient, failed, ...
  code        text,                      -- decline code / error code
  error       text,                      -- redacted message
  latency_us  bigint NOT NULL,
  PRIMARY KEY (task_id, attempt)
);

-- Inbox: signals from the API, webhooks and operators. A signal addressed
-- by correlation key is resolved to an instance when it is consumed.
CREATE TABLE signals (
  id            bigserial PRIMARY KEY,
  instance_id   uuid REFERENCES instances (id) ON DELETE CASCADE,
  name          text NOT NULL,
  payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
  source        text NOT NULL,             -- api, webhook:<event id>, settlectl
  created_at    timestamptz NOT NULL DEFAULT now(),
  consumed_at   timestamptz,
  consumed_seq  bigint
);
CREATE INDEX signals_pending ON signals (instance_id, id) WHERE consumed_at IS NULL;

-- Correlation keys flows declare (payment_intent, invoice, customer, ...):
-- a webhook about object <key, value> wakes these instances.
CREATE TABLE correlations (
  key         text NOT NULL,
  value       text NOT NULL,
  instance_id uuid NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
  PRIMARY KEY (key, value, instance_id)
);
CREATE INDEX correlations_by_instance ON correlations (instance_id);

-- Stripe webhook events; the event id de-duplicates redelivery.
CREATE TABLE webhook_events (
  event_id     text PRIMARY KEY,
  type         text NOT NULL,
  payload      jsonb NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE INDEX webhook_events_unprocessed ON webhook_events (received_at)
  WHERE processed_at IS NULL;
