/**
 * One statement stores a whole batch: $1 tenant, $2 cluster, $3 cloud scope; $4 the events,
 * an array of admission_event_row in binary (EventRowsEncoder: PostgreSQL copies the bytes
 * where JSON cost it a lexer pass, a hash table per object and a text parse per value);
 * then two JSON texts (arrays of row objects with short keys), $5 the new snapshots and $6
 * the stored snapshots the events refer to by id (snapshotHash) with their latest day:
 * few per batch, after an agent's first uploads none. Null stands for absent.
 * Only events the insert actually stored (not re-sends) reach the rollups: their rollup
 * keys (`ks`, see stagedKeys) are appended to admission_rollup_staging, one row per
 * (hour, namespace, workload, snapshot, keys) of the batch, in this same statement, so a
 * batch counts exactly when its events are stored; admission_rollups_flush() folds them
 * into the rollups shortly after (RollupFlusher). Appending takes no row locks, so
 * concurrent batches no longer wait on each other's rollup rows.
 * A referenced snapshot's last_seen_day moves up to the day it was referred to (so retention
 * keeps what is still admitted); `unknown` lists the referenced ids the tenant does not hold.
 * That move skips a row another batch holds locked (SKIP LOCKED): batches of many clusters
 * store and refer to the same snapshots in no common order, and waiting could deadlock. A
 * skipped row keeps its day until a later reference moves it (the next day's, or another API
 * process's); if retention removes it meanwhile, later references come back `unknown` and
 * the agent sends the snapshot in full again.
 */
/** The ingest statement, prepared once per connection under its name (change the name with the text: a connection keeps a name's first text). */
export interface IngestStatement {
  readonly name: string;
  readonly text: string;
}

/**
 * resent = false: every event is new, or the statement fails whole (23505), so the rollups
 * take every event of the batch; resent = true: events already stored are skipped, and only
 * what the insert returned reaches the rollups.
 */
const ingestSql = (resent: boolean) => `
WITH ev AS (
  SELECT * FROM unnest($4::admission_event_row[])
),
ins AS (
  INSERT INTO admission_events (tenant_id, occurred_at, event_id, cluster_id, cloud_scope_id, namespace, kind, api_version, name,
    uid, request_uid, owner_kind, owner_name, operation, dry_run, decision, bundle_revision, username, user_groups, images, terms,
    findings, snapshot_hash)
  SELECT $1::uuid, t, id, $2::uuid, $3::uuid, ns, k, av, n, uid, ru, ok, "on", op, dr, d, br, u, g, im, tm, f, h FROM ev${
    resent
      ? `
  ON CONFLICT DO NOTHING
  RETURNING event_id, occurred_at`
      : ''
  }
),
staged AS (
  INSERT INTO admission_rollup_staging (tenant_id, cluster_id, cloud_scope_id, hour, day, namespace, owner_kind, owner_name, snapshot_hash,
    keys, admissions, last_at)
  SELECT $1::uuid, $2::uuid, $3::uuid, ev.hr, ev.dy, ev.ns, ev.ok, ev."on", ev.h, ev.ks, count(*), max(ev.t)
  FROM ev${resent ? ' JOIN ins ON ins.event_id = ev.id AND ins.occurred_at = ev.t' : ''}
  GROUP BY ev.hr, ev.dy, ev.ns, ev.ok, ev."on", ev.h, ev.ks
),
snapshots AS (
  INSERT INTO admission_snapshots AS s (tenant_id, hash, kind, body, json_bytes, last_seen_day)
  SELECT $1::uuid, decode(x.h, 'hex'), x.k, decode(x.b, 'base64'), x.n, x.dy
  FROM json_to_recordset($5::json) AS x(h text, k text, b text, n int, dy timestamptz)
  ORDER BY x.h
  ON CONFLICT (tenant_id, hash) DO UPDATE SET last_seen_day = EXCLUDED.last_seen_day WHERE s.last_seen_day < EXCLUDED.last_seen_day
),
refs AS (
  SELECT decode(r.h, 'hex') AS hash, r.h, r.dy FROM json_to_recordset($6::json) AS r(h text, dy timestamptz)
),
seen AS (
  UPDATE admission_snapshots AS s SET last_seen_day = l.dy
  FROM (
    SELECT t.hash, refs.dy FROM admission_snapshots AS t JOIN refs ON t.hash = refs.hash
    WHERE t.tenant_id = $1::uuid AND t.last_seen_day < refs.dy
    FOR UPDATE OF t SKIP LOCKED
  ) AS l
  WHERE s.tenant_id = $1::uuid AND s.hash = l.hash
)
SELECT (SELECT count(*)::int FROM ${resent ? 'ins' : 'ev'}) AS inserted,
  ARRAY(SELECT refs.h FROM refs WHERE NOT EXISTS (SELECT 1 FROM admission_snapshots s WHERE s.tenant_id = $1::uuid AND s.hash = refs.hash)) AS unknown`;

/**
 * A batch none of whose events is stored yet, what nearly every upload is: a plain insert,
 * without ON CONFLICT's extra primary-key probe per row and without joining the inserted
 * rows back to the batch to find what to count (both cost the backend markedly: see
 * bench/README.md). A re-sent event makes this statement fail with unique_violation (23505)
 * and roll back whole; the ingest then stores the batch with INGEST_RESENT.
 */
export const INGEST_NEW: IngestStatement = { name: 'portcullis_ingest_v8', text: ingestSql(false) };

/** A batch that holds a re-sent event: events already stored are skipped (and not counted again). */
export const INGEST_RESENT: IngestStatement = { name: 'portcullis_ingest_resent_v8', text: ingestSql(true) };
