/**
 * One policy file, two paths: `portcullis eval -p file` in a pipeline, and the file
 * imported into the API, stored, compiled into the cluster's signed bundle — the
 * same objects get the same verdicts and the same violations.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import YAML from 'yaml';
import { fromJwks, verifyBundle } from '@portcullis/bundle';
import { repoPath } from '@portcullis/config';
import { compilePolicies, evaluatePolicies, type Policy } from '@portcullis/policy-engine';
import { NO_DB_REASON, startApi, startWorker, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: equivalence }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { namespaces: { include: ["prod-*"], exclude: [] } }
  rules:
    - preset: pss-baseline
    - id: resource-limits
      params: { maxMemoryLimit: 1Gi }
    - id: trusted-registries
      params: { allowedImages: ["registry.example.com/"] }
  exemptions:
    - names: [legacy-]
      match: PREFIX
      reason: being rewritten
      grantedBy: alice
`;

const deployment = (
  name: string,
  namespace: string,
  container: Record<string, unknown>,
  pod: Record<string, unknown> = {},
) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace },
  spec: { template: { spec: { ...pod, containers: [{ name: 'app', ...container }] } } },
});
const MANIFESTS = [
  deployment('good', 'prod-a', {
    image: 'registry.example.com/a:1',
    resources: { limits: { cpu: '1', memory: '512Mi' } },
  }),
  deployment('too-big', 'prod-a', {
    image: 'registry.example.com/a:1',
    resources: { limits: { cpu: '1', memory: '4Gi' } },
  }),
  deployment('hub-image', 'prod-b', { image: 'nginx:1.27', resources: { limits: { cpu: '1', memory: '128Mi' } } }),
  deployment(
    'privileged',
    'prod-b',
    {
      image: 'registry.example.com/b:2',
      securityContext: { privileged: true },
      resources: { limits: { cpu: '1', memory: '128Mi' } },
    },
    { hostNetwork: true },
  ),
  deployment('legacy-root', 'prod-b', { image: 'nginx', securityContext: { privileged: true } }),
  deployment('dev-anything', 'dev', { image: 'nginx', securityContext: { privileged: true } }),
];

describe(
  'a policy file gives the same verdicts through eval and through the API',
  { skip: testDatabaseConfigured ? false : NO_DB_REASON },
  () => {
    let h: ApiHarness;
    let worker: INestApplicationContext;
    before(async () => {
      h = await startApi();
      worker = await startWorker(h.config);
    });
    after(async () => {
      await worker?.close();
      await h?.close();
    });

    it('same decisions and violations, object by object', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'equivalence-'));
      fs.writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
      fs.writeFileSync(path.join(dir, 'manifests.yaml'), MANIFESTS.map((m) => YAML.stringify(m)).join('---\n'));
      const cli = spawnSync(
        process.execPath,
        [
          repoPath('apps', 'cli', 'bin', 'portcullis.js'),
          'eval',
          '-p',
          'policy.yaml',
          '--format',
          'json',
          'manifests.yaml',
        ],
        { cwd: dir, encoding: 'utf8' },
      );
      assert.equal(cli.status, 1, cli.stderr);
      const viaCli = (
        JSON.parse(cli.stdout) as {
          results: Array<{ name: string; decision: string; violations: Array<{ rule: string; path: string }> }>;
        }
      ).results;

      const owner = (await h.onboard('Equivalence')).ownerToken;
      const imported = await h.gql(
        owner,
        'mutation($d: String!) { importPolicies(document: $d) { changes { change } } }',
        { d: POLICY },
      );
      assert.equal(imported.errors, undefined, JSON.stringify(imported.errors));
      const scope = await h.gql<{ createCloudScope: { id: string } }>(
        owner,
        'mutation { createCloudScope(input: { provider: GCP_PROJECT, externalId: "equivalence-test", displayName: "eq" }) { id } }',
      );
      const reg = await h.gql<{ registerCluster: { cluster: { id: string }; agentToken: string } }>(
        owner,
        `mutation { registerCluster(input: { cloudScopeId: "${scope.data!.createCloudScope.id}", name: "eq", distribution: GKE }) { cluster { id } agentToken } }`,
      );
      const { cluster, agentToken } = reg.data!.registerCluster;
      const res = await h.http().get('/agent/v1/bundle?waitSeconds=20').set('Authorization', `Bearer ${agentToken}`);
      assert.equal(res.status, 200, res.text);
      const jwks = (await h.http().get('/.well-known/jwks.json')).body;
      const verdict = verifyBundle(res.body, { trustedKeys: fromJwks(jwks), clusterId: cluster.id, now: new Date() });
      assert.ok(verdict.ok);
      const stored = verdict.bundle.policies.filter((p) => p.name === 'equivalence') as unknown as Policy[];
      assert.equal(stored.length, 1);
      const compiled = compilePolicies(stored);

      const summary = (decision: string, violations: ReadonlyArray<{ rule: string; path: string }>) => ({
        decision,
        violations: violations.map((v) => `${v.rule} ${v.path}`).sort(),
      });
      for (const [i, m] of MANIFESTS.entries()) {
        const viaApi = evaluatePolicies(m, compiled, { defaultNamespace: 'default', now: new Date() });
        assert.deepEqual(
          summary(viaApi.decision, viaApi.violations),
          summary(viaCli[i]!.decision, viaCli[i]!.violations),
          m.metadata.name,
        );
      }
      assert.deepEqual(
        viaCli.map((r) => r.decision),
        ['allow', 'deny', 'deny', 'deny', 'allow', 'allow'],
      );
    });
  },
);
