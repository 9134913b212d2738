import { jsonFitsWithin } from './json-size';

/**
 * The admission event as agents report it, and the rules across its fields. Shared by
 * the zod schema (errors that name the path) and the hand-written hot path (speed).
 */

/**
 * - ALLOWED: no finding that applies (no violation, or not evaluated, e.g. DELETE);
 * - AUDITED: allowed, with violations of Audit-mode policies (admission warnings);
 * - DENIED: at least one non-exempted violation of a Block-mode policy;
 * - EXEMPTED: every violation was covered by an exemption; still evaluated and recorded.
 * Dry-run requests carry the decision the request would have had.
 */
export const ADMISSION_DECISIONS = ['ALLOWED', 'AUDITED', 'DENIED', 'EXEMPTED'] as const;
export type AdmissionDecision = (typeof ADMISSION_DECISIONS)[number];

export const ADMISSION_OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
export type AdmissionOperation = (typeof ADMISSION_OPERATIONS)[number];

export const POLICY_ACTIONS = ['AUDIT', 'BLOCK'] as const;

/** A snapshot larger than this (as JSON) is refused: the agent truncates or omits it. */
export const MAX_SNAPSHOT_BYTES = 64 * 1024;

/** A stored snapshot's id: the SHA-256 (lowercase hex) of its canonical JSON in replica-invariant form. */
export const SNAPSHOT_HASH = /^[0-9a-f]{64}$/;

/** String lengths (UTF-16 units) and list lengths of an event. */
export const EVENT_LIMITS = {
  policyId: 128,
  policyName: 200,
  container: 253,
  path: 1024,
  message: 4096,
  exemptionId: 128,
  reason: 1000,
  image: 512,
  images: 200,
  findings: 1000,
  name: 253,
  uid: 128,
  username: 512,
  group: 512,
  groups: 256,
  apiVersion: 316,
  namespace: 63,
} as const;

/** One rule's verdict on one object (or container, or image). */
export interface Finding {
  readonly policyId: string;
  readonly policyName: string;
  readonly action: 'AUDIT' | 'BLOCK';
  readonly ruleId: string;
  /** The container the violation is in; absent for pod-level and object-level checks. */
  readonly container?: string;
  /** Field path in the evaluated object, e.g. `spec.containers[0].securityContext.privileged`. */
  readonly path: string;
  readonly message: string;
  /** Matched by an exemption: recorded, but it does not decide the admission. */
  readonly exempted: boolean;
  /** The exemption that matched; present exactly when `exempted`. */
  readonly exemptionId?: string;
  /** The exemption's reason, as granted. */
  readonly reason?: string;
  /** The image the finding is about (vulnerability and registry rules). */
  readonly image?: string;
}

export interface AdmissionEvent {
  /** Chosen by the agent (UUID); uploads are idempotent by it. */
  readonly eventId: string;
  readonly occurredAt: string;
  readonly operation: AdmissionOperation;
  /**
   * The subresource the request was made on, as AdmissionReview's request.subResource names
   * it: `ephemeralcontainers` when `kubectl debug` adds a container to a running Pod (the
   * event's object is then the whole Pod). Absent for a request on the object itself, and in
   * events of agents older than the field.
   */
  readonly subResource?: string;
  readonly dryRun: boolean;
  readonly kind: string;
  readonly apiVersion: string;
  /** Absent for cluster-scoped objects. */
  readonly namespace?: string;
  /** Empty on a CREATE that uses generateName: the API server has not named the object yet. */
  readonly name: string;
  /** The object's metadata.uid, when it has one (not on CREATE). */
  readonly uid?: string;
  /** AdmissionReview request.uid, to correlate with the kube-apiserver audit log. */
  readonly requestUid?: string;
  /**
   * The workload the object belongs to, resolved by the agent: the Deployment of a
   * ReplicaSet's pod, the CronJob of a Job's pod; the object itself when it has no controller.
   */
  readonly owner: { readonly kind: string; readonly name: string };
  readonly requestingUser: { readonly username: string; readonly groups?: readonly string[] };
  /** Images as written in the object (not normalised: Kubernetes admits any string). */
  readonly images: readonly string[];
  readonly decision: AdmissionDecision;
  /** The bundle revision evaluated; null when the agent held no valid bundle. */
  readonly bundleRevision: number | null;
  readonly findings: readonly Finding[];
  /** The evaluated object (pod spec, Ingress, ...) as JSON, at most MAX_SNAPSHOT_BYTES. */
  readonly snapshot?: Readonly<Record<string, unknown>>;
  /**
   * Instead of `snapshot`: the id (SNAPSHOT_HASH) of a snapshot the API already holds for the
   * tenant, as an earlier upload's answer named it (AdmissionEventBatchResult.snapshots).
   * An agent sends the same pod template with every replica and restart; the reference
   * saves the bytes in its spool, on the wire and in the API. Never with `snapshot`.
   */
  readonly snapshotHash?: string;
  /**
   * Never trusted: the API takes the cluster from the agent's credential. Agents may send
   * it so a mismatch (a misconfigured agent) is refused with a clear reason.
   */
  readonly clusterId?: string;
}

/** The decision the findings imply: what the agent answers and what the API insists on. */
export function decisionFor(findings: ReadonlyArray<Pick<Finding, 'action' | 'exempted'>>): AdmissionDecision {
  let audited = false;
  let exempted = false;
  for (const f of findings) {
    if (f.exempted) exempted = true;
    else if (f.action === 'BLOCK') return 'DENIED';
    else audited = true;
  }
  return audited ? 'AUDITED' : exempted ? 'EXEMPTED' : 'ALLOWED';
}

export interface FieldIssue {
  readonly path: Array<string | number>;
  readonly message: string;
}

/** Rules across fields of a structurally valid event. */
export function eventRuleIssues(
  e: Pick<AdmissionEvent, 'decision' | 'findings' | 'snapshot' | 'snapshotHash'>,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (let i = 0; i < e.findings.length; i++) {
    const f = e.findings[i]!;
    if (f.exempted !== (f.exemptionId !== undefined)) {
      issues.push({
        path: ['findings', i, 'exemptionId'],
        message: f.exempted ? 'is required when exempted is true' : 'is set but exempted is false',
      });
    }
  }
  const implied = decisionFor(e.findings);
  if (e.decision !== implied)
    issues.push({ path: ['decision'], message: `is ${e.decision} but the findings make it ${implied}` });
  if (e.snapshot !== undefined && !jsonFitsWithin(e.snapshot, MAX_SNAPSHOT_BYTES)) {
    issues.push({
      path: ['snapshot'],
      message: `is larger than ${MAX_SNAPSHOT_BYTES} bytes of JSON; the agent must trim or omit it`,
    });
  }
  if (e.snapshot !== undefined && e.snapshotHash !== undefined)
    issues.push({
      path: ['snapshotHash'],
      message: 'cannot be sent with snapshot: an event carries its snapshot or refers to a stored one, not both',
    });
  return issues;
}
