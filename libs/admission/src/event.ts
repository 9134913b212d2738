import { randomUUID } from 'node:crypto';
import {
  EVENT_LIMITS as L,
  MAX_SNAPSHOT_BYTES,
  SUB_RESOURCE,
  type AdmissionDecision,
  type AdmissionEvent,
  type AdmissionOperation,
  type Finding,
} from '@portcullis/contracts';
import {
  CONTAINER_LISTS,
  isBlocking,
  replicaInvariant,
  type InspectedObject,
  type OwnerRef,
  type Violation,
} from '@portcullis/policy-engine';
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
  const violations = all.length <= L.findings ? all : [...all.filter(isBlocking), ...all.filter((v) => !isBlocking(v))];
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
 * repeats (the last-applied annotation), with container env values redacted, since
 * secrets end up there more often than they should, and in the form every replica of the
 * workload shares (replicaInvariant: what the API stores, and what SnapshotIds keys by).
 * Omitted beyond the contract's bound.
 */
export function snapshotJson(object: unknown, target: InspectedObject): string | undefined {
  if (!isObject(object)) return undefined;
  // shallow copies along the paths that change: a JSON.stringify replacer would cost twice as much
  const { status: _status, ...withoutStatus } = object;
  const copy = replicaInvariant(withoutStatus);
  const meta = copy['metadata'];
  if (isObject(meta) && isObject(meta['annotations']) && LAST_APPLIED in meta['annotations']) {
    const { [LAST_APPLIED]: _la, ...annotations } = meta['annotations'];
    copy['metadata'] = { ...meta, annotations };
  }
  const snapshot =
    target.status === 'pod' && target.containers.some(hasEnvValues) ? redactEnv(copy, target.podPath.split('.')) : copy;
  const json = JSON.stringify(snapshot);
  return Buffer.byteLength(json) <= MAX_SNAPSHOT_BYTES ? json : undefined;
}

const hasEnvValues = (c: { spec: Readonly<Record<string, unknown>> }) =>
  Array.isArray(c.spec['env']) && c.spec['env'].some((e) => isObject(e) && typeof e['value'] === 'string');

/** A copy of `node` down `path` (to the pod spec) whose containers' env values are redacted. */
function redactEnv(node: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  if (path.length > 0) {
    const child = node[path[0]!];
    return isObject(child) ? { ...node, [path[0]!]: redactEnv(child, path.slice(1)) } : node;
  }
  const pod: Record<string, unknown> = { ...node };
  for (const list of CONTAINER_LISTS) {
    const containers = pod[list];
    if (!Array.isArray(containers)) continue;
    pod[list] = containers.map((c: unknown) =>
      isObject(c) && Array.isArray(c['env'])
        ? {
            ...c,
            env: c['env'].map((e: unknown) =>
              isObject(e) && typeof e['value'] === 'string' ? { ...e, value: REDACTED } : e,
            ),
          }
        : c,
    );
  }
  return pod;
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

/**
 * One admission as a spool line (JSON), its snapshot spliced in last: as already-serialised
 * text, or as the id of a snapshot the API holds ({ id }: `snapshotHash`).
 */
export function eventLine(
  input: EventInput,
  snapshot: string | { readonly id: string } | undefined,
): { eventId: string; line: string } {
  const { request: r } = input;
  const object = isObject(r.object) ? r.object : {};
  const meta = isObject(object['metadata']) ? object['metadata'] : {};
  const apiVersion =
    typeof object['apiVersion'] === 'string' && API_VERSION.test(object['apiVersion']) ? object['apiVersion'] : 'v1';
  const name = typeof meta['name'] === 'string' && meta['name'] !== '' ? meta['name'] : r.name;
  const uid = meta['uid'];
  const eventId = randomUUID();
  const event: AdmissionEvent = {
    eventId,
    occurredAt: input.occurredAt.toISOString(),
    operation: (OPERATIONS.includes(r.operation) ? r.operation : 'CONNECT') as AdmissionOperation,
    // what the request changed: `ephemeralcontainers` is `kubectl debug` adding a container to a running Pod
    ...(r.subResource !== undefined && SUB_RESOURCE.test(r.subResource) ? { subResource: r.subResource } : {}),
    dryRun: r.dryRun,
    kind: KIND.test(r.kind) ? r.kind : 'Unknown',
    apiVersion: cut(apiVersion, L.apiVersion),
    ...(input.namespace !== undefined && NAMESPACE.test(input.namespace) && input.namespace.length <= L.namespace
      ? { namespace: input.namespace }
      : {}),
    name: cut(name, L.name),
    ...(typeof uid === 'string' && uid !== '' ? { uid: cut(uid, L.uid) } : {}),
    requestUid: cut(r.uid, L.uid),
    owner: {
      kind: KIND.test(input.owner.kind) ? input.owner.kind : 'Unknown',
      name: cut(input.owner.name, L.name) || '(unnamed)',
    },
    requestingUser: {
      username: cut(r.username, L.username),
      ...(r.groups ? { groups: r.groups.slice(0, L.groups).map((g) => cut(g, L.group)) } : {}),
    },
    images: input.images.slice(0, L.images).map((i) => cut(i, L.image)),
    decision: input.decision,
    bundleRevision: input.bundleRevision,
    findings: input.findings,
    clusterId: input.clusterId,
  };
  const json = JSON.stringify(event);
  if (snapshot === undefined) return { eventId, line: json };
  return {
    eventId,
    line:
      typeof snapshot === 'string'
        ? `${json.slice(0, -1)}${SNAPSHOT_KEY}${snapshot}}`
        : `${json.slice(0, -1)}${SNAPSHOT_ID_KEY}"${snapshot.id}"}`,
  };
}

const SNAPSHOT_KEY = ',"snapshot":';
const SNAPSHOT_ID_KEY = ',"snapshotHash":';

/**
 * What eventLine spliced into a spool line: the snapshot's JSON text, or the id it was sent
 * by. The event's own fields come first and none is called snapshot (and a key inside a JSON
 * string would have its quotes escaped), so the first occurrence is the spliced one.
 */
export function splicedSnapshot(line: Buffer): { readonly json: string } | { readonly id: string } | undefined {
  let at = line.indexOf(SNAPSHOT_KEY);
  if (at >= 0) return { json: line.toString('utf8', at + SNAPSHOT_KEY.length, line.length - 1) };
  at = line.indexOf(SNAPSHOT_ID_KEY);
  if (at >= 0) return { id: line.toString('utf8', at + SNAPSHOT_ID_KEY.length + 1, line.length - 2) };
  return undefined;
}
