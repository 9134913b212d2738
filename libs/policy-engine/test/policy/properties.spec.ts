/**
 * Any JSON value in yields a result — violations, pass, or a typed "cannot evaluate" —
 * never an exception: arbitrary JSON, and real-looking workloads with fields dropped
 * or replaced by arbitrary values.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compilePolicies,
  defaultRuleConfigs,
  evaluatePolicies,
  expandPreset,
  type ArtifactLookup,
  type Policy,
} from '@portcullis/policy-engine';

const ALL: Policy[] = [
  {
    id: 'd',
    name: 'default',
    type: 'MISCONFIGURATION',
    action: 'BLOCK',
    namespaces: { include: [], exclude: [] },
    rules: defaultRuleConfigs('MISCONFIGURATION'),
    exemptions: [],
  },
  {
    id: 'r',
    name: 'restricted',
    type: 'MISCONFIGURATION',
    action: 'AUDIT',
    namespaces: { include: ['*'], exclude: [] },
    rules: expandPreset('pss-restricted'),
    exemptions: [{ id: 'e', namespaces: ['a*'], match: 'GLOB', reason: 'r', grantedBy: 'u' }],
  },
  {
    id: 'v',
    name: 'vulns',
    type: 'VULNERABILITY',
    action: 'BLOCK',
    namespaces: { include: [], exclude: [] },
    rules: defaultRuleConfigs('VULNERABILITY'),
    exemptions: [{ id: 'c', cves: ['CVE-2024-3094'], match: 'EQUALS', reason: 'r', grantedBy: 'u' }],
  },
];
const compiled = compilePolicies(ALL);
// the artifact service answers with whatever it likes, including shapes the types forbid
let artifactReply: unknown = { status: 'not-found' };
const ctx = { defaultNamespace: 'default', now: new Date(), scanArtifacts: () => artifactReply as ArtifactLookup };

function wellFormed(r: ReturnType<typeof evaluatePolicies>): void {
  assert.ok(['evaluated', 'not-applicable', 'cannot-evaluate'].includes(r.status));
  assert.ok(r.decision === 'allow' || r.decision === 'deny');
  assert.ok(Array.isArray(r.violations));
  for (const v of r.violations)
    assert.ok(typeof v.rule === 'string' && typeof v.message === 'string' && typeof v.path === 'string');
  if (r.status !== 'evaluated') assert.equal(typeof r.reason, 'string');
}

const SEED = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: {
    name: 'web',
    namespace: 'shop',
    annotations: { 'container.apparmor.security.beta.kubernetes.io/web': 'unconfined' },
  },
  spec: {
    template: {
      metadata: { labels: { a: 'b' } },
      spec: {
        hostNetwork: true,
        securityContext: { runAsUser: 0, sysctls: [{ name: 'x' }], seLinuxOptions: { type: 't' } },
        volumes: [{ name: 'h', hostPath: { path: '/' } }],
        containers: [
          {
            name: 'web',
            image: 'nginx',
            ports: [{ hostPort: 80 }],
            livenessProbe: { httpGet: { host: 'x' } },
            resources: { limits: { cpu: '1' } },
            securityContext: {
              privileged: true,
              capabilities: { add: ['SYS_ADMIN'], drop: [] },
              procMount: 'Unmasked',
              seccompProfile: { type: 'Unconfined' },
            },
          },
        ],
        initContainers: [{ name: 'i', image: 'busybox' }],
      },
    },
  },
};
const POD = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'apps', labels: { app: 'p' } },
  spec: {
    hostPID: true,
    securityContext: { runAsNonRoot: true, supplementalGroups: [0] },
    ephemeralContainers: [
      {
        name: 'dbg',
        image: 'busybox@sha256:' + 'b'.repeat(64),
        securityContext: { capabilities: { add: ['NET_ADMIN'] } },
      },
    ],
    containers: [
      {
        name: 'app',
        image: 'ghcr.io/acme/app:1',
        resources: { limits: { cpu: '500m', memory: '1Gi' } },
        lifecycle: { postStart: { tcpSocket: { host: '1.2.3.4' } } },
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          windowsOptions: { hostProcess: true },
        },
      },
    ],
  },
};
const CRONJOB = {
  apiVersion: 'batch/v1',
  kind: 'CronJob',
  metadata: { name: 'c' },
  spec: {
    schedule: '* * * * *',
    jobTemplate: {
      spec: {
        template: {
          metadata: { annotations: { 'container.apparmor.security.beta.kubernetes.io/j': 'localhost/x' } },
          spec: {
            volumes: [
              { name: 'v', emptyDir: {} },
              { name: 'n', nfs: { server: 's', path: '/' } },
            ],
            containers: [
              {
                name: 'j',
                image: 'j:1',
                securityContext: { runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
              },
            ],
          },
        },
      },
    },
  },
};
const INGRESS = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name: 'i', annotations: {} },
  spec: { tls: [] },
};

/** Every path to a value inside an object, as key lists. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function mutate(seed: unknown, path: Array<string | number>, replacement: unknown, drop: boolean): unknown {
  const copy = structuredClone(seed) as Record<string | number, unknown>;
  if (path.length === 0) return replacement;
  let node: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (drop) delete node[last];
  else node[last] = replacement;
  return copy;
}

describe('the engine never throws', () => {
  it('on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => wellFormed(evaluatePolicies(v, compiled, ctx))),
      { numRuns: 1000 },
    );
  });
  it('on arbitrary objects shaped like Kubernetes objects', () => {
    const kinds = fc.constantFrom('Pod', 'Deployment', 'CronJob', 'PodTemplate', 'Ingress', 'Service', 'Job', 'List');
    fc.assert(
      fc.property(kinds, fc.string(), fc.jsonValue(), fc.jsonValue(), (kind, apiVersion, metadata, spec) =>
        wellFormed(evaluatePolicies({ apiVersion, kind, metadata, spec, template: spec }, compiled, ctx)),
      ),
      { numRuns: 1000 },
    );
  });
  const seeds = [
    ['a violating Deployment', SEED],
    ['a Pod with ephemeral containers', POD],
    ['a CronJob', CRONJOB],
    ['an Ingress', INGRESS],
  ] as const;
  const mutation = (seed: unknown) => fc.tuple(fc.constantFrom(...paths(seed)), fc.jsonValue(), fc.boolean());
  for (const [name, seed] of seeds) {
    it(`on ${name} with one to four fields dropped or replaced by arbitrary JSON`, () => {
      fc.assert(
        fc.property(fc.array(mutation(seed), { minLength: 1, maxLength: 4 }), fc.jsonValue(), (mutations, reply) => {
          artifactReply = reply;
          // later mutations may target paths an earlier one removed: then they add a field instead
          const object = mutations.reduce<unknown>((o, [path, replacement, drop]) => {
            try {
              return mutate(o, path, replacement, drop);
            } catch {
              return o;
            }
          }, seed);
          wellFormed(evaluatePolicies(object, compiled, ctx));
        }),
        { numRuns: 800 },
      );
    });
  }
  it('keeps the decision of the untouched seed', () => {
    artifactReply = { status: 'not-found' };
    assert.equal(evaluatePolicies(SEED, compiled, ctx).decision, 'deny');
    assert.equal(evaluatePolicies(INGRESS, compiled, ctx).decision, 'deny');
  });
});
