/**
 * Parity on generated objects (parity.spec.ts has the fixtures): 10,000 fast-check pods and
 * workloads (PARITY_RUNS overrides, for quick local runs) and 500 Ingresses, each evaluated
 * with every policy of the parity bundle by the test CEL runtime and by the engine; each
 * policy's allow/deny must agree. Also proves the run exercised every policy.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { evaluateVap } from '@portcullis/testing';
import { assertNoDisagreements, parityChecker, type Disagreement } from './parity/cases';
import { ingressRequest, workloadRequest } from './parity/generators';

/** Generated pods and workloads (the issue asks for at least 10,000); ingresses on top. */
const GENERATED = Number(process.env['PARITY_RUNS'] ?? 10_000);
const INGRESSES = 500;

const { bundle, check, evaluatedPolicies, tally } = parityChecker((objects, request) =>
  evaluateVap(objects, request as never),
);

describe('compiled VAPs agree with the engine on generated objects', () => {
  // in blocks, so each test stays well inside the runner's per-test timeout on a loaded machine
  const BLOCK = 1_000;
  for (let from = 0; from < GENERATED; from += BLOCK) {
    const runs = Math.min(BLOCK, GENERATED - from);
    it(`on generated pods and workloads ${from + 1}-${from + runs}`, () => {
      const found: Disagreement[] = [];
      let i = from;
      fc.assert(
        fc.property(workloadRequest, (request) => {
          found.push(...check([{ source: `generated #${++i} ${request.kind.kind}`, request }]));
        }),
        { numRuns: runs, seed: 20261206 + from },
      );
      assertNoDisagreements(found);
    });
  }

  it(`on ${INGRESSES} generated ingresses`, () => {
    const found: Disagreement[] = [];
    let i = 0;
    fc.assert(
      fc.property(ingressRequest, (request) => {
        found.push(...check([{ source: `generated ingress #${++i}`, request }]));
      }),
      { numRuns: INGRESSES, seed: 20261206 },
    );
    assertNoDisagreements(found);
  });

  it('exercised every policy: each one denied something in the run', () => {
    // a parity run in which a policy never denies proves nothing about it
    const silent = bundle.policies.filter((p) => !evaluatedPolicies.has(p.id)).map((p) => p.name);
    assert.deepEqual(silent, []);
  });

  after(() => {
    process.stdout.write(
      `# parity (generated): ${tally.cases} cases, ${tally.denials} VAP denials, ${bundle.objects.length} objects\n`,
    );
  });
});
