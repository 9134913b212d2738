/**
 * The reports against brute force: admissions generated with the engine (as an agent
 * would evaluate them), uploaded through the agent endpoint, then every number of
 * auditToDenyReport recomputed from the raw events in the test; simulating the current
 * policy gives the recorded outcome; readers see only their cloud scopes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decisionFor, type AdmissionEvent, type Finding } from '@portcullis/contracts';
import {
  compilePolicies,
  evaluatePolicies,
  type CompiledPolicy,
  type Exemption,
  type Policy,
} from '@portcullis/policy-engine';
import {
  NO_DB_REASON,
  admissionEvent as admission,
  startApi,
  testDatabaseConfigured,
  type ApiHarness,
} from '@portcullis/testing';
import { clusterIn, data, scopeWithCluster, upload, type TestCluster } from './support';

const DAY = 86_400_000;
const DAYS = 10;
const READY_AFTER = 3;

type Variant = 'good' | 'nolimits' | 'privileged' | 'hostnet';
interface Workload {
  cluster: TestCluster;
  namespace: string;
  name: string;
  variant: (daysAgo: number) => Variant;
}
interface Sent {
  readonly event: AdmissionEvent;
  readonly cluster: TestCluster;
}

function pod(namespace: string, owner: string, variant: Variant): Record<string, unknown> {
  const limits = { resources: { limits: { cpu: '500m', memory: '256Mi' } } };
  const container: Record<string, unknown> = {
    name: 'app',
    image: `registry.example.com/${owner}:1`,
    ...(variant === 'nolimits' ? {} : limits),
  };
  if (variant === 'privileged') container['securityContext'] = { privileged: true };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: `${owner}-`, name: `${owner}-${randomUUID().slice(0, 5)}`, namespace, uid: randomUUID() },
    spec: { ...(variant === 'hostnet' ? { hostNetwork: true } : {}), containers: [container] },
  };
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

const REPORT = `policyId policyName action window { from to } wouldDenyAdmissions wouldDenyWorkloads
  byRule { key admissions workloads } byNamespace { key admissions workloads } byCluster { key admissions workloads }
  byWorkload { clusterId namespace kind name admissions lastViolationAt rules }
  dailyTrend { day admissions workloads }
  readiness { ready readyAfterDays lastWouldDenyAt exemptionsNeeded suggestedExemptions { namespace kind name admissions } }`;

interface Entry {
  key: string;
  admissions: number;
  workloads: number;
}
interface Report {
  wouldDenyAdmissions: number;
  wouldDenyWorkloads: number;
  byRule: Entry[];
  byNamespace: Entry[];
  byCluster: Entry[];
  byWorkload: Array<{
    clusterId: string;
    namespace: string;
    kind: string;
    name: string;
    admissions: number;
    lastViolationAt: string;
    rules: string[];
  }>;
  dailyTrend: Array<{ day: string; admissions: number; workloads: number }>;
  readiness: {
    ready: boolean;
    readyAfterDays: number;
    lastWouldDenyAt: string | null;
    exemptionsNeeded: number;
    suggestedExemptions: Array<{ namespace: string; kind: string; name: string; admissions: number }>;
  };
  [k: string]: unknown;
}

/** The report recomputed from the raw events. */
function bruteForce(
  sent: readonly Sent[],
  policyId: string,
  now: number,
  visible: (s: Sent) => boolean,
  days = DAYS,
): Omit<Report, 'policyId' | 'policyName' | 'action' | 'window'> {
  const today = Math.floor(now / DAY) * DAY;
  const from = today - (days - 1) * DAY;
  const readyFrom = today - (READY_AFTER - 1) * DAY;
  const hits = sent
    .filter(visible)
    .map((s) => ({
      s,
      t: Date.parse(s.event.occurredAt),
      open: s.event.findings.filter((f) => f.policyId === policyId && !f.exempted),
    }))
    .filter((x) => x.open.length > 0 && x.t >= from);
  const wl = (x: (typeof hits)[number]) =>
    `${x.s.cluster.id}/${x.s.event.namespace ?? ''}/${x.s.event.owner.kind}/${x.s.event.owner.name}`;
  const group = (key: (x: (typeof hits)[number]) => string[]): Entry[] => {
    const m = new Map<string, { n: number; w: Set<string> }>();
    for (const x of hits)
      for (const k of key(x)) {
        const e = m.get(k) ?? { n: 0, w: new Set<string>() };
        e.n++;
        e.w.add(wl(x));
        m.set(k, e);
      }
    return [...m]
      .map(([key, e]) => ({ key, admissions: e.n, workloads: e.w.size }))
      .sort((a, b) => b.admissions - a.admissions || (a.key < b.key ? -1 : 1));
  };
  const workloads = new Map<
    string,
    { x: (typeof hits)[number]; n: number; recent: number; last: number; rules: Set<string> }
  >();
  for (const x of hits) {
    const w = workloads.get(wl(x)) ?? { x, n: 0, recent: 0, last: 0, rules: new Set<string>() };
    w.n++;
    if (x.t >= readyFrom) w.recent++;
    w.last = Math.max(w.last, x.t);
    for (const f of x.open) w.rules.add(f.ruleId);
    workloads.set(wl(x), w);
  }
  const byDay = group((x) => [String(Math.floor(x.t / DAY) * DAY)]);
  const suggested = [...workloads.values()]
    .filter((w) => w.recent > 0)
    .map((w) => ({
      namespace: w.x.s.event.namespace ?? '',
      kind: w.x.s.event.owner.kind,
      name: w.x.s.event.owner.name,
      admissions: w.recent,
    }))
    .sort(
      (a, b) =>
        b.admissions - a.admissions ||
        `${a.namespace}/${a.kind}/${a.name}`.localeCompare(`${b.namespace}/${b.kind}/${b.name}`),
    );
  const last = Math.max(0, ...hits.map((x) => x.t));
  return {
    wouldDenyAdmissions: hits.length,
    wouldDenyWorkloads: workloads.size,
    byRule: group((x) => [...new Set(x.open.map((f) => f.ruleId))]),
    byNamespace: group((x) => [x.s.event.namespace ?? '']),
    byCluster: group((x) => [x.s.cluster.id]),
    byWorkload: [...workloads.values()]
      .map((w) => ({
        clusterId: w.x.s.cluster.id,
        namespace: w.x.s.event.namespace ?? '',
        kind: w.x.s.event.owner.kind,
        name: w.x.s.event.owner.name,
        admissions: w.n,
        lastViolationAt: new Date(w.last).toISOString(),
        rules: [...w.rules].sort(),
      }))
      .sort(
        (a, b) =>
          b.admissions - a.admissions ||
          (`${a.clusterId}\u0000${a.namespace}\u0000${a.kind}\u0000${a.name}` <
          `${b.clusterId}\u0000${b.namespace}\u0000${b.kind}\u0000${b.name}`
            ? -1
            : 1),
      ),
    dailyTrend: Array.from({ length: days }, (_, i) => {
      const day = from + i * DAY;
      const e = byDay.find((d) => d.key === String(day));
      return { day: new Date(day).toISOString(), admissions: e?.admissions ?? 0, workloads: e?.workloads ?? 0 };
    }),
    readiness: {
      ready: suggested.length === 0,
      readyAfterDays: READY_AFTER,
      lastWouldDenyAt: last ? new Date(last).toISOString() : null,
      exemptionsNeeded: suggested.length,
      suggestedExemptions: suggested,
    },
  };
}

describe('audit-to-deny report and simulation', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  let owner: string;
  let policyId: string;
  let a1: TestCluster;
  let a2: TestCluster;
  let b1: TestCluster;
  const sent: Sent[] = [];
  const now = Date.now();

  before(async () => {
    h = await startApi();
    const t = await h.onboard('Inventory analysis');
    owner = t.ownerToken;
    a1 = await scopeWithCluster(h, owner, '333333333333', 'an-a1');
    a2 = await clusterIn(h, owner, a1.cloudScopeId, 'an-a2');
    b1 = await scopeWithCluster(h, owner, '444444444444', 'an-b1');
    policyId = data(
      await h.gql<{ createPolicy: { id: string } }>(
        owner,
        `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`,
        {
          i: {
            name: 'limits and privileges',
            type: 'MISCONFIGURATION',
            action: 'AUDIT',
            rules: [
              { ruleId: 'privileged-container', enabled: true },
              { ruleId: 'host-namespaces', enabled: true },
              { ruleId: 'resource-limits', enabled: true },
            ],
          },
        },
      ),
    ).createPolicy.id;
    data(
      await h.gql(
        owner,
        `mutation($id: ID!, $i: ExemptionInput!) { addPolicyExemption(id: $id, input: $i) { version } }`,
        { id: policyId, i: { namespaces: ['legacy'], reason: 'legacy runs privileged until Q1' } },
      ),
    );

    // the policy as the agent holds it, to produce the findings an agent would report
    const row = await h.prisma.policy.findUniqueOrThrow({
      where: { id: policyId },
      include: { rules: { where: { enabled: true } }, exemptions: true },
    });
    const policy: Policy = {
      id: row.id,
      name: row.name,
      type: row.type,
      action: row.action,
      namespaces: { include: [], exclude: [] },
      rules: row.rules.map((r) => ({ id: r.ruleId, params: r.params as Record<string, unknown> })),
      exemptions: row.exemptions.map(
        (e) =>
          ({
            ...(e.criteria as object),
            id: e.id,
            reason: e.reason,
            grantedBy: e.grantedBy,
            expiresAt: null,
          }) as Exemption,
      ),
    };
    const [compiled] = compilePolicies([policy]) as [CompiledPolicy];

    const fixedAt = 4; // this workload was fixed 4 days ago: not ready-blocking any more
    const workloads: Workload[] = [
      { cluster: a1, namespace: 'shop', name: 'web', variant: () => 'good' },
      { cluster: a1, namespace: 'shop', name: 'cart', variant: () => 'nolimits' },
      { cluster: a1, namespace: 'shop', name: 'search', variant: (d) => (d >= fixedAt ? 'privileged' : 'good') },
      { cluster: a1, namespace: 'payments', name: 'ledger', variant: (d) => (d % 2 ? 'hostnet' : 'nolimits') },
      { cluster: a1, namespace: 'legacy', name: 'mainframe', variant: () => 'privileged' },
      { cluster: a2, namespace: 'shop', name: 'web', variant: () => 'privileged' },
      { cluster: a2, namespace: 'payments', name: 'fx', variant: () => 'good' },
      { cluster: b1, namespace: 'shop', name: 'web', variant: () => 'nolimits' },
      { cluster: b1, namespace: 'legacy', name: 'batch', variant: () => 'nolimits' },
      { cluster: b1, namespace: 'ops', name: 'agent', variant: () => 'hostnet' },
    ];
    const random = lcg(7);
    const today = Math.floor(now / DAY) * DAY;
    for (const w of workloads) {
      for (let d = DAYS + 1; d >= 0; d--) {
        // two days before the window too: they must not count
        const replicas = Math.floor(random() * 4);
        for (let r = 0; r < replicas; r++) {
          const t = Math.min(now - 1000, today - d * DAY + Math.floor(random() * DAY));
          const snapshot = pod(w.namespace, w.name, w.variant(d));
          const result = evaluatePolicies(snapshot, [compiled], {
            defaultNamespace: w.namespace,
            now: new Date(),
            owner: { kind: 'Deployment', name: w.name },
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
            ...(v.exemptionId ? { exemptionId: v.exemptionId } : {}),
          }));
          sent.push({
            cluster: w.cluster,
            event: admission({
              occurredAt: new Date(t).toISOString(),
              namespace: w.namespace,
              owner: { kind: 'Deployment', name: w.name },
              decision: decisionFor(findings),
              findings,
              snapshot,
            }),
          });
        }
      }
    }
    // one workload admitted 13-29 days ago only (outside the 10-day report; inside the default
    // 30-day retention, so no test's maintenance run drops it): the 11- to 90-day windows start
    // before, among and after its days, and on all but a few days of the year its days fall in
    // two calendar months, so a window spans two of its month rows
    const archive: Workload = {
      cluster: b1,
      namespace: 'archive',
      name: 'cron',
      variant: (d) => (d % 3 ? 'nolimits' : 'privileged'),
    };
    for (let d = 29; d >= 13; d--) {
      if (random() < 0.25) continue;
      const snapshot = pod(archive.namespace, archive.name, archive.variant(d));
      const result = evaluatePolicies(snapshot, [compiled], {
        defaultNamespace: archive.namespace,
        now: new Date(),
        owner: { kind: 'Deployment', name: archive.name },
      });
      const findings: Finding[] = result.violations.map((v) => ({
        policyId: v.policyId,
        policyName: v.policy,
        action: v.action,
        ruleId: v.rule,
        path: v.path,
        message: v.message,
        exempted: v.exempted,
      }));
      const at = today - d * DAY + Math.floor(random() * (DAY - 1000));
      sent.push({
        cluster: b1,
        event: admission({
          occurredAt: new Date(at).toISOString(),
          namespace: archive.namespace,
          owner: { kind: 'Deployment', name: archive.name },
          decision: decisionFor(findings),
          findings,
          snapshot,
        }),
      });
    }
    // the policy was in Block mode for part of some days: the same workload is AUDITED and
    // DENIED on one day (two rollup rows), and still one workload on that day
    for (const s of sent
      .filter((x) => ['cart', 'ledger', 'cron'].includes(x.event.owner.name))
      .filter((_, i) => i % 3 === 0)) {
      const findings = s.event.findings.map((f) => ({ ...f, action: 'BLOCK' as const }));
      sent.push({
        cluster: s.cluster,
        event: {
          ...s.event,
          eventId: randomUUID(),
          occurredAt: new Date(Date.parse(s.event.occurredAt) + 1).toISOString(),
          findings,
          decision: decisionFor(findings),
        },
      });
    }
    assert.ok(sent.some((s) => s.event.decision === 'DENIED'));
    for (const c of [a1, a2, b1]) {
      const mine = sent.filter((s) => s.cluster === c).map((s) => s.event);
      for (let i = 0; i < mine.length; i += 40) {
        const res = await upload(h, c.token, mine.slice(i, i + 40), { gzip: true });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
    }
  });
  after(async () => h?.close());

  const report = async (token: string, days = DAYS) =>
    data(
      await h.gql<{ auditToDenyReport: Report }>(
        token,
        `query($p: ID!) { auditToDenyReport(policyId: $p, days: ${days}, readyAfterDays: ${READY_AFTER}, workloadLimit: 2000) { ${REPORT} } }`,
        { p: policyId },
      ),
    ).auditToDenyReport;

  it('equals a brute-force count over the raw events', async () => {
    const got = await report(owner);
    const { policyId: _p, policyName, action, window, ...numbers } = got;
    assert.deepEqual(
      numbers,
      bruteForce(sent, policyId, now, () => true),
    );
    assert.equal(policyName, 'limits and privileges');
    assert.equal(action, 'AUDIT');
    assert.equal(Date.parse((window as { to: string }).to) - Date.parse((window as { from: string }).from), DAYS * DAY);
    // the exempted namespace never counts, the fixed workload is no longer blocking readiness
    assert.ok(got.wouldDenyAdmissions > 0);
    assert.ok(!got.byNamespace.some((e) => e.key === 'legacy'));
    assert.equal(got.readiness.ready, false);
    assert.ok(!got.readiness.suggestedExemptions.some((s) => s.name === 'search'));
  });

  it('equals brute force for windows of up to 90 days (each spanning several month rows of a workload)', async () => {
    // most events are in the last 12 days, one workload's 13-29 days ago: windows of 11-29 days
    // start among those, so a month row has days before and inside the window
    for (const days of [11, 12, 14, 20, 25, 30, 31, 45, 61, 90]) {
      const { policyId: _p, policyName: _n, action: _a, window: _w, ...numbers } = await report(owner, days);
      assert.deepEqual(
        numbers,
        bruteForce(sent, policyId, now, () => true, days),
        `${days} days`,
      );
    }
  });

  it('limits a reader to the cloud scopes they can read', async () => {
    const readerId = randomUUID();
    data(
      await h.gql(owner, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
        i: { principalId: readerId, role: 'SECURITY_READER', cloudScopeId: b1.cloudScopeId },
      }),
    );
    const reader = await h.token(
      (await h.prisma.policy.findUniqueOrThrow({ where: { id: policyId } })).tenantId,
      readerId,
      'Reader',
    );
    const { policyId: _p, policyName: _n, action: _a, window: _w, ...numbers } = await report(reader);
    assert.deepEqual(
      numbers,
      bruteForce(sent, policyId, now, (s) => s.cluster === b1),
    );

    const listed = data(
      await h.gql<{ admissionEvents: { totalCount: number; edges: Array<{ node: { clusterId: string } }> } }>(
        reader,
        `{ admissionEvents(first: 100, filter: { from: "${new Date(now - 20 * DAY).toISOString()}" }) { totalCount edges { node { clusterId } } } }`,
      ),
    ).admissionEvents;
    assert.equal(
      listed.totalCount,
      sent.filter((s) => s.cluster === b1 && Date.parse(s.event.occurredAt) >= now - 20 * DAY).length,
    );
    assert.ok(listed.edges.every((e) => e.node.clusterId === b1.id));
  });

  it('simulating the current policy gives the recorded outcome, with no flips', async () => {
    const sim = data(
      await h.gql<{
        simulatePolicy: {
          report: Report;
          flipCount: number;
          admissionsWithoutSnapshot: number;
          snapshotsEvaluated: number;
        };
      }>(
        owner,
        `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: ${DAYS}, readyAfterDays: ${READY_AFTER}, workloadLimit: 2000) { report { ${REPORT} } flipCount admissionsWithoutSnapshot snapshotsEvaluated } }`,
        { d: { policyId } },
      ),
    ).simulatePolicy;
    assert.deepEqual(sim.report, await report(owner));
    assert.equal(sim.flipCount, 0);
    assert.equal(sim.admissionsWithoutSnapshot, 0);
    assert.ok(sim.snapshotsEvaluated > 0);
  });

  it('simulating a draft without the privileged rule flips exactly the workloads that only broke that rule', async () => {
    const sim = data(
      await h.gql<{
        simulatePolicy: {
          report: Report;
          flips: Array<{ clusterId: string; namespace: string; name: string; change: string }>;
          flipCount: number;
        };
      }>(
        owner,
        `query($d: PolicyDraftInput!) { simulatePolicy(draft: $d, days: ${DAYS}) { report { wouldDenyAdmissions byRule { key } } flips { clusterId namespace name change } flipCount } }`,
        { d: { policyId, action: 'BLOCK', rules: [{ ruleId: 'privileged-container', enabled: false }] } },
      ),
    ).simulatePolicy;
    const from = Math.floor(now / DAY) * DAY - (DAYS - 1) * DAY;
    const inWindow = sent.filter((s) => Date.parse(s.event.occurredAt) >= from);
    const open = (s: Sent, keep: (f: Finding) => boolean) =>
      s.event.findings.some((f) => f.policyId === policyId && !f.exempted && keep(f));
    const wl = (s: Sent) => `${s.cluster.id}/${s.event.namespace}/${s.event.owner.name}`;
    const before = new Set(inWindow.filter((s) => open(s, () => true)).map(wl));
    const afterDraft = new Set(inWindow.filter((s) => open(s, (f) => f.ruleId !== 'privileged-container')).map(wl));
    const expected = [...before].filter((w) => !afterDraft.has(w)).sort();
    assert.ok(expected.length > 0);
    assert.deepEqual(sim.flips.map((f) => `${f.clusterId}/${f.namespace}/${f.name}`).sort(), expected);
    assert.ok(sim.flips.every((f) => f.change === 'DENY_TO_ALLOW'));
    assert.equal(
      sim.report.wouldDenyAdmissions,
      inWindow.filter((s) => open(s, (f) => f.ruleId !== 'privileged-container')).length,
    );
    assert.ok(!sim.report.byRule.some((r) => r.key === 'privileged-container'));
  });

  it('lists events newest first with filters and cursors, and summarises from the rollup', async () => {
    const q = `query($f: AdmissionEventFilter, $after: String) { admissionEvents(first: 7, filter: $f, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { eventId occurredAt namespace owner { kind name } decision findings { ruleId exempted } hasSnapshot } } } }`;
    const filter = {
      from: new Date(now - 20 * DAY).toISOString(),
      clusterId: a1.id,
      ruleId: 'resource-limits',
      workload: 'Deployment/cart',
    };
    const expected = sent
      .filter(
        (s) =>
          s.cluster === a1 &&
          s.event.owner.name === 'cart' &&
          s.event.findings.some((f) => f.ruleId === 'resource-limits'),
      )
      .sort(
        (x, y) => y.event.occurredAt.localeCompare(x.event.occurredAt) || (y.event.eventId < x.event.eventId ? -1 : 1),
      );
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = data(
        await h.gql<{
          admissionEvents: {
            totalCount: number;
            pageInfo: { hasNextPage: boolean; endCursor: string };
            edges: Array<{ node: { eventId: string; hasSnapshot: boolean } }>;
          };
        }>(owner, q, { f: filter, after }),
      ).admissionEvents;
      assert.equal(page.totalCount, expected.length);
      seen.push(...page.edges.map((e) => e.node.eventId));
      assert.ok(page.edges.every((e) => e.node.hasSnapshot));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    assert.deepEqual(
      seen,
      expected.map((s) => s.event.eventId),
    );

    const summary = data(
      await h.gql<{
        admissionSummary: {
          totalAdmissions: number;
          groups: Array<{ clusterId: string; decision: string; admissions: number }>;
        };
      }>(
        owner,
        `query($w: TimeWindowInput) { admissionSummary(groupBy: [CLUSTER, DECISION], window: $w) { totalAdmissions groups { clusterId decision admissions } } }`,
        { w: { from: new Date(now - 30 * DAY).toISOString(), to: new Date(now + 3_600_000).toISOString() } },
      ),
    ).admissionSummary;
    assert.equal(summary.totalAdmissions, sent.length);
    for (const c of [a1, a2, b1]) {
      for (const d of ['ALLOWED', 'AUDITED', 'EXEMPTED']) {
        const n = sent.filter((s) => s.cluster === c && s.event.decision === d).length;
        assert.equal(
          summary.groups.find((g) => g.clusterId === c.id && g.decision === d)?.admissions ?? 0,
          n,
          `${c.id} ${d}`,
        );
      }
    }
    const bad = await h.gql(owner, `{ admissionSummary(groupBy: [HOUR, DAY]) { totalAdmissions } }`);
    assert.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });
});
