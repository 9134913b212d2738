/**
 * One statement stores a whole batch: $1 tenant, $2 cluster, $3 cloud scope, $4-$26 the
 * events' columns, $27-$30 their rollup keys (by event index), $31-$35 new snapshots,
 * each a text array (unnest is cheaper than JSON record expansion; '' / -1 stand for null).
 * Only events the insert actually stored (not re-sends) reach the rollups. Rollup
 * rows are aggregated before the upsert (an upsert may touch a row once) and written
 * in key order, so concurrent batches lock shared rows in the same order.
 */
export const INGEST_SQL = `
WITH ev AS (
  SELECT i, id, t, ns, k, av, n, nullif(uid, '') AS uid, nullif(ru, '') AS ru, ok, "on", op, dr, d, nullif(br, -1) AS br, u,
         g::text[] AS g, im::text[] AS im, tm::text[] AS tm, f::jsonb AS f, nullif(h, '') AS h, hr, dy
  FROM unnest($4::text[]::int[], $5::text[]::uuid[], $6::text[]::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
              $12::text[], $13::text[], $14::text[], $15::text[], $16::text[]::boolean[], $17::text[], $18::text[]::int[], $19::text[], $20::text[],
              $21::text[], $22::text[], $23::text[], $24::text[], $25::text[]::timestamptz[], $26::text[]::timestamptz[])
       AS e(i, id, t, ns, k, av, n, uid, ru, ok, "on", op, dr, d, br, u, g, im, tm, f, h, hr, dy)
),
ins AS (
  INSERT INTO admission_events (tenant_id, occurred_at, event_id, cluster_id, cloud_scope_id, namespace, kind, api_version, name,
    uid, request_uid, owner_kind, owner_name, operation, dry_run, decision, bundle_revision, username, user_groups, images, terms,
    findings, snapshot_hash)
  SELECT $1::uuid, t, id, $2::uuid, $3::uuid, ns, k, av, n, uid, ru, ok, "on", op, dr, d, br, u, g, im, tm, f, decode(h, 'hex') FROM ev
  ON CONFLICT DO NOTHING
  RETURNING event_id, occurred_at
),
fresh AS (
  SELECT ev.* FROM ev JOIN ins ON ins.event_id = ev.id AND ins.occurred_at = ev.t
),
contrib AS (
  SELECT fresh.hr, fresh.dy, fresh.t, fresh.ns, fresh.ok, fresh."on", x.p, x.r, x.d
  FROM unnest($27::text[]::int[], $28::text[], $29::text[], $30::text[]) AS x(i, p, r, d) JOIN fresh ON fresh.i = x.i
),
hourly AS (
  INSERT INTO admission_rollups_hourly AS h (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, cloud_scope_id, admissions)
  SELECT $1::uuid, hr, $2::uuid, ns, p, r, d, $3::uuid, count(*) FROM contrib
  GROUP BY hr, ns, p, r, d ORDER BY hr, ns, p, r, d
  ON CONFLICT (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision)
  DO UPDATE SET admissions = h.admissions + EXCLUDED.admissions
),
workloads AS (
  INSERT INTO admission_workload_days AS w (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
    cloud_scope_id, admissions, last_at)
  SELECT $1::uuid, p, dy, $2::uuid, ns, ok, "on", r, d, $3::uuid, count(*), max(t) FROM contrib WHERE p <> ''
  GROUP BY p, dy, ns, ok, "on", r, d ORDER BY p, dy, ns, ok, "on", r, d
  ON CONFLICT (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision)
  DO UPDATE SET admissions = w.admissions + EXCLUDED.admissions, last_at = greatest(w.last_at, EXCLUDED.last_at)
),
snapshots AS (
  INSERT INTO admission_snapshots AS s (tenant_id, hash, kind, body, json_bytes, last_seen_day)
  SELECT $1::uuid, decode(x.h, 'hex'), x.k, decode(x.b, 'base64'), x.n, x.dy
  FROM unnest($31::text[], $32::text[], $33::text[], $34::text[]::int[], $35::text[]::timestamptz[]) AS x(h, k, b, n, dy)
  ORDER BY x.h
  ON CONFLICT (tenant_id, hash) DO UPDATE SET last_seen_day = EXCLUDED.last_seen_day WHERE s.last_seen_day < EXCLUDED.last_seen_day
),
snapshot_days AS (
  INSERT INTO admission_snapshot_days AS sd (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id,
    admissions, last_at)
  SELECT $1::uuid, dy, $2::uuid, ns, ok, "on", decode(h, 'hex'), $3::uuid, count(*), max(t) FROM fresh WHERE h IS NOT NULL
  GROUP BY dy, ns, ok, "on", h ORDER BY dy, ns, ok, "on", h
  ON CONFLICT (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash)
  DO UPDATE SET admissions = sd.admissions + EXCLUDED.admissions, last_at = greatest(sd.last_at, EXCLUDED.last_at)
)
SELECT count(*)::int AS inserted FROM ins`;
