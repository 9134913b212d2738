import assert from 'node:assert/strict';
import * as https from 'node:https';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey } from '@portcullis/bundle';
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

// Issue 21, finding 1: the deployer chooses pod names, namespaces and images; with a pattern
// that backtracks, one crafted pod held the webhook's event loop until the API server gave up
// and failurePolicy Ignore admitted everything. The agent runs as its own process here: on the
// old code the review is never answered (postReview fails, naming itself, after its 15 s limit).
const CRAFTED = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const NAMESPACE = 'a'.repeat(60);

const crafted = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NAMESPACE },
  spec: { containers: [{ name: 'c', image: `docker.io/${'a'.repeat(200)}:1`, securityContext: { privileged: true } }] },
});
const rules = (ids: string[], params: Record<string, Record<string, unknown>> = {}) =>
  ids.map((id) => ({ id, params: params[id] ?? {} }));

describe('agent webhook: crafted pods against crafted patterns are answered (issue 21)', () => {
  const token = newAgentToken();
  const key = generateSigningKey();
  let tls: TestTls;
  let api: ControlPlane;
  let agent: AgentProcess;
  const connection = new https.Agent({ keepAlive: true });

  before(async () => {
    tls = testTls();
    api = new ControlPlane(tls, token, key);
    await api.start();
    api.publish(
      [
        misconfigurationPolicy('BLOCK', {
          id: 'scoped',
          name: 'scoped',
          namespaces: { include: [CRAFTED], exclude: [] },
          rules: rules(['privileged-container']),
        }),
        misconfigurationPolicy('BLOCK', {
          id: 'exempting',
          name: 'exempting',
          rules: rules(['privileged-container', 'trusted-registries'], {
            'trusted-registries': { allowedImages: [CRAFTED, `docker.io/${'*a'.repeat(100)}*b`] },
          }),
          exemptions: [
            {
              id: 'crafted',
              match: 'GLOB',
              names: [CRAFTED, `${'*a'.repeat(120)}*b`],
              namespaces: [CRAFTED],
              images: [CRAFTED],
              reason: 'crafted',
              grantedBy: 'test',
            },
          ],
        }),
      ],
      { agentSettings: { excludedNamespaces: [CRAFTED] } },
    );
    agent = await spawnAgent(agentEnv({ dir: tempDir(), apiUrl: api.url, token, jwks: api.jwks, tls }));
    await eventually('the bundle to be applied', async () => {
      const res = await fetch(`http://127.0.0.1:${agent.metricsPort}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return ((await res.json()) as { bundleRevision: number | null }).bundleRevision === 1;
    });
  });
  after(async () => {
    agent?.child.kill('SIGKILL');
    connection.destroy();
    await api?.stop();
  });

  it('a pod named with 200 "a"s in a 60-character namespace is answered: denied by the policy whose exemption does not match', async () => {
    const r = await postReview(
      agent.webhookPort,
      tls.caPem,
      JSON.stringify(reviewOf(crafted('a'.repeat(200)))),
      connection,
    );
    assert.equal(r.status, 200);
    assert.equal(r.review.response.allowed, false);
    assert.match(r.review.response.status!.message, /exempting/);
    assert.doesNotMatch(r.review.response.status!.message, /scoped/);
  });

  it('the webhook keeps answering, and the agent stays healthy', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await postReview(
        agent.webhookPort,
        tls.caPem,
        JSON.stringify(reviewOf(crafted(`${'a'.repeat(250)}-${i}`))),
        connection,
      );
      assert.equal(r.review.response.allowed, false);
    }
    const health = await fetch(`http://127.0.0.1:${agent.metricsPort}/healthz`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(health.status, 200);
  });
});
