import { compileRules, runRules, type CompiledRuleSet } from '../rules/run';
import type { ArtifactLookup, EvaluationContext, MatchCounter, ObjectRef, RuleFinding } from '../types';
import { inspectObject, type InspectedObject } from '../workload';
import { compileExemptions, coversObject, coversRule, isActive, type CompiledExemption } from './exemptions';
import type { EvaluationResult, Exemption, OwnerRef, Policy, Violation } from './model';
import { compileGlob } from './pattern-matcher';

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly rules: CompiledRuleSet;
  /** VULNERABILITY policies: each rule on its own, since CVE exemptions can be limited to some rules. */
  readonly perRule: ReadonlyArray<{ readonly id: string; readonly rules: CompiledRuleSet }>;
  readonly exemptions: readonly CompiledExemption[];
  /** The namespace scope as anchored globs, compiled once. */
  readonly inScope: (namespace: string | undefined, counter?: MatchCounter) => boolean;
}

const NONE: readonly CompiledExemption[] = [];

function scopeMatcher(policy: Policy): (namespace: string | undefined, counter?: MatchCounter) => boolean {
  const include = policy.namespaces.include.map((p) => compileGlob(p));
  const exclude = policy.namespaces.exclude.map((p) => compileGlob(p));
  if (include.length === 0 && exclude.length === 0) return () => true;
  // cluster-scoped objects have no namespace: they match patterns as ""
  return (namespace, counter) => {
    const ns = namespace ?? '';
    return (include.length === 0 || include.some((m) => m(ns, counter))) && !exclude.some((m) => m(ns, counter));
  };
}

/**
 * Parses every rule's parameters and every exemption's expiry once; an agent holds one
 * compiled set per bundle. Throws, naming the policy and rule, on configuration the
 * parser would have refused (callers pass parsed or API-validated policies).
 */
export function compilePolicies(policies: readonly Policy[]): CompiledPolicy[] {
  return policies.map((policy) => {
    try {
      return {
        policy,
        rules: compileRules(policy.rules),
        perRule:
          policy.type === 'VULNERABILITY' ? policy.rules.map((r) => ({ id: r.id, rules: compileRules([r]) })) : [],
        exemptions: compileExemptions(policy.exemptions),
        inScope: scopeMatcher(policy),
      };
    } catch (err) {
      throw new Error(`policy "${policy.name}": ${err instanceof Error ? err.message : String(err)}`);
    }
  });
}

/**
 * Whether a violation is one the decision denies for: its policy is in BLOCK mode, no
 * exemption covers it, and it is a real finding. A rule that crashed (RULE_ERROR) is
 * reported, never the reason a deployment is refused. `evaluatePolicies` decides with
 * this, so every reporter that counts "blocking" with it agrees with the decision.
 */
export function isBlocking(v: Pick<Violation, 'action' | 'exempted' | 'reason'>): boolean {
  return v.action === 'BLOCK' && wouldBlock(v);
}

/** Whether a violation would block were its policy in BLOCK mode: what audit-to-deny reports and simulations count. */
export function wouldBlock(v: Pick<Violation, 'exempted' | 'reason'>): boolean {
  return !v.exempted && v.reason !== 'RULE_ERROR';
}

export interface EvaluateOptions extends EvaluationContext {
  /** The workload the object belongs to, for exemptions by kind and name (the agent resolves owners). */
  readonly owner?: OwnerRef;
}

/**
 * Evaluates every policy whose namespace scope matches, independently. Deny when a
 * BLOCK policy has a violation no active exemption covers; exempted violations are
 * still reported, with the exemption's id. Never throws, whatever the input.
 */
export function evaluatePolicies(
  object: unknown,
  policies: readonly CompiledPolicy[],
  options: EvaluateOptions,
): EvaluationResult {
  try {
    return evaluate(object, policies, options);
  } catch (err) {
    // only a bug gets here; admission must still get an answer, and the caller sees why
    return {
      status: 'cannot-evaluate',
      decision: 'allow',
      violations: [],
      policiesEvaluated: [],
      reason: `internal error: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
}

function evaluate(object: unknown, policies: readonly CompiledPolicy[], options: EvaluateOptions): EvaluationResult {
  const target = inspectObject(object, options.defaultNamespace);
  if (target.status === 'cannot-evaluate' || target.status === 'not-applicable') {
    return {
      status: target.status,
      ...(target.ref ? { object: target.ref } : {}),
      decision: 'allow',
      violations: [],
      policiesEvaluated: [],
      reason: target.reason,
    };
  }
  const ref = target.ref;
  const nowMs = options.now.getTime();
  const ctx =
    options.scanArtifacts && policies.some((p) => p.policy.type === 'VULNERABILITY')
      ? { ...options, scanArtifacts: memoized(options.scanArtifacts) }
      : options;
  const violations: Violation[] = [];
  const evaluated: string[] = [];
  let deny = false;
  for (const compiled of policies) {
    const { policy } = compiled;
    if (!compiled.inScope(ref.namespace, options.matchSteps)) continue;
    evaluated.push(policy.id);
    const live = compiled.exemptions.length === 0 ? NONE : compiled.exemptions.filter((e) => isActive(e, nowMs));
    const byCve =
      policy.type === 'VULNERABILITY' && live.some((e) => e.byCve)
        ? vulnerabilityFindings(target, compiled, live, ctx)
        : undefined;
    const findings = byCve ? byCve.findings : runRules(target, compiled.rules, ctx);
    for (let i = 0; i < findings.length; i++) {
      const f = findings[i]!;
      const exemption =
        byCve?.exemptedBy.get(f) ??
        (live.length === 0
          ? undefined
          : live.find(
              (e) =>
                !e.byCve &&
                coversRule(e.exemption, f.rule) &&
                coversObject(e.exemption, ref, options.owner, imagesOf(f, target), options.matchSteps),
            )?.exemption);
      const v = violation(policy, f, exemption);
      violations.push(v);
      if (isBlocking(v)) deny = true;
    }
  }
  return {
    status: 'evaluated',
    object: ref,
    decision: deny ? 'deny' : 'allow',
    violations,
    policiesEvaluated: evaluated,
  };
}

function violation(policy: Policy, f: RuleFinding, exemption: Exemption | undefined): Violation {
  // assigned field by field: admission latency is dominated by building these objects
  const v: { -readonly [K in keyof Violation]: Violation[K] } = {
    policy: policy.name,
    policyId: policy.id,
    rule: f.rule,
    action: policy.action,
    path: f.path,
    message: f.message,
    exempted: exemption !== undefined,
  };
  if (exemption) v.exemptionId = exemption.id;
  if (f.container !== undefined) v.container = f.container;
  if (f.image !== undefined) v.image = f.image;
  if (f.count !== undefined) v.count = f.count;
  if (f.threshold !== undefined) v.threshold = f.threshold;
  if (f.reason !== undefined) v.reason = f.reason;
  if (f.cves !== undefined) v.cves = f.cves;
  return v;
}

/** The images a finding is about: its own, else its container's, else every image of the pod. */
function imagesOf(f: RuleFinding, target: InspectedObject): string[] {
  if (f.image) return [f.image];
  if (target.status !== 'pod') return [];
  const own = f.container !== undefined ? target.containers.find((c) => c.name === f.container) : undefined;
  if (own) return own.image ? [own.image] : [];
  return target.containers.flatMap((c) => (c.image ? [c.image] : []));
}

interface CveExemptedFindings {
  readonly findings: RuleFinding[];
  /** Findings that only exist because of CVEs an exemption takes out, with that exemption. */
  readonly exemptedBy: Map<RuleFinding, Exemption>;
}

/**
 * CVE exemptions take their CVEs out of the scan artifact before each vulnerability
 * rule counts, so an image whose only criticals are exempted passes. What the rule
 * would have found without them is still reported, as exempted.
 */
function vulnerabilityFindings(
  target: InspectedObject,
  compiled: CompiledPolicy,
  live: readonly CompiledExemption[],
  ctx: EvaluateOptions,
): CveExemptedFindings {
  const ref = (target as { ref: ObjectRef }).ref;
  const out: RuleFinding[] = [];
  const exemptedBy = new Map<RuleFinding, Exemption>();
  for (const { id, rules } of compiled.perRule) {
    const byCve = live.filter((e) => e.byCve && coversRule(e.exemption, id)).map((e) => e.exemption);
    const raw = runRules(target, rules, ctx);
    if (byCve.length === 0 || !ctx.scanArtifacts) {
      out.push(...raw);
      continue;
    }
    const lookup = ctx.scanArtifacts;
    const filtered = runRules(target, rules, {
      ...ctx,
      scanArtifacts: (image: string): ArtifactLookup => {
        const found = lookup(image);
        if (found.status !== 'found') return found;
        const exempt = new Set(
          byCve.filter((e) => coversObject(e, ref, ctx.owner, [image], ctx.matchSteps)).flatMap((e) => e.cves ?? []),
        );
        return exempt.size === 0
          ? found
          : {
              status: 'found',
              artifact: { ...found.artifact, findings: found.artifact.findings.filter((v) => !exempt.has(v.id)) },
            };
      },
    });
    out.push(...filtered);
    const allExempt = new Set(byCve.flatMap((e) => e.cves ?? []));
    for (const finding of exemptedByCve(raw, filtered, allExempt)) {
      const cves = finding.cves ?? [];
      const applicable = byCve.filter((e) =>
        coversObject(e, ref, ctx.owner, finding.image ? [finding.image] : [], ctx.matchSteps),
      );
      const exemption = applicable.find((e) => e.cves!.some((c) => cves.includes(c))) ?? applicable[0];
      out.push(finding);
      if (exemption) exemptedBy.set(finding, exemption);
    }
  }
  return { findings: out, exemptedBy };
}

/**
 * Raw findings with no counterpart once the exempted CVEs are gone. Findings pair up by
 * where they point and their threshold; when several share that (two severities with
 * the same limit), those naming exempted CVEs are the ones that went away.
 */
function exemptedByCve(
  raw: readonly RuleFinding[],
  filtered: readonly RuleFinding[],
  exempt: ReadonlySet<string>,
): RuleFinding[] {
  const key = (f: RuleFinding) =>
    `${f.rule}\u0000${f.path}\u0000${f.container ?? ''}\u0000${f.reason ?? ''}\u0000${f.threshold ?? ''}`;
  const left = new Map<string, number>();
  for (const f of filtered) left.set(key(f), (left.get(key(f)) ?? 0) + 1);
  const named = (f: RuleFinding) => (f.cves ?? []).some((c) => exempt.has(c));
  const out: RuleFinding[] = [];
  const groups = new Map<string, RuleFinding[]>();
  for (const f of raw) groups.set(key(f), [...(groups.get(key(f)) ?? []), f]);
  for (const [k, group] of groups) {
    const gone = group.length - (left.get(k) ?? 0);
    if (gone > 0) out.push(...[...group].sort((a, b) => Number(named(b)) - Number(named(a))).slice(0, gone));
  }
  return out;
}

/** One lookup per image per admission, however many rules and policies ask. */
function memoized(lookup: (image: string) => ArtifactLookup): (image: string) => ArtifactLookup {
  const seen = new Map<string, ArtifactLookup>();
  return (image) => {
    let found = seen.get(image);
    if (!found) {
      try {
        found = lookup(image);
      } catch (err) {
        found = { status: 'lookup-failed', error: err instanceof Error ? err.message : String(err) };
      }
      seen.set(image, found);
    }
    return found;
  };
}
