/**
 * Parity of the compiled ValidatingAdmissionPolicies with the engine, rule by rule: every
 * misconfiguration rule with default and non-default parameters, both PSS presets, a scoped
 * and an exempted policy, over Kubernetes' PSS fixtures, the real manifests, the
 * AdmissionReview samples (parity-generated.spec.ts: 10,000 generated pods and workloads). The compiled objects are
 * evaluated by the test CEL runtime (@portcullis/testing evaluateVap, kube-apiserver's
 * admission semantics); each policy's allow/deny must equal the engine's. Disagreements are
 * reported by policy and fail the test.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '@portcullis/config';
import { evaluateVap } from '@portcullis/testing';
import { admissionCases, assertNoDisagreements, manifestCases, parityChecker, pssCases } from './parity/cases';

const SHARED = path.resolve(repoRoot(), '..', 'shared');
const available = (sub: string) => fs.existsSync(path.join(SHARED, sub));
const missing = (sub: string) => `../shared/${sub} is not beside this clone`;

const { check, tally } = parityChecker((objects, request) => evaluateVap(objects, request as never));

describe('compiled VAPs agree with the engine', () => {
  it('on the 148 PSS fixtures', { skip: available('conformance/pss') ? false : missing('conformance/pss') }, () => {
    const cases = pssCases(path.join(SHARED, 'conformance', 'pss'));
    assert.equal(cases.length, 148);
    assertNoDisagreements(check(cases));
  });

  it(
    'on every workload of the real manifests',
    {
      skip: available('fixtures/manifests') ? false : missing('fixtures/manifests'),
    },
    () => {
      const cases = manifestCases(path.join(SHARED, 'fixtures', 'manifests'));
      assert.ok(cases.length > 50, `only ${cases.length} workloads found`);
      assertNoDisagreements(check(cases));
    },
  );

  it(
    'on the AdmissionReview samples',
    { skip: available('fixtures/admission') ? false : missing('fixtures/admission') },
    () => {
      const cases = admissionCases(path.join(SHARED, 'fixtures', 'admission'));
      assert.ok(cases.length >= 5, `only ${cases.length} admission samples usable`);
      assertNoDisagreements(check(cases));
    },
  );

  after(() => {
    process.stdout.write(`# parity (fixtures): ${tally.cases} cases, ${tally.denials} VAP denials\n`);
  });
});
