/**
 * Every object the compiler generates is one kube-apiserver accepts (the
 * admissionregistration.k8s.io/v1 schema and its extra rules, every expression compiling),
 * and every expression's estimated cost stays within Kubernetes' budgets (PerCallLimit per
 * expression, RuntimeCELCostBudget per policy evaluation): in the estimator's worst case for
 * every expression that does not normalise images, and for a large real pod for all of them.
 * The tables it prints are the ones in docs/native-enforcement.md.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { BundlePolicy } from '@portcullis/bundle';
import { defaultRuleConfigs } from '@portcullis/policy-engine';
import {
  DEFAULT_COST_BOUNDS,
  estimatePolicyCost,
  PER_CALL_LIMIT,
  RUNTIME_CEL_COST_BUDGET,
  validateVapObject,
} from '@portcullis/testing';
import { compileVap } from '@portcullis/vap';
import { NOW, parityPolicies, toBundle } from './parity/cases';

const defaultPolicy: BundlePolicy = {
  id: 'default',
  name: 'Default K8s misconfiguration rule',
  type: 'MISCONFIGURATION',
  action: 'AUDIT',
  namespaces: { include: [], exclude: [] },
  rules: defaultRuleConfigs('MISCONFIGURATION').map((r) => ({ id: r.id, params: r.params })),
  exemptions: [],
};

const compiled = compileVap([...parityPolicies().map(toBundle), defaultPolicy], {
  now: NOW,
  labels: { 'app.kubernetes.io/managed-by': 'portcullis-agent' },
  excludedNamespaces: ['portcullis-system', 'kube-system'],
});

/** The estimator's worst case (Kubernetes gives Pod specs no maxItems/maxLength): lists of 100, maps of 100, strings of 4096. */
const WORST = DEFAULT_COST_BOUNDS;
/** A large real pod: 20 containers per list, 16 labels or annotations, names and images of 256 characters. */
const LARGE_POD = { listItems: 20, mapEntries: 16, stringLength: 256 };

/** Expressions that normalise image references (trusted-registries, image exemptions): their cost grows with image length x count. */
const normalisesImages = (o: Record<string, unknown>) => JSON.stringify(o).includes('lowerAscii()');

/** bounds -> rule -> the worst estimate over every policy compiling it */
const table = new Map<string, Map<string, { expression: number; policy: number }>>();

function overBudget(bounds: typeof WORST, label: string, only: (o: Record<string, unknown>) => boolean): string[] {
  const rows = table.get(label) ?? new Map<string, { expression: number; policy: number }>();
  table.set(label, rows);
  const over: string[] = [];
  for (const o of compiled.objects) {
    if (o['kind'] !== 'ValidatingAdmissionPolicy' || !only(o)) continue;
    const estimate = estimatePolicyCost(o, { bounds });
    const rule = `${(o['metadata'] as { labels: Record<string, string> }).labels['portcullis.dev/rule']!}${normalisesImages(o) ? ' (images normalised)' : ''}`;
    const prior = rows.get(rule) ?? { expression: 0, policy: 0 };
    rows.set(rule, {
      expression: Math.max(prior.expression, estimate.maxExpressionCost),
      policy: Math.max(prior.policy, estimate.total),
    });
    if (!estimate.withinPerCallLimit || !estimate.withinPolicyBudget)
      over.push(`${estimate.policy}: max expression ${estimate.maxExpressionCost}, policy ${estimate.total}`);
  }
  return over;
}

describe('compiled objects', () => {
  it('validate against admissionregistration.k8s.io/v1 and kube-apiserver rules', async () => {
    assert.ok(compiled.objects.length > 100);
    const problems: string[] = [];
    for (const o of compiled.objects) {
      const errors = await validateVapObject(o);
      const name = (o['metadata'] as { name: string }).name;
      for (const e of errors) problems.push(`${String(o['kind'])} ${name}: ${e.path}: ${e.message}`);
    }
    assert.deepEqual(problems.slice(0, 20), []);
  });

  it('stay within Kubernetes CEL budgets in the worst case, unless they normalise images', () => {
    assert.deepEqual(
      overBudget(WORST, 'worst case', (o) => !normalisesImages(o)),
      [],
    );
  });

  it('all stay within Kubernetes CEL budgets for a large real pod', () => {
    assert.deepEqual(
      overBudget(LARGE_POD, 'large pod', () => true),
      [],
    );
  });

  after(() => {
    process.stdout.write(
      `# cost estimates; limits ${PER_CALL_LIMIT} per expression, ${RUNTIME_CEL_COST_BUDGET} per policy\n`,
    );
    for (const [label, rows] of table) {
      process.stdout.write(`# ${label} (${JSON.stringify(label === 'worst case' ? WORST : LARGE_POD)})\n`);
      for (const [rule, w] of [...rows.entries()].sort(([a], [b]) => a.localeCompare(b)))
        process.stdout.write(`# | ${rule} | ${w.expression} | ${w.policy} |\n`);
    }
  });
});
