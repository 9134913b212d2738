import { decisionFor, type AdmissionDecision, type Finding } from '@portcullis/contracts';
import {
  evaluatePolicies,
  inspectObject,
  type ArtifactLookup,
  type EvaluationResult,
  type InspectedObject,
  type Matcher,
  type OwnerRef,
} from '@portcullis/policy-engine';
import type { EnforceableBundle } from './enforceable';
import { eventLine, snapshotJson, toFindings } from './event';
import { denyMessage, warningsFor, type Decided } from './messages';
import { resolveOwner } from './owner';
import type { AdmissionRequestView, ReviewResponse } from './review';

/** How a review was answered: a fixed set, so it can label the agent's decision metric. */
export const DECISION_RESULTS = [
  'allowed',
  'audited',
  'denied',
  'exempted',
  'excluded',
  'no_bundle',
  'not_evaluated',
  'malformed',
] as const;
export type DecisionResult = (typeof DECISION_RESULTS)[number];

export interface AdmissionSettings {
  readonly clusterId: string;
  /** The agent's own exclusions (its namespace and kube-system by default), as anchored globs. */
  readonly excluded: readonly Matcher[];
  readonly noBundleAction: 'allow' | 'deny';
  /** Budget for scan-artifact lookups when the bundle does not set one. */
  readonly lookupTimeoutMs: number;
}

/** The bundle enforced: the agent's BundleStore, or one bundle verified by the caller. */
export interface HeldBundle {
  /** The held bundle, or null when none is held or it has expired at `nowMs`. */
  current(nowMs: number): EnforceableBundle | null;
  /** Revision of the bundle held even when expired (said in the no-bundle message). */
  readonly revision: number | null;
  readonly heldExpired: boolean;
}

/** Scan artifacts for an admission's images (ArtifactResolver is one). */
export interface ScanArtifactSource {
  /** Every image's answer when all of them are cached: the fast path, no promise. Otherwise null. */
  cached(images: readonly string[]): ReadonlyMap<string, ArtifactLookup> | null;
  resolve(images: readonly string[], tenantId: string, budgetMs: number): Promise<ReadonlyMap<string, ArtifactLookup>>;
}

/**
 * What one decision needs besides the request and the time. Long-lived (one per webhook):
 * nothing here is allocated per admission.
 */
export interface AdmissionContext extends AdmissionSettings {
  readonly bundles: HeldBundle;
  readonly artifacts: ScanArtifactSource | null;
  /** Keeps one event line (the agent's spool); true when kept, and only then is its id in the answer. */
  record(line: string): Promise<boolean> | boolean;
  /** The id the API already holds this snapshot by, sent instead of it; undefined: sent in full. */
  snapshotId?(json: string): string | undefined;
}

export interface AdmissionOutcome {
  readonly response: ReviewResponse;
  readonly result: DecisionResult;
  /** The findings recorded with the event (none when nothing was evaluated). */
  readonly findings: readonly Finding[];
}

const NO_BUNDLE_POLICY = { id: 'portcullis-agent', name: 'Portcullis agent: no policy bundle held' };
const BOUNDS_POLICY = { id: 'portcullis-agent', name: 'Portcullis agent: admission bounds' };

/**
 * Most containers (containers, initContainers and ephemeralContainers together) the agent
 * evaluates in one pod. Kubernetes sets no such limit, and evaluation costs about a tenth of
 * a millisecond per container and policy: a pod of tens of thousands of tiny containers
 * (a few MiB) would outlast kube-apiserver's webhook timeout, and failurePolicy Ignore would
 * admit it unchecked. Beyond it the pod is refused where a Block-mode policy applies.
 */
export const MAX_POD_CONTAINERS = 250;
const KNOWN_OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
const EMPTY_LOOKUPS: ReadonlyMap<string, ArtifactLookup> = new Map();
const NO_FINDINGS: readonly Finding[] = [];
const ANNOTATION_VALUE_MAX = 1024;

/**
 * The agent's admission decision for one parsed request at `now`: evaluated with the held
 * bundle, the event line recorded (before the answer exists, so an admission answered is an
 * admission recorded), and the answer kube-apiserver gets. The agent's webhook and the CLI's
 * demo history both decide through this one function.
 */
export async function decideAdmission(
  r: AdmissionRequestView,
  now: Date,
  ctx: AdmissionContext,
): Promise<AdmissionOutcome> {
  const object = r.object;
  if (!KNOWN_OPERATIONS.has(r.operation)) {
    return {
      response: {
        uid: r.uid,
        allowed: true,
        warnings: [`portcullis: operation ${r.operation.slice(0, 40)} is not one the agent evaluates`],
      },
      result: 'not_evaluated',
      findings: NO_FINDINGS,
    };
  }
  const namespace = r.namespace ?? namespaceOf(object);
  const bundle = ctx.bundles.current(now.getTime());
  if (namespace !== undefined && isExcluded(ctx.excluded, namespace, bundle)) {
    return {
      response: { uid: r.uid, allowed: true, auditAnnotations: { 'excluded-namespace': namespace } },
      result: 'excluded',
      findings: NO_FINDINGS,
    };
  }
  const target = inspectObject(object, namespace ?? 'default');
  const images = target.status === 'pod' ? target.containers.flatMap((c) => (c.image ? [c.image] : [])) : [];
  const owner = resolveOwner(object, r.kind, r.name);
  const evaluate = r.operation === 'CREATE' || r.operation === 'UPDATE';

  if (!bundle) return withoutBundle(ctx, r, namespace, owner, images, now);
  if (evaluate && target.status === 'pod' && target.containers.length > MAX_POD_CONTAINERS)
    return tooManyContainers(ctx, r, namespace, owner, images, bundle, target.podPath, target.containers.length, now);

  let evaluation: EvaluationResult | null = null;
  if (evaluate) {
    const artifacts = ctx.artifacts;
    // a warm cache answers without an await: no promise, no extra turn for the admission
    const lookups =
      bundle.hasVulnerabilityPolicies && images.length > 0 && artifacts
        ? (artifacts.cached(images) ??
          (await artifacts.resolve(
            images,
            bundle.document.tenantId,
            bundle.document.agentSettings.vulnerabilityLookupTimeoutMs ?? ctx.lookupTimeoutMs,
          )))
        : EMPTY_LOOKUPS;
    evaluation = evaluatePolicies(object, bundle.compiled, {
      defaultNamespace: namespace ?? 'default',
      now,
      owner,
      scanArtifacts: (image) =>
        lookups.get(image) ?? { status: 'lookup-failed', error: 'no scan-artifact lookup was made for this image' },
    });
  }
  const findings = evaluation ? toFindings(evaluation.violations, bundle.exemptionReasons) : NO_FINDINGS;
  const decision = decisionFor(findings);
  const revision = bundle.document.revision;
  const eventId = await record(ctx, r, namespace, owner, images, decision, revision, findings, now, evaluate, target);
  const decided: Decided = { request: r, namespace, findings, decision };
  const warnings = warningsFor(decided);
  if (evaluation && evaluation.status === 'cannot-evaluate')
    warnings.unshift(
      `portcullis: the object could not be evaluated: ${evaluation.reason ?? 'unknown reason'}`.slice(0, 256),
    );
  const annotations: Record<string, string> = {
    decision,
    'bundle-revision': String(revision),
    ...(eventId ? { 'event-id': eventId } : {}),
  };
  if (r.dryRun) annotations['dry-run'] = 'true';
  if (findings.length > 0) annotations['violations'] = violationSummary(findings);
  const response: ReviewResponse =
    decision === 'DENIED'
      ? {
          uid: r.uid,
          allowed: false,
          status: { code: 403, reason: 'Forbidden', message: denyMessage(decided) },
          ...(warnings.length ? { warnings } : {}),
          auditAnnotations: annotations,
        }
      : { uid: r.uid, allowed: true, ...(warnings.length ? { warnings } : {}), auditAnnotations: annotations };
  const result: DecisionResult =
    !evaluate || evaluation?.status === 'cannot-evaluate'
      ? 'not_evaluated'
      : (decision.toLowerCase() as DecisionResult);
  return { response, result, findings };
}

async function withoutBundle(
  ctx: AdmissionContext,
  r: AdmissionRequestView,
  namespace: string | undefined,
  owner: OwnerRef,
  images: readonly string[],
  now: Date,
): Promise<AdmissionOutcome> {
  const held = ctx.bundles;
  const why = held.heldExpired
    ? `the held policy bundle (revision ${held.revision}) has expired and no newer one could be fetched`
    : 'no verified policy bundle is held yet';
  const evaluate = r.operation === 'CREATE' || r.operation === 'UPDATE';
  if (ctx.noBundleAction === 'deny' && evaluate) {
    const message = `portcullis denied ${r.kind} ${namespace ? `${namespace}/` : ''}${r.name || owner.name}: ${why}, and this agent is configured to deny until it holds one (PORTCULLIS_NO_BUNDLE_ACTION=deny)`;
    const finding: Finding = {
      policyId: NO_BUNDLE_POLICY.id,
      policyName: NO_BUNDLE_POLICY.name,
      action: 'BLOCK',
      ruleId: 'bundle-required',
      path: '',
      message,
      exempted: false,
    };
    const findings = [finding];
    const eventId = await record(ctx, r, namespace, owner, images, 'DENIED', null, findings, now, evaluate);
    return {
      response: {
        uid: r.uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message },
        auditAnnotations: { decision: 'DENIED', 'no-bundle': 'true', ...(eventId ? { 'event-id': eventId } : {}) },
      },
      result: 'no_bundle',
      findings,
    };
  }
  const eventId = await record(ctx, r, namespace, owner, images, 'ALLOWED', null, NO_FINDINGS, now, evaluate);
  return {
    response: {
      uid: r.uid,
      allowed: true,
      ...(evaluate ? { warnings: [`portcullis: ${why}; the object was not checked against any policy`] } : {}),
      auditAnnotations: { decision: 'ALLOWED', 'no-bundle': 'true', ...(eventId ? { 'event-id': eventId } : {}) },
    },
    result: 'no_bundle',
    findings: NO_FINDINGS,
  };
}

/** A pod too large to evaluate in time: a finding of the agent's own, Block where any Block-mode policy covers the namespace. */
async function tooManyContainers(
  ctx: AdmissionContext,
  r: AdmissionRequestView,
  namespace: string | undefined,
  owner: OwnerRef,
  images: readonly string[],
  bundle: EnforceableBundle,
  podPath: string,
  count: number,
  now: Date,
): Promise<AdmissionOutcome> {
  const blocking = bundle.compiled.some(
    (c) => c.policy.action === 'BLOCK' && c.policy.rules.length > 0 && c.inScope(namespace),
  );
  const message = `${podPath} has ${count} containers (containers, initContainers and ephemeralContainers together); the agent evaluates pods of at most ${MAX_POD_CONTAINERS}, so this one was not checked against its policies. Split the workload into pods with fewer containers.`;
  const finding: Finding = {
    policyId: BOUNDS_POLICY.id,
    policyName: BOUNDS_POLICY.name,
    action: blocking ? 'BLOCK' : 'AUDIT',
    ruleId: 'pod-container-limit',
    path: podPath,
    message,
    exempted: false,
  };
  const findings = [finding];
  const decision = decisionFor(findings);
  const revision = bundle.document.revision;
  // no snapshot: the object is what is too large
  const eventId = await record(ctx, r, namespace, owner, images, decision, revision, findings, now, false);
  const decided: Decided = { request: r, namespace, findings, decision };
  const annotations: Record<string, string> = {
    decision,
    'bundle-revision': String(revision),
    violations: violationSummary(findings),
    ...(eventId ? { 'event-id': eventId } : {}),
  };
  if (r.dryRun) annotations['dry-run'] = 'true';
  const response: ReviewResponse = blocking
    ? {
        uid: r.uid,
        allowed: false,
        status: { code: 403, reason: 'Forbidden', message: denyMessage(decided) },
        auditAnnotations: annotations,
      }
    : { uid: r.uid, allowed: true, warnings: warningsFor(decided), auditAnnotations: annotations };
  return { response, result: 'not_evaluated', findings };
}

/** Records the admission event (the agent: appends it to the spool); its id when it was kept. */
async function record(
  ctx: AdmissionContext,
  r: AdmissionRequestView,
  namespace: string | undefined,
  owner: OwnerRef,
  images: readonly string[],
  decision: AdmissionDecision,
  bundleRevision: number | null,
  findings: readonly Finding[],
  now: Date,
  evaluated: boolean,
  target?: InspectedObject,
): Promise<string | null> {
  const json = evaluated && target ? snapshotJson(r.object, target) : undefined;
  const id = json !== undefined ? ctx.snapshotId?.(json) : undefined;
  const { eventId, line } = eventLine(
    {
      request: r,
      namespace,
      owner,
      images,
      decision,
      bundleRevision,
      findings,
      clusterId: ctx.clusterId,
      occurredAt: now,
    },
    id !== undefined ? { id } : json,
  );
  return (await ctx.record(line)) ? eventId : null;
}

function isExcluded(own: readonly Matcher[], namespace: string, bundle: EnforceableBundle | null): boolean {
  for (const excluded of own) if (excluded(namespace)) return true;
  if (bundle) for (const excluded of bundle.excluded) if (excluded(namespace)) return true;
  return false;
}

function namespaceOf(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const meta = (object as { metadata?: unknown }).metadata;
  const ns = typeof meta === 'object' && meta !== null ? (meta as { namespace?: unknown }).namespace : undefined;
  return typeof ns === 'string' && ns !== '' ? ns : undefined;
}

/** `policy/rule[/container]` per finding, for the API server's audit log. */
function violationSummary(findings: readonly Finding[]): string {
  let out = '';
  for (const f of findings) {
    const item = `${f.exempted ? '(exempted) ' : ''}${f.action} ${f.policyName}/${f.ruleId}${f.container ? `/${f.container}` : ''}`;
    if (out.length + item.length + 2 > ANNOTATION_VALUE_MAX) return `${out}; ...`;
    out = out ? `${out}; ${item}` : item;
  }
  return out;
}
