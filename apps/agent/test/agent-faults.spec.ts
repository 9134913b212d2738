import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey } from '@portcullis/bundle';
import { defaultRuleConfigs } from '@portcullis/policy-engine';
import {
  ControlPlane,
  agentEnv,
  eventually,
  misconfigurationPolicy,
  newAgentToken,
  postReview,
  reviewOf,
  spawnAgent,
  tempDir,
  testTls,
  type AgentProcess,
  type TestTls,
} from '@portcullis/testing';

const pod = (name: string, privileged: boolean) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'shop' },
  spec: { containers: [{ name: 'web', image: 'nginx:1.27', securityContext: { privileged } }] },
});
const noPrivileged = misconfigurationPolicy('BLOCK', {
  rules: defaultRuleConfigs('MISCONFIGURATION')
    .filter((r) => r.id === 'privileged-container')
    .map((r) => ({ id: r.id, params: { ...r.params } })),
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('faults: the agent as its own process, the API down, SIGKILL', () => {
  const token = newAgentToken();
  const key = generateSigningKey();
  let tls: TestTls;
  let api: ControlPlane;
  let env: Record<string, string>;
  let agent: AgentProcess | null = null;
  const produced: string[] = [];
  const connection = new https.Agent({ keepAlive: true });

  /** Sends reviews; returns the event ids the agent spooled for them. */
  async function admit(count: number, prefix: string): Promise<void> {
    for (let i = 0; i < count; i++) {
      const privileged = i % 2 === 0;
      const r = await postReview(
        agent!.webhookPort,
        tls.caPem,
        JSON.stringify(reviewOf(pod(`${prefix}-${i}`, privileged))),
        connection,
      );
      assert.equal(r.review.response.allowed, !privileged, `${prefix}-${i}: enforced by the persisted bundle`);
      const id = r.review.response.auditAnnotations?.['event-id'];
      assert.ok(id, 'each admission was spooled');
      produced.push(id);
    }
  }
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${agent!.metricsPort}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as { bundleRevision: number | null; spoolDepth: number; droppedEvents: number };
  };
  const kill = async () => {
    agent!.child.kill('SIGKILL');
    const { signal } = await agent!.exited;
    assert.equal(signal, 'SIGKILL');
    agent = null;
  };

  before(async () => {
    tls = testTls();
    const port = await freePort();
    api = new ControlPlane(tls, token, key);
    api.port = port;
    env = agentEnv({
      dir: tempDir(),
      apiUrl: `https://127.0.0.1:${port}`,
      token,
      jwks: api.jwks,
      tls,
      extra: { PORTCULLIS_EVENT_BATCH_SIZE: '7' },
    });
  });
  after(async () => {
    if (agent) agent.child.kill('SIGKILL');
    connection.destroy();
    await api.stop();
  });

  it('a first run fetches and persists revision 1, then is killed', async () => {
    await api.start();
    api.publish([noPrivileged]);
    agent = await spawnAgent(env);
    await eventually('revision 1 applied', async () => (await readyz()).bundleRevision === 1);
    await kill();
    await api.stop();
  });

  it('API down for the whole run: the restarted agent enforces the persisted bundle at once and spools', async () => {
    agent = await spawnAgent(env);
    assert.equal((await readyz()).bundleRevision, 1, 'enforcing before any answer from the API');
    await admit(30, 'down');
    assert.equal((await readyz()).spoolDepth, 30);
  });

  it('SIGKILL with the API still down, restart: nothing spooled is lost, enforcement continues', async () => {
    await kill();
    agent = await spawnAgent(env);
    assert.equal((await readyz()).spoolDepth, 30);
    await admit(20, 'restarted');
    assert.equal((await readyz()).spoolDepth, 50);
    const metrics = await (
      await fetch(`http://127.0.0.1:${agent.metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) })
    ).text();
    assert.match(metrics, /portcullis_agent_spool_depth 50/);
  });

  it('API back: the spool drains, every event arrives once, in order, none duplicated', async () => {
    await api.start();
    await eventually(
      'the spool to drain',
      async () => (await readyz()).spoolDepth === 0 && produced.every((id) => api.events.has(id)),
      30_000,
    );
    assert.deepEqual(api.received, produced, 'nothing was uploaded twice');
    await eventually('a status with an empty spool', () =>
      api.statuses.some((s) => s.spoolDepth === 0 && s.appliedRevision === 1 && s.droppedEvents === 0),
    );
  });

  it('SIGKILL while uploading, restart: every event arrives; repeats (at least once) are absorbed by the event id', async () => {
    const before = produced.length;
    await admit(60, 'busy');
    await kill();
    agent = await spawnAgent(env);
    await eventually(
      'the rest to arrive',
      async () => (await readyz()).spoolDepth === 0 && produced.every((id) => api.events.has(id)),
      30_000,
    );
    assert.equal(api.events.size, produced.length);
    assert.equal(new Set(api.received).size, produced.length);
    assert.ok(produced.length - before === 60);
    await kill();
  });
});
