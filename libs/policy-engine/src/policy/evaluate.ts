import { normalizeImage } from '../image';
import { compileRules, runRules, type CompiledRuleSet } from '../rules/run';
import type { ArtifactLookup, EvaluationContext, ObjectRef, RuleFinding } from '../types';
import { inspectObject, type InspectedObject, type PodTarget } from '../workload';
import { matches, namespaceDecision } from './matching';
import type { EvaluationResult, Exemption, OwnerRef, Policy, Violation } from './model';

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly rules: CompiledRuleSet;
}

/** Parses every rule's parameters once; an agent holds one compiled set per bundle. */
export function compilePolicies(policies: readonly Policy[]): readonly CompiledPolicy[] {
  return policies.map((policy) => ({ policy, rules: compileRules(policy.rules) }));
}

export interface EvaluateOptions extends EvaluationContext {
  /** The workload the object belongs to, for exemptions by kind and name (the agent resolves owners). */
  readonly owner?: OwnerRef;
}

const active = (e: Exemption, now: Date) => !e.expiresAt || Date.parse(e.expiresAt) > now.getTime();
const some = (list: readonly string[] | undefined) => Array.isArray(list) && list.length > 0;

function imageForms(image: string): string[] {
  const ref = normalizeImage(image);
  if (!ref) return [image];
  return [image, ref.normalized, ref.registry, `${ref.registry}/${ref.repository}`, ref.repository, ...(ref.digest ? [ref.digest] : [])];
}

/** Whether an exemption's object criteria (all but CVEs) hold for this object and finding. */
function coversObject(e: Exemption, ref: ObjectRef, owner: OwnerRef | undefined, images: readonly string[]): boolean {
  if (some(e.namespaces) && !e.namespaces!.some((p) => matches(e.match, p, ref.namespace ?? ''))) return false;
  if (some(e.kinds) && !e.kinds!.some((k) => k === ref.kind || k === owner?.kind)) return false;
  if (some(e.names) && !e.names!.some((p) => matches(e.match, p, ref.name) || (owner !== undefined && matches(e.match, p, owner.name)))) return false;
  if (some(e.images)) {
    if (images.length === 0) return false;
    const ok = images.every((img) => imageForms(img).some((form) => e.images!.some((p) => matches(e.match, p, form))));
    if (!ok) return false;
  }
  if (e.labelSelector && Object.entries(e.labelSelector).some(([k, v]) => ref.labels[k] !== v)) return false;
  return true;
}

function podImages(target: InspectedObject): string[] {
  return target.status === 'pod' ? (target as PodTarget).containers.flatMap((c) => (c.image ? [c.image] : [])) : [];
}

/**
 * Evaluates every policy whose namespace scope matches, independently. Deny when a
 * BLOCK policy has a violation no active exemption covers; exempted violations are
 * still reported. Never throws, whatever the input.
 */
export function evaluatePolicies(object: unknown, policies: readonly CompiledPolicy[], options: EvaluateOptions): EvaluationResult {
  let target: InspectedObject;
  try {
    target = inspectObject(object, options.defaultNamespace);
  } catch (err) {
    return { status: 'cannot-evaluate', decision: 'allow', violations: [], policiesEvaluated: [], reason: `internal error: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (target.status === 'cannot-evaluate' || target.status === 'not-applicable') {
    return { status: target.status, ...(target.ref ? { object: target.ref } : {}), decision: 'allow', violations: [], policiesEvaluated: [], reason: target.reason };
  }
  const ref = target.ref;
  const allImages = podImages(target);
  const violations: Violation[] = [];
  const evaluated: string[] = [];
  let deny = false;
  for (const { policy, rules } of policies) {
    if (!namespaceDecision(policy.namespaces, ref.namespace).applies) continue;
    evaluated.push(policy.id);
    const live = policy.exemptions.filter((e) => active(e, options.now));
    const ctx = policy.type === 'VULNERABILITY' ? withCveExemptions(options, live, ref, options.owner) : options;
    let findings: RuleFinding[];
    try {
      findings = runRules(target, rules, ctx);
    } catch (err) {
      findings = [{ rule: '(engine)', path: '', message: `evaluation failed: ${err instanceof Error ? err.message : String(err)}`, reason: 'RULE_ERROR' }];
    }
    for (const f of findings) {
      const images = f.image ? [f.image] : allImages;
      const exemption = live.find((e) => !some(e.cves) && (!some(e.rules) || e.rules!.includes(f.rule)) && coversObject(e, ref, options.owner, images));
      const v: Violation = {
        policy: policy.name,
        policyId: policy.id,
        rule: f.rule,
        action: policy.action,
        path: f.path,
        message: f.message,
        exempted: exemption !== undefined,
        ...(exemption ? { exemptionId: exemption.id } : {}),
        ...(f.container !== undefined ? { container: f.container } : {}),
        ...(f.image !== undefined ? { image: f.image } : {}),
        ...(f.count !== undefined ? { count: f.count } : {}),
        ...(f.threshold !== undefined ? { threshold: f.threshold } : {}),
        ...(f.reason !== undefined ? { reason: f.reason } : {}),
        ...(f.cves !== undefined ? { cves: f.cves } : {}),
      };
      violations.push(v);
      // a rule that crashed is reported, never the reason a deployment is refused
      if (policy.action === 'BLOCK' && !v.exempted && f.reason !== 'RULE_ERROR') deny = true;
    }
  }
  return { status: 'evaluated', object: ref, decision: deny ? 'deny' : 'allow', violations, policiesEvaluated: evaluated };
}

/** CVE exemptions take their CVEs out of the artifact before the vulnerability rules count. */
function withCveExemptions(ctx: EvaluateOptions, live: readonly Exemption[], ref: ObjectRef, owner: OwnerRef | undefined): EvaluateOptions {
  const cveExemptions = live.filter((e) => some(e.cves));
  if (cveExemptions.length === 0 || !ctx.scanArtifacts) return ctx;
  const lookup = ctx.scanArtifacts;
  return {
    ...ctx,
    scanArtifacts: (image: string): ArtifactLookup => {
      const found = lookup(image);
      if (found.status !== 'found') return found;
      const exempt = new Set(cveExemptions.filter((e) => coversObject(e, ref, owner, [image])).flatMap((e) => e.cves ?? []));
      if (exempt.size === 0) return found;
      return { status: 'found', artifact: { ...found.artifact, findings: found.artifact.findings.filter((f) => !exempt.has(f.id)) } };
    },
  };
}
