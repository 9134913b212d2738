import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_COST_BOUNDS,
  PER_CALL_LIMIT,
  RUNTIME_CEL_COST_BUDGET,
  estimateCost,
  estimatePolicyCost,
  shapeOf,
} from '@portcullis/testing';

const ALL_PRIVILEGED = 'object.spec.containers.all(c, !c.?securityContext.?privileged.orValue(false))';
const NESTED = "object.spec.containers.all(c, c.?env.orValue([]).all(e, e.name != 'SECRET'))";
const REGEX = "object.spec.containers.all(c, c.image.matches('^registry\\\\.example\\\\.com/'))";

describe('estimateCost', () => {
  it('constants cost nothing, a field path costs one per step', () => {
    assert.equal(estimateCost('true'), 0);
    assert.equal(estimateCost('object'), 1);
    assert.equal(estimateCost('object.spec.hostNetwork'), 3);
  });

  it('a comprehension costs per element: linear in the list bound, nested ones multiply', () => {
    const at = (n: number, e: string): number =>
      estimateCost(e, { bounds: { ...DEFAULT_COST_BOUNDS, listItems: n, mapEntries: n } });
    assert.ok(at(10, ALL_PRIVILEGED) < at(100, ALL_PRIVILEGED));
    // linear: ten times the elements, about ten times the cost
    const ratio = at(1000, ALL_PRIVILEGED) / at(100, ALL_PRIVILEGED);
    assert.ok(ratio > 9 && ratio < 11, String(ratio));
    // nested: ten times the elements per level, about a hundred times the cost
    const nested = at(1000, NESTED) / at(100, NESTED);
    assert.ok(nested > 90 && nested < 110, String(nested));
  });

  it('string work is charged by length, regexes by length × pattern', () => {
    const at = (len: number): number => estimateCost(REGEX, { bounds: { ...DEFAULT_COST_BOUNDS, stringLength: len } });
    assert.ok(at(100) < at(4096));
    assert.ok(estimateCost("'a' == 'a'") < estimateCost('object.metadata.name == object.metadata.generateName'));
  });

  it('a variable is charged once per expression, however often it is used', () => {
    const variables = { cs: 'object.spec.containers + object.spec.?initContainers.orValue([])' };
    const once = estimateCost('variables.cs.size() > 0', { variables });
    const twice = estimateCost('variables.cs.size() > 0 && variables.cs.size() < 10', { variables });
    const direct = estimateCost(variables.cs);
    assert.ok(once > direct, `${once} > ${direct}`);
    assert.ok(twice < 2 * once, `${twice} < ${2 * once}`);
  });

  it('a real object bounds the estimate from below the assumed worst case', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web' },
      spec: { containers: [{ name: 'a', image: 'nginx', env: [{ name: 'A', value: '1' }] }] },
    };
    const real = estimateCost(NESTED, { roots: { object: shapeOf(pod) } });
    const worst = estimateCost(NESTED);
    assert.ok(real > 0 && real < worst / 100, `${real} vs ${worst}`);
  });
});

describe('estimatePolicyCost', () => {
  it('lists every expression, charges each variable once per evaluation, and compares with the limits', () => {
    const vap = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'p' },
      spec: {
        matchConditions: [{ name: 'ns', expression: "request.namespace != 'kube-system'" }],
        variables: [{ name: 'containers', expression: 'object.spec.containers' }],
        validations: [
          { expression: 'variables.containers.all(c, c.name != "")', messageExpression: "'x'" },
          { expression: 'variables.containers.all(c, has(c.image))' },
        ],
      },
    };
    const r = estimatePolicyCost(vap);
    assert.deepEqual(
      r.expressions.map((e) => e.path),
      [
        'spec.matchConditions[0].expression',
        'spec.variables[0].expression',
        'spec.validations[0].expression',
        'spec.validations[0].messageExpression',
        'spec.validations[1].expression',
      ],
    );
    const sum = r.expressions.filter((e) => !e.path.startsWith('spec.variables')).reduce((a, e) => a + e.cost, 0);
    const variable = r.expressions[1]?.cost ?? 0;
    // the variable is in each validation's own estimate, but only once in the evaluation's total
    // two validations use it: the total charges it once less than their own estimates summed
    assert.equal(r.total, sum - variable);
    assert.ok(r.total < sum, `${r.total} < ${sum}`);
    assert.ok(r.total >= r.maxExpressionCost);
    assert.equal(r.withinPerCallLimit, r.maxExpressionCost <= PER_CALL_LIMIT);
    assert.equal(r.withinPolicyBudget, r.total <= RUNTIME_CEL_COST_BUDGET);
    assert.ok(r.withinPerCallLimit && r.withinPolicyBudget);
  });

  it('flags a policy whose worst case breaks the per-call limit', () => {
    const quadratic = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'q' },
      spec: {
        validations: [
          {
            expression:
              'object.spec.containers.all(a, object.spec.containers.all(b, a.env.all(x, b.env.all(y, x.name != y.name))))',
          },
        ],
      },
    };
    const r = estimatePolicyCost(quadratic);
    assert.equal(r.withinPerCallLimit, false);
    assert.ok(r.maxExpressionCost > PER_CALL_LIMIT);
  });
});
