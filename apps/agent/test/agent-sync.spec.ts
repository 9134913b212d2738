import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, signBundle } from '@portcullis/bundle';
import { defaultRuleConfigs } from '@portcullis/policy-engine';
import { Agent } from '../src/agent';
import { loadAgentConfig } from '../src/config';
import {
  ControlPlane,
  agentEnv,
  bundleDocument,
  eventually,
  memoryLogger,
  misconfigurationPolicy,
  newAgentToken,
  postReview,
  reviewOf,
  tempDir,
  testTls,
  type TestTls,
} from '@portcullis/testing';

const privilegedPod = (name = 'web') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop' },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27', securityContext: { privileged: true } }] },
});
const noPrivileged = (action: 'AUDIT' | 'BLOCK') =>
  misconfigurationPolicy(action, {
    rules: defaultRuleConfigs('MISCONFIGURATION')
      .filter((r) => r.id === 'privileged-container')
      .map((r) => ({ id: r.id, params: { ...r.params } })),
  });

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('agent: bundle long-poll, verification, persistence, status, metrics (in process, over HTTPS)', () => {
  const token = newAgentToken();
  const key = generateSigningKey();
  let tls: TestTls;
  let api: ControlPlane;
  let agent: Agent;
  let ports: { webhookPort: number; metricsPort: number; stop(): Promise<void> };
  let dir: string;
  const { log, lines } = memoryLogger();

  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, key).start();
    api.publish([noPrivileged('AUDIT')]);
    dir = tempDir();
    agent = new Agent(
      loadAgentConfig(
        agentEnv({ dir, apiUrl: api.url, token, jwks: api.jwks, tls, extra: { PORTCULLIS_TLS_RELOAD_SECONDS: '1' } }),
      ),
      log,
    );
    ports = await agent.start();
  });
  after(async () => {
    await ports.stop();
    await api.stop();
  });

  it('picks up revision 1, then revision 2 (BLOCK) through the long poll, and enforces each', async () => {
    await eventually('revision 1', () => agent.store.revision === 1);
    const audited = await postReview(ports.webhookPort, tls.caPem, JSON.stringify(reviewOf(privilegedPod())));
    assert.equal(audited.status, 200);
    assert.equal(audited.review.response.allowed, true);
    assert.match(audited.review.response.warnings![0]!, /rule privileged-container/);
    api.publish([noPrivileged('BLOCK')]);
    await eventually('revision 2', () => agent.store.revision === 2);
    const denied = await postReview(ports.webhookPort, tls.caPem, JSON.stringify(reviewOf(privilegedPod())));
    assert.equal(denied.review.response.allowed, false);
    const persisted = JSON.parse(fs.readFileSync(`${dir}/state/bundle.json`, 'utf8')) as { payload: string };
    assert.equal(
      (JSON.parse(Buffer.from(persisted.payload, 'base64url').toString('utf8')) as { revision: number }).revision,
      2,
    );
    const ids = [audited, denied].map((r) => r.review.response.auditAnnotations!['event-id']!);
    await eventually('both events at the API', () => ids.every((id) => api.events.has(id)));
    assert.equal(api.events.get(ids[1]!)!.decision, 'DENIED');
    assert.equal(api.events.get(ids[1]!)!.bundleRevision, 2);
    await eventually('a status naming revision 2', () =>
      api.statuses.some((s) => s.appliedRevision === 2 && s.agentVersion === '0.1.0'),
    );
  });

  it("refuses a forged bundle, a rollback and another cluster's bundle, keeps enforcing, and reports why", async () => {
    await eventually('revision 2', () => agent.store.revision === 2);
    api.serve(signBundle(bundleDocument(3, [noPrivileged('AUDIT')]), generateSigningKey()));
    await eventually('an UNKNOWN_KEY status', () => api.statuses.some((s) => /UNKNOWN_KEY/.test(s.lastError ?? '')));
    api.serve(signBundle(bundleDocument(1, [noPrivileged('AUDIT')]), key));
    await eventually('a ROLLBACK status', () => api.statuses.some((s) => /ROLLBACK/.test(s.lastError ?? '')));
    api.serve(
      signBundle(
        bundleDocument(4, [noPrivileged('AUDIT')], { clusterId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f' }),
        key,
      ),
    );
    await eventually('a WRONG_CLUSTER status', () => api.statuses.some((s) => /WRONG_CLUSTER/.test(s.lastError ?? '')));
    assert.equal(agent.store.revision, 2);
    const r = await postReview(ports.webhookPort, tls.caPem, JSON.stringify(reviewOf(privilegedPod())));
    assert.equal(r.review.response.allowed, false, 'still enforcing revision 2');
    assert.ok(
      lines.some((l) => l['msg'] === 'bundle sync' && /bundle rejected \(UNKNOWN_KEY\)/.test(String(l['problem']))),
    );
    api.publish([noPrivileged('BLOCK')], { revision: 5 });
    await eventually('revision 5', () => agent.store.revision === 5);
    await eventually(
      'a clean status',
      () => api.statuses.at(-1)?.lastError === null && api.statuses.at(-1)?.appliedRevision === 5,
    );
  });

  it('serves /healthz, /readyz and Prometheus /metrics with the admission histogram, decisions, revision, spool depth and drops', async () => {
    assert.equal((await get(ports.metricsPort, '/healthz')).status, 200);
    const ready = await get(ports.metricsPort, '/readyz');
    assert.equal(ready.status, 200);
    assert.equal((JSON.parse(ready.body) as { bundleRevision: number }).bundleRevision, 5);
    const metrics = (await get(ports.metricsPort, '/metrics')).body;
    assert.match(metrics, /portcullis_agent_admission_duration_seconds_bucket\{le="0.005"\} \d+/);
    assert.match(metrics, /portcullis_agent_admission_decisions_total\{result="denied"\} [1-9]/);
    assert.match(metrics, /portcullis_agent_admission_decisions_total\{result="audited"\} [1-9]/);
    assert.match(metrics, /portcullis_agent_bundle_revision 5/);
    assert.match(metrics, /portcullis_agent_spool_depth \d+/);
    assert.match(metrics, /portcullis_agent_dropped_events 0/);
    assert.match(metrics, /portcullis_agent_bundle_rejections_total\{reason="ROLLBACK"\} [1-9]/);
    assert.equal((await get(ports.metricsPort, '/validate')).status, 404, 'the webhook is HTTPS only');
  });

  it('answers an oversized review with a well-formed 413 review, and never logs the credential', async () => {
    const huge = JSON.stringify(reviewOf({ ...privilegedPod(), data: 'x'.repeat(9 * 1024 * 1024) }));
    const r = await postReview(ports.webhookPort, tls.caPem, huge);
    assert.equal(r.status, 413);
    assert.equal(r.review.kind, 'AdmissionReview');
    assert.equal(r.review.response.allowed, false);
    assert.ok(!JSON.stringify(lines).includes(token.split('.')[1]!));
  });

  it('picks up a renewed webhook certificate without a restart (as cert-manager renews it in place)', async () => {
    const renewed = testTls();
    fs.writeFileSync(`${dir}/tls.key`, renewed.keyPem);
    fs.writeFileSync(`${dir}/tls.crt`, renewed.certPem);
    await eventually('the renewed certificate to be served', async () => {
      try {
        return (
          (await postReview(ports.webhookPort, renewed.caPem, JSON.stringify(reviewOf(privilegedPod())))).status === 200
        );
      } catch {
        return false;
      }
    });
    assert.ok(lines.some((l) => l['msg'] === 'webhook TLS certificate reloaded'));
    // a new connection (a kept-alive one was set up with the old certificate) no longer trusts the old CA
    await assert.rejects(
      postReview(
        ports.webhookPort,
        tls.caPem,
        JSON.stringify(reviewOf(privilegedPod())),
        new https.Agent({ keepAlive: false }),
      ),
      /self-signed|unable to verify|certificate/,
    );
  });
});
