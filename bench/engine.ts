// Scenario `engine`: single-thread evaluation speed of the policy engine on real
// workloads — every misconfiguration rule of the catalog enabled — over every workload
// object of ../shared/fixtures/manifests (a built-in set when that directory is absent).
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { repoRoot } from '@portcullis/config';
import {
  RULE_CATALOG,
  compilePolicies,
  evaluatePolicies,
  inspectObject,
  validateRuleParams,
  type Policy,
  type RuleConfig,
} from '@portcullis/policy-engine';

const TRUSTED = [
  'mcr.microsoft.com/',
  'docker.io/library/*',
  'registry.k8s.io/',
  'quay.io/',
  'ghcr.io/',
  'gcr.io/',
  'us-docker.pkg.dev/',
  '*.dkr.ecr.*.amazonaws.com/',
];
const MIN_EVALUATIONS = 250_000;
// rounds, so one burst of contention on a shared machine moves one round, not the figure
const ROUNDS = 5;
const WARMUP_EVALUATIONS = 50_000;

function allMisconfigurationRules(): RuleConfig[] {
  return RULE_CATALOG.filter((r) => r.policyType === 'MISCONFIGURATION').map((r) => {
    const v = validateRuleParams(r.id, r.id === 'trusted-registries' ? { allowedImages: TRUSTED } : {});
    if (!v.ok) throw new Error(`bench configuration of ${r.id}: ${v.errors[0]!.message}`);
    return { id: r.id, params: v.params };
  });
}

function fixtureObjects(): { corpus: string; objects: unknown[] } {
  const dir = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'manifests');
  if (!fs.existsSync(dir)) return { corpus: 'builtin (../shared/fixtures/manifests is absent)', objects: BUILTIN };
  const objects: unknown[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8'))) {
      const value: unknown = doc.toJS({ maxAliasCount: 1000 });
      const items =
        (value as { kind?: unknown; items?: unknown })?.kind === 'List'
          ? ((value as { items: unknown[] }).items ?? [])
          : [value];
      objects.push(...items.filter((o) => o !== null && o !== undefined));
    }
  }
  return { corpus: 'shared/fixtures/manifests', objects };
}

const percentile = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

export function run(): Record<string, unknown> {
  const policies: Policy[] = [
    {
      id: 'bench',
      name: 'all misconfiguration rules',
      type: 'MISCONFIGURATION',
      action: 'BLOCK',
      namespaces: { include: [], exclude: [] },
      rules: allMisconfigurationRules(),
      exemptions: [],
    },
  ];
  const compiled = compilePolicies(policies);
  const { corpus, objects } = fixtureObjects();
  const workloads = objects.filter((o) => inspectObject(o, 'default').status === 'pod');
  if (workloads.length === 0) throw new Error(`no workload objects in ${corpus}`);
  const ctx = { defaultNamespace: 'default', now: new Date() };
  const iterations = Math.ceil(MIN_EVALUATIONS / workloads.length);

  for (let i = 0; i < Math.ceil(WARMUP_EVALUATIONS / workloads.length); i++)
    for (const o of workloads) evaluatePolicies(o, compiled, ctx);
  const denied = workloads.filter((o) => evaluatePolicies(o, compiled, ctx).decision === 'deny').length;

  const samples = new Float64Array(iterations * workloads.length);
  const perRound = Math.ceil(iterations / ROUNDS);
  const roundRates: number[] = [];
  let n = 0;
  let violations = 0;
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) {
    const roundStart = process.hrtime.bigint();
    const first = n;
    for (let i = round * perRound; i < Math.min(iterations, (round + 1) * perRound); i++) {
      for (const o of workloads) {
        const t0 = process.hrtime.bigint();
        const r = evaluatePolicies(o, compiled, ctx);
        samples[n++] = Number(process.hrtime.bigint() - t0) / 1e6;
        violations += r.violations.length;
      }
    }
    roundRates.push((n - first) / (Number(process.hrtime.bigint() - roundStart) / 1e9));
  }
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = process.cpuUsage(cpuBefore);
  const evaluatedMs = samples.reduce((a, b) => a + b, 0);
  samples.sort();
  return {
    podSpecsPerSecond: Math.round([...roundRates].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!),
    roundsPodSpecsPerSecond: roundRates.map(Math.round),
    overallPodSpecsPerSecond: Math.round(n / (wallMs / 1000)),
    // per CPU second of this process: what the engine costs, whatever else the machine runs
    cpuPodSpecsPerSecond: Math.round(n / ((cpu.user + cpu.system) / 1e6)),
    p50Ms: +percentile(samples, 50).toFixed(4),
    p99Ms: +percentile(samples, 99).toFixed(4),
    p999Ms: +percentile(samples, 99.9).toFixed(4),
    maxMs: +samples[samples.length - 1]!.toFixed(4),
    meanMs: +(evaluatedMs / n).toFixed(4),
    objects: workloads.length,
    iterations,
    evaluations: n,
    rules: policies[0]!.rules.length,
    violationsPerObject: +(violations / n).toFixed(2),
    deniedObjects: denied,
    corpus,
    node: process.version,
  };
}

/** Representative workloads for a clone without ../shared: hardened, default and privileged. */
const container = (name: string, image: string, securityContext: Record<string, unknown> = {}) => ({
  name,
  image,
  resources: { limits: { cpu: '500m', memory: '256Mi' } },
  securityContext,
});
const BUILTIN: unknown[] = [
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop' },
    spec: {
      template: {
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            container('web', 'ghcr.io/acme/web:1.2', {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            }),
          ],
        },
      },
    },
  },
  {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'node-agent', namespace: 'monitoring' },
    spec: {
      template: {
        spec: {
          hostNetwork: true,
          hostPID: true,
          volumes: [{ name: 'root', hostPath: { path: '/' } }],
          containers: [container('agent', 'quay.io/acme/agent:3', { privileged: true })],
        },
      },
    },
  },
  {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'report' },
    spec: {
      jobTemplate: {
        spec: {
          template: {
            spec: {
              initContainers: [{ name: 'init', image: 'busybox' }],
              containers: [{ name: 'report', image: 'python:3.12' }],
            },
          },
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'debug', namespace: 'default' },
    spec: { containers: [{ name: 'sh', image: 'alpine', ports: [{ containerPort: 80, hostPort: 80 }] }] },
  },
];
