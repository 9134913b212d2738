/**
 * Alert rules end to end: GraphQL CRUD and RBAC, then agent uploads through the real API, the
 * `alert-rules` queue and the real worker into dispatched alerts (the `alerts` table and its
 * delivery rows), delivered by the worker's `alerts` queue to a real signed-webhook receiver on
 * loopback HTTPS.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { verifyWebhook } from '@portcullis/alerts';
import {
  NO_DB_REASON,
  tempDir,
  testTls,
  admissionEvent,
  eventually,
  finding,
  onlyError,
  startApi,
  startWorker,
  testDatabaseConfigured,
  type ApiHarness,
  type GqlResult,
} from '@portcullis/testing';
import { AlertRulesProcessor } from '../src/alert-rules/alert-rules.processor';

/**
 * Its own Redis prefix: every worker of the run consumes the `alerts` queue under the shared
 * one, and another spec's worker (without this spec's receiver CA or its private-address
 * allowance) would take these deliveries.
 */
const ownRedisPrefix = (): string =>
  `${process.env['REDIS_PREFIX'] ?? 'portcullis-test'}-alert-rules-${randomUUID().slice(0, 8)}`;

function data<T>(res: GqlResult<T>): T {
  assert.equal(res.errors, undefined, JSON.stringify(res.errors));
  return res.data as T;
}

interface StoredAlert {
  id: string;
  kind: string;
  rule_id: string | null;
  title: string;
  body: { count: number; samples?: unknown[]; namespace?: string; workload?: { name: string }; rule?: string };
}

const RULE_FIELDS = `id name kind severity enabled digestSeconds thresholdMinutes destinationIds version
  filters { cloudScopeIds clusterIds namespacePatterns policyIds ruleIds decisions }`;

interface Delivered {
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

describe('alert rules', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  const tls = testTls();
  const caFile = path.join(tempDir('portcullis-alert-rules-'), 'receivers-ca.pem');
  fs.writeFileSync(caFile, tls.caPem);
  const delivered: Delivered[] = [];
  const receiver = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      delivered.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(204).end();
    });
  });
  let secret: string;
  let h: ApiHarness;
  let worker: INestApplicationContext;
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  let owner: string;
  let tenantId: string;
  let destination: string;
  let scopeId: string;
  const clusters: Record<string, { id: string; token: string }> = {};
  let auditPolicy: string;

  before(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    h = await startApi({
      REDIS_PREFIX: ownRedisPrefix(),
      ALERTS_ALLOW_PRIVATE_DESTINATIONS: 'true',
      ALERTS_EXTRA_CA_FILE: caFile,
      ALERTS_RATE_LIMIT_PER_MINUTE: '6000',
      LOG_LEVEL: 'silent',
    });
    worker = await startWorker(h.config, { clock });
    const t = await h.onboard('Alert rules');
    owner = t.ownerToken;
    tenantId = t.tenantId;
    scopeId = data(
      await h.gql<{ createCloudScope: { id: string } }>(
        owner,
        `mutation { createCloudScope(input: { provider: AWS_ACCOUNT, externalId: "${String(Date.now()).slice(-12).padStart(12, '7')}", displayName: "alerts" }) { id } }`,
      ),
    ).createCloudScope.id;
    for (const name of ['prod', 'staging']) {
      const reg = data(
        await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
          owner,
          `mutation($i: RegisterClusterInput!) { registerCluster(input: $i) { cluster { id } agentToken } }`,
          { i: { cloudScopeId: scopeId, name, distribution: 'EKS' } },
        ),
      ).registerCluster;
      clusters[name] = { id: reg.cluster.id, token: reg.agentToken };
    }
    auditPolicy = data(
      await h.gql<{ policies: { edges: Array<{ node: { id: string; name: string } }> } }>(
        owner,
        '{ policies(first: 10) { edges { node { id name } } } }',
      ),
    ).policies.edges.find((e) => e.node.name === 'Default K8s misconfiguration rule')!.node.id;
    const created = data(
      await h.gql<{ createAlertDestination: { destination: { id: string }; secret: string } }>(
        owner,
        'mutation($i: CreateAlertDestinationInput!) { createAlertDestination(input: $i) { destination { id } secret } }',
        {
          i: {
            name: 'sec-team',
            kind: 'WEBHOOK',
            url: `https://localhost:${(receiver.address() as AddressInfo).port}/hook`,
            rateLimitPerMinute: 6000,
          },
        },
      ),
    ).createAlertDestination;
    destination = created.destination.id;
    secret = created.secret;
  });
  after(async () => {
    await worker?.close();
    await h?.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  async function createRule(input: Record<string, unknown>, token = owner) {
    return h.gql<{ createAlertRule: { id: string } }>(
      token,
      `mutation($i: CreateAlertRuleInput!) { createAlertRule(input: $i) { ${RULE_FIELDS} } }`,
      { i: { destinationIds: [destination], ...input } },
    );
  }

  function upload(cluster: string, events: readonly unknown[]) {
    return h
      .http()
      .post('/agent/v1/admission-events')
      .set('Authorization', `Bearer ${clusters[cluster]!.token}`)
      .send({ events });
  }

  async function alertsOf(ruleId: string): Promise<StoredAlert[]> {
    return h.prisma.$queryRaw<StoredAlert[]>`
      SELECT id::text, kind, rule_id::text, title, body FROM alerts WHERE rule_id = ${ruleId}::uuid ORDER BY created_at, id`;
  }

  const blockFinding = (ruleId = 'privileged-container') =>
    finding(auditPolicy, ruleId, { action: 'BLOCK', policyName: 'restricted' });

  const denial = (overrides: Record<string, unknown> = {}) =>
    admissionEvent({ decision: 'DENIED', findings: [blockFinding()], ...overrides });

  it('validates a rule by field and records who made it', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'x', kind: 'BLOCK_DENIAL', destinationIds: [randomUUID()] }, 'destinationIds[0]'],
      [
        { name: 'x', kind: 'BLOCK_DENIAL', filters: { namespacePatterns: ['prod', 'Bad Pattern!'] } },
        'filters.namespacePatterns[1]',
      ],
      [{ name: 'x', kind: 'BLOCK_DENIAL', filters: { ruleIds: ['no-such-rule'] } }, 'filters.ruleIds[0]'],
      [{ name: 'x', kind: 'BLOCK_DENIAL', filters: { clusterIds: [randomUUID()] } }, 'filters.clusterIds[0]'],
      [{ name: 'x', kind: 'AGENT_SILENT' }, 'thresholdMinutes'],
    ];
    for (const [input, field] of cases) {
      const e = onlyError(await createRule(input));
      assert.equal(e.code, 'BAD_USER_INPUT', e.message);
      assert.equal(e.field, field, e.message);
    }
    const none = await h.prisma.$queryRaw<
      Array<{ n: number }>
    >`SELECT count(*)::int AS n FROM alert_rules WHERE tenant_id = ${tenantId}::uuid`;
    assert.equal(none[0]!.n, 0, 'nothing was written');

    const rule = data(await createRule({ name: 'crud', kind: 'BLOCK_DENIAL', enabled: false })).createAlertRule;
    const updated = data(
      await h.gql<{ updateAlertRule: { version: number; severity: string; filters: { namespacePatterns: string[] } } }>(
        owner,
        `mutation($id: ID!, $i: UpdateAlertRuleInput!) { updateAlertRule(id: $id, input: $i) { ${RULE_FIELDS} } }`,
        { id: rule.id, i: { severity: 'CRITICAL', filters: { namespacePatterns: ['prod-*'] } } },
      ),
    ).updateAlertRule;
    assert.equal(updated.version, 2);
    assert.equal(updated.severity, 'CRITICAL');
    assert.deepEqual(updated.filters.namespacePatterns, ['prod-*']);
    const dup = onlyError(await createRule({ name: 'crud', kind: 'BLOCK_DENIAL' }));
    assert.equal(dup.code, 'CONFLICT');
    data(await h.gql(owner, `mutation { deleteAlertRule(id: "${rule.id}") { id } }`));
    const audit = await h.prisma.auditLogEntry.findMany({
      where: { tenantId, targetId: rule.id },
      orderBy: { id: 'asc' },
    });
    assert.deepEqual(
      audit.map((a) => a.action),
      ['alertRule.create', 'alertRule.update', 'alertRule.delete'],
    );
  });

  it('lets tenant-level OWNER and SECURITY_ADMIN manage rules, readers list them, scoped admins neither', async () => {
    const reader = randomUUID();
    const scopedAdmin = randomUUID();
    data(
      await h.gql(owner, `mutation { assignRole(input: { principalId: "${reader}", role: SECURITY_READER }) { id } }`),
    );
    data(
      await h.gql(
        owner,
        `mutation { assignRole(input: { principalId: "${scopedAdmin}", role: SECURITY_ADMIN, cloudScopeId: "${scopeId}" }) { id } }`,
      ),
    );
    const readerToken = await h.token(tenantId, reader);
    const scopedToken = await h.token(tenantId, scopedAdmin);
    assert.equal(onlyError(await createRule({ name: 'r', kind: 'BLOCK_DENIAL' }, readerToken)).code, 'FORBIDDEN');
    assert.equal(onlyError(await createRule({ name: 'r', kind: 'BLOCK_DENIAL' }, scopedToken)).code, 'FORBIDDEN');
    assert.equal(onlyError(await h.gql(scopedToken, '{ alertRules { totalCount } }')).code, 'FORBIDDEN');
    const listed = data(
      await h.gql<{ alertRules: { totalCount: number } }>(readerToken, '{ alertRules { totalCount } }'),
    );
    assert.equal(typeof listed.alertRules.totalCount, 'number');
    const other = await h.onboard('Another tenant');
    const foreign = data(
      await h.gql<{ alertRules: { totalCount: number } }>(other.ownerToken, '{ alertRules { totalCount } }'),
    );
    assert.equal(foreign.alertRules.totalCount, 0, 'no rule of another tenant is visible');
  });

  it('sends a Block denial once, even when its batch is re-sent, and only for matching clusters and namespaces', async () => {
    const rule = data(
      await createRule({
        name: 'prod denials',
        kind: 'BLOCK_DENIAL',
        digestSeconds: 0,
        filters: { clusterIds: [clusters['prod']!.id], namespacePatterns: ['shop*'] },
      }),
    ).createAlertRule;
    const hit = denial({ namespace: 'shop', owner: { kind: 'Deployment', name: 'web' } });
    const batch = [
      hit,
      denial({ namespace: 'kube-public' }),
      admissionEvent({ decision: 'DENIED', dryRun: true, findings: [blockFinding()] }),
      admissionEvent({ decision: 'AUDITED', findings: [finding(auditPolicy, 'privileged-container')] }),
    ];
    assert.equal((await upload('prod', batch)).status, 200);
    assert.equal((await upload('prod', batch)).status, 200, 're-sent');
    assert.equal((await upload('staging', [denial({ namespace: 'shop' })])).status, 200);
    const alerts = await eventually('the Block denial alert', async () => {
      const a = await alertsOf(rule.id);
      return a.length > 0 ? a : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_500)); // anything else would have arrived by now
    const all = await alertsOf(rule.id);
    assert.equal(all.length, 1, JSON.stringify(all.map((a) => a.title)));
    assert.equal(alerts[0]!.kind, 'BLOCK_DENIAL');
    assert.equal(alerts[0]!.body.namespace, 'shop');
    assert.match(alerts[0]!.title, /privileged-container/);
    const deliveries = await h.prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM alert_deliveries WHERE alert_id = ${alerts[0]!.id}::uuid AND destination_id = ${destination}::uuid`;
    assert.equal(deliveries[0]!.n, 1, 'one delivery to the rule destination');
    // the receiver has it once, signed with the secret shown at creation
    const got = await eventually('the alert at the receiver', () => {
      const d = delivered.filter((r) => r.headers['webhook-id'] === alerts[0]!.id);
      return d.length > 0 ? d : undefined;
    });
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(delivered.filter((r) => r.headers['webhook-id'] === alerts[0]!.id).length, 1);
    assert.ok(
      verifyWebhook(
        secret,
        {
          id: String(got[0]!.headers['webhook-id']),
          timestamp: String(got[0]!.headers['webhook-timestamp']),
          signature: String(got[0]!.headers['webhook-signature']),
        },
        got[0]!.body,
      ),
    );
    assert.equal(
      delivered.filter((r) => r.body.includes(batch[1]!.eventId) || r.body.includes(batch[2]!.eventId)).length,
      0,
      'the other namespace and the dry run alerted nothing',
    );
    assert.ok(got[0]!.body.includes(hit.eventId));
  });

  it("an agent's Block denial reaches Slack-, Teams- and SIEM-shaped receivers as well as the signed webhook, once each", async () => {
    const port = (receiver.address() as AddressInfo).port;
    const add = async (kind: string, urlPath: string) =>
      data(
        await h.gql<{ createAlertDestination: { destination: { id: string } } }>(
          owner,
          'mutation($i: CreateAlertDestinationInput!) { createAlertDestination(input: $i) { destination { id } } }',
          {
            i: {
              name: `every-kind-${kind}`,
              kind,
              url: `https://localhost:${port}${urlPath}`,
              rateLimitPerMinute: 6000,
            },
          },
        ),
      ).createAlertDestination.destination.id;
    const others = [
      await add('SLACK', '/slack/T0/B0/x'),
      await add('TEAMS', '/teams/flow'),
      await add('SIEM', '/siem'),
    ];
    const rule = data(
      await createRule({
        name: 'payments denials everywhere',
        kind: 'BLOCK_DENIAL',
        digestSeconds: 0,
        destinationIds: [destination, ...others],
        filters: { namespacePatterns: ['payments'] },
      }),
    ).createAlertRule;
    const hit = denial({ namespace: 'payments', owner: { kind: 'Deployment', name: 'ledger' } });
    assert.equal((await upload('prod', [hit])).status, 200);
    const [alert] = await eventually('the alert', async () => {
      const a = await alertsOf(rule.id);
      return a.length > 0 ? a : undefined;
    });
    // the Slack, Teams and SIEM destinations belong to this rule alone; the webhook is shared with the others
    const at = (prefix: string) =>
      delivered.filter(
        (r) => r.path.startsWith(prefix) && (prefix !== '/hook' || r.headers['webhook-id'] === alert!.id),
      );
    await eventually('all four receivers', () =>
      ['/hook', '/slack/', '/teams/', '/siem'].every((p) => at(p).length > 0) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1_000)); // a second copy would have arrived by now
    for (const p of ['/hook', '/slack/', '/teams/', '/siem']) assert.equal(at(p).length, 1, `${p} once`);

    const web = at('/hook')[0]!;
    assert.equal(web.headers['webhook-id'], alert!.id);
    assert.ok(
      verifyWebhook(
        secret,
        {
          id: String(web.headers['webhook-id']),
          timestamp: String(web.headers['webhook-timestamp']),
          signature: String(web.headers['webhook-signature']),
        },
        web.body,
      ),
    );
    const slack = JSON.parse(at('/slack/')[0]!.body) as { text: string; blocks: unknown[] };
    assert.match(slack.text, /^\[HIGH\] Blocked: Pod payments\//);
    assert.ok(slack.blocks.length > 0);
    const teams = JSON.parse(at('/teams/')[0]!.body) as {
      type: string;
      attachments: Array<{ contentType: string; content: { type: string } }>;
    };
    assert.equal(teams.type, 'message');
    assert.equal(teams.attachments[0]!.contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(teams.attachments[0]!.content.type, 'AdaptiveCard');
    const siem = at('/siem')[0]!;
    assert.equal(siem.headers['content-type'], 'application/x-ndjson');
    const events = siem.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; specversion: string; type: string });
    const event = events.find((e) => e.id === alert!.id)!;
    assert.equal(event.specversion, '1.0');
    assert.equal(event.type, 'dev.portcullis.alert.block_denial');
    assert.ok(siem.body.includes(hit.eventId), 'the SIEM event carries the admission event it came from');
  });

  it('alerts the first would-be denial once per workload and rule, not per replica', async () => {
    const rule = data(
      await createRule({
        name: 'first would-deny',
        kind: 'FIRST_WOULD_DENY',
        digestSeconds: 0,
        filters: { namespacePatterns: ['fwd'] },
      }),
    ).createAlertRule;
    const replica = () =>
      admissionEvent({
        namespace: 'fwd',
        decision: 'AUDITED',
        owner: { kind: 'Deployment', name: 'api' },
        name: `api-${randomUUID().slice(0, 8)}`,
        findings: [finding(auditPolicy, 'privileged-container'), finding(auditPolicy, 'read-only-root-filesystem')],
      });
    for (let b = 0; b < 5; b++) {
      const res = await upload('prod', Array.from({ length: 10 }, replica));
      assert.equal(res.status, 200, res.text);
    }
    await eventually('two first would-deny alerts', async () =>
      (await alertsOf(rule.id)).length >= 2 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    const alerts = await alertsOf(rule.id);
    assert.deepEqual(alerts.map((a) => a.body.rule).sort(), ['privileged-container', 'read-only-root-filesystem']);
    assert.ok(alerts.every((a) => a.kind === 'FIRST_WOULD_DENY' && a.body.workload?.name === 'api'));
  });

  it('folds a burst of 5,000 denials into a bounded number of messages carrying the whole count', async () => {
    const rule = data(
      await createRule({
        name: 'burst',
        kind: 'BLOCK_DENIAL',
        digestSeconds: 2,
        filters: { namespacePatterns: ['burst'] },
      }),
    ).createAlertRule;
    for (let b = 0; b < 10; b++) {
      const events = Array.from({ length: 500 }, (_, i) =>
        denial({ namespace: 'burst', owner: { kind: 'Deployment', name: `w${b}-${i}` } }),
      );
      const res = await upload('prod', events);
      assert.equal(res.status, 200, res.text);
    }
    const alerts = await eventually(
      'every denial counted',
      async () => {
        const a = await alertsOf(rule.id);
        return a.reduce((n, x) => n + x.body.count, 0) >= 5000 ? a : undefined;
      },
      60_000,
    );
    assert.equal(
      alerts.reduce((n, x) => n + x.body.count, 0),
      5000,
    );
    assert.ok(alerts.length <= 12, `bounded: ${alerts.length} messages`);
    const digest = alerts.find((a) => a.body.count > 1)!;
    assert.ok(digest.body.samples && digest.body.samples.length <= 10 && digest.body.samples.length > 0);
  });

  it('alerts when an agent is silent longer than the threshold, once per episode', async () => {
    const rule = data(
      await createRule({
        name: 'silent',
        kind: 'AGENT_SILENT',
        thresholdMinutes: 5,
        filters: { clusterIds: [clusters['staging']!.id] },
      }),
    ).createAlertRule;
    const processor = worker.get(AlertRulesProcessor);
    await processor.runPeriodicChecks();
    assert.equal((await alertsOf(rule.id)).length, 0, 'not silent yet');
    offsetMs = 6 * 60_000;
    try {
      await processor.runPeriodicChecks();
      await processor.runPeriodicChecks();
    } finally {
      offsetMs = 0;
    }
    const alerts = await alertsOf(rule.id);
    assert.equal(alerts.length, 1);
    assert.match(alerts[0]!.title, /staging silent/);
  });

  it('alerts a policy becoming ready to switch to Block on the edge only', async () => {
    const rule = data(
      await createRule({
        name: 'ready',
        kind: 'POLICY_READY',
        readyAfterDays: 1,
        filters: { policyIds: [auditPolicy] },
      }),
    ).createAlertRule;
    const res = await upload('prod', [
      admissionEvent({
        namespace: 'ready',
        decision: 'AUDITED',
        findings: [finding(auditPolicy, 'privileged-container')],
      }),
    ]);
    assert.equal(res.status, 200);
    await h.flushRollups(tenantId);
    const processor = worker.get(AlertRulesProcessor);
    await processor.runPeriodicChecks(); // today: a would-be denial, not ready
    await processor.runPeriodicChecks();
    assert.equal((await alertsOf(rule.id)).length, 0);
    offsetMs = 2 * 86_400_000; // two days on, nothing new would have been denied
    try {
      await processor.runPeriodicChecks();
      await processor.runPeriodicChecks();
    } finally {
      offsetMs = 0;
    }
    const alerts = await alertsOf(rule.id);
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.kind, 'POLICY_READY');
  });

  it('alerts a policy change from the audit log', async () => {
    const rule = data(
      await createRule({
        name: 'changes',
        kind: 'CONFIG_CHANGE',
        digestSeconds: 0,
        filters: { policyIds: [auditPolicy] },
      }),
    ).createAlertRule;
    const processor = worker.get(AlertRulesProcessor);
    await processor.runPeriodicChecks(); // starts watching
    const { policy } = data(
      await h.gql<{ policy: { version: number } }>(owner, `{ policy(id: "${auditPolicy}") { version } }`),
    );
    data(
      await h.gql(
        owner,
        `mutation { updatePolicy(id: "${auditPolicy}", input: { action: BLOCK, version: ${policy.version} }) { id } }`,
      ),
    );
    await processor.runPeriodicChecks();
    await processor.runPeriodicChecks();
    const alerts = await alertsOf(rule.id);
    assert.equal(alerts.length, 1, JSON.stringify(alerts.map((a) => a.title)));
    assert.match(alerts[0]!.title, /policy\.update/);
  });
});
