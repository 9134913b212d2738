import { randomUUID } from 'node:crypto';
import { EVENT_LIMITS as L, MAX_SNAPSHOT_BYTES, type AdmissionDecision, type AdmissionEvent, type AdmissionOperation, type Finding } from '@portcullis/contracts';
import type { InspectedObject, OwnerRef, Violation } from '@portcullis/policy-engine';
import type { AdmissionRequestView } from './review';

const KIND = /^[A-Za-z][A-Za-z0-9]{0,62}$/;
const API_VERSION = /^(?:[a-z0-9][a-z0-9.-]*\/)?[a-z0-9]+$/;
const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

const cut = (s: string, max: number) => (s.length > max ? s.slice(0, max) : s);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Engine violations as inventory findings. A rule that crashed never decides (the engine allows), so it is recorded as Audit. */
export function toFindings(all: readonly Violation[], exemptionReasons: ReadonlyMap<string, string>): Finding[] {
  // beyond the contract's bound, the violations that decide (Block, not exempted) are kept first
  const decides = (v: Violation) => v.action === 'BLOCK' && !v.exempted && v.reason !== 'RULE_ERROR';
  const violations = all.length <= L.findings ? all : [...all.filter(decides), ...all.filter((v) => !decides(v))];
  const out: Finding[] = [];
  for (let i = 0; i < violations.length && i < L.findings; i++) {
    const v = violations[i]!;
    const f: { -readonly [K in keyof Finding]: Finding[K] } = {
      policyId: cut(v.policyId, L.policyId),
      policyName: cut(v.policy, L.policyName),
      action: v.reason === 'RULE_ERROR' ? 'AUDIT' : v.action,
      ruleId: v.rule,
      path: cut(v.path, L.path),
      message: cut(v.message, L.message) || v.rule,
      exempted: v.exempted,
    };
    if (v.container !== undefined && v.container !== '') f.container = cut(v.container, L.container);
    if (v.exemptionId !== undefined) {
      f.exemptionId = cut(v.exemptionId, L.exemptionId);
      const reason = exemptionReasons.get(v.exemptionId);
      if (reason !== undefined) f.reason = cut(reason, L.reason);
    }
    if (v.image !== undefined && v.image !== '') f.image = cut(v.image, L.image);
    out.push(f);
  }
  return out;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const REDACTED = '(redacted by the agent)';

/**
 * The evaluated object as JSON for the inventory (what simulations re-evaluate), in one
 * serialisation: without what only the API server writes (managedFields, status) or
 * repeats (the last-applied annotation), and with container env values redacted, since
 * secrets end up there more often than they should. Omitted beyond the contract's bound.
 */
export function snapshotJson(object: unknown, target: InspectedObject): string | undefined {
  if (!isObject(object)) return undefined;
  const envEntries = new Set<unknown>();
  if (target.status === 'pod') {
    for (const c of target.containers) {
      const env = c.spec['env'];
      if (Array.isArray(env)) for (const e of env) if (isObject(e) && typeof e['value'] === 'string') envEntries.add(e);
    }
  }
  const json = JSON.stringify(object, function (this: unknown, key: string, value: unknown) {
    if (this === object && key === 'status') return undefined;
    if (key === 'managedFields' || key === LAST_APPLIED) return undefined;
    if (key === 'value' && envEntries.has(this)) return REDACTED;
    return value;
  });
  return Buffer.byteLength(json) <= MAX_SNAPSHOT_BYTES ? json : undefined;
}

export interface EventInput {
  readonly request: AdmissionRequestView;
  readonly namespace: string | undefined;
  readonly owner: OwnerRef;
  readonly images: readonly string[];
  readonly decision: AdmissionDecision;
  readonly bundleRevision: number | null;
  readonly findings: readonly Finding[];
  readonly clusterId: string;
  readonly occurredAt: Date;
}

/** One admission as a spool line (JSON), its snapshot spliced in as already-serialised text. */
export function eventLine(input: EventInput, snapshot: string | undefined): { eventId: string; line: string } {
  const { request: r } = input;
  const object = isObject(r.object) ? r.object : {};
  const meta = isObject(object['metadata']) ? object['metadata'] : {};
  const apiVersion = typeof object['apiVersion'] === 'string' && API_VERSION.test(object['apiVersion']) ? object['apiVersion'] : 'v1';
  const name = typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : r.name;
  const uid = meta['uid'];
  const eventId = randomUUID();
  const event: AdmissionEvent = {
    eventId,
    occurredAt: input.occurredAt.toISOString(),
    operation: (OPERATIONS.includes(r.operation) ? r.operation : 'CONNECT') as AdmissionOperation,
    dryRun: r.dryRun,
    kind: KIND.test(r.kind) ? r.kind : 'Unknown',
    apiVersion: cut(apiVersion, L.apiVersion),
    ...(input.namespace !== undefined && NAMESPACE.test(input.namespace) && input.namespace.length <= L.namespace ? { namespace: input.namespace } : {}),
    name: cut(name, L.name),
    ...(typeof uid === 'string' && uid !== '' ? { uid: cut(uid, L.uid) } : {}),
    requestUid: cut(r.uid, L.uid),
    owner: { kind: KIND.test(input.owner.kind) ? input.owner.kind : 'Unknown', name: cut(input.owner.name, L.name) || '(unnamed)' },
    requestingUser: { username: cut(r.username, L.username), ...(r.groups ? { groups: r.groups.slice(0, L.groups).map((g) => cut(g, L.group)) } : {}) },
    images: input.images.slice(0, L.images).map((i) => cut(i, L.image)),
    decision: input.decision,
    bundleRevision: input.bundleRevision,
    findings: input.findings,
    clusterId: input.clusterId,
  };
  const json = JSON.stringify(event);
  return { eventId, line: snapshot === undefined ? json : `${json.slice(0, -1)},"snapshot":${snapshot}}` };
}
