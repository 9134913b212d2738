// The parity harness: which policies, which objects, and how an engine decision is compared
// with what kube-apiserver would do with the compiled objects. The evaluator of compiled
// objects is passed in (the spec uses @portcullis/testing's evaluateVap).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import type { BundlePolicy } from '@portcullis/bundle';
import { resolveOwner } from '@portcullis/admission';
import {
  compilePolicies,
  evaluatePolicies,
  expandPreset,
  isBlocking,
  RULE_CATALOG,
  type CompiledPolicy,
  type Policy,
  type RuleConfig,
} from '@portcullis/policy-engine';
import { compileVap, ANNOTATION_POLICY_ID } from '@portcullis/vap';

export const NOW = new Date('2026-12-06T12:00:00Z');

/** Non-default parameters for every rule that has parameters. */
export const NON_DEFAULT_PARAMS: Readonly<Record<string, ReadonlyArray<Record<string, unknown>>>> = {
  'resource-limits': [
    { maxCpuLimit: '1', maxMemoryLimit: '512Mi' },
    { requireCpuLimit: false, requireMemoryLimit: false, maxCpuLimit: 2, maxMemoryLimit: '1Gi' },
  ],
  capabilities: [
    { requiredDrop: ['NET_RAW', 'cap_sys_admin'], allowedAdd: ['chown', 'CAP_KILL'] },
    { requiredDrop: [], allowedAdd: [] },
  ],
  'run-as-non-root': [
    { requireRunAsNonRoot: true },
    {
      allowedUserIds: [
        { min: 1000, max: 2000 },
        { min: 65534, max: 65534 },
      ],
      allowedGroupIds: [{ min: 1000, max: 3000 }],
    },
  ],
  'default-namespace': [{ blockedNamespaces: ['default', 'legacy', 'prod-sandbox'] }],
  'host-namespaces': [{ allowHostNetwork: true, allowHostPID: true }],
  'trusted-registries': [
    { allowedImages: ['docker.io/library/', 'quay.io/*/node:*', 'registry.k8s.io/', 'ghcr.io/kubewarden/*', 'nginx'] },
  ],
  'ingress-https': [
    { requireTls: false, requireHttpDisabledAnnotation: true },
    { requireHttpDisabledAnnotation: true },
  ],
  'host-ports': [{ allowedPorts: [80, 443, 8080] }],
  'seccomp-profile': [{ requireProfile: false }],
  'proc-mount': [{ allowUnmaskedWithUserNamespaces: true }],
  sysctls: [{ allowedSysctls: ['net.core.somaxconn', 'kernel.shm_rmid_forced'] }],
  'volume-types': [{ allowedTypes: ['configMap', 'secret', 'hostPath', 'nfs'] }],
};

/** A named set of rules compiled as one policy: each rule with defaults, its non-default variants, both presets. */
export interface RuleSet {
  readonly name: string;
  readonly rules: readonly RuleConfig[];
}

export function ruleSets(): RuleSet[] {
  const out: RuleSet[] = [];
  for (const def of RULE_CATALOG.filter((d) => d.policyType === 'MISCONFIGURATION')) {
    out.push({ name: `${def.id} (defaults)`, rules: [{ id: def.id, params: {} }] });
    (NON_DEFAULT_PARAMS[def.id] ?? []).forEach((params, i) =>
      out.push({ name: `${def.id} (params ${i + 1})`, rules: [{ id: def.id, params }] }),
    );
  }
  out.push({ name: 'pss-baseline', rules: expandPreset('pss-baseline') });
  out.push({ name: 'pss-restricted', rules: expandPreset('pss-restricted') });
  return out;
}

/** Policies that exercise namespace scopes and every kind of exemption (one expired). */
export function scopedPolicies(): Policy[] {
  const rules = (ids: string[]): RuleConfig[] => ids.map((id) => ({ id, params: {} }));
  const base = { type: 'MISCONFIGURATION' as const, action: 'BLOCK' as const };
  const e = (id: string, more: Record<string, unknown>) =>
    ({ id, reason: 'parity', grantedBy: 'tests', match: 'EQUALS', ...more }) as never;
  return [
    {
      ...base,
      id: 'scope',
      name: 'scoped',
      namespaces: { include: ['prod-*', 'team-?'], exclude: ['prod-sandbox'] },
      rules: rules(['privileged-container', 'host-namespaces', 'default-namespace']),
      exemptions: [],
    },
    {
      ...base,
      id: 'exempt',
      name: 'exempted',
      namespaces: { include: [], exclude: [] },
      rules: [
        ...rules([
          'privileged-container',
          'read-only-root-filesystem',
          'run-as-non-root',
          'apparmor-profile',
          'host-path-volumes',
        ]),
        ...expandPreset('pss-restricted').filter((r) => r.id === 'capabilities'),
      ],
      exemptions: [
        e('calico', { match: 'PREFIX', names: ['calico'] }),
        e('ds-in-kube', { match: 'GLOB', kinds: ['DaemonSet'], namespaces: ['kube-*'] }),
        e('team-net', { labelSelector: { team: 'net' }, rules: ['privileged-container'] }),
        e('nginx-images', {
          match: 'CONTAINS',
          images: ['nginx'],
          rules: ['read-only-root-filesystem', 'run-as-non-root', 'apparmor-profile'],
        }),
        e('alpine', { images: ['docker.io/library/alpine'] }),
        e('debug', { match: 'SUFFIX', names: ['-debug'], namespaces: ['default'] }),
        e('registry', {
          match: 'GLOB',
          images: ['quay.io', 'ghcr.io/*'],
          rules: ['capabilities', 'host-path-volumes'],
        }),
        e('expired', { names: ['web'], expiresAt: '2026-12-01T00:00:00Z' }),
        e('web-later', { names: ['api'], expiresAt: '2027-12-01T00:00:00Z' }),
      ],
    },
  ];
}

/** Every policy of the parity run: one per rule set, plus the scoped ones. Ids are stable. */
export function parityPolicies(): Policy[] {
  return [
    ...ruleSets().map((s, i): Policy => ({
      id: `set-${i}`,
      name: s.name,
      type: 'MISCONFIGURATION',
      action: 'BLOCK',
      namespaces: { include: [], exclude: [] },
      rules: s.rules,
      exemptions: [],
    })),
    ...scopedPolicies(),
  ];
}

export const toBundle = (p: Policy): BundlePolicy => ({
  id: p.id,
  name: p.name,
  type: p.type,
  action: p.action,
  namespaces: { include: [...p.namespaces.include], exclude: [...p.namespaces.exclude] },
  rules: p.rules.map((r) => ({ id: r.id, params: r.params })),
  exemptions: p.exemptions.map((x) => ({ ...x })),
});

/** Where kube-apiserver serves each kind the compiled policies match. */
export const RESOURCES: Readonly<Record<string, { group: string; version: string; resource: string }>> = {
  Pod: { group: '', version: 'v1', resource: 'pods' },
  ReplicationController: { group: '', version: 'v1', resource: 'replicationcontrollers' },
  PodTemplate: { group: '', version: 'v1', resource: 'podtemplates' },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  ReplicaSet: { group: 'apps', version: 'v1', resource: 'replicasets' },
  Job: { group: 'batch', version: 'v1', resource: 'jobs' },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs' },
  Ingress: { group: 'networking.k8s.io', version: 'v1', resource: 'ingresses' },
};

/** The admission request kube-apiserver builds (the fields evaluateVap reads). */
export interface VapRequest {
  readonly object: Record<string, unknown>;
  readonly oldObject: Record<string, unknown> | null;
  readonly operation: 'CREATE' | 'UPDATE';
  readonly namespace: string;
  readonly name: string;
  readonly kind: { group: string; version: string; kind: string };
  readonly resource: { group: string; version: string; resource: string };
  readonly subResource?: string;
  readonly userInfo: { username: string; groups: string[] };
  readonly dryRun: boolean;
}

/**
 * What kube-apiserver hands to admission: the namespace filled in from the request, resource
 * quantities serialised as strings (resource.Quantity always marshals to a string).
 */
export function asAdmitted(object: Record<string, unknown>, namespace: string): Record<string, unknown> {
  const o = structuredClone(object);
  const meta = (o['metadata'] ??= {}) as Record<string, unknown>;
  if (typeof meta['namespace'] !== 'string' || meta['namespace'] === '') meta['namespace'] = namespace;
  const quantities = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(quantities);
    if (typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if ((k === 'limits' || k === 'requests') && typeof x === 'object' && x !== null)
        for (const [r, q] of Object.entries(x))
          if (typeof q === 'number') (x as Record<string, unknown>)[r] = String(q);
      quantities(x);
    }
  };
  quantities(o);
  return o;
}

export function requestFor(
  object: Record<string, unknown>,
  defaultNamespace: string,
  options: { operation?: 'CREATE' | 'UPDATE'; subResource?: string; oldObject?: Record<string, unknown> | null } = {},
): VapRequest | undefined {
  const kind = object['kind'];
  if (typeof kind !== 'string' || !RESOURCES[kind]) return undefined;
  if (kind === 'Ingress' && object['apiVersion'] !== 'networking.k8s.io/v1') return undefined;
  const res = RESOURCES[kind]!;
  const admitted = asAdmitted(object, defaultNamespace);
  const meta = admitted['metadata'] as Record<string, unknown>;
  return {
    object: admitted,
    oldObject: options.oldObject ?? null,
    operation: options.operation ?? 'CREATE',
    namespace: meta['namespace'] as string,
    name: typeof meta['name'] === 'string' ? meta['name'] : '',
    kind: { group: res.group, version: res.version, kind },
    resource: res,
    ...(options.subResource ? { subResource: options.subResource } : {}),
    userInfo: { username: 'parity', groups: ['system:authenticated'] },
    dryRun: false,
  };
}

/** The shape of @portcullis/testing's evaluateVap result that parity reads. */
export interface VapOutcome {
  readonly allowed: boolean;
  readonly denials: ReadonlyArray<{ readonly policy: string; readonly message?: string }>;
  readonly errors: ReadonlyArray<unknown>;
}
export type VapEvaluator = (objects: ReadonlyArray<Record<string, unknown>>, request: VapRequest) => VapOutcome;

/** One compiled bundle of the parity policies, with the engine's compiled form and VAP name -> policy id. */
export interface ParityBundle {
  readonly policies: readonly Policy[];
  readonly engine: readonly CompiledPolicy[];
  readonly objects: ReadonlyArray<Record<string, unknown>>;
  readonly policyOf: ReadonlyMap<string, string>;
  readonly ruleOf: ReadonlyMap<string, string>;
}

export function parityBundle(policies: readonly Policy[] = parityPolicies()): ParityBundle {
  const compiled = compileVap(policies.map(toBundle), { now: NOW });
  const notCompiled = compiled.policies.filter((p) => p.state !== 'COMPILED');
  if (notCompiled.length) throw new Error(`not compiled: ${JSON.stringify(notCompiled)}`);
  const policyOf = new Map<string, string>();
  const ruleOf = new Map<string, string>();
  for (const o of compiled.objects) {
    const meta = o['metadata'] as { name: string; annotations: Record<string, string>; labels: Record<string, string> };
    policyOf.set(meta.name, meta.annotations[ANNOTATION_POLICY_ID]!);
    ruleOf.set(meta.name, meta.labels['portcullis.dev/rule']!);
  }
  return { policies, engine: compilePolicies(policies), objects: compiled.objects, policyOf, ruleOf };
}

export interface Disagreement {
  readonly source: string;
  readonly policy: string;
  readonly engine: 'allow' | 'deny';
  readonly vap: 'allow' | 'deny';
  readonly detail: string;
}

/** Compares, policy by policy, the engine's decision with kube-apiserver's on the compiled objects. */
export function compare(
  bundle: ParityBundle,
  source: string,
  request: VapRequest,
  evaluate: VapEvaluator,
): Disagreement[] {
  const owner = resolveOwner(request.object, request.kind.kind, request.name);
  const result = evaluatePolicies(request.object, bundle.engine, {
    defaultNamespace: request.namespace,
    now: NOW,
    owner,
  });
  const engineDeny = new Set(result.violations.filter(isBlocking).map((v) => v.policyId));
  const vap = evaluate(bundle.objects, request);
  const vapDeny = new Set(vap.denials.map((d) => bundle.policyOf.get(d.policy) ?? d.policy));
  const out: Disagreement[] = [];
  if (vap.errors.length)
    out.push({
      source,
      policy: '(evaluation)',
      engine: 'allow',
      vap: 'deny',
      detail: `errors: ${JSON.stringify(vap.errors).slice(0, 600)}`,
    });
  for (const p of bundle.policies) {
    const e = engineDeny.has(p.id) ? 'deny' : 'allow';
    const v = vapDeny.has(p.id) ? 'deny' : 'allow';
    if (e !== v)
      out.push({
        source,
        policy: p.name,
        engine: e,
        vap: v,
        detail:
          e === 'deny'
            ? result.violations
                .filter((x) => x.policyId === p.id && isBlocking(x))
                .map((x) => `${x.rule}: ${x.message}`)
                .join(' | ')
            : vap.denials
                .filter((d) => bundle.policyOf.get(d.policy) === p.id)
                .map((d) => d.message ?? d.policy)
                .join(' | '),
      });
  }
  return out;
}

/** Disagreements counted by policy (rule set), for the report. */
export function byPolicy(list: readonly Disagreement[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of list) out[d.policy] = (out[d.policy] ?? 0) + 1;
  return out;
}

// ---- the fixture sets -------------------------------------------------------------------

export interface ParityCase {
  readonly source: string;
  readonly request: VapRequest;
}

export function pssCases(root: string): ParityCase[] {
  const out: ParityCase[] = [];
  for (const level of ['baseline', 'restricted'])
    for (const outcome of ['pass', 'fail']) {
      const dir = path.join(root, level, outcome);
      for (const file of fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.yaml'))
        .sort()) {
        const object = YAML.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
        const request = requestFor(object, 'fixtures');
        if (request) out.push({ source: `pss/${level}/${outcome}/${file}`, request });
      }
    }
  return out;
}

export function manifestCases(dir: string): ParityCase[] {
  const out: ParityCase[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()) {
    YAML.parseAllDocuments(fs.readFileSync(path.join(dir, file), 'utf8')).forEach((doc, i) => {
      const object = doc.toJS() as unknown;
      if (typeof object !== 'object' || object === null || Array.isArray(object)) return;
      const request = requestFor(object as Record<string, unknown>, 'manifests');
      if (request) out.push({ source: `manifests/${file}#${i + 1}`, request });
    });
  }
  return out;
}

export function admissionCases(dir: string): ParityCase[] {
  const out: ParityCase[] = [];
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
    const req = (doc['request'] ?? doc) as Record<string, unknown>;
    const object = req['object'] as Record<string, unknown> | null | undefined;
    const operation = req['operation'];
    if (!object || (operation !== 'CREATE' && operation !== 'UPDATE')) continue;
    const ns = typeof req['namespace'] === 'string' && req['namespace'] !== '' ? req['namespace'] : 'default';
    const sub = typeof req['subResource'] === 'string' && req['subResource'] !== '' ? req['subResource'] : undefined;
    const request = requestFor(object, ns, {
      operation,
      ...(sub ? { subResource: sub } : {}),
      oldObject: (req['oldObject'] as Record<string, unknown> | null) ?? null,
    });
    if (request) out.push({ source: `admission/${file}`, request });
  }
  return out;
}

/**
 * One spec's parity run: `check` compares cases in the bundle and keeps what the spec reports
 * (cases, VAP denials, the policies that denied anything).
 */
export function parityChecker(evaluate: VapEvaluator, bundle: ParityBundle = parityBundle()) {
  const evaluatedPolicies = new Set<string>();
  const tally = { cases: 0, denials: 0 };
  const check = (cases: readonly ParityCase[]): Disagreement[] =>
    cases.flatMap((c) => {
      tally.cases++;
      return compare(bundle, c.source, c.request, (objects, request) => {
        const r = evaluate(objects, request);
        tally.denials += r.denials.length;
        for (const d of r.denials) evaluatedPolicies.add(bundle.policyOf.get(d.policy) ?? d.policy);
        return r;
      });
    });
  return { bundle, check, evaluatedPolicies, tally };
}

/** Fails with the first disagreements, counted by policy. */
export function assertNoDisagreements(list: readonly Disagreement[]): void {
  assert.deepEqual(
    byPolicy(list),
    {},
    `disagreements with the engine (first ones):\n${list
      .slice(0, 10)
      .map((d) => `${d.source} ${d.policy}: engine ${d.engine}, VAP ${d.vap}: ${d.detail}`)
      .join('\n')}`,
  );
}
