import { decisionFor, type AdmissionDecision, type Finding } from '@portcullis/contracts';
import { evaluatePolicies, inspectObject, type ArtifactLookup, type EvaluationResult, type InspectedObject, type Matcher } from '@portcullis/policy-engine';
import type { Logger } from 'pino';
import type { BundleStore } from '../bundle/bundle-store';
import type { EnforceableBundle } from '../bundle/enforceable';
import type { AgentMetrics, DecisionResult } from '../metrics';
import type { SnapshotIds } from '../spool/snapshot-ids';
import type { Spool } from '../spool/spool';
import type { ArtifactResolver } from '../vulnerability/artifact-resolver';
import { eventLine, snapshotJson, toFindings } from './event';
import { denyMessage, warningsFor, type Decided } from './messages';
import { resolveOwner } from './owner';
import { malformedResponse, parseReview, reviewJson, type AdmissionRequestView, type ReviewResponse } from './review';

export interface AdmissionSettings {
  readonly clusterId: string;
  /** The agent's own exclusions (its namespace and kube-system by default), as anchored globs. */
  readonly excluded: readonly Matcher[];
  readonly noBundleAction: 'allow' | 'deny';
  /** Budget for scan-artifact lookups when the bundle does not set one. */
  readonly lookupTimeoutMs: number;
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
const ANNOTATION_VALUE_MAX = 1024;

/**
 * The webhook's one job: read an AdmissionReview, evaluate it with the held bundle,
 * answer, and spool the admission event before answering. Never throws: whatever
 * arrives gets a well-formed AdmissionReview back.
 */
export class AdmissionHandler {
  constructor(
    private readonly store: BundleStore,
    private readonly resolver: ArtifactResolver | null,
    private readonly spool: Spool,
    private readonly settings: AdmissionSettings,
    private readonly metrics: AgentMetrics,
    private readonly log: Logger,
    /** Ids of snapshots the API already holds: sent instead of the snapshot. None: always in full. */
    private readonly snapshotIds: SnapshotIds | null = null,
  ) {}

  /** The JSON answer to one review body. */
  async handle(body: Buffer): Promise<string> {
    const started = process.hrtime.bigint();
    const parsed = parseReview(body);
    let json: string;
    let result: DecisionResult;
    if (!parsed.ok) {
      json = reviewJson(parsed.apiVersion, malformedResponse(parsed));
      result = 'malformed';
      this.log.warn({ uid: parsed.uid, problem: parsed.message }, 'malformed AdmissionReview refused');
    } else {
      let response: ReviewResponse;
      try {
        ({ response, result } = await this.review(parsed.request));
      } catch (err) {
        // only a bug gets here: answer (allowed, as failurePolicy Ignore would) rather than fail the API server's call
        this.log.error({ err: (err as Error).message, uid: parsed.request.uid }, 'admission review failed');
        response = { uid: parsed.request.uid, allowed: true, warnings: ['portcullis: the agent could not evaluate this request (internal error); it was allowed'] };
        result = 'not_evaluated';
      }
      json = reviewJson(parsed.request.apiVersion, response);
    }
    this.metrics.decisions.inc({ result });
    this.metrics.admissionSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return json;
  }

  private async review(r: AdmissionRequestView): Promise<{ response: ReviewResponse; result: DecisionResult }> {
    const now = new Date();
    const object = r.object;
    if (!KNOWN_OPERATIONS.has(r.operation)) {
      return { response: { uid: r.uid, allowed: true, warnings: [`portcullis: operation ${r.operation.slice(0, 40)} is not one the agent evaluates`] }, result: 'not_evaluated' };
    }
    const namespace = r.namespace ?? namespaceOf(object);
    const bundle = this.store.current(now.getTime());
    if (namespace !== undefined && this.isExcluded(namespace, bundle)) {
      return { response: { uid: r.uid, allowed: true, auditAnnotations: { 'excluded-namespace': namespace } }, result: 'excluded' };
    }
    const target = inspectObject(object, namespace ?? 'default');
    const images = target.status === 'pod' ? target.containers.flatMap((c) => (c.image ? [c.image] : [])) : [];
    const owner = resolveOwner(object, r.kind, r.name);
    const evaluate = r.operation === 'CREATE' || r.operation === 'UPDATE';

    if (!bundle) return this.withoutBundle(r, namespace, owner, images, now);
    if (evaluate && target.status === 'pod' && target.containers.length > MAX_POD_CONTAINERS) return this.tooManyContainers(r, namespace, owner, images, bundle, target.podPath, target.containers.length, now);

    let evaluation: EvaluationResult | null = null;
    if (evaluate) {
      // a warm cache answers without an await: no promise, no extra turn for the admission
      const lookups = bundle.hasVulnerabilityPolicies && images.length > 0 && this.resolver ? (this.cachedLookups(images) ?? (await this.lookups(images, bundle))) : EMPTY_LOOKUPS;
      evaluation = evaluatePolicies(object, bundle.compiled, {
        defaultNamespace: namespace ?? 'default',
        now,
        owner,
        scanArtifacts: (image) => lookups.get(image) ?? { status: 'lookup-failed', error: 'no scan-artifact lookup was made for this image' },
      });
    }
    const findings = evaluation ? toFindings(evaluation.violations, exemptionReasons(bundle)) : [];
    const decision = decisionFor(findings);
    const revision = bundle.document.revision;
    const eventId = await this.record(r, namespace, owner, images, decision, revision, findings, now, evaluate, target);
    const decided: Decided = { request: r, namespace, findings, decision };
    const warnings = warningsFor(decided);
    if (evaluation && evaluation.status === 'cannot-evaluate') warnings.unshift(`portcullis: the object could not be evaluated: ${evaluation.reason ?? 'unknown reason'}`.slice(0, 256));
    const annotations: Record<string, string> = { decision, 'bundle-revision': String(revision), ...(eventId ? { 'event-id': eventId } : {}) };
    if (r.dryRun) annotations['dry-run'] = 'true';
    if (findings.length > 0) annotations['violations'] = violationSummary(findings);
    const response: ReviewResponse =
      decision === 'DENIED'
        ? { uid: r.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: denyMessage(decided) }, ...(warnings.length ? { warnings } : {}), auditAnnotations: annotations }
        : { uid: r.uid, allowed: true, ...(warnings.length ? { warnings } : {}), auditAnnotations: annotations };
    const result: DecisionResult = !evaluate || evaluation?.status === 'cannot-evaluate' ? 'not_evaluated' : (decision.toLowerCase() as DecisionResult);
    return { response, result };
  }

  private cachedLookups(images: readonly string[]): ReadonlyMap<string, ArtifactLookup> | null {
    const cached = this.resolver!.cached(images);
    if (cached) this.metrics.artifactLookups.inc({ outcome: 'cached' }, images.length);
    return cached;
  }

  private async lookups(images: readonly string[], bundle: EnforceableBundle): Promise<ReadonlyMap<string, ArtifactLookup>> {
    const resolver = this.resolver!;
    const budget = bundle.document.agentSettings.vulnerabilityLookupTimeoutMs ?? this.settings.lookupTimeoutMs;
    const found = await resolver.resolve(images, bundle.document.tenantId, budget);
    for (const l of found.values()) this.metrics.artifactLookups.inc({ outcome: l.status });
    return found;
  }

  private async withoutBundle(r: AdmissionRequestView, namespace: string | undefined, owner: ReturnType<typeof resolveOwner>, images: readonly string[], now: Date): Promise<{ response: ReviewResponse; result: DecisionResult }> {
    const expired = this.store.heldExpired;
    const why = expired ? `the held policy bundle (revision ${this.store.revision}) has expired and no newer one could be fetched` : 'no verified policy bundle is held yet';
    const evaluate = r.operation === 'CREATE' || r.operation === 'UPDATE';
    if (this.settings.noBundleAction === 'deny' && evaluate) {
      const message = `portcullis denied ${r.kind} ${namespace ? `${namespace}/` : ''}${r.name || owner.name}: ${why}, and this agent is configured to deny until it holds one (PORTCULLIS_NO_BUNDLE_ACTION=deny)`;
      const finding: Finding = { policyId: NO_BUNDLE_POLICY.id, policyName: NO_BUNDLE_POLICY.name, action: 'BLOCK', ruleId: 'bundle-required', path: '', message, exempted: false };
      const eventId = await this.record(r, namespace, owner, images, 'DENIED', null, [finding], now, evaluate);
      return { response: { uid: r.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message }, auditAnnotations: { decision: 'DENIED', 'no-bundle': 'true', ...(eventId ? { 'event-id': eventId } : {}) } }, result: 'no_bundle' };
    }
    const eventId = await this.record(r, namespace, owner, images, 'ALLOWED', null, [], now, evaluate);
    return {
      response: { uid: r.uid, allowed: true, ...(evaluate ? { warnings: [`portcullis: ${why}; the object was not checked against any policy`] } : {}), auditAnnotations: { decision: 'ALLOWED', 'no-bundle': 'true', ...(eventId ? { 'event-id': eventId } : {}) } },
      result: 'no_bundle',
    };
  }

  /** A pod too large to evaluate in time: a finding of the agent's own, Block where any Block-mode policy covers the namespace. */
  private async tooManyContainers(r: AdmissionRequestView, namespace: string | undefined, owner: ReturnType<typeof resolveOwner>, images: readonly string[], bundle: EnforceableBundle, podPath: string, count: number, now: Date): Promise<{ response: ReviewResponse; result: DecisionResult }> {
    const blocking = bundle.compiled.some((c) => c.policy.action === 'BLOCK' && c.policy.rules.length > 0 && c.inScope(namespace));
    const message = `${podPath} has ${count} containers (containers, initContainers and ephemeralContainers together); the agent evaluates pods of at most ${MAX_POD_CONTAINERS}, so this one was not checked against its policies. Split the workload into pods with fewer containers.`;
    const finding: Finding = { policyId: BOUNDS_POLICY.id, policyName: BOUNDS_POLICY.name, action: blocking ? 'BLOCK' : 'AUDIT', ruleId: 'pod-container-limit', path: podPath, message, exempted: false };
    const decision = decisionFor([finding]);
    const revision = bundle.document.revision;
    // no snapshot: the object is what is too large
    const eventId = await this.record(r, namespace, owner, images, decision, revision, [finding], now, false);
    const decided: Decided = { request: r, namespace, findings: [finding], decision };
    const annotations: Record<string, string> = { decision, 'bundle-revision': String(revision), 'violations': violationSummary([finding]), ...(eventId ? { 'event-id': eventId } : {}) };
    if (r.dryRun) annotations['dry-run'] = 'true';
    const response: ReviewResponse = blocking
      ? { uid: r.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: denyMessage(decided) }, auditAnnotations: annotations }
      : { uid: r.uid, allowed: true, warnings: warningsFor(decided), auditAnnotations: annotations };
    return { response, result: 'not_evaluated' };
  }

  /** Appends the admission event to the spool: it is written before the answer leaves. */
  private async record(r: AdmissionRequestView, namespace: string | undefined, owner: ReturnType<typeof resolveOwner>, images: readonly string[], decision: AdmissionDecision, bundleRevision: number | null, findings: readonly Finding[], now: Date, evaluated: boolean, target?: InspectedObject): Promise<string | null> {
    const json = evaluated && target ? snapshotJson(r.object, target) : undefined;
    const id = json !== undefined ? this.snapshotIds?.idOf(json) : undefined;
    if (json !== undefined) this.metrics.snapshots.inc({ sent: id !== undefined ? 'by_id' : 'in_full' });
    const { eventId, line } = eventLine({ request: r, namespace, owner, images, decision, bundleRevision, findings, clusterId: this.settings.clusterId, occurredAt: now }, id !== undefined ? { id } : json);
    return (await this.spool.append(line)) ? eventId : null;
  }

  private isExcluded(namespace: string, bundle: EnforceableBundle | null): boolean {
    for (const excluded of this.settings.excluded) if (excluded(namespace)) return true;
    if (bundle) for (const excluded of bundle.excluded) if (excluded(namespace)) return true;
    return false;
  }
}

function namespaceOf(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const meta = (object as { metadata?: unknown }).metadata;
  const ns = typeof meta === 'object' && meta !== null ? (meta as { namespace?: unknown }).namespace : undefined;
  return typeof ns === 'string' && ns !== '' ? ns : undefined;
}

const reasonsCache = new WeakMap<EnforceableBundle, Map<string, string>>();

function exemptionReasons(bundle: EnforceableBundle): ReadonlyMap<string, string> {
  let m = reasonsCache.get(bundle);
  if (!m) {
    m = new Map();
    for (const c of bundle.compiled) for (const e of c.policy.exemptions) m.set(e.id, e.reason);
    reasonsCache.set(bundle, m);
  }
  return m;
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
