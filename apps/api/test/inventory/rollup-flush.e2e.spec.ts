/**
 * Rollups are folded from staging by admission_rollups_flush() (RollupFlusher in the API,
 * a timer in the worker). Whatever runs concurrently — uploads, re-sends, flushers in
 * several processes, a flush that dies before it commits — every rollup row must equal a
 * brute-force count over the raw events: nothing lost, nothing counted twice.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { decisionFor, type AdmissionEvent, type Finding } from '@portcullis/contracts';
import { RollupFlusher } from '../../src/inventory/rollup-flusher';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  finding,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
} from '@portcullis/testing';
import { data, podSnapshot, scopeWithCluster, upload, type TestCluster } from './support';

const HOUR = 3_600_000;
/** The counts of an upload's answer (it also names snapshot ids). */
const tally = (b: { accepted: number; duplicates: number; expired: number }) => ({
  accepted: b.accepted,
  duplicates: b.duplicates,
  expired: b.expired,
});
const DAY = 24 * HOUR;
/** What a flusher holds while it folds: the advisory lock of each of the two parts. */
const HOLD_BOTH_FOLD_LOCKS = `SELECT pg_advisory_xact_lock(hashtext('admission_rollups_flush'), part) FROM generate_series(0, 1) AS part`;
const RULES = ['resource-limits', 'privileged-container', 'run-as-non-root', 'read-only-root-filesystem'];

interface RawEvent {
  occurred_at: Date;
  cluster_id: string;
  namespace: string;
  owner_kind: string;
  owner_name: string;
  decision: string;
  findings: Finding[];
  snapshot_hash: Buffer | null;
}

/** The three rollups as maps from key to counters, recomputed from the raw events alone. */
function bruteForce(events: readonly RawEvent[]) {
  const hourly = new Map<string, number>();
  const workloads = new Map<string, { admissionsThrough: number[]; lastAt: number }>();
  const snapshots = new Map<string, { admissions: number; lastAt: number }>();
  // per workload and UTC month: running totals of the admissions of days 1..d
  const bumpMonth = (k: string, at: number) => {
    const d = new Date(at);
    const key = k.replace('|MONTH|', `|${Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)}|`);
    const v = workloads.get(key) ?? { admissionsThrough: new Array<number>(31).fill(0), lastAt: 0 };
    for (let day = d.getUTCDate(); day <= 31; day++) v.admissionsThrough[day - 1]!++;
    workloads.set(key, { admissionsThrough: v.admissionsThrough, lastAt: Math.max(v.lastAt, at) });
  };
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const bumpLast = (m: Map<string, { admissions: number; lastAt: number }>, k: string, at: number) => {
    const v = m.get(k) ?? { admissions: 0, lastAt: 0 };
    m.set(k, { admissions: v.admissions + 1, lastAt: Math.max(v.lastAt, at) });
  };
  for (const e of events) {
    const at = e.occurred_at.getTime();
    const hour = Math.floor(at / HOUR) * HOUR;
    const day = Math.floor(at / DAY) * DAY;
    const where = `${e.cluster_id}|${e.namespace}`;
    const owner = `${e.owner_kind}/${e.owner_name}`;
    bump(hourly, `${hour}|${where}|||${e.decision}`);
    const policies = new Set(e.findings.map((f) => f.policyId));
    for (const p of policies) {
      const mine = e.findings.filter((f) => f.policyId === p);
      const outcome = decisionFor(mine);
      bump(hourly, `${hour}|${where}|${p}||${outcome}`);
      bumpMonth(`${p}|MONTH|${where}|${owner}||${outcome}`, at);
      for (const r of new Set(mine.map((f) => f.ruleId))) {
        const ruleOutcome = decisionFor(mine.filter((f) => f.ruleId === r));
        bump(hourly, `${hour}|${where}|${p}|${r}|${ruleOutcome}`);
        bumpMonth(`${p}|MONTH|${where}|${owner}|${r}|${ruleOutcome}`, at);
      }
    }
    if (e.snapshot_hash) bumpLast(snapshots, `${day}|${where}|${owner}|${e.snapshot_hash.toString('hex')}`, at);
  }
  return { hourly, workloads, snapshots };
}

describe('rollups folded from staging', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let tenantId: string;
  let clusters: TestCluster[];
  let db: Client;
  const policies = [randomUUID(), randomUUID()];

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Rollup flush');
    tenantId = t.tenantId;
    clusters = [
      await scopeWithCluster(h, t.ownerToken, '333333333333', 'flush-a'),
      await scopeWithCluster(h, t.ownerToken, '444444444444', 'flush-b'),
    ];
    db = new Client({ connectionString: h.config.databaseUrl });
    await db.connect();
  });
  after(async () => {
    await db?.end();
    await h?.close();
  });

  /** The rollups of the tenant as stored, in the shape of bruteForce. */
  async function stored() {
    const hourly = new Map<string, number>();
    for (const r of (
      await db.query(
        `SELECT hour, cluster_id, namespace, policy_id, rule_id, decision, admissions FROM admission_rollups_hourly WHERE tenant_id = $1`,
        [tenantId],
      )
    ).rows) {
      hourly.set(
        `${r.hour.getTime()}|${r.cluster_id}|${r.namespace}|${r.policy_id}|${r.rule_id}|${r.decision}`,
        Number(r.admissions),
      );
    }
    const workloads = new Map<string, { admissionsThrough: number[]; lastAt: number }>();
    for (const r of (await db.query(`SELECT * FROM admission_workload_months WHERE tenant_id = $1`, [tenantId])).rows) {
      workloads.set(
        `${r.policy_id}|${r.month.getTime()}|${r.cluster_id}|${r.namespace}|${r.owner_kind}/${r.owner_name}|${r.rule_id}|${r.decision}`,
        { admissionsThrough: (r.admissions_through as string[]).map(Number), lastAt: r.last_at.getTime() },
      );
    }
    const snapshots = new Map<string, { admissions: number; lastAt: number }>();
    for (const r of (await db.query(`SELECT * FROM admission_snapshot_days WHERE tenant_id = $1`, [tenantId])).rows) {
      snapshots.set(
        `${r.day.getTime()}|${r.cluster_id}|${r.namespace}|${r.owner_kind}/${r.owner_name}|${(r.snapshot_hash as Buffer).toString('hex')}`,
        { admissions: Number(r.admissions), lastAt: r.last_at.getTime() },
      );
    }
    return { hourly, workloads, snapshots };
  }

  async function expected() {
    const { rows } = await db.query<RawEvent>(
      `SELECT occurred_at, cluster_id, namespace, owner_kind, owner_name, decision, findings, snapshot_hash FROM admission_events WHERE tenant_id = $1`,
      [tenantId],
    );
    return { events: rows.length, ...bruteForce(rows) };
  }

  const staged = async () =>
    Number(
      (await db.query(`SELECT count(*) AS n FROM admission_rollup_staging WHERE tenant_id = $1`, [tenantId])).rows[0].n,
    );

  it('concurrent uploads, re-sends and flushers in several processes: every rollup equals a brute-force count over the raw events', async () => {
    const now = Date.now();
    let seed = 11;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    // three namespaces, one of them in the other part of the fold than the first (for the first
    // cluster), so that both parts have rows to fold concurrently
    const partOf = async (cluster: string, namespace: string) =>
      Number((await db.query('SELECT admission_rollup_part($1::uuid, $2) AS part', [cluster, namespace])).rows[0].part);
    const namespaces = ['ns-0', 'ns-1'];
    const firstPart = await partOf(clusters[0]!.id, 'ns-0');
    for (let k = 2; namespaces.length < 3; k++)
      if ((await partOf(clusters[0]!.id, `ns-${k}`)) !== firstPart) namespaces.push(`ns-${k}`);
    const batches: Array<{ cluster: TestCluster; events: AdmissionEvent[] }> = [];
    for (let b = 0; b < 48; b++) {
      const events = Array.from({ length: 20 }, () => {
        const w = Math.floor(random() * 12);
        const findings = RULES.filter(() => random() < 0.3).map((r) =>
          finding(
            policies[Math.floor(random() * 2)]!,
            r,
            random() < 0.2 ? { exempted: true, exemptionId: 'ex-1' } : random() < 0.3 ? { action: 'BLOCK' } : {},
          ),
        );
        return admission({
          // three hours and, now and then, yesterday: several hourly and daily rows per workload
          occurredAt: new Date(now - Math.floor(random() * 3 * HOUR) - (random() < 0.1 ? DAY : 0)).toISOString(),
          namespace: namespaces[w % 3]!,
          owner: { kind: 'Deployment', name: `app-${w}` },
          decision: decisionFor(findings),
          findings,
          ...(random() < 0.7
            ? {
                snapshot: podSnapshot(namespaces[w % 3]!, `app-${w}`, {
                  spec: {
                    containers: [{ name: 'app', image: `registry.example.com/app-${w}:${Math.floor(random() * 2)}` }],
                  },
                }),
              }
            : {}),
        });
      });
      batches.push({ cluster: clusters[b % 2]!, events });
    }

    const flusher = h.app.get(RollupFlusher);
    // another process's flusher (the worker, another API replica): its own connection, never waits
    const other = new Client({ connectionString: h.config.databaseUrl });
    await other.connect();
    let uploading = true;
    const flushers = [
      (async () => {
        while (uploading) await flusher.flushAll();
      })(),
      (async () => {
        while (uploading) await flusher.flushTenant(tenantId);
      })(),
      (async () => {
        while (uploading) await other.query('SELECT admission_rollups_flush(NULL, false)');
      })(),
    ];
    let next = 0;
    const uploads = Array.from({ length: 6 }, async () => {
      while (next < batches.length) {
        const i = next++;
        const { cluster, events } = batches[i]!;
        const res = await upload(h, cluster.token, events, { gzip: true });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.accepted, events.length);
        if (i % 5 === 0) {
          // a re-send (the agent missed the answer): nothing is stored, nothing is counted again
          const again = await upload(h, cluster.token, events, { gzip: true });
          assert.deepEqual(tally(again.body), { accepted: 0, duplicates: events.length, expired: 0 });
        }
      }
    });
    try {
      await Promise.all(uploads);
    } finally {
      uploading = false;
      await Promise.all(flushers);
      await other.end();
    }
    await flusher.flushTenant(tenantId);

    // the batches fell into both parts of the fold, so both folded concurrently above (see namespaces)
    const { rows: parts } = await db.query(
      'SELECT DISTINCT admission_rollup_part(cluster_id, namespace) AS part FROM admission_events WHERE tenant_id = $1 ORDER BY 1',
      [tenantId],
    );
    assert.deepEqual(
      parts.map((r) => r.part),
      [0, 1],
    );
    const want = await expected();
    assert.equal(want.events, 48 * 20);
    const got = await stored();
    assert.deepEqual(got.hourly, want.hourly);
    assert.deepEqual(got.workloads, want.workloads);
    assert.deepEqual(got.snapshots, want.snapshots);
    assert.equal(await staged(), 0);
  });

  it('a flush that dies before it commits loses nothing and counts nothing twice', async () => {
    const before = await stored();
    // a flusher in another session holds the flush lock, so the API's own flushes stand aside
    const doomed = new Client({ connectionString: h.config.databaseUrl });
    await doomed.connect();
    await doomed.query('BEGIN');
    await doomed.query(HOLD_BOTH_FOLD_LOCKS);
    const events = [
      admission({
        decision: 'AUDITED',
        findings: [finding(policies[0]!, 'resource-limits')],
        snapshot: podSnapshot('ns-9', 'late'),
        namespace: 'ns-9',
        owner: { kind: 'Deployment', name: 'late' },
      }),
      admission({ decision: 'ALLOWED', namespace: 'ns-9', owner: { kind: 'Deployment', name: 'late' } }),
    ];
    const res = await upload(h, clusters[0]!.token, events);
    // a failure from here on must not leave the session holding the lock: every later flush would wait on it
    if (res.status !== 200 || res.body.accepted !== 2) await doomed.end();
    assert.deepEqual(tally(res.body), { accepted: 2, duplicates: 0, expired: 0 });
    const stagedNow = await staged();
    if (stagedNow === 0) {
      // seen once in CI (1 run of about 15): say what became of the batch, for the next reader of the log
      const folded = await db.query(
        `SELECT count(*)::int AS n FROM admission_rollups_hourly WHERE tenant_id = $1 AND namespace = 'ns-9'`,
        [tenantId],
      );
      const locks = await db.query(
        `SELECT pid, objid, granted FROM pg_locks WHERE locktype = 'advisory' AND classid = hashtext('admission_rollups_flush')::oid`,
      );
      assert.fail(
        `the batch is not staged while the lock is held: ns-9 hourly rollup rows ${folded.rows[0].n}, flush locks ${JSON.stringify(locks.rows)}, doomed pid ${(doomed as unknown as { processID: number }).processID}`,
      );
    }
    // that session folds it (deletes staging, upserts the rollups) ... and dies before COMMIT
    const folded = Number(
      (await doomed.query('SELECT admission_rollups_flush($1::uuid, true) AS n', [tenantId])).rows[0].n,
    );
    assert.ok(folded > 0);
    const pid = (await doomed.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    // the API's background flush must not fold the batch before the checks below: a session
    // queues for the lock of the batch's part now, and is granted it the moment the doomed one dies
    const part = Number(
      (await db.query('SELECT admission_rollup_part($1::uuid, $2) AS part', [clusters[0]!.id, 'ns-9'])).rows[0].part,
    );
    const guard = new Client({ connectionString: h.config.databaseUrl });
    await guard.connect();
    await guard.query('BEGIN');
    const guarded = guard.query(`SELECT pg_advisory_xact_lock(hashtext('admission_rollups_flush'), $1::int)`, [part]);
    const guardPid = (guard as unknown as { processID: number }).processID;
    let queued = false;
    for (let i = 0; i < 1000 && !queued; i++) {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid = $1`,
        [guardPid],
      );
      queued = rows[0].n > 0;
      if (!queued) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(queued, 'the guard session queues behind the doomed flush');
    doomed.on('error', () => undefined);
    await db.query('SELECT pg_terminate_backend($1)', [pid]);
    await doomed.end().catch(() => undefined);
    await guarded;

    // nothing of the dead flush is visible: still staged, rollups as before
    try {
      assert.ok((await staged()) > 0);
      assert.deepEqual(await stored(), before);
    } finally {
      await guard.query('COMMIT');
      await guard.end();
    }
    // the next flush folds it exactly once
    await h.app.get(RollupFlusher).flushTenant(tenantId);
    const want = await expected();
    const got = await stored();
    assert.deepEqual(got.hourly, want.hourly);
    assert.deepEqual(got.workloads, want.workloads);
    assert.deepEqual(got.snapshots, want.snapshots);
    assert.equal(await staged(), 0);
  });

  it('a report folds the staged batches of its tenant before it reads: it counts a batch acknowledged just before it', async () => {
    const principal = (await h.prisma.roleAssignment.findFirstOrThrow({ where: { tenantId, role: 'OWNER' } }))
      .principalId;
    const ownerToken = await h.token(tenantId, principal);
    const window = `window: { from: "${new Date(Date.now() - 2 * DAY).toISOString()}", to: "${new Date(Date.now() + HOUR).toISOString()}" }`;
    const summary = async () =>
      data(
        await h.gql<{ admissionSummary: { totalAdmissions: number } }>(
          ownerToken,
          `{ admissionSummary(groupBy: [DECISION], ${window}) { totalAdmissions } }`,
        ),
      ).admissionSummary.totalAdmissions;
    const before = await summary();
    // hold the flush lock: no background flush (API or worker) can fold the batch meanwhile
    const holder = new Client({ connectionString: h.config.databaseUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(HOLD_BOTH_FOLD_LOCKS);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await holder.query('COMMIT');
      await holder.end();
    };
    try {
      const res = await upload(h, clusters[1]!.token, [admission(), admission(), admission()]);
      assert.equal(res.status, 200);
      const answer = summary();
      // the report's flush queues behind the lock (a report that did not flush would never wait here)
      let waiting = false;
      for (let i = 0; i < 1000 && !waiting; i++) {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()`,
        );
        waiting = rows[0].n > 0;
        if (!waiting) await new Promise((r) => setTimeout(r, 10));
      }
      assert.ok(waiting, 'the report waits to fold the staged batch');
      assert.ok((await staged()) > 0, 'still staged when the report asked');
      await release(); // the report's flush takes the lock, folds the tenant's staging, then reads
      assert.equal(await answer, before + 3);
    } finally {
      await release();
    }
  });
});
