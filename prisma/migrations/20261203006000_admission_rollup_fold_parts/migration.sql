-- The fold of staged rollup contributions runs as two statements at once, each folding its
-- own half of the staging rows, so a fold uses two of the server's cores: it is one
-- backend's serial work (tens of thousands of upserts under load), and what a report waits
-- for before it reads (RollupFlusher.flushTenant) and what ends each turn of the ingest
-- bench.
--
-- A staging row belongs to part hashtext(cluster || namespace) & 1. Every rollup row a
-- staging row adds to (hourly, workload month, snapshot day) has the row's cluster and
-- namespace in its key, so the two parts upsert disjoint sets of rows: they never wait on
-- each other's row locks and cannot deadlock. Each part has its own advisory lock
-- (admission_rollups_flush, part); the two-argument function below takes both, in order.

CREATE FUNCTION admission_rollup_part(cluster_id uuid, namespace text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashtext(cluster_id::text || '/' || namespace) & 1 $$;

-- Folds the staged rows of one part (0 or 1); otherwise as in 20261203004000.
CREATE FUNCTION admission_rollups_flush(only_tenant uuid, wait boolean, part integer) RETURNS integer
LANGUAGE plpgsql SET jit = off SET work_mem = '64MB' SET enable_sort = off AS $$
DECLARE
  folded integer;
BEGIN
  IF part IS NULL OR part NOT IN (0, 1) THEN
    RAISE EXCEPTION 'admission_rollups_flush: part is 0 or 1, not %', part;
  END IF;
  IF wait THEN
    PERFORM pg_advisory_xact_lock(hashtext('admission_rollups_flush'), part);
  ELSIF NOT pg_try_advisory_xact_lock(hashtext('admission_rollups_flush'), part) THEN
    RETURN -1;
  END IF;

  WITH moved AS (
    DELETE FROM admission_rollup_staging AS st
    WHERE (only_tenant IS NULL OR st.tenant_id = only_tenant) AND admission_rollup_part(st.cluster_id, st.namespace) = part
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
      (array_agg(cloud_scope_id))[1],
      -- one day, what nearly every group of a flush is: zeros before it, its total from it on
      CASE WHEN min(day) = max(day)
        THEN array_fill(0::bigint, ARRAY[extract(day FROM min(day) AT TIME ZONE 'UTC')::int - 1])
          || array_fill(sum(admissions)::bigint, ARRAY[32 - extract(day FROM min(day) AT TIME ZONE 'UTC')::int])
        ELSE admission_days_through(array_agg(extract(day FROM day AT TIME ZONE 'UTC')::int), array_agg(admissions::bigint))
      END,
      max(last_at)
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

-- Both parts, one after the other, in one transaction (the worker's fold, and any caller that
-- does not split): what it returned before, -1 when either part's lock was busy and `wait`
-- is false (a part it did fold stays folded: the caller only learns to try again).
CREATE OR REPLACE FUNCTION admission_rollups_flush(only_tenant uuid, wait boolean) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  first integer := admission_rollups_flush(only_tenant, wait, 0);
  second integer := admission_rollups_flush(only_tenant, wait, 1);
BEGIN
  IF first < 0 OR second < 0 THEN
    RETURN -1;
  END IF;
  RETURN first + second;
END
$$;
