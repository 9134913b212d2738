-- Rollup maintenance out of the ingest statement. The ingest statement appends each
-- batch's pre-aggregated rollup contributions to these staging tables, in the same
-- statement (and so the same transaction) as the events: a batch is counted exactly when
-- its events are stored. Appending to a heap without a unique index costs a fraction of
-- the upserts it replaces (which also serialised concurrent batches on shared rows).
-- admission_rollups_flush() folds staging into the rollups; under load one flush folds
-- many batches, so the rollups see one upsert per distinct key instead of one per batch.
--
-- No foreign key to tenants (a per-row check is what this avoids): the flush skips rows
-- of a tenant that no longer exists. Same columns as the rollups' keys and counters.

CREATE TABLE admission_rollup_staging_hourly (
  tenant_id      uuid NOT NULL,
  hour           timestamptz(3) NOT NULL,
  cluster_id     uuid NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  policy_id      text COLLATE "C" NOT NULL,
  rule_id        text COLLATE "C" NOT NULL,
  decision       text COLLATE "C" NOT NULL,
  cloud_scope_id uuid NOT NULL,
  admissions     bigint NOT NULL
);

CREATE TABLE admission_rollup_staging_workload_days (
  tenant_id      uuid NOT NULL,
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
  last_at        timestamptz(3) NOT NULL
);

CREATE TABLE admission_rollup_staging_snapshot_days (
  tenant_id      uuid NOT NULL,
  day            timestamptz(3) NOT NULL,
  cluster_id     uuid NOT NULL,
  namespace      text COLLATE "C" NOT NULL,
  owner_kind     text COLLATE "C" NOT NULL,
  owner_name     text COLLATE "C" NOT NULL,
  snapshot_hash  bytea NOT NULL,
  cloud_scope_id uuid NOT NULL,
  admissions     bigint NOT NULL,
  last_at        timestamptz(3) NOT NULL
);

-- Rows live for about a second: vacuum them often so the flush's scan stays short.
ALTER TABLE admission_rollup_staging_hourly SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 20000);
ALTER TABLE admission_rollup_staging_workload_days SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 20000);
ALTER TABLE admission_rollup_staging_snapshot_days SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000, autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 20000);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['admission_rollup_staging_hourly', 'admission_rollup_staging_workload_days', 'admission_rollup_staging_snapshot_days']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY tenant_isolation ON %I USING (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid) '
      'WITH CHECK (tenant_id = nullif(current_setting(''app.tenant_id'', true), '''')::uuid)', t);
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %I TO portcullis_app', t);
  END LOOP;
END
$$;

-- Folds staged contributions into the rollups: per table ONE statement that deletes the
-- staged rows and upserts their sums, so a crash (or an error) at any point either folds
-- a row exactly once or leaves it staged for the next flush; nothing is lost or counted
-- twice. Flushes run one at a time (a transaction-level advisory lock), so concurrent
-- flushers never wait on each other's rollup rows; keys are upserted in key order all the
-- same. wait = false: return -1 at once when another flush is running (it, or the next
-- one, folds what is staged); wait = true: wait for it, then fold what is left, so what
-- was committed before the call is in the rollups when it returns.
-- only_tenant: fold one tenant's rows (a report about to read them), NULL: every tenant.
-- Runs with the caller's rights: the API and worker call it as the owning role (platform
-- work across tenants, like retention).
CREATE FUNCTION admission_rollups_flush(only_tenant uuid, wait boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  folded integer := 0;
  n integer;
BEGIN
  IF wait THEN
    PERFORM pg_advisory_xact_lock(hashtext('admission_rollups_flush'));
  ELSIF NOT pg_try_advisory_xact_lock(hashtext('admission_rollups_flush')) THEN
    RETURN -1;
  END IF;

  WITH moved AS (
    DELETE FROM admission_rollup_staging_hourly WHERE only_tenant IS NULL OR tenant_id = only_tenant
    RETURNING *
  )
  INSERT INTO admission_rollups_hourly AS h (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, cloud_scope_id, admissions)
  SELECT m.tenant_id, m.hour, m.cluster_id, m.namespace, m.policy_id, m.rule_id, m.decision, (array_agg(m.cloud_scope_id))[1], sum(m.admissions)
  FROM moved m WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)
  GROUP BY m.tenant_id, m.hour, m.cluster_id, m.namespace, m.policy_id, m.rule_id, m.decision
  ORDER BY m.tenant_id, m.hour, m.cluster_id, m.namespace, m.policy_id, m.rule_id, m.decision
  ON CONFLICT (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision)
  DO UPDATE SET admissions = h.admissions + EXCLUDED.admissions;
  GET DIAGNOSTICS n = ROW_COUNT;
  folded := folded + n;

  WITH moved AS (
    DELETE FROM admission_rollup_staging_workload_days WHERE only_tenant IS NULL OR tenant_id = only_tenant
    RETURNING *
  )
  INSERT INTO admission_workload_days AS w (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
    cloud_scope_id, admissions, last_at)
  SELECT m.tenant_id, m.policy_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.rule_id, m.decision,
    (array_agg(m.cloud_scope_id))[1], sum(m.admissions), max(m.last_at)
  FROM moved m WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)
  GROUP BY m.tenant_id, m.policy_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.rule_id, m.decision
  ORDER BY m.tenant_id, m.policy_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.rule_id, m.decision
  ON CONFLICT (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
  DO UPDATE SET admissions = w.admissions + EXCLUDED.admissions, last_at = greatest(w.last_at, EXCLUDED.last_at);
  GET DIAGNOSTICS n = ROW_COUNT;
  folded := folded + n;

  WITH moved AS (
    DELETE FROM admission_rollup_staging_snapshot_days WHERE only_tenant IS NULL OR tenant_id = only_tenant
    RETURNING *
  )
  INSERT INTO admission_snapshot_days AS sd (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id,
    admissions, last_at)
  SELECT m.tenant_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.snapshot_hash, (array_agg(m.cloud_scope_id))[1],
    sum(m.admissions), max(m.last_at)
  FROM moved m WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = m.tenant_id)
  GROUP BY m.tenant_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.snapshot_hash
  ORDER BY m.tenant_id, m.day, m.cluster_id, m.namespace, m.owner_kind, m.owner_name, m.snapshot_hash
  ON CONFLICT (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash)
  DO UPDATE SET admissions = sd.admissions + EXCLUDED.admissions, last_at = greatest(sd.last_at, EXCLUDED.last_at);
  GET DIAGNOSTICS n = ROW_COUNT;
  folded := folded + n;

  RETURN folded;
END
$$;
