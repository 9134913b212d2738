/**
 * The background audit's API side (issue #25): workload reports posted with real agent credentials
 * (FULL in pages, DELTA, removals, re-sends, bad input, incomplete syncs), the current state read back
 * through GraphQL (runningWorkloads and its posture summary) with tenant and scope visibility, and
 * running workloads in auditToDenyReport readiness and simulatePolicy(includeRunning).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { prepareSnapshot, type RunningViolation } from '@portcullis/contracts';
import { InventoryStore } from '@portcullis/inventory';
import { compilePolicies, evaluatePolicies, type CompiledPolicy, type Policy } from '@portcullis/policy-engine';
import { NO_DB_REASON, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';
import { clusterIn, data, scopeWithCluster, type TestCluster } from '../inventory/support';

type Variant = 'good' | 'privileged' | 'hostnet' | 'nolimits';

function deployment(namespace: string, name: string, variant: Variant, image = `registry.example.com/${name}:1`) {
  const container: Record<string, unknown> = {
    name: 'app',
    image,
    ...(variant === 'nolimits' ? {} : { resources: { limits: { cpu: '500m', memory: '256Mi' } } }),
  };
  if (variant === 'privileged') container['securityContext'] = { privileged: true };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, uid: randomUUID() },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { ...(variant === 'hostnet' ? { hostNetwork: true } : {}), containers: [container] },
      },
    },
  };
}

interface Sent {
  kind: string;
  apiVersion: string;
  namespace: string | null;
  name: string;
  uid: string;
  pods: number;
  images: string[];
  snapshotHash: string;
  snapshot?: Record<string, unknown>;
  violations: RunningViolation[];
}

const RUNNING = `totalCount pageInfo { hasNextPage endCursor }
  edges { node { source clusterId cloudScopeId namespace kind name uid pods images evaluatedRevision wouldDeny firstSeenAt
    violations { policy { id name action } rule action message path container exempted since } } }`;
const SUMMARY = `summary { workloads pods violatingWorkloads wouldDenyWorkloads wouldDenyPods
  byPolicy { policy { id name } workloads pods blockWorkloads auditWorkloads }
  byRule { policy { id } rule workloads pods blockWorkloads auditWorkloads }
  clusters { clusterId lastReportAt lastFullSyncAt evaluatedRevision syncInProgress } }`;

interface Node {
  source: string;
  clusterId: string;
  namespace: string | null;
  kind: string;
  name: string;
  uid: string;
  pods: number;
  images: string[];
  evaluatedRevision: number | null;
  wouldDeny: boolean;
  firstSeenAt: string;
  violations: Array<{
    policy: { id: string; name: string; action: string } | null;
    rule: string;
    action: string;
    exempted: boolean;
    since: string;
    container: string | null;
  }>;
}

describe(
  'background audit: workload reports and running workloads',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let owner: string;
    let tenantId: string;
    let policyId: string;
    let compiled: CompiledPolicy;
    let a1: TestCluster;
    let a2: TestCluster;
    let b1: TestCluster;

    before(async () => {
      h = await startApi();
      const t = await h.onboard('Background audit');
      owner = t.ownerToken;
      tenantId = t.tenantId;
      a1 = await scopeWithCluster(h, owner, '555555555555', 'bg-a1');
      a2 = await clusterIn(h, owner, a1.cloudScopeId, 'bg-a2');
      b1 = await scopeWithCluster(h, owner, '666666666666', 'bg-b1');
      policyId = data(
        await h.gql<{ createPolicy: { id: string } }>(
          owner,
          `mutation($i: CreatePolicyInput!) { createPolicy(input: $i) { id } }`,
          {
            i: {
              name: 'no privileges',
              type: 'MISCONFIGURATION',
              action: 'AUDIT',
              rules: [
                { ruleId: 'privileged-container', enabled: true },
                { ruleId: 'host-namespaces', enabled: true },
              ],
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
      [compiled] = compilePolicies([policy]) as [CompiledPolicy];
    });
    after(async () => h?.close());

    /** A running Deployment as the agent reports it: evaluated with the policy as the agent holds it. */
    function workload(namespace: string, name: string, variant: Variant, pods = 2, withSnapshot = true): Sent {
      const object = deployment(namespace, name, variant);
      const result = evaluatePolicies(object, [compiled], {
        defaultNamespace: namespace,
        now: new Date(),
        owner: { kind: 'Deployment', name },
      });
      const meta = object.metadata;
      return {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        namespace,
        name,
        uid: meta.uid,
        pods,
        images: [object.spec.template.spec.containers[0]!.image as string],
        snapshotHash: prepareSnapshot(object).hash,
        ...(withSnapshot ? { snapshot: object } : {}),
        violations: result.violations.map((v) => ({
          policyId: v.policyId,
          rule: v.rule,
          action: v.action,
          message: v.message,
          exempted: v.exempted,
          ...(v.path ? { path: v.path } : {}),
          ...(v.container ? { container: v.container } : {}),
        })),
      };
    }

    function post(token: string | undefined, body: unknown, gzip = false) {
      const text = JSON.stringify(body);
      const req = h
        .http()
        .post('/agent/v1/workload-reports')
        .set('Content-Type', 'application/json')
        .serialize((b: unknown) => b as string);
      if (token) req.set('Authorization', `Bearer ${token}`);
      if (gzip) req.set('Content-Encoding', 'gzip');
      return req.send(gzip ? (gzipSync(text) as unknown as string) : text);
    }

    const full = (
      sync: { id: string; page: number; last: boolean },
      workloads: Sent[],
      revision: number | null = 1,
    ) => ({
      reportId: randomUUID(),
      mode: 'FULL',
      sync,
      bundleRevision: revision,
      observedAt: new Date().toISOString(),
      workloads,
    });
    const delta = (workloads: Sent[], removed: unknown[] = [], revision: number | null = 1) => ({
      reportId: randomUUID(),
      mode: 'DELTA',
      bundleRevision: revision,
      observedAt: new Date().toISOString(),
      workloads,
      removed,
    });

    async function running(token: string, filter: Record<string, unknown> = {}, first = 20) {
      return data(
        await h.gql<{
          runningWorkloads: {
            totalCount: number;
            pageInfo: { hasNextPage: boolean; endCursor: string | null };
            edges: Array<{ node: Node }>;
            summary: {
              workloads: number;
              pods: number;
              violatingWorkloads: number;
              wouldDenyWorkloads: number;
              wouldDenyPods: number;
              byPolicy: Array<{
                policy: { id: string };
                workloads: number;
                pods: number;
                blockWorkloads: number;
                auditWorkloads: number;
              }>;
              byRule: Array<{
                policy: { id: string };
                rule: string;
                workloads: number;
                pods: number;
                blockWorkloads: number;
                auditWorkloads: number;
              }>;
              clusters: Array<{
                clusterId: string;
                evaluatedRevision: number | null;
                syncInProgress: boolean;
                lastFullSyncAt: string | null;
              }>;
            };
          };
        }>(
          token,
          `query($f: RunningWorkloadFilter, $first: Int) { runningWorkloads(filter: $f, first: $first) { ${RUNNING} ${SUMMARY} } }`,
          { f: filter, first },
        ),
      ).runningWorkloads;
    }

    interface Page {
      edges: Array<{ node: Node }>;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
    }

    async function setAction(action: 'AUDIT' | 'BLOCK') {
      const { version } = await h.prisma.policy.findUniqueOrThrow({ where: { id: policyId } });
      data(
        await h.gql(owner, `mutation($id: ID!, $i: UpdatePolicyInput!) { updatePolicy(id: $id, input: $i) { id } }`, {
          id: policyId,
          i: { action, version },
        }),
      );
    }

    const names = (nodes: ReadonlyArray<{ node: Node }>) =>
      nodes.map((e) => `${e.node.namespace}/${e.node.name}`).sort();

    it('applies a FULL sync only when its last page arrives, atomically, and replaces the state', async () => {
      const syncId = randomUUID();
      const page1 = [workload('shop', 'web', 'good'), workload('shop', 'cart', 'privileged', 3)];
      const page2 = [workload('payments', 'ledger', 'hostnet', 1), workload('legacy', 'batch', 'good', 0)];
      let res = await post(a1.token, full({ id: syncId, page: 1, last: false }, page1));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body, { accepted: true, duplicate: false, staged: true, unknownSnapshots: [] });
      // staged, not applied: nothing is queryable yet, and the cluster says a sync is in progress
      let got = await running(owner, { clusterId: a1.id });
      assert.equal(got.totalCount, 0);
      assert.deepEqual(
        got.summary.clusters.map((c) => [c.clusterId, c.syncInProgress]),
        [[a1.id, true]],
      );
      res = await post(a1.token, full({ id: syncId, page: 2, last: true }, page2), true);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.staged, false);
      got = await running(owner, { clusterId: a1.id });
      assert.deepEqual(names(got.edges), ['legacy/batch', 'payments/ledger', 'shop/cart', 'shop/web']);
      const cart = got.edges.find((e) => e.node.name === 'cart')!.node;
      assert.equal(cart.source, 'RUNNING');
      assert.equal(cart.pods, 3);
      assert.equal(cart.evaluatedRevision, 1);
      assert.equal(cart.wouldDeny, false, 'an Audit policy denies nothing');
      assert.deepEqual(
        cart.violations.map((v) => [v.policy?.id, v.rule, v.action, v.exempted, v.container]),
        [[policyId, 'privileged-container', 'AUDIT', false, 'app']],
      );
      assert.equal(got.summary.workloads, 4);
      assert.equal(got.summary.pods, 6);
      assert.equal(got.summary.violatingWorkloads, 2);
      assert.equal(got.summary.wouldDenyWorkloads, 0);
      assert.deepEqual(
        got.summary.byPolicy.map((p) => [p.policy.id, p.workloads, p.pods, p.blockWorkloads, p.auditWorkloads]),
        [[policyId, 2, 4, 0, 2]],
      );
      assert.deepEqual(
        got.summary.byRule.map((p) => [p.rule, p.workloads, p.pods]),
        [
          ['host-namespaces', 1, 1],
          ['privileged-container', 1, 3],
        ],
      );
      assert.deepEqual(
        got.summary.clusters.map((c) => [
          c.clusterId,
          c.evaluatedRevision,
          c.syncInProgress,
          c.lastFullSyncAt !== null,
        ]),
        [[a1.id, 1, false, true]],
      );

      // a later FULL sync without cart and batch: they are gone; the rest keep their first-seen time and since
      const before = Object.fromEntries(got.edges.map((e) => [e.node.name, e.node]));
      const again = [page1[0]!, page2[0]!];
      res = await post(a1.token, full({ id: randomUUID(), page: 1, last: true }, again, 2));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      got = await running(owner, { clusterId: a1.id });
      assert.deepEqual(names(got.edges), ['payments/ledger', 'shop/web']);
      const ledger = got.edges.find((e) => e.node.name === 'ledger')!.node;
      assert.equal(ledger.firstSeenAt, before['ledger']!.firstSeenAt);
      assert.equal(ledger.violations[0]!.since, before['ledger']!.violations[0]!.since);
      assert.equal(ledger.evaluatedRevision, 2);
    });

    it('applies DELTAs: changed workloads upserted, removed ones gone, a heartbeat moves the revision', async () => {
      const c = await clusterIn(h, owner, a1.cloudScopeId, 'bg-delta');
      const web = workload('shop', 'web', 'good');
      const api = workload('shop', 'api', 'nolimits');
      assert.equal((await post(c.token, full({ id: randomUUID(), page: 1, last: true }, [web, api]))).status, 200);
      // web becomes privileged (its snapshot changed), api is deleted, a bare pod appears
      const webNow = { ...workload('shop', 'web', 'privileged'), uid: web.uid };
      const pod = { ...workload('shop', 'debug', 'hostnet', 1), kind: 'Pod', apiVersion: 'v1' };
      let res = await post(c.token, delta([webNow, pod], [{ kind: 'Deployment', namespace: 'shop', name: 'api' }]));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      let got = await running(owner, { clusterId: c.id });
      assert.deepEqual(
        got.edges.map((e) => [e.node.kind, e.node.name, e.node.violations.map((v) => v.rule).join()]),
        [
          ['Deployment', 'web', 'privileged-container'],
          ['Pod', 'debug', 'host-namespaces'],
        ],
      );
      // a DELTA naming the workload by its hash only (snapshot unchanged) is stored; an unknown hash is reported back
      const { snapshot: _s, ...webByHash } = webNow;
      const unknown = { ...workload('shop', 'new', 'good', 1, false) };
      res = await post(c.token, delta([webByHash, unknown]));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.unknownSnapshots, [1]);
      // heartbeat: nothing changes but the evaluated revision
      res = await post(c.token, delta([], [], 7));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      got = await running(owner, { clusterId: c.id });
      assert.deepEqual(
        got.edges.map((e) => [e.node.name, e.node.evaluatedRevision]),
        [
          ['new', 7],
          ['web', 7],
          ['debug', 7],
        ],
      );
    });

    it('acknowledges a re-sent report without applying it twice', async () => {
      const c = await clusterIn(h, owner, a1.cloudScopeId, 'bg-resend');
      const report = full({ id: randomUUID(), page: 1, last: true }, [workload('shop', 'web', 'privileged')]);
      assert.equal((await post(c.token, report)).status, 200);
      const first = await running(owner, { clusterId: c.id });
      // meanwhile the workload was removed; the first report re-sent must not bring it back
      assert.equal(
        (await post(c.token, delta([], [{ kind: 'Deployment', namespace: 'shop', name: 'web' }]))).status,
        200,
      );
      const res = await post(c.token, report);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.duplicate, true);
      assert.equal(first.totalCount, 1);
      assert.equal((await running(owner, { clusterId: c.id })).totalCount, 0);
    });

    it('refuses bad input with 400 naming the field, and stores nothing', async () => {
      const c = await clusterIn(h, owner, a1.cloudScopeId, 'bg-bad');
      const good = workload('shop', 'web', 'privileged');
      const cases: Array<[unknown, string]> = [
        [
          { ...delta([good]), workloads: [{ ...good, violations: [{ ...good.violations[0]!, rule: 'Bad Rule' }] }] },
          'workloads[0].violations[0].rule',
        ],
        [{ ...delta([good]), mode: 'FULL' }, 'sync'],
        [{ ...delta([good]), workloads: [{ ...good, snapshotHash: 'f'.repeat(64) }] }, 'workloads[0].snapshotHash'],
        [{ ...delta([good]), observedAt: new Date(Date.now() + 3_600_000).toISOString() }, 'observedAt'],
        [{ ...delta([good]), workloads: [good, good] }, 'workloads[1].name'],
      ];
      for (const [body, field] of cases) {
        const res = await post(c.token, body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.ok(JSON.stringify(res.body).includes(field), `${field}: ${JSON.stringify(res.body)}`);
      }
      assert.equal((await running(owner, { clusterId: c.id })).totalCount, 0);
      // without a credential, or with one naming another cluster
      assert.equal((await post(undefined, delta([good]))).status, 401);
      const other = await h
        .http()
        .post('/agent/v1/workload-reports')
        .set('Authorization', `Bearer ${c.token}`)
        .set('X-Portcullis-Cluster', a1.id)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(delta([good])));
      assert.equal(other.status, 403);
    });

    it('does not apply an incomplete sync: a missing page, a page of an unknown sync, an expired one', async () => {
      const c = await clusterIn(h, owner, a1.cloudScopeId, 'bg-incomplete');
      assert.equal(
        (await post(c.token, full({ id: randomUUID(), page: 1, last: true }, [workload('shop', 'old', 'good')])))
          .status,
        200,
      );
      const syncId = randomUUID();
      assert.equal(
        (await post(c.token, full({ id: syncId, page: 1, last: false }, [workload('shop', 'a', 'good')]))).status,
        200,
      );
      // page 2 never arrives
      let res = await post(c.token, full({ id: syncId, page: 3, last: true }, [workload('shop', 'c', 'good')]));
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.match(JSON.stringify(res.body), /page 2 did not/);
      assert.equal(res.body.field, 'sync.page');
      assert.equal(res.body.restartSync, true);
      assert.deepEqual(res.body.missingPages, [2]);
      res = await post(c.token, full({ id: randomUUID(), page: 2, last: true }, [workload('shop', 'x', 'good')]));
      assert.equal(res.status, 409, JSON.stringify(res.body));
      let got = await running(owner, { clusterId: c.id });
      assert.deepEqual(names(got.edges), ['shop/old']);
      // the staged page ages past 15 minutes: its sync is discarded
      await h.prisma.$executeRawUnsafe(
        `UPDATE running_cluster_states SET sync_started_at = now() - interval '16 minutes' WHERE cluster_id = $1::uuid`,
        c.id,
      );
      res = await post(c.token, full({ id: syncId, page: 2, last: true }, [workload('shop', 'b', 'good')]));
      assert.equal(res.status, 409, JSON.stringify(res.body));
      got = await running(owner, { clusterId: c.id });
      assert.deepEqual(names(got.edges), ['shop/old']);
    });

    it('pages the list with filters, and limits readers to their scopes and tenant', async () => {
      const b = [
        workload('shop', 'b-web', 'privileged'),
        workload('team-x', 'b-api', 'good'),
        workload('team-y', 'b-job', 'hostnet'),
      ];
      assert.equal((await post(b1.token, full({ id: randomUUID(), page: 1, last: true }, b))).status, 200);
      const a2s = [workload('shop', 'a2-web', 'privileged')];
      assert.equal((await post(a2.token, full({ id: randomUUID(), page: 1, last: true }, a2s))).status, 200);

      // pages of 1 walk every workload of b1 once
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: Page = data(
          await h.gql<{
            runningWorkloads: {
              edges: Array<{ node: Node }>;
              pageInfo: { hasNextPage: boolean; endCursor: string | null };
            };
          }>(
            owner,
            `query($f: RunningWorkloadFilter, $a: String) { runningWorkloads(filter: $f, first: 1, after: $a) { ${RUNNING} } }`,
            { f: { clusterId: b1.id }, a: after },
          ),
        ).runningWorkloads;
        seen.push(...page.edges.map((e) => e.node.name));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual(seen, ['b-web', 'b-api', 'b-job']);
      assert.deepEqual(names((await running(owner, { clusterId: b1.id, namespace: 'team-*' })).edges), [
        'team-x/b-api',
        'team-y/b-job',
      ]);
      assert.deepEqual(names((await running(owner, { clusterId: b1.id, rule: 'host-namespaces' })).edges), [
        'team-y/b-job',
      ]);
      assert.deepEqual(names((await running(owner, { clusterId: b1.id, policyId, onlyViolating: true })).edges), [
        'shop/b-web',
        'team-y/b-job',
      ]);
      // a LIKE wildcard is not a namespace pattern: refused naming the field, never matched as one
      const refused = await h.gql(owner, `{ runningWorkloads(filter: { namespace: "%" }) { totalCount } }`);
      assert.equal(refused.errors?.[0]?.extensions?.field, 'filter.namespace', JSON.stringify(refused));

      // a crafted pattern (many wildcards against a long namespace of the one letter) answers, matching nothing
      const long = 'a'.repeat(63);
      assert.equal((await post(b1.token, delta([workload(long, 'crafted', 'good')]))).status, 200);
      const crafted = `${'*a'.repeat(120)}*b`;
      assert.equal((await running(owner, { clusterId: b1.id, namespace: crafted })).totalCount, 0);
      assert.deepEqual(
        names((await running(owner, { clusterId: b1.id, namespace: `*a*a*${'?'.repeat(10)}*` })).edges),
        [`${long}/crafted`],
      );
      assert.equal(
        (await post(b1.token, delta([], [{ kind: 'Deployment', namespace: long, name: 'crafted' }]))).status,
        200,
      );

      // a SECURITY_READER of b1's scope sees only b1
      const readerId = randomUUID();
      data(
        await h.gql(owner, `mutation($i: AssignRoleInput!) { assignRole(input: $i) { id } }`, {
          i: { principalId: readerId, role: 'SECURITY_READER', cloudScopeId: b1.cloudScopeId },
        }),
      );
      const reader = await h.token(tenantId, readerId, 'Reader');
      const mine = await running(reader);
      assert.ok(mine.edges.length > 0 && mine.edges.every((e) => e.node.clusterId === b1.id));
      assert.deepEqual(
        mine.summary.clusters.map((c) => c.clusterId),
        [b1.id],
      );
      assert.equal((await running(reader, { clusterId: a2.id })).totalCount, 0);
      assert.equal((await running(reader, { cloudScopeId: a1.cloudScopeId })).totalCount, 0);

      // another tenant sees nothing of this one
      const other = await h.onboard('Background audit, other tenant');
      const theirs = await running(other.ownerToken);
      assert.equal(theirs.totalCount, 0);
      assert.deepEqual(theirs.summary.clusters, []);
    });

    it('keeps the snapshot of a running workload through retention, and lets it go once the workload is gone', async () => {
      const c = await clusterIn(h, owner, a1.cloudScopeId, 'bg-retention');
      const w = workload('shop', 'long-runner', 'good');
      assert.equal((await post(c.token, full({ id: randomUUID(), page: 1, last: true }, [w]))).status, 200);
      const hash = Buffer.from(w.snapshotHash, 'hex');
      const held = () => h.prisma.admissionSnapshot.count({ where: { tenantId, hash: new Uint8Array(hash) } });
      // last seen long ago, as a workload that has run for months without being admitted again
      await h.prisma.$executeRawUnsafe(
        `UPDATE admission_snapshots SET last_seen_day = now() - interval '400 days' WHERE tenant_id = $1::uuid AND hash = $2`,
        tenantId,
        hash,
      );
      const store = h.app.get(InventoryStore);
      await store.deleteSnapshotsBefore(tenantId, new Date());
      assert.equal(await held(), 1, 'a running workload refers to it');
      assert.equal(
        (await post(c.token, delta([], [{ kind: 'Deployment', namespace: 'shop', name: 'long-runner' }]))).status,
        200,
      );
      await store.deleteSnapshotsBefore(tenantId, new Date());
      assert.equal(await held(), 0);
    });

    it('keeps a policy not ready while a running workload would be denied, naming it; simulates running workloads', async () => {
      const c = await scopeWithCluster(h, owner, '777777777777', 'bg-ready');
      // the admissions are clean: without running workloads the policy would be ready
      const readiness = async () =>
        data(
          await h.gql<{
            auditToDenyReport: {
              wouldDenyWorkloads: number;
              runningWouldDenyWorkloads: number;
              runningWouldDenyPods: number;
              runningWouldDeny: Array<{
                source: string;
                clusterId: string;
                namespace: string;
                kind: string;
                name: string;
                pods: number;
                rules: string[];
              }>;
              readiness: { ready: boolean; runningWouldDeny: number; reasons: string[] };
            };
          }>(
            owner,
            `query($p: ID!) { auditToDenyReport(policyId: $p, days: 7, readyAfterDays: 3) { wouldDenyWorkloads runningWouldDenyWorkloads runningWouldDenyPods
            runningWouldDeny { source clusterId namespace kind name pods rules } readiness { ready runningWouldDeny reasons } } }`,
            { p: policyId },
          ),
        ).auditToDenyReport;
      await setAction('BLOCK');
      const before = await readiness();

      const violator = workload('shop', 'legacy-app', 'privileged', 4);
      assert.equal(
        (
          await post(
            c.token,
            full({ id: randomUUID(), page: 1, last: true }, [violator, workload('shop', 'fine', 'good')]),
          )
        ).status,
        200,
      );
      const r = await readiness();
      assert.equal(r.wouldDenyWorkloads, 0, 'admission counts keep their meaning');
      assert.equal(r.readiness.ready, false);
      assert.equal(r.runningWouldDenyWorkloads, before.runningWouldDenyWorkloads + 1);
      const mine = r.runningWouldDeny.find((w) => w.clusterId === c.id)!;
      assert.deepEqual(mine, {
        source: 'RUNNING',
        clusterId: c.id,
        namespace: 'shop',
        kind: 'Deployment',
        name: 'legacy-app',
        pods: 4,
        rules: ['privileged-container'],
      });
      assert.ok(
        r.readiness.reasons.some((s) => s.includes('Deployment shop/legacy-app') && s.includes(c.id)),
        r.readiness.reasons.join('\n'),
      );

      // simulating a draft without the privileged rule: the running violator would no longer be denied
      const sim = async (rules: unknown[], includeRunning: boolean) =>
        data(
          await h.gql<{
            simulatePolicy: {
              running: null | {
                workloads: number;
                evaluated: number;
                withoutSnapshot: number;
                wouldDenyWorkloads: number;
                wouldDenyPods: number;
                flipCount: number;
                flips: Array<{ name: string; change: string; source: string }>;
              };
              report: {
                runningWouldDeny: Array<{ clusterId: string; name: string; source: string }>;
                readiness: { ready: boolean };
              };
            };
          }>(
            owner,
            `query($d: PolicyDraftInput!, $r: Boolean!) { simulatePolicy(draft: $d, days: 7, readyAfterDays: 3, includeRunning: $r) {
            running { workloads evaluated withoutSnapshot wouldDenyWorkloads wouldDenyPods flipCount flips { name change source } }
            report { runningWouldDeny { clusterId name source } readiness { ready } } } }`,
            { d: { policyId, scope: { cloudScopeIds: [c.cloudScopeId], clusterIds: [] }, rules }, r: includeRunning },
          ),
        ).simulatePolicy;
      assert.equal((await sim([], false)).running, null);
      const same = await sim([], true);
      assert.deepEqual(
        { ...same.running, flips: same.running!.flips },
        {
          workloads: 2,
          evaluated: 2,
          withoutSnapshot: 0,
          wouldDenyWorkloads: 1,
          wouldDenyPods: 4,
          flipCount: 0,
          flips: [],
        },
      );
      assert.deepEqual(
        same.report.runningWouldDeny.map((w) => [w.clusterId, w.name, w.source]),
        [[c.id, 'legacy-app', 'RUNNING']],
      );
      const relaxed = await sim([{ ruleId: 'privileged-container', enabled: false }], true);
      assert.equal(relaxed.running!.wouldDenyWorkloads, 0);
      assert.deepEqual(relaxed.running!.flips, [{ name: 'legacy-app', change: 'DENY_TO_ALLOW', source: 'RUNNING' }]);
      assert.deepEqual(relaxed.report.runningWouldDeny, []);

      // the violator goes away: ready again (as far as this cluster is concerned)
      assert.equal(
        (await post(c.token, delta([], [{ kind: 'Deployment', namespace: 'shop', name: 'legacy-app' }]))).status,
        200,
      );
      const after = await readiness();
      assert.ok(!after.runningWouldDeny.some((w) => w.clusterId === c.id));
      await setAction('AUDIT');
    });
  },
);
