/**
 * One statement stores a whole batch: $1 tenant, $2 cluster, $3 cloud scope, then three
 * JSON texts (arrays of row objects with short keys): $4 the events, $5 their rollup keys
 * (by event index), $6 the new snapshots. JSON costs the API one native JSON.stringify per
 * batch, where ~35 text arrays cost pg's per-element escaping (the API's CPU is the ingest
 * bottleneck, not PostgreSQL); json_to_recordset turns JSON arrays into text[] and keeps
 * the findings as jsonb. Null stands for absent.
 * Only events the insert actually stored (not re-sends) reach the rollups: their
 * contributions, aggregated per batch, are appended to the staging tables in this same
 * statement (so a batch counts exactly when its events are stored), and
 * admission_rollups_flush() folds them into the rollups shortly after (RollupFlusher).
 * Appending takes no row locks, so concurrent batches no longer wait on shared rollup rows.
 */
/** Prepared-statement name of INGEST_SQL; change it with the text (a connection keeps a name's first text). */
export const INGEST_STATEMENT = 'portcullis_ingest_v3';

export const INGEST_SQL = `
WITH ev AS (
  SELECT * FROM json_to_recordset($4::json) AS e(i int, id uuid, t timestamptz, ns text, k text, av text, n text, uid text, ru text, ok text,
    "on" text, op text, dr boolean, d text, br int, u text, g text[], im text[], tm text[], f jsonb, h text, hr timestamptz, dy timestamptz)
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
  FROM json_to_recordset($5::json) AS x(i int, p text, r text, d text) JOIN fresh ON fresh.i = x.i
),
hourly AS (
  INSERT INTO admission_rollup_staging_hourly (tenant_id, hour, cluster_id, namespace, policy_id, rule_id, decision, cloud_scope_id, admissions)
  SELECT $1::uuid, hr, $2::uuid, ns, p, r, d, $3::uuid, count(*) FROM contrib
  GROUP BY hr, ns, p, r, d
),
workloads AS (
  INSERT INTO admission_rollup_staging_workload_days (tenant_id, policy_id, day, cluster_id, namespace, owner_kind, owner_name, rule_id, decision,
    cloud_scope_id, admissions, last_at)
  SELECT $1::uuid, p, dy, $2::uuid, ns, ok, "on", r, d, $3::uuid, count(*), max(t) FROM contrib WHERE p <> ''
  GROUP BY p, dy, ns, ok, "on", r, d
),
snapshots AS (
  INSERT INTO admission_snapshots AS s (tenant_id, hash, kind, body, json_bytes, last_seen_day)
  SELECT $1::uuid, decode(x.h, 'hex'), x.k, decode(x.b, 'base64'), x.n, x.dy
  FROM json_to_recordset($6::json) AS x(h text, k text, b text, n int, dy timestamptz)
  ORDER BY x.h
  ON CONFLICT (tenant_id, hash) DO UPDATE SET last_seen_day = EXCLUDED.last_seen_day WHERE s.last_seen_day < EXCLUDED.last_seen_day
),
snapshot_days AS (
  INSERT INTO admission_rollup_staging_snapshot_days (tenant_id, day, cluster_id, namespace, owner_kind, owner_name, snapshot_hash, cloud_scope_id,
    admissions, last_at)
  SELECT $1::uuid, dy, $2::uuid, ns, ok, "on", decode(h, 'hex'), $3::uuid, count(*), max(t) FROM fresh WHERE h IS NOT NULL
  GROUP BY dy, ns, ok, "on", h
)
SELECT count(*)::int AS inserted FROM ins`;
