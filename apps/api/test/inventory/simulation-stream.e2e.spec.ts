/**
 * simulatePolicy streams the distinct (snapshot, namespace, workload) rows of the window
 * through a cursor in chunks and inflates each chunk's snapshots with one zlib call. Here:
 * the batched inflation equals one call per body (and names a damaged one like before);
 * every chunk size, down to one row per FETCH, gives the same answer; a snapshot shared by
 * workloads in several clusters and namespaces is evaluated once per workload and counted
 * once; a draft restricted to one cluster counts only that cluster's admissions; an
 * admission whose snapshot body is gone is not evaluated (no would-be denial), as before.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { decisionFor, prepareSnapshot, type AdmissionEvent, type Finding } from '@portcullis/contracts';
import { compilePolicies, evaluatePolicies, type CompiledPolicy, type Policy } from '@portcullis/policy-engine';
import { PolicySimulatorService } from '../../src/inventory/policy-simulator.service';
import { inflateSnapshots } from '../../src/inventory/simulation-stream';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
} from '@portcullis/testing';
import { clusterIn, data, scopeWithCluster, upload, type TestCluster } from './support';

const DAY = 86_400_000;
const DAYS = 5;

describe('inflateSnapshots', () => {
  const objects = Array.from({ length: 7 }, (_, i) => ({
    kind: 'Pod',
    metadata: { name: `p${i}`, note: 'a\nb\u0000c' },
    spec: { containers: [{ name: 'app', image: `img:${i}` }] },
  }));
  const bodies = objects.map((o) => gzipSync(prepareSnapshot(o).canonical));

  it('inflates many bodies in one call to exactly what one call each gives', async () => {
    assert.deepEqual(
      await inflateSnapshots(bodies),
      objects.map((o) => JSON.parse(prepareSnapshot(o).canonical) as unknown),
    );
    assert.deepEqual(await inflateSnapshots([bodies[3]!]), [JSON.parse(prepareSnapshot(objects[3]!).canonical)]);
    assert.deepEqual(await inflateSnapshots([]), []);
  });

  it('falls back to one call each when a body is damaged, and fails on that body', async () => {
    const damaged = [...bodies];
    damaged[4] = Buffer.from('not gzip at all');
    await assert.rejects(inflateSnapshots(damaged), /header|check|invalid|incorrect/i);
  });

  it('a body holding two JSON values is not mistaken for two snapshots', async () => {
    const two = gzipSync('{"a":1}\u0000{"b":2}');
    await assert.rejects(inflateSnapshots([bodies[0]!, two]), SyntaxError);
  });
});

interface Sent {
  readonly event: AdmissionEvent;
  readonly cluster: TestCluster;
}

function pod(namespace: string, image: string, privileged: boolean): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'x-', name: `x-${randomUUID().slice(0, 5)}`, namespace, uid: randomUUID() },
    spec: {
      containers: [
        {
          name: 'app',
          image,
          ...(privileged ? { securityContext: { privileged: true } } : {}),
          resources: { limits: { cpu: '1', memory: '1Gi' } },
        },
      ],
    },
  };
}

describe('simulatePolicy streaming', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let owner: string;
  let policyId: string;
  let c1: TestCluster;
  let c2: TestCluster;
  let c3: TestCluster;
  const sent: Sent[] = [];
  const now = Date.now();
  const simulation = `report { wouldDenyAdmissions wouldDenyWorkloads byRule { key admissions workloads } byNamespace { key admissions workloads }
    byCluster { key admissions workloads } byWorkload { clusterId namespace kind name admissions lastViolationAt rules } dailyTrend { day admissions workloads }
    readiness { ready lastWouldDenyAt exemptionsNeeded suggestedExemptions { namespace kind name admissions } } }
    flips { clusterId namespace kind name change } flipCount snapshotsEvaluated admissionsWithoutSnapshot`;
  const simulate = async (draft: Record<string, unknown>) =>
    data(
      await h.gql<{
        simulatePolicy: {
          report: { wouldDenyAdmissions: number; byCluster: Array<{ key: string }> };
          flipCount: number;
          snapshotsEvaluated: number;
          admissionsWithoutSnapshot: number;
        };
      }>(
        owner,
        `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: ${DAYS}, readyAfterDays: 2, workloadLimit: 1000) { ${simulation} } }`,
        { d: draft },
      ),
    ).simulatePolicy;

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Simulation streaming');
    owner = t.ownerToken;
    c1 = await scopeWithCluster(h, owner, '555555555555', 'st-1');
    c2 = await clusterIn(h, owner, c1.cloudScopeId, 'st-2');
    c3 = await scopeWithCluster(h, owner, '666666666666', 'st-3');
    policyId = data(
      await h.gql<{ createPolicy: { id: string } }>(
        owner,
        `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`,
        {
          i: {
            name: 'privileged only',
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            rules: [{ ruleId: 'privileged-container', enabled: true }],
          },
        },
      ),
    ).createPolicy.id;
    const row = await h.prisma.policy.findUniqueOrThrow({
      where: { id: policyId },
      include: { rules: { where: { enabled: true } } },
    });
    const policy: Policy = {
      id: row.id,
      name: row.name,
      type: row.type,
      action: row.action,
      namespaces: { include: [], exclude: [] },
      rules: row.rules.map((r) => ({ id: r.ruleId, params: r.params as Record<string, unknown> })),
      exemptions: [],
    };
    const [compiled] = compilePolicies([policy]) as [CompiledPolicy];

    // 12 images, each admitted by several workloads: the same snapshot (same namespace, same image)
    // under several owners and in all three clusters, so one hash spans many cursor rows
    const today = Math.floor(now / DAY) * DAY;
    for (let i = 0; i < 12; i++) {
      const image = `registry.example.com/shared:${i}`;
      const privileged = i % 3 !== 0;
      for (const [cluster, owners] of [
        [c1, ['a', 'b']],
        [c2, ['a']],
        [c3, ['c', 'd']],
      ] as const) {
        for (const name of owners) {
          for (let d = 0; d < DAYS; d++) {
            if ((i + d + name.charCodeAt(0)) % 2) continue;
            const t = Math.min(now - 1000, today - d * DAY + ((i * 7919 + d * 104_729) % DAY));
            const snapshot = pod(i % 2 ? 'blue' : 'green', image, privileged);
            const result = evaluatePolicies(snapshot, [compiled], {
              defaultNamespace: 'x',
              now: new Date(),
              owner: { kind: 'Deployment', name },
            });
            const findings: Finding[] = result.violations.map((v) => ({
              policyId: v.policyId,
              policyName: v.policy,
              action: v.action,
              ruleId: v.rule,
              path: v.path,
              message: v.message,
              exempted: v.exempted,
              ...(v.container ? { container: v.container } : {}),
            }));
            sent.push({
              cluster,
              event: admission({
                occurredAt: new Date(t).toISOString(),
                namespace: i % 2 ? 'blue' : 'green',
                owner: { kind: 'Deployment', name },
                images: [image],
                decision: decisionFor(findings),
                findings,
                snapshot,
              }),
            });
          }
        }
      }
    }
    for (const c of [c1, c2, c3]) {
      const mine = sent.filter((s) => s.cluster === c).map((s) => s.event);
      for (let i = 0; i < mine.length; i += 50) {
        const res = await upload(h, c.token, mine.slice(i, i + 50), { gzip: true });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
    }
  });
  after(async () => h?.close());

  it('gives the same answer for every chunk size, and the recorded outcome for the current policy', async () => {
    const service = h.app.get(PolicySimulatorService);
    const defaultChunk = service.chunkRows;
    const report = data(
      await h.gql<{ auditToDenyReport: unknown }>(
        owner,
        `query($p: ID!) { auditToDenyReport(policyId: $p, days: ${DAYS}, readyAfterDays: 2, workloadLimit: 1000) {
      wouldDenyAdmissions wouldDenyWorkloads byRule { key admissions workloads } byNamespace { key admissions workloads } byCluster { key admissions workloads }
      byWorkload { clusterId namespace kind name admissions lastViolationAt rules } dailyTrend { day admissions workloads }
      readiness { ready lastWouldDenyAt exemptionsNeeded suggestedExemptions { namespace kind name admissions } } } }`,
        { p: policyId },
      ),
    ).auditToDenyReport;
    try {
      const whole = await simulate({ policyId });
      assert.deepEqual(whole.report, report);
      assert.equal(whole.flipCount, 0);
      assert.equal(whole.admissionsWithoutSnapshot, 0);
      // two namespaces x 12 images: 12 distinct snapshots, however many workloads and clusters share them
      assert.equal(whole.snapshotsEvaluated, 12);
      for (const rows of [1, 2, 3, 5, 7]) {
        service.chunkRows = rows;
        assert.deepEqual(await simulate({ policyId }), whole, `chunks of ${rows}`);
      }
    } finally {
      service.chunkRows = defaultChunk;
    }
  });

  it('a draft limited to one cluster counts only that cluster, and the others flip to allow', async () => {
    const sim = await simulate({ policyId, scope: { cloudScopeIds: [], clusterIds: [c2.id] } });
    const from = Math.floor(now / DAY) * DAY - (DAYS - 1) * DAY;
    const open = (s: Sent) => Date.parse(s.event.occurredAt) >= from && s.event.findings.some((f) => !f.exempted);
    assert.equal(sim.report.wouldDenyAdmissions, sent.filter((s) => s.cluster === c2 && open(s)).length);
    assert.deepEqual(
      sim.report.byCluster.map((e) => e.key),
      [c2.id],
    );
    const others = new Set(
      sent
        .filter((s) => s.cluster !== c2 && open(s))
        .map((s) => `${s.cluster.id}/${s.event.namespace}/${s.event.owner.name}`),
    );
    assert.equal(sim.flipCount, others.size);
  });

  it('an admission whose snapshot body is gone is not evaluated, at any chunk size', async () => {
    const tenantId = (await h.prisma.policy.findUniqueOrThrow({ where: { id: policyId } })).tenantId;
    const gone = prepareSnapshot(pod('blue', 'registry.example.com/shared:1', true)).hash;
    const deleted = await h.prisma.$executeRawUnsafe(
      `DELETE FROM admission_snapshots WHERE tenant_id = $1::uuid AND hash = decode($2, 'hex')`,
      tenantId,
      gone,
    );
    assert.equal(deleted, 1);
    const service = h.app.get(PolicySimulatorService);
    const defaultChunk = service.chunkRows;
    try {
      const whole = await simulate({ policyId });
      const from = Math.floor(now / DAY) * DAY - (DAYS - 1) * DAY;
      const withoutBody = sent.filter(
        (s) => Date.parse(s.event.occurredAt) >= from && s.event.images[0] === 'registry.example.com/shared:1',
      );
      // the rows stay (the snapshot-day rollup still names the hash), but nothing is evaluated for them
      const expectedDenied = sent.filter(
        (s) =>
          Date.parse(s.event.occurredAt) >= from &&
          s.event.findings.length > 0 &&
          s.event.images[0] !== 'registry.example.com/shared:1',
      ).length;
      assert.ok(withoutBody.length > 0);
      assert.equal(whole.report.wouldDenyAdmissions, expectedDenied);
      assert.equal(whole.snapshotsEvaluated, 12);
      service.chunkRows = 1;
      assert.deepEqual(await simulate({ policyId }), whole);
    } finally {
      service.chunkRows = defaultChunk;
    }
  });
});
