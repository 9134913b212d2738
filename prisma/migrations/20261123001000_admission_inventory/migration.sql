-- Admission inventory: every admission decision agents report, partitioned by day of
-- the event, plus rollups kept in the same transaction as the events so that reports
-- read only the rollups, and compressed, deduplicated object snapshots for simulation.

-- How long a tenant's admission events (and rollups, and unused snapshots) are kept.
ALTER TABLE tenants ADD COLUMN admission_retention_days integer NOT NULL DEFAULT 30
  CHECK (admission_retention_days BETWEEN 1 AND 400);

-- Raw events. No foreign keys: a batch of 500 would pay 1,000 look-ups for them, and
-- events outlive deleted clusters until retention removes them. Idempotency key:
-- (tenant, event id, event time) — a partitioned table's unique index must contain the
-- partition key, and an agent re-sends an event with the time it first recorded.
CREATE TABLE admission_events (
  tenant_id       uuid NOT NULL,
  occurred_at     timestamptz(3) NOT NULL,
  event_id        uuid NOT NULL,
  received_at     timestamptz(3) NOT NULL DEFAULT now(),
  cluster_id      uuid NOT NULL,
  cloud_scope_id  uuid NOT NULL,
  namespace       text NOT NULL,              -- '' for cluster-scoped objects
  kind            text NOT NULL,
  api_version     text NOT NULL,
  name            text NOT NULL,
  uid             text,
  request_uid     text,
  owner_kind      text NOT NULL,
  owner_name      text NOT NULL,
  operation       text NOT NULL,
  dry_run         boolean NOT NULL,
  decision        text NOT NULL CHECK (decision IN ('ALLOWED', 'AUDITED', 'DENIED', 'EXEMPTED')),
  bundle_revision integer,
  username        text NOT NULL,
  user_groups     text[] NOT NULL,
  images          text[] NOT NULL,
  -- what the inventory filters on, as prefixed terms in one GIN index:
  -- c:<cluster> n:<namespace> p:<policy> r:<rule> i:<image> w:<owner kind>/<owner name>
  terms           text[] NOT NULL,
  findings        jsonb NOT NULL,
  snapshot_hash   bytea,
  PRIMARY KEY (tenant_id, event_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX admission_events_listing_idx ON admission_events (tenant_id, occurred_at DESC, event_id DESC);
CREATE INDEX admission_events_terms_idx ON admission_events USING gin (terms);

-- Creates the daily partition holding `day` (UTC) unless it exists; safe to race.
CREATE FUNCTION admission_events_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'admission_events_p' || to_char(day, 'YYYYMMDD');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('admission_events_partitions'));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I PARTITION OF admission_events FOR VALUES FROM (%L) TO (%L)',
                 part, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  RETURN true;
END
$$;

-- Rollup keys compare byte-wise (COLLATE "C"): the upserts and group-bys of every
-- ingested batch compare them, and a locale-aware comparison costs several times more.
-- Rollup tables keep 30 % of each page free, so the counter updates of the upserts are
-- HOT (no new index entries).

-- Admission counts per hour. policy_id = '' is the admission itself (counted once),
-- rule_id = '' one policy's outcome on it, both set one rule's outcome. decision is the
-- event's decision on the admission row, and on policy and rule rows the outcome of
-- that policy's or rule's findings: DENIED (a Block finding no exemption covered),
-- AUDITED (an Audit finding no exemption covered), EXEMPTED (every finding exempted).
CREATE TABLE admission_rollups_hourly (
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  hour           timestamptz(3) NOT NULL,
  cluster_id     uuid NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  policy_id      text COLLATE "C" NOT NULL,
  rule_id        text COLLATE "C" NOT NULL,
  decision       text COLLATE "C" NOT NULL,
  cloud_scope_id uuid NOT NULL,
  admissions     bigint NOT NULL,
  PRIMARY KEY (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision)
) WITH (fillfactor = 70);
CREATE INDEX admission_rollups_hourly_policy_idx ON admission_rollups_hourly (tenant_id, policy_id, hour);

-- The policy and rule rows of the same, per workload (owner) and UTC day: distinct
-- workloads, per-workload breakdowns and last violations without reading events.
CREATE TABLE admission_workload_days (
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  policy_id      text COLLATE "C" NOT NULL,
  day            timestamptz(3) NOT NULL,
  cluster_id     uuid NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  owner_kind     text COLLATE "C" NOT NULL,
  owner_name     text COLLATE "C" NOT NULL,
  rule_id        text COLLATE "C" NOT NULL,
  decision       text COLLATE "C" NOT NULL,
  cloud_scope_id uuid NOT NULL,
  admissions     bigint NOT NULL,
  last_at        timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
) WITH (fillfactor = 70);

-- Evaluated objects, once per tenant and content (SHA-256 of canonical JSON), gzipped.
-- last_seen_day: the newest event day that refers to it, for retention.
CREATE TABLE admission_snapshots (
  tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  hash          bytea NOT NULL,
  kind          text NOT NULL,
  body          bytea NOT NULL,
  json_bytes    integer NOT NULL,
  created_at    timestamptz(3) NOT NULL DEFAULT now(),
  last_seen_day timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, hash)
);
CREATE INDEX admission_snapshots_last_seen_idx ON admission_snapshots (tenant_id, last_seen_day);

-- Which snapshot each workload was admitted with, per day: what simulation evaluates.
CREATE TABLE admission_snapshot_days (
  tenant_id      uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  day            timestamptz(3) NOT NULL,
  cluster_id     uuid NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  owner_kind     text COLLATE "C" NOT NULL,
  owner_name     text COLLATE "C" NOT NULL,
  snapshot_hash  bytea NOT NULL,
  cloud_scope_id uuid NOT NULL,
  admissions     bigint NOT NULL,
  last_at        timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash)
) WITH (fillfactor = 70);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['admission_events', 'admission_rollups_hourly', 'admission_workload_days', 'admission_snapshots', 'admission_snapshot_days']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO portcullis_app', t);
  END LOOP;
END
$$;
