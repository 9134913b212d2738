/**
 * `portcullis demo` against a started stack: its JSON line names live agents (each answers
 * an admission through `admit`), their events are queryable through admissionEvents with
 * the printed token, auditToDenyReport on the demo's Audit policy has would-be denials on
 * at least 3 days, and SIGTERM stops the agents and the demo cleanly.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { repoPath } from '@portcullis/config';
import { admitManifests, KUBERNETES_ADMIN, readManifests } from '../src/admit';
import { HARDENING_POLICY } from '../src/demo/run';
import { graphql, startStack, type Stack } from './support/stack';

interface DemoLine {
  tenantId: string;
  token: string;
  clusters: Array<{ id: string; name: string }>;
  agents: Array<{ clusterId: string; webhookUrl: string; caFile: string }>;
  events: number;
}

const NO_DB = process.env['TEST_DATABASE_URL'] ? false : 'TEST_DATABASE_URL is not set: run through `npm test`';

describe('portcullis demo', { skip: NO_DB }, () => {
  let stack: Stack;
  let demo: ChildProcess;
  let line: DemoLine;
  let stderr = '';
  let exited: Promise<number | null>;

  before(async () => {
    stack = await startStack();
    demo = spawn(process.execPath, [repoPath('apps', 'cli', 'bin', 'portcullis.js'), 'demo'], {
      env: { ...process.env, ...stack.env, NODE_ENV: 'development' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => demo.once('exit', (code) => resolve(code)));
    demo.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    let stdout = '';
    line = await new Promise<DemoLine>((resolve, reject) => {
      demo.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString('utf8');
        if (stdout.includes('\n')) resolve(JSON.parse(stdout.slice(0, stdout.indexOf('\n'))) as DemoLine);
      });
      void exited.then((code) => reject(new Error(`the demo exited (${code}) before its JSON line:\n${stderr}`)));
    });
  });

  after(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      demo.kill('SIGTERM');
      await exited;
    }
    await stack?.stop();
  });

  it('ends its set-up with one JSON line: the tenant, the token, three clusters, an agent each, the events', () => {
    assert.deepEqual(Object.keys(line).sort(), ['agents', 'clusters', 'events', 'tenantId', 'token']);
    assert.equal(line.clusters.length, 3);
    assert.deepEqual(line.agents.map((a) => a.clusterId).sort(), line.clusters.map((c) => c.id).sort());
    for (const a of line.agents) {
      assert.match(a.webhookUrl, /^https:\/\/127\.0\.0\.1:\d+\/validate$/);
      assert.match(fs.readFileSync(a.caFile, 'utf8'), /BEGIN CERTIFICATE/);
    }
    assert.ok(line.events > 100, `events: ${line.events}`);
    // the human part went to stderr, the denial among it
    assert.match(
      stderr,
      /Error from server \(Forbidden\): .*admission webhook "validate\.portcullis\.dev" denied the request/,
    );
  });

  it('names live agents: each answers an admission through admit over TLS with its CA, and the event is queryable with the token', async () => {
    const objects = await readManifests([repoPath('docs', 'examples', 'web.yaml')], {
      cwd: process.cwd(),
      stdin: process.stdin,
    });
    for (const a of line.agents) {
      const results = await admitManifests(objects, {
        target: { url: new URL(a.webhookUrl), ca: fs.readFileSync(a.caFile, 'utf8'), timeoutMs: 10_000 },
        operation: 'CREATE',
        dryRun: true,
        namespace: 'demo-e2e',
        user: KUBERNETES_ADMIN,
        maxPods: 1,
        nodeName: 'node-1',
      });
      assert.equal(results.length, 1);
      assert.equal(results[0]!.outcome, 'allowed', JSON.stringify(results[0]!.response));
      const eventId = results[0]!.response?.auditAnnotations?.['event-id'];
      assert.ok(eventId, 'the agent recorded the admission');
      // the agent uploads within its flush interval: poll, bounded
      let found:
        | { totalCount: number; edges: Array<{ node: { eventId: string; clusterId: string; dryRun: boolean } }> }
        | undefined;
      for (let i = 0; i < 100; i++) {
        const data = await graphql<{ admissionEvents: NonNullable<typeof found> }>(
          stack.apiUrl,
          line.token,
          'query($f: AdmissionEventFilter) { admissionEvents(first: 5, filter: $f) { totalCount edges { node { eventId clusterId dryRun } } } }',
          { f: { clusterId: a.clusterId, namespace: 'demo-e2e' } },
        );
        found = data.admissionEvents;
        if (found.edges.some((e) => e.node.eventId === eventId)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const node = found!.edges.find((e) => e.node.eventId === eventId)?.node;
      assert.ok(node, `event ${eventId} of cluster ${a.clusterId} in admissionEvents`);
      assert.equal(node.clusterId, a.clusterId);
      assert.equal(node.dryRun, true);
      const all = await graphql<{ admissionEvents: { totalCount: number } }>(
        stack.apiUrl,
        line.token,
        'query($f: AdmissionEventFilter) { admissionEvents(first: 1, filter: $f) { totalCount } }',
        { f: { clusterId: a.clusterId } },
      );
      assert.ok(
        all.admissionEvents.totalCount > 10,
        `cluster ${a.clusterId}: ${all.admissionEvents.totalCount} events in the last 7 days`,
      );
    }
  });

  it("auditToDenyReport on the demo's Audit policy shows would-be denials on at least 3 distinct days", async () => {
    const policies = await graphql<{
      policies: { edges: Array<{ node: { id: string; name: string; action: string } }> };
    }>(stack.apiUrl, line.token, '{ policies(first: 50) { edges { node { id name action } } } }');
    const policy = policies.policies.edges.map((e) => e.node).find((p) => p.name === HARDENING_POLICY.name);
    assert.ok(policy, `${HARDENING_POLICY.name} among ${JSON.stringify(policies)}`);
    assert.equal(policy.action, 'AUDIT');
    const report = await graphql<{
      auditToDenyReport: { wouldDenyAdmissions: number; dailyTrend: Array<{ day: string; admissions: number }> };
    }>(
      stack.apiUrl,
      line.token,
      'query($p: ID!) { auditToDenyReport(policyId: $p, days: 30) { wouldDenyAdmissions dailyTrend { day admissions } } }',
      { p: policy.id },
    );
    const days = report.auditToDenyReport.dailyTrend.filter((d) => d.admissions > 0);
    assert.ok(days.length >= 3, `days with would-be denials: ${JSON.stringify(days)}`);
    assert.ok(report.auditToDenyReport.wouldDenyAdmissions > 0);
  });

  it('stops its agents and exits 0 on SIGTERM', async () => {
    demo.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /agents stopped/);
    for (const a of line.agents) {
      const objects = await readManifests([repoPath('docs', 'examples', 'web.yaml')], {
        cwd: process.cwd(),
        stdin: process.stdin,
      });
      const results = await admitManifests(objects, {
        target: { url: new URL(a.webhookUrl), ca: fs.readFileSync(a.caFile, 'utf8'), timeoutMs: 2_000 },
        operation: 'CREATE',
        dryRun: true,
        namespace: 'demo-e2e',
        user: KUBERNETES_ADMIN,
        maxPods: 1,
        nodeName: 'node-1',
      });
      assert.equal(results[0]!.outcome, 'error', `the agent at ${a.webhookUrl} still answers`);
    }
  });
});
