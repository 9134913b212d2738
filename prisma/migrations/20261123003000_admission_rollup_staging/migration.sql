-- Rollup maintenance out of the ingest statement. The ingest statement appends each
-- batch's rollup contributions to admission_rollup_staging, in the same statement (and so
-- the same transaction) as the events: a batch is counted exactly when its events are
-- stored. Appending to a heap without indexes costs a fraction of the upserts it replaces
-- (which also made concurrent batches wait on each other's rollup rows).
-- admission_rollups_flush() folds staging into the three rollup tables; under load one
-- flush folds many batches, so the rollups see one upsert per distinct key and flush
-- instead of one per key and batch.
--
-- One staging row per batch and (hour, namespace, workload, snapshot, rollup keys), so
-- replicas of a workload admitted alike share a row. keys: the event's rollup rows as
-- 'DECISION:rule:policy' ('' rule = the policy's outcome, '' policy and rule = the
-- admission itself; the policy id comes last, so it may hold any character).
-- No foreign key to tenants (a per-row check is what this avoids): the flush skips rows
-- of a tenant that no longer exists.
CREATE TABLE admission_rollup_staging (
  tenant_id      uuid NOT NULL,
  cluster_id     uuid NOT NULL,
  cloud_scope_id uuid NOT NULL,
  hour           timestamptz(3) NOT NULL,
  day            timestamptz(3) NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  owner_kind     text COLLATE "C" NOT NULL,
  owner_name     text COLLATE "C" NOT NULL,
  snapshot_hash  bytea,
  keys           text[] COLLATE "C" NOT NULL,
  admissions     bigint NOT NULL,
  last_at        timestamptz(3) NOT NULL
);

ALTER TABLE admission_rollup_staging ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admission_rollup_staging
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, DELETE ON admission_rollup_staging TO portcullis_app;

-- Folds staged contributions into the rollups: ONE statement deletes the staged rows and
-- upserts their sums into the three rollups, so a crash (or an error) at any point either
-- folds a row exactly once or leaves it staged for the next flush; nothing is lost or
-- counted twice. Flushes run one at a time (a transaction-level advisory lock), so
-- concurrent flushers never wait on (or deadlock over) each other's rollup rows, and the
-- sums are hash-aggregated in no particular order (sorting tens of thousands of rows on
-- nine-column keys cost more than the upserts). wait = false: return -1 at once when another flush is running (it,
-- or the next one, folds what is staged); wait = true: wait for it, then fold what is
-- left, so what was committed before the call is in the rollups when it returns.
-- only_tenant: fold one tenant's rows (a report about to read them); NULL: every tenant.
-- Returns the staged rows folded. Runs with the caller's rights: the API and the worker
-- call it as the owning role (platform work across tenants, like retention).
-- jit = off: the planner's row estimates for a table that is mostly dead rows between
-- vacuums are wild, and compiling costs more than the flush; work_mem: a flush under load
-- sorts tens of thousands of rows, which must not spill to disk.
CREATE FUNCTION admission_rollups_flush(only_tenant uuid, wait boolean) RETURNS integer
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' SET enable_sort = off AS $$
DECLARE
  folded integer;
BEGIN
  IF wait THEN
    PERFORM pg_advisory_xact_lock(hashtext('admission_rollups_flush'));
  ELSIF NOT pg_try_advisory_xact_lock(hashtext('admission_rollups_flush')) THEN
    RETURN -1;
  END IF;

  WITH moved AS (
    DELETE FROM admission_rollup_staging WHERE only_tenant IS NULL OR tenant_id = only_tenant
    RETURNING *
  ),
  -- the same workload admitted alike in many batches: one row, before the keys are unnested
  grouped AS (
    SELECT tenant_id, cluster_id, hour, day, namespace, owner_kind, owner_name, keys,
      (array_agg(cloud_scope_id))[1] AS cloud_scope_id, sum(admissions) AS admissions, max(last_at) AS last_at
    FROM moved
    GROUP BY tenant_id, cluster_id, hour, day, namespace, owner_kind, owner_name, keys
  ),
  keyed AS (
    SELECT g.tenant_id, g.cluster_id, g.cloud_scope_id, g.hour, g.day, g.namespace, g.owner_kind, g.owner_name, g.admissions, g.last_at,
      split_part(k, ':', 1) AS decision, split_part(k, ':', 2) AS rule_id,
      substr(k, length(split_part(k, ':', 1)) + length(split_part(k, ':', 2)) + 3) AS policy_id
    FROM grouped g, unnest(g.keys) AS k
    WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = g.tenant_id)
  ),
  hourly AS (
    INSERT INTO admission_rollups_hourly AS h (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, cloud_scope_id, admissions)
    SELECT tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, (array_agg(cloud_scope_id))[1], sum(admissions)
    FROM keyed
    GROUP BY tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision
    ON CONFLICT (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision)
    DO UPDATE SET admissions = h.admissions + EXCLUDED.admissions
  ),
  workloads AS (
    INSERT INTO admission_workload_days AS w (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
      cloud_scope_id, admissions, last_at)
    SELECT tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
      (array_agg(cloud_scope_id))[1], sum(admissions), max(last_at)
    FROM keyed WHERE policy_id <> ''
    GROUP BY tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision
    ON CONFLICT (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
    DO UPDATE SET admissions = w.admissions + EXCLUDED.admissions, last_at = greatest(w.last_at, EXCLUDED.last_at)
  ),
  snapshot_days AS (
    INSERT INTO admission_snapshot_days AS sd (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id,
      admissions, last_at)
    SELECT tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, (array_agg(cloud_scope_id))[1], sum(admissions), max(last_at)
    FROM moved m WHERE snapshot_hash IS NOT NULL AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)
    GROUP BY tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash
    ON CONFLICT (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash)
    DO UPDATE SET admissions = sd.admissions + EXCLUDED.admissions, last_at = greatest(sd.last_at, EXCLUDED.last_at)
  )
  SELECT count(*) INTO folded FROM moved;
  RETURN folded;
END
$$;

-- Concurrent first batches of a new day raced in admission_events_ensure_partition: an
-- advisory lock does not make the waiting session re-read the catalog, so its second
-- to_regclass could miss the table the first one had just created, and its CREATE failed
-- (42P07, a 500 for that upload). A table that exists by then is what the caller wanted.
CREATE OR REPLACE FUNCTION admission_events_ensure_partition(day date) RETURNS boolean
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
EXCEPTION WHEN duplicate_table THEN
  RETURN false;
END
$$;
