import {
  MAX_POD_CONTAINERS,
  snapshotJson,
  toFindings,
  type EnforceableBundle,
  type ScanArtifactSource,
} from '@portcullis/admission';
import { SnapshotHasher, type Finding, type RunningViolation } from '@portcullis/contracts';
import { evaluatePolicies, inspectObject, type ArtifactLookup, type InspectedObject } from '@portcullis/policy-engine';
import type { Workload } from './cluster-state';

/** A workload's verdict under one bundle revision; what a report says of it besides its pod count. */
export interface Evaluation {
  readonly revision: number;
  /** Workload.version evaluated. */
  readonly version: number;
  readonly images: readonly string[];
  readonly snapshotHash: string;
  readonly violations: readonly RunningViolation[];
}

const MAX_IMAGES = 100;
const EMPTY_LOOKUPS: ReadonlyMap<string, ArtifactLookup> = new Map();

interface Parsed {
  readonly workload: Workload;
  readonly object: Record<string, unknown>;
  readonly target: InspectedObject;
  readonly images: readonly string[];
}

/**
 * Evaluates running workloads as the webhook would admit them: the same engine, bundle
 * (compiled policies, exemptions and their reasons), findings and scan-artifact resolver.
 * Only the verdict differs in use: nothing is denied, the findings become the workload's
 * current violations.
 */
export class WorkloadEvaluator {
  private readonly hasher = new SnapshotHasher(20_000);

  constructor(
    private readonly artifacts: ScanArtifactSource | null,
    private readonly lookupTimeoutMs: number,
  ) {}

  /** Evaluates a chunk of workloads (their scan artifacts looked up together). */
  async evaluate(workloads: readonly Workload[], bundle: EnforceableBundle, now: Date): Promise<Evaluation[]> {
    const parsed = workloads.map(parse);
    let lookups = EMPTY_LOOKUPS;
    if (bundle.hasVulnerabilityPolicies && this.artifacts) {
      const images = [...new Set(parsed.flatMap((p) => p.images))];
      if (images.length > 0)
        lookups =
          this.artifacts.cached(images) ??
          (await this.artifacts.resolve(images, bundle.document.tenantId, this.lookupTimeoutMs));
    }
    return parsed.map((p) => this.evaluateOne(p, bundle, now, lookups));
  }

  private evaluateOne(
    p: Parsed,
    bundle: EnforceableBundle,
    now: Date,
    lookups: ReadonlyMap<string, ArtifactLookup>,
  ): Evaluation {
    const { workload: w, object, target } = p;
    const namespace = w.namespace ?? undefined;
    let findings: readonly Finding[];
    if (target.status === 'pod' && target.containers.length > MAX_POD_CONTAINERS) {
      findings = [tooManyContainers(bundle, namespace, target.podPath, target.containers.length)];
    } else {
      const evaluation = evaluatePolicies(object, bundle.compiled, {
        defaultNamespace: namespace ?? 'default',
        now,
        owner: { kind: w.kind, name: w.name },
        scanArtifacts: (image) =>
          lookups.get(image) ?? { status: 'lookup-failed', error: 'no scan-artifact lookup was made for this image' },
      });
      findings = toFindings(evaluation.violations, bundle.exemptionReasons);
    }
    const snapshot = snapshotJson(object, target);
    // beyond the snapshot bound the id is still the stripped object's: the API then holds no snapshot for it
    const snapshotHash = this.hasher.hash(
      snapshot !== undefined ? (JSON.parse(snapshot) as Record<string, unknown>) : object,
    ).hash;
    return {
      revision: bundle.document.revision,
      version: w.version,
      images: p.images,
      snapshotHash,
      violations: findings.map(toViolation),
    };
  }
}

/** The snapshot a report carries for a workload (as admission events carry theirs), or undefined beyond the bound. */
export function snapshotOf(w: Workload): string | undefined {
  const p = parse(w);
  return snapshotJson(p.object, p.target);
}

function parse(workload: Workload): Parsed {
  const object = JSON.parse(workload.json) as Record<string, unknown>;
  const target = inspectObject(object, workload.namespace ?? 'default');
  const images =
    target.status === 'pod'
      ? [...new Set(target.containers.flatMap((c) => (c.image ? [c.image] : [])))].slice(0, MAX_IMAGES)
      : [];
  return { workload, object, target, images };
}

function toViolation(f: Finding): RunningViolation {
  return {
    policyId: f.policyId,
    rule: f.ruleId,
    action: f.action,
    message: f.message,
    ...(f.path !== '' ? { path: f.path } : {}),
    ...(f.container !== undefined ? { container: f.container } : {}),
    ...(f.image !== undefined ? { image: f.image } : {}),
    exempted: f.exempted,
  };
}

/** As the webhook answers such a pod: a finding of the agent's own, Block where a Block-mode policy covers the namespace. */
function tooManyContainers(
  bundle: EnforceableBundle,
  namespace: string | undefined,
  podPath: string,
  count: number,
): Finding {
  const blocking = bundle.compiled.some(
    (c) => c.policy.action === 'BLOCK' && c.policy.rules.length > 0 && c.inScope(namespace),
  );
  return {
    policyId: 'portcullis-agent',
    policyName: 'Portcullis agent: admission bounds',
    action: blocking ? 'BLOCK' : 'AUDIT',
    ruleId: 'pod-container-limit',
    path: podPath,
    message: `${podPath} has ${count} containers; the agent evaluates pods of at most ${MAX_POD_CONTAINERS}, so this one was not checked against its policies`,
    exempted: false,
  };
}
