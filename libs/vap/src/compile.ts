// compileVap: misconfiguration policies -> ValidatingAdmissionPolicy + binding objects
// (admissionregistration.k8s.io/v1), one pair per policy x rule. Pure: no clock but the
// `now` given, no I/O. What cannot be expressed faithfully is reported, never dropped.
import type { BundlePolicy } from '@portcullis/bundle';
import { findRule, validateRuleParams, type Exemption } from '@portcullis/policy-engine';
import { and, globToRe2, or, str } from './cel';
import { coversExpr, namesImages } from './exemptions';
import { objectName, labelValue } from './names';
import { parseExemption } from './exemption-shape';
import { LIST_LABEL, LISTS, ruleCel, S, type Check, type RuleCel } from './rules';
import { hasPodSpecExpr, NAME_EXPR, NAMESPACE_EXPR, podSpecExpr, resourceRules } from './targets';
import { POD_TEMPLATE_ROUTES } from '@portcullis/policy-engine';

export interface VapCompileOptions {
  /** exemptions whose expiry is at or before `now` are left out; default new Date() */
  readonly now?: Date;
  /** extra labels on every object (the agent adds app.kubernetes.io/managed-by: portcullis-agent) */
  readonly labels?: Readonly<Record<string, string>>;
  /** namespaces (globs) never evaluated, as the agent's own exclusions: a matchCondition on every policy */
  readonly excludedNamespaces?: readonly string[];
}

export interface VapUnsupported {
  readonly rule?: string;
  readonly what: string;
  readonly reason: string;
}

export interface VapPolicyOutcome {
  readonly policyId: string;
  readonly policyName: string;
  /** PARTIAL: some rules/patterns could not be expressed */
  readonly state: 'COMPILED' | 'PARTIAL' | 'NOT_COMPILED';
  readonly objectNames: readonly string[];
  readonly unsupported: readonly VapUnsupported[];
}

export interface VapCompileResult {
  /** VAPs and bindings, plain JSON, deterministic order */
  readonly objects: ReadonlyArray<Record<string, unknown>>;
  /** one per MISCONFIGURATION input policy (VULNERABILITY policies need scan artifacts at admission: not compiled, not listed) */
  readonly policies: readonly VapPolicyOutcome[];
  /** earliest future exemption expiry: recompile then (CEL has no clock) */
  readonly nextExpiry?: string;
}

export const VAP_API_VERSION = 'admissionregistration.k8s.io/v1';
export const LABEL_POLICY_ID = 'portcullis.dev/policy-id';
export const LABEL_RULE = 'portcullis.dev/rule';
export const ANNOTATION_POLICY_ID = 'portcullis.dev/policy-id';
export const ANNOTATION_POLICY_NAME = 'portcullis.dev/policy-name';

const globsExpr = (patterns: readonly string[], subject: string): string =>
  or(patterns.map((p) => `${subject}.matches(${str(globToRe2(p))})`));

/** The variables every pod-spec policy declares; CEL evaluates them lazily, only where used. */
function podVariables(needsImages: boolean): Array<{ name: string; expression: string }> {
  const vars = (POD_VARIABLES ??= basePodVariables()).map((v) => ({ ...v }));
  if (needsImages)
    vars.push({
      name: 'allImages',
      expression: `object.kind == 'Ingress' ? [] : ${LISTS.map((l) => `variables.${l}.filter(c, has(c.image) && c.image != '').map(c, c.image)`).join(' + ')}`,
    });
  return vars;
}
let POD_VARIABLES: ReadonlyArray<{ name: string; expression: string }> | undefined;

function basePodVariables(): Array<{ name: string; expression: string }> {
  return [
    { name: 'podSpec', expression: podSpecExpr() },
    ...LISTS.map((l) => ({ name: l, expression: `has(${S}.${l}) ? ${S}.${l} : []` })),
    {
      name: 'windows',
      expression: `has(${S}.os) && has(${S}.os.name) && ${S}.os.name == 'windows'`,
    },
    { name: 'podAnnotations', expression: podAnnotationsExpr() },
  ];
}

function podAnnotationsExpr(): string {
  const kinds = Object.keys(POD_TEMPLATE_ROUTES);
  let expr = '{}';
  for (const kind of [...kinds].reverse()) {
    const route = ['object', ...POD_TEMPLATE_ROUTES[kind]!, 'metadata'];
    const checks = route.slice(1).map((_, i) => `has(${route.slice(0, i + 2).join('.')})`);
    const annotations = `${route.join('.')}.annotations`;
    expr = `object.kind == ${str(kind)} ? (${[...checks, `has(${annotations})`].join(' && ')} ? ${annotations} : {}) : ${expr}`;
  }
  return expr;
}

/** Only the variables the validations reach (directly or through a later variable), in declaration order. */
function usedVariables(
  declared: ReadonlyArray<{ name: string; expression: string }>,
  validations: ReadonlyArray<{ expression: string; messageExpression: string }>,
): Array<{ name: string; expression: string }> {
  const texts = validations.flatMap((v) => [v.expression, v.messageExpression]);
  const used = new Set<string>();
  for (let i = declared.length - 1; i >= 0; i--) {
    const v = declared[i]!;
    const ref = `variables.${v.name}`;
    // a reference is the name followed by something that cannot continue an identifier
    const reached = (t: string) =>
      t
        .split(ref)
        .slice(1)
        .some((rest) => !/^[A-Za-z0-9_]/.test(rest));
    if (texts.some(reached) || declared.slice(i + 1).some((later) => used.has(later.name) && reached(later.expression)))
      used.add(v.name);
  }
  return declared.filter((v) => used.has(v.name));
}

function validationsOf(
  rule: RuleCel,
  guard: (images: string) => string,
  prefix: string,
): Array<{ expression: string; message: string; messageExpression: string; reason: string }> {
  const out: Array<{ expression: string; message: string; messageExpression: string; reason: string }> = [];
  const push = (expression: string, message: string, messageExpression: string) =>
    out.push({ expression, message, messageExpression, reason: 'Forbidden' });
  const objectRef = `object.kind + ' ' + ${NAMESPACE_EXPR} + '/' + ${NAME_EXPR}`;
  // kube-apiserver refuses a message with a line break, and a policy name or pattern could carry one
  prefix = prefix.replace(/[\r\n]+/g, ' ');
  for (const original of rule.checks as readonly Check[]) {
    const check = { ...original, message: original.message.replace(/[\r\n]+/g, ' ') } as Check;
    switch (check.on) {
      case 'container':
        for (const list of check.lists) {
          const images = `(has(c.image) && c.image != '' ? [c.image] : [])`;
          const g = guard(images);
          const bad = g === 'false' ? check.violates('c') : `(${check.violates('c')} && !${g})`;
          push(
            `variables.${list}.all(c, !${bad})`,
            `${prefix}: a ${LIST_LABEL[list]} ${check.message}`,
            `${str(`${prefix}: `)} + ${objectRef} + ${str(`: ${LIST_LABEL[list]} `)} + variables.${list}.filter(c, ${bad}).map(c, '"' + c.name + '"').join(', ') + ${str(` ${check.message}`)}`,
          );
        }
        break;
      case 'object': {
        const g = guard('variables.allImages');
        push(
          g === 'false' ? `!(${check.violates})` : `!(${check.violates}) || ${g}`,
          `${prefix}: ${check.message}`,
          `${str(`${prefix}: `)} + ${objectRef} + ${str(`: ${check.message}`)}`,
        );
        break;
      }
      case 'custom':
        push(
          check.expression(guard),
          `${prefix}: ${check.message}`,
          `${str(`${prefix}: `)} + ${objectRef} + ${str(`: ${check.message}`)}`,
        );
        break;
    }
  }
  return out;
}

function ruleObjects(
  policy: BundlePolicy,
  ruleId: string,
  rule: RuleCel,
  exemptions: readonly Exemption[],
  options: VapCompileOptions,
): Array<Record<string, unknown>> {
  const name = objectName(policy, ruleId);
  const mine = exemptions.filter((e) => !e.rules || e.rules.length === 0 || e.rules.includes(ruleId));
  const byObject = mine.filter((e) => !namesImages(e));
  const byImage = mine.filter(namesImages);
  const guard = (images: string) => or(byImage.map((e) => coversExpr(e, images)));
  const podTargets = rule.targets.includes('pod');

  const matchConditions: Array<{ name: string; expression: string }> = [];
  const ns = policy.namespaces;
  if (ns.include.length > 0 || ns.exclude.length > 0)
    matchConditions.push({
      name: 'namespace-scope',
      expression: and([
        ...(ns.include.length > 0 ? [globsExpr(ns.include, NAMESPACE_EXPR)] : []),
        ...(ns.exclude.length > 0 ? [`!${globsExpr(ns.exclude, NAMESPACE_EXPR)}`] : []),
      ]),
    });
  if (options.excludedNamespaces && options.excludedNamespaces.length > 0)
    matchConditions.push({
      name: 'agent-excluded-namespaces',
      expression: `!${globsExpr(options.excludedNamespaces, NAMESPACE_EXPR)}`,
    });
  if (podTargets) matchConditions.push({ name: 'has-pod-spec', expression: hasPodSpecExpr() });
  if (byObject.length > 0)
    matchConditions.push({ name: 'not-exempted', expression: `!${or(byObject.map((e) => coversExpr(e)))}` });

  const prefix = `policy "${policy.name}" rule ${ruleId}`;
  const validations = validationsOf(rule, guard, prefix);
  const needsImages = byImage.length > 0;
  const declared = podTargets
    ? podVariables(needsImages)
    : needsImages
      ? [{ name: 'allImages', expression: '[]' }]
      : [];
  const variables = usedVariables(declared, validations);
  const labels = {
    ...(options.labels ?? {}),
    [LABEL_POLICY_ID]: labelValue(policy.id),
    [LABEL_RULE]: ruleId,
  };
  const metadata = {
    name,
    labels,
    annotations: { [ANNOTATION_POLICY_ID]: policy.id, [ANNOTATION_POLICY_NAME]: policy.name },
  };
  const block = policy.action === 'BLOCK';
  return [
    {
      apiVersion: VAP_API_VERSION,
      kind: 'ValidatingAdmissionPolicy',
      metadata,
      spec: {
        // a Block policy that cannot be evaluated denies, as the engine's author meant it to hold; Audit never denies
        failurePolicy: block ? 'Fail' : 'Ignore',
        matchConstraints: { resourceRules: resourceRules(rule.targets) },
        ...(matchConditions.length > 0 ? { matchConditions } : {}),
        ...(variables.length > 0 ? { variables } : {}),
        validations,
      },
    },
    {
      apiVersion: VAP_API_VERSION,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels: { ...labels }, annotations: { ...metadata.annotations } },
      spec: { policyName: name, validationActions: block ? ['Deny'] : ['Warn', 'Audit'] },
    },
  ];
}

/** Compiles the MISCONFIGURATION policies of a bundle (VULNERABILITY ones stay in the webhook). */
export function compileVap(policies: readonly BundlePolicy[], options: VapCompileOptions = {}): VapCompileResult {
  const nowMs = (options.now ?? new Date()).getTime();
  const objects: Array<Record<string, unknown>> = [];
  const outcomes: VapPolicyOutcome[] = [];
  let nextExpiryMs = Infinity;
  for (const policy of policies) {
    if (policy.type !== 'MISCONFIGURATION') continue;
    const unsupported: VapUnsupported[] = [];
    const objectNames: string[] = [];

    // exemptions in force at `now`; one that cannot be read withholds the rules it covers
    const exemptions: Exemption[] = [];
    const unreadable: Array<{ rules: readonly string[] | undefined }> = [];
    policy.exemptions.forEach((raw, i) => {
      const parsed = parseExemption(raw);
      if (!parsed.ok) {
        unsupported.push({ what: `exemptions[${i}]`, reason: parsed.reason });
        unreadable.push({ rules: parsed.rules });
        return;
      }
      const e = parsed.exemption;
      if (e.cves && e.cves.length > 0) return; // CVE exemptions never exempt a misconfiguration finding
      const expires = e.expiresAt ? Date.parse(e.expiresAt) : Infinity;
      if (!(expires > nowMs)) return; // expired (or an unreadable expiry: never in force)
      if (expires < nextExpiryMs) nextExpiryMs = expires;
      exemptions.push(e);
    });

    for (const r of policy.rules) {
      const def = findRule(r.id);
      if (!def) {
        unsupported.push({ rule: r.id, what: 'rule', reason: `unknown rule "${r.id}"` });
        continue;
      }
      if (def.policyType !== 'MISCONFIGURATION') {
        unsupported.push({
          rule: r.id,
          what: 'rule',
          reason: 'needs scan artifacts at admission; stays in the webhook',
        });
        continue;
      }
      const v = validateRuleParams(r.id, r.params);
      if (!v.ok) {
        unsupported.push({ rule: r.id, what: 'parameters', reason: v.errors.map((e) => e.message).join('; ') });
        continue;
      }
      const blocked = unreadable.find((u) => !u.rules || u.rules.length === 0 || u.rules.includes(r.id));
      if (blocked) {
        unsupported.push({
          rule: r.id,
          what: 'rule',
          reason:
            'an exemption of the policy could not be read; compiling without it would deny what the webhook exempts',
        });
        continue;
      }
      const cel = ruleCel(r.id, v.params);
      if (!cel || 'unsupported' in cel) {
        unsupported.push({
          rule: r.id,
          what: 'rule',
          reason: cel ? cel.unsupported : 'no CEL translation for this rule',
        });
        continue;
      }
      if (cel.checks.length === 0) continue; // nothing to check with these parameters (e.g. ingress-https with both off)
      const made = ruleObjects(policy, r.id, cel, exemptions, options);
      for (const o of made) objects.push(o);
      objectNames.push((made[0]!['metadata'] as { name: string }).name);
    }
    const compiledRules = objectNames.length;
    outcomes.push({
      policyId: policy.id,
      policyName: policy.name,
      state: unsupported.length === 0 ? 'COMPILED' : compiledRules > 0 ? 'PARTIAL' : 'NOT_COMPILED',
      objectNames,
      unsupported,
    });
  }
  return {
    objects,
    policies: outcomes,
    ...(Number.isFinite(nextExpiryMs) ? { nextExpiry: new Date(nextExpiryMs).toISOString() } : {}),
  };
}
