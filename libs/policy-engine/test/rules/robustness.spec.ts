/**
 * Robustness at the rule level (fast-check): for any JSON value, and for valid
 * workloads with one field replaced by anything, inspectObject and runRules never
 * throw, no rule fails internally (RULE_ERROR), and every result is well formed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  RULE_CATALOG,
  compileRules,
  expandPreset,
  inspectObject,
  runRules,
  validateRuleParams,
  type ArtifactLookup,
  type EvaluationContext,
  type InspectedObject,
  type RuleConfig,
  type RuleFinding,
} from '@portcullis/policy-engine';
import { WORKLOADS, hardened } from './support';

const RULE_IDS = new Set(RULE_CATALOG.map((r) => r.id));
const STATUSES = new Set(['pod', 'ingress', 'generic', 'not-applicable', 'cannot-evaluate']);
const NOW = new Date('2026-11-23T00:00:00Z');

function configured(id: string, params: Record<string, unknown> = {}): RuleConfig {
  const v = validateRuleParams(id, params);
  if (!v.ok) throw new Error(v.errors[0]!.message);
  return { id, params: v.params };
}
/** Every rule, with parameters that make each of them do real work. */
const ALL = compileRules([
  ...RULE_CATALOG.map((r) => configured(r.id)),
  configured('resource-limits', { maxCpuLimit: '2', maxMemoryLimit: '1Gi' }),
  configured('trusted-registries', { allowedImages: ['registry.example.com/', 'docker.io/library/*'] }),
  configured('run-as-non-root', {
    requireRunAsNonRoot: true,
    allowedUserIds: [{ min: 1000, max: 2000 }],
    allowedGroupIds: [{ min: 1000, max: 2000 }],
  }),
  configured('vulnerability-severity', { maxHigh: 1, maxMedium: 3, onlyFixable: true, ignoreCves: ['CVE-2024-0001'] }),
  configured('vulnerability-blocked-cves', { cves: ['CVE-2024-3094'] }),
  configured('ingress-https', { requireHttpDisabledAnnotation: true }),
  configured('vulnerability-assessment-required', { onLookupFailure: 'DENY' }),
  ...expandPreset('pss-baseline'),
]);

/** What the caller's artifact source might hand back, including a source that throws and artifacts with junk inside. */
const lookupOutcome: fc.Arbitrary<ArtifactLookup | 'throws'> = fc.oneof(
  fc.constant('throws' as const),
  fc.constant({ status: 'not-found' } as const),
  fc.record({ status: fc.constant('lookup-failed' as const), error: fc.string() }),
  fc.record({
    status: fc.constant('found' as const),
    artifact: fc.record({
      image: fc.string(),
      scannedAt: fc.oneof(fc.constant('2026-11-20T00:00:00Z'), fc.constant('2020-01-01T00:00:00Z'), fc.string()),
      findings: fc.array(
        fc.oneof(
          fc.record({
            id: fc.constantFrom('CVE-2024-0001', 'CVE-2024-0002', 'CVE-2024-3094', 'GHSA-aaaa-bbbb-cccc'),
            severity: fc.constantFrom('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'),
            fixedVersion: fc.option(fc.string(), { nil: undefined }),
            cvss: fc.option(fc.double(), { nil: undefined }),
          }),
          fc.anything(),
        ) as fc.Arbitrary<never>,
        { maxLength: 12 },
      ),
    }),
  }),
);

function contextFor(outcome: ArtifactLookup | 'throws'): EvaluationContext {
  return {
    defaultNamespace: 'default',
    now: NOW,
    scanArtifacts: () => {
      if (outcome === 'throws') throw new Error('artifact service unreachable');
      return outcome;
    },
  };
}

function assertWellFormed(target: InspectedObject, found: readonly RuleFinding[]): void {
  assert.ok(STATUSES.has(target.status), `status ${String(target.status)}`);
  assert.ok(Array.isArray(found));
  if (target.status === 'not-applicable' || target.status === 'cannot-evaluate') {
    assert.ok(typeof target.reason === 'string' && target.reason.length > 0);
    assert.deepEqual(found, []);
    return;
  }
  assert.equal(typeof target.ref.kind, 'string');
  const roots = target.status === 'pod' ? [target.podPath, target.podMetaPath, 'metadata'] : ['spec', 'metadata'];
  for (const f of found) {
    assert.ok(RULE_IDS.has(f.rule), `rule ${f.rule}`);
    assert.notEqual(f.reason, 'RULE_ERROR', f.message);
    assert.ok(typeof f.message === 'string' && f.message.length > 0);
    assert.ok(
      roots.some((r) => f.path.startsWith(r)),
      `path ${f.path}`,
    );
    if (f.container !== undefined) assert.equal(typeof f.container, 'string');
    if (f.count !== undefined) assert.ok(Number.isInteger(f.count) && f.count >= 0);
  }
}

/** Every path (as keys) inside a JSON value, so a mutation can land anywhere. */
function pathsOf(
  value: unknown,
  prefix: Array<string | number> = [],
  out: Array<Array<string | number>> = [],
): Array<Array<string | number>> {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  return out;
}

function replaced(value: unknown, path: ReadonlyArray<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const key = path[0]!;
  if (Array.isArray(value)) {
    const copy: unknown[] = [...value];
    copy[key as number] = replaced(copy[key as number], path.slice(1), replacement);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copy[key] = replaced(copy[key], path.slice(1), replacement);
  return copy;
}

const RICH_POD = {
  hostNetwork: false,
  securityContext: {
    runAsNonRoot: true,
    runAsUser: 1000,
    fsGroup: 1000,
    supplementalGroups: [1001],
    seccompProfile: { type: 'RuntimeDefault' },
    sysctls: [{ name: 'net.ipv4.tcp_syncookies', value: '1' }],
  },
  containers: [
    hardened('app', {
      ports: [{ containerPort: 8080, hostPort: 0 }],
      livenessProbe: { httpGet: { path: '/', port: 8080 } },
    }),
    { name: 'side', image: 'nginx:1.27', securityContext: { capabilities: { add: ['NET_ADMIN'] } } },
  ],
  initContainers: [hardened('init')],
  ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
  volumes: [
    { name: 'tmp', emptyDir: {} },
    { name: 'host', hostPath: { path: '/var/log' } },
  ],
};
const VALID = [
  ...Object.values(WORKLOADS).map((wrap) =>
    wrap(RICH_POD, { annotations: { 'container.apparmor.security.beta.kubernetes.io/app': 'runtime/default' } }),
  ),
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name: 'web', annotations: { 'kubernetes.io/ingress.allow-http': 'false' } },
    spec: { tls: [{ hosts: ['a.example.com'], secretName: 's' }] },
  },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } },
];

describe('inspectObject + runRules never throw', () => {
  it('on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), lookupOutcome, (value, outcome) => {
        const target = inspectObject(value, 'default');
        assertWellFormed(target, runRules(target, ALL, contextFor(outcome)));
      }),
      { numRuns: 300 },
    );
  });
  it('on any JavaScript value shaped like a workload (undefined, NaN, -0, sparse arrays...)', () => {
    const kinds = fc.constantFrom(...Object.keys(WORKLOADS), 'Ingress', 'ConfigMap', 'Namespace', 'List');
    fc.assert(
      fc.property(
        kinds,
        fc.anything({ maxDepth: 4 }),
        fc.anything({ maxDepth: 3 }),
        lookupOutcome,
        (kind, spec, metadata, outcome) => {
          const target = inspectObject(
            { apiVersion: kind === 'Ingress' ? 'networking.k8s.io/v1' : 'v1', kind, metadata, spec, template: spec },
            'default',
          );
          assertWellFormed(target, runRules(target, ALL, contextFor(outcome)));
        },
      ),
      { numRuns: 300 },
    );
  });
  it('on valid workloads with one field anywhere replaced by anything', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID),
        fc.nat(),
        fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.anything({ maxDepth: 2 })),
        lookupOutcome,
        (object, pick, replacement, outcome) => {
          const paths = pathsOf(object);
          const mutated = replaced(object, paths[pick % paths.length]!, replacement);
          const target = inspectObject(mutated, 'default');
          assertWellFormed(target, runRules(target, ALL, contextFor(outcome)));
        },
      ),
      { numRuns: 500 },
    );
  });
  it('on valid workloads with any one field replaced by a value String() cannot convert (every field, every such value)', () => {
    // valid JSON can name a key toString; an object without a prototype has none: messages built
    // with String(value) threw on them, and a rule that throws never denies
    const unprintable = (): unknown[] => [
      { toString: null },
      { toString: null, valueOf: null },
      Object.create(null) as object,
      [{ toString: null }],
    ];
    let checked = 0;
    for (const object of VALID) {
      for (const path of pathsOf(object)) {
        for (const replacement of unprintable()) {
          const target = inspectObject(replaced(object, path, replacement), 'default');
          assertWellFormed(target, runRules(target, ALL, contextFor({ status: 'not-found' })));
          checked++;
        }
      }
    }
    assert.ok(checked > 400, `only ${checked} objects checked`);
  });
  it('the unmutated workloads are evaluated (the properties above exercise real rules)', () => {
    for (const object of VALID) {
      const target = inspectObject(object, 'default');
      assert.ok(target.status === 'pod' || target.status === 'ingress' || target.status === 'generic');
      assertWellFormed(target, runRules(target, ALL, contextFor({ status: 'not-found' })));
    }
    const pod = inspectObject(VALID[0], 'default');
    const rules = new Set(runRules(pod, ALL, contextFor({ status: 'not-found' })).map((f) => f.rule));
    for (const id of [
      'host-path-volumes',
      'capabilities',
      'automount-service-account-token',
      'vulnerability-assessment-required',
      'trusted-registries',
    ])
      assert.ok(rules.has(id), id);
  });
});

describe('validateRuleParams never throws', () => {
  it('on any parameters for any rule; accepted parameters compile', () => {
    const ids = fc.constantFrom(...RULE_IDS, 'no-such-rule');
    fc.assert(
      fc.property(
        ids,
        fc.oneof(
          fc.anything({ maxDepth: 3 }),
          fc.dictionary(
            fc.constantFrom(
              'maxCpuLimit',
              'allowedAdd',
              'requiredDrop',
              'allowedUserIds',
              'maxCritical',
              'cves',
              'allowedPorts',
              'blockedNamespaces',
              'maxAgeDays',
            ),
            fc.jsonValue({ maxDepth: 3 }),
          ),
        ),
        (id, params) => {
          const v = validateRuleParams(id, params);
          if (v.ok) {
            compileRules([{ id, params: v.params }]);
          } else {
            assert.ok(v.errors.length > 0);
            for (const e of v.errors) {
              assert.equal(e.rule, id);
              assert.ok(e.message.includes(`"${id}"`), e.message);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
