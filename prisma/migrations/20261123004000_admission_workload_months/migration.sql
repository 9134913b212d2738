-- The per-workload rollup by month instead of by day. An audit-to-deny report over 30 days
-- read ~30 rows per workload and rule (117,000 rows at 2,000 workloads) and PostgreSQL spent
-- most of the report hashing them on nine-column keys. A month row keeps its days in an
-- array of running totals: admissions_through[d] = admissions on days 1..d of the month
-- (31 elements; days a short month lacks repeat its last total). The admissions of any
-- run of days is then two subscripts (through[hi] - through[lo - 1]) and the admissions
-- of one day the difference of neighbours, so a 30-day window reads at most 2 rows per
-- workload and rule (4 for 90 days).
CREATE TABLE admission_workload_months (
  tenant_id          uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  policy_id          text COLLATE "C" NOT NULL,
  month              timestamptz(3) NOT NULL,
  cluster_id         uuid NOT NULL,
  namespace          text COLLATE "C" NOT NULL,
  owner_kind         text COLLATE "C" NOT NULL,
  owner_name         text COLLATE "C" NOT NULL,
  rule_id            text COLLATE "C" NOT NULL,
  decision           text COLLATE "C" NOT NULL,
  cloud_scope_id     uuid NOT NULL,
  admissions_through bigint[] NOT NULL CHECK (cardinality(admissions_through) = 31),
  last_at            timestamptz(3) NOT NULL,
  PRIMARY KEY (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
) WITH (fillfactor = 70);

ALTER TABLE admission_workload_months ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON admission_workload_months
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON admission_workload_months TO portcullis_app;

-- Running totals (31 elements) of `counts` admitted on days of the month `days` (1-31;
-- a day may repeat).
CREATE FUNCTION admission_days_through(days int[], counts bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  per_day bigint[] := array_fill(0::bigint, ARRAY[31]);
  through bigint[] := array_fill(0::bigint, ARRAY[31]);
  total bigint := 0;
  i int;
BEGIN
  IF cardinality(days) <> cardinality(counts) THEN
    RAISE EXCEPTION 'admission_days_through: % days but % counts', cardinality(days), cardinality(counts);
  END IF;
  FOR i IN 1 .. cardinality(days) LOOP
    IF days[i] NOT BETWEEN 1 AND 31 THEN
      RAISE EXCEPTION 'admission_days_through: day % is not a day of a month', days[i];
    END IF;
    per_day[days[i]] := per_day[days[i]] + counts[i];
  END LOOP;
  FOR i IN 1 .. 31 LOOP
    total := total + per_day[i];
    through[i] := total;
  END LOOP;
  RETURN through;
END
$$;

-- Element-wise sum of two running-total arrays (the running totals of the summed days).
CREATE FUNCTION admission_days_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

-- The running totals without days 1..d (retention): those days count 0, later days lose
-- what the dropped days had added.
CREATE FUNCTION admission_days_drop_through(a bigint[], d int) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT array_agg(CASE WHEN i <= d THEN 0 ELSE x - a[d] END ORDER BY i) FROM unnest(a) WITH ORDINALITY AS u(x, i)
$$;

-- The rows the per-day table holds, as month rows.
INSERT INTO admission_workload_months (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
  cloud_scope_id, admissions_through, last_at)
SELECT tenant_id, policy_id, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
  (array_agg(cloud_scope_id))[1], admission_days_through(array_agg(extract(day FROM day AT TIME ZONE 'UTC')::int), array_agg(admissions)), max(last_at)
FROM admission_workload_days
GROUP BY tenant_id, policy_id, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, rule_id, decision;

-- The flush as before (see 20261123003000), with the per-workload rows folded by month.
CREATE OR REPLACE FUNCTION admission_rollups_flush(only_tenant uuid, wait boolean) RETURNS integer
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
    INSERT INTO admission_workload_months AS w (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
      cloud_scope_id, admissions_through, last_at)
    SELECT tenant_id, policy_id, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
      (array_agg(cloud_scope_id))[1], admission_days_through(array_agg(extract(day FROM day AT TIME ZONE 'UTC')::int), array_agg(admissions::bigint)), max(last_at)
    FROM keyed WHERE policy_id <> ''
    GROUP BY tenant_id, policy_id, date_trunc('month', day, 'UTC'), cluster_id, namespace, owner_kind, owner_name, rule_id, decision
    ON CONFLICT (tenant_id, policy_id, month, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
    DO UPDATE SET admissions_through = admission_days_add(w.admissions_through, EXCLUDED.admissions_through), last_at = greatest(w.last_at, EXCLUDED.last_at)
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

DROP TABLE admission_workload_days;
