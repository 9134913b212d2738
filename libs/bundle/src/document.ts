import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';

export type PolicyType = 'MISCONFIGURATION' | 'VULNERABILITY';
export type PolicyAction = 'AUDIT' | 'BLOCK';

/** One policy as an agent enforces it. Rules and exemptions are engine vocabulary, carried as JSON. */
export interface BundlePolicy {
  readonly id: string;
  readonly name: string;
  readonly type: PolicyType;
  readonly action: PolicyAction;
  readonly namespaces: { readonly include: readonly string[]; readonly exclude: readonly string[] };
  readonly rules: ReadonlyArray<{ readonly id: string; readonly params: Readonly<Record<string, unknown>> }>;
  readonly exemptions: ReadonlyArray<Readonly<Record<string, unknown>>>;
}

/** Settings the API sends the agent with its policies. */
export interface AgentSettings {
  /** Namespaces the agent never evaluates, beyond its own (kube-system by default on the agent). */
  readonly excludedNamespaces?: readonly string[];
  /** Hard budget for a scan-artifact lookup during admission. */
  readonly vulnerabilityLookupTimeoutMs?: number;
}

export interface BundleDocument {
  readonly schemaVersion: 1;
  readonly tenantId: string;
  readonly clusterId: string;
  /** Grows by one with every change for this cluster; agents refuse to go back. */
  readonly revision: number;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly policies: readonly BundlePolicy[];
  readonly agentSettings: AgentSettings;
}

/** What decides whether a new revision is needed: everything but revision and validity. */
export type BundleContent = Pick<BundleDocument, 'tenantId' | 'clusterId' | 'policies' | 'agentSettings'>;

export function contentHash(content: BundleContent): string {
  const { tenantId, clusterId, policies, agentSettings } = content;
  return createHash('sha256').update(canonicalJson({ tenantId, clusterId, policies, agentSettings })).digest('hex');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Structural check of a decoded bundle; returns the first problem, or null. */
export function bundleShapeError(doc: unknown): string | null {
  if (!isObject(doc)) return 'the payload is not a JSON object';
  if (doc['schemaVersion'] !== 1) return `schemaVersion ${String(doc['schemaVersion'])} is not supported`;
  for (const k of ['tenantId', 'clusterId'] as const) if (typeof doc[k] !== 'string' || !UUID.test(doc[k] as string)) return `${k} is not a UUID`;
  if (!Number.isInteger(doc['revision']) || (doc['revision'] as number) < 1) return 'revision is not a positive integer';
  for (const k of ['issuedAt', 'expiresAt'] as const) if (typeof doc[k] !== 'string' || Number.isNaN(Date.parse(doc[k] as string))) return `${k} is not a timestamp`;
  if (!isObject(doc['agentSettings'])) return 'agentSettings is not an object';
  if (!Array.isArray(doc['policies'])) return 'policies is not an array';
  for (const [i, p] of (doc['policies'] as unknown[]).entries()) {
    if (!isObject(p)) return `policies[${i}] is not an object`;
    if (typeof p['id'] !== 'string' || typeof p['name'] !== 'string') return `policies[${i}] has no id or name`;
    if (p['type'] !== 'MISCONFIGURATION' && p['type'] !== 'VULNERABILITY') return `policies[${i}].type is not a policy type`;
    if (p['action'] !== 'AUDIT' && p['action'] !== 'BLOCK') return `policies[${i}].action is not AUDIT or BLOCK`;
    const ns = p['namespaces'];
    if (!isObject(ns) || !isStrings(ns['include']) || !isStrings(ns['exclude'])) return `policies[${i}].namespaces is not { include, exclude }`;
    if (!Array.isArray(p['rules']) || !p['rules'].every((r) => isObject(r) && typeof r['id'] === 'string' && isObject(r['params']))) return `policies[${i}].rules is not a list of { id, params }`;
    if (!Array.isArray(p['exemptions']) || !p['exemptions'].every(isObject)) return `policies[${i}].exemptions is not a list of objects`;
  }
  return null;
}
