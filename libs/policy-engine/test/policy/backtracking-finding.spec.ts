import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MATCH_MODES,
  compilePolicies,
  evaluatePolicies,
  parsePolicyDocuments,
  type Exemption,
  type MatchCounter,
  type Policy,
} from '@portcullis/policy-engine';
import { blockPrivileged } from './policies';

// Issue 21, finding 1: these patterns were regular expressions, and a backtracking engine
// explores every way of splitting the subject among the stars. Now each evaluation is
// bounded by steps of the linear matcher; on the old code these tests never return.
const CRAFTED = '*a*a*a*a*a*a*a*a*a*a*a*a*b';
const NOW = new Date('2026-11-23T12:00:00Z');

const pod = (name: string, namespace: string, image = 'ghcr.io/acme/web:1.0') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { containers: [{ name: 'c', image, securityContext: { privileged: true } }] },
});
const policy = blockPrivileged;
const exemption = (over: Partial<Exemption>): Exemption => ({
  id: 'e',
  match: 'GLOB',
  reason: 'test',
  grantedBy: 'alice@contoso.com',
  expiresAt: null,
  ...over,
});

function evaluateCounting(object: unknown, policies: Policy[]) {
  const matchSteps: MatchCounter = { steps: 0 };
  const result = evaluatePolicies(object, compilePolicies(policies), {
    defaultNamespace: 'default',
    now: NOW,
    matchSteps,
  });
  return { result, steps: matchSteps.steps };
}

describe('issue 21 finding 1: crafted patterns against long subjects are linear', () => {
  it(`namespace include ${CRAFTED} and a 60-character namespace: the policy does not apply, 60 steps`, () => {
    const { result, steps } = evaluateCounting(pod('web', 'a'.repeat(60)), [
      policy({ namespaces: { include: [CRAFTED], exclude: [] } }),
    ]);
    assert.equal(result.status, 'evaluated');
    assert.deepEqual(result.policiesEvaluated, []);
    assert.equal(result.decision, 'allow');
    assert.equal(steps, 60);
  });

  it('the same pattern as an exclude: the policy applies and denies', () => {
    const { result, steps } = evaluateCounting(pod('web', 'a'.repeat(60)), [
      policy({ namespaces: { include: [], exclude: [CRAFTED] } }),
    ]);
    assert.equal(result.decision, 'deny');
    assert.equal(steps, 60);
  });

  it('an exemption glob against a 200-character pod name: not exempted, at most one step per character and criterion', () => {
    const exempting = policy({ exemptions: [exemption({ names: [CRAFTED, `${'*a'.repeat(120)}*b`] })] });
    const { result, steps } = evaluateCounting(pod('a'.repeat(200), 'shop'), [exempting]);
    assert.equal(result.decision, 'deny');
    assert.equal(result.violations[0]!.exempted, false);
    // CRAFTED fits one word of state (200 steps), the 241-character pattern eight words per character
    assert.ok(steps <= 200 + 200 * 8, `${steps} steps`);
  });

  it('every match mode on exemption namespaces, names and images stays within (|p|+1) x (|s|+1) per criterion', () => {
    const image = `registry.example.com/${'a'.repeat(200)}:1`;
    for (const match of MATCH_MODES) {
      const long = `${'a'.repeat(250)}b`;
      const exempting = policy({
        exemptions: [exemption({ match, namespaces: [long], names: [long], images: [long] })],
      });
      const { result, steps } = evaluateCounting(pod('a'.repeat(253), 'a'.repeat(63), image), [exempting]);
      assert.equal(result.decision, 'deny', match);
      assert.ok(steps >= 63, `${match}: the namespace criterion was matched (${steps} steps)`);
      // namespace 63, name 253 (no owner), image forms each at most its length
      assert.ok(steps <= 252 * (63 + 1) + 252 * (253 + 1), `${match}: ${steps} steps`);
    }
  });

  it('trusted-registries: a crafted allowedImages glob against a 200-character image is refused in linear steps', () => {
    const image = `docker.io/${'a'.repeat(200)}`;
    const registries = policy({
      rules: [{ id: 'trusted-registries', params: { allowedImages: [CRAFTED, `docker.io/${'*a'.repeat(100)}*b`] } }],
    });
    const { result, steps } = evaluateCounting(pod('web', 'shop', image), [registries]);
    assert.equal(result.decision, 'deny');
    assert.deepEqual(
      result.violations.map((v) => v.rule),
      ['trusted-registries'],
    );
    // two forms of the image (as written, normalised), two patterns, at most seven words of state
    assert.ok(steps <= 2 * 2 * 230 * 7, `${steps} steps`);
  });

  it('a policy file holding the crafted patterns parses and evaluates like any other', () => {
    const parsed = parsePolicyDocuments(
      `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: crafted }
spec:
  type: MISCONFIGURATION
  action: BLOCK
  scope: { namespaces: { include: ["${CRAFTED}"] } }
  rules: [{ id: privileged-container }]
  exemptions: [{ match: GLOB, names: ["${CRAFTED}"], reason: r, grantedBy: g }]
`,
      'crafted.yaml',
    );
    assert.ok(parsed.ok, JSON.stringify(parsed));
    const { result, steps } = evaluateCounting(pod('a'.repeat(200), 'a'.repeat(60)), parsed.policies);
    assert.deepEqual(result.policiesEvaluated, []);
    assert.equal(steps, 60);
  });
});
