/**
 * What a deployer controls (the object) must not make the webhook crash or outlast
 * kube-apiserver's timeout: with failurePolicy Ignore, either admits the object unchecked.
 * Nesting is refused before parsing; pods beyond a container count are refused, not evaluated.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_POD_CONTAINERS, MAX_REVIEW_NESTING, nestsDeeperThan } from '@portcullis/admission';
import { misconfigurationPolicy, onlyRule, reviewOf } from '@portcullis/testing';
import { harnessesClosedAfter } from './support/handler-harness';

const noPrivileged = (action: 'AUDIT' | 'BLOCK') =>
  misconfigurationPolicy(action, { rules: onlyRule('privileged-container') });

const podWith = (containers: number) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'wide', namespace: 'shop' },
  spec: {
    containers: Array.from({ length: containers }, (_, i) => ({
      name: `c${i}`,
      image: 'ghcr.io/acme/web:1',
      securityContext: { privileged: i === 0 },
    })),
  },
});

describe('admission bounds', () => {
  const harness = harnessesClosedAfter();

  it('nesting is counted outside strings only, escapes included', () => {
    assert.equal(nestsDeeperThan(Buffer.from('{"a":[{"b":[]}]}'), 4), false);
    assert.equal(nestsDeeperThan(Buffer.from('{"a":[{"b":[[]]}]}'), 4), true);
    assert.equal(nestsDeeperThan(Buffer.from(JSON.stringify({ s: '[[[[{{{{\\"[[[[' })), 1), false);
    assert.equal(
      nestsDeeperThan(Buffer.from(JSON.stringify({ s: '\\', t: [[1]] })), 2),
      true,
      'a string ending in a backslash closes',
    );
  });

  it('a deeply nested object is refused as malformed, naming the bound, with its uid echoed, and nothing spooled', async () => {
    const h = harness({ policies: [noPrivileged('BLOCK')] });
    // before: JSON.stringify of the event snapshot overflowed the stack, and the internal error was allowed
    const depth = 6000;
    const args = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const body = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"deep-1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","namespace":"shop","name":"p","userInfo":{"username":"mallory"},"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"shop"},"spec":{"containers":[{"name":"c","image":"nginx","securityContext":{"privileged":true},"args":${args}}]}}}}`;
    const answer = JSON.parse(await h.handler.handle(Buffer.from(body))) as {
      response: { uid: string; allowed: boolean; status?: { code: number; message: string } };
    };
    assert.equal(answer.response.uid, 'deep-1', 'kube-apiserver only accepts an answer with its uid');
    assert.equal(answer.response.allowed, false);
    assert.equal(answer.response.status?.code, 400);
    assert.match(answer.response.status!.message, new RegExp(`more than ${MAX_REVIEW_NESTING} levels deep`));
    assert.equal(h.events().length, 0);
  });

  it('a real object well inside the nesting bound is evaluated as usual', async () => {
    const h = harness({ policies: [noPrivileged('BLOCK')] });
    const affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 1,
            podAffinityTerm: {
              topologyKey: 'zone',
              labelSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] },
            },
          },
        ],
      },
    };
    const cronJob = {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: 'nightly', namespace: 'shop' },
      spec: {
        schedule: '0 2 * * *',
        jobTemplate: {
          spec: {
            template: {
              spec: {
                affinity,
                restartPolicy: 'Never',
                containers: [{ name: 'job', image: 'ghcr.io/acme/job:1', securityContext: { privileged: true } }],
              },
            },
          },
        },
      },
    };
    const r = await h.review(reviewOf(cronJob));
    assert.equal(r.response.allowed, false);
    assert.equal(h.events()[0]!.findings[0]!.ruleId, 'privileged-container');
  });

  it(`a pod of more than ${MAX_POD_CONTAINERS} containers is refused under a Block policy without being evaluated, and recorded`, async () => {
    const h = harness({ policies: [noPrivileged('BLOCK')] });
    const r = await h.review(reviewOf(podWith(MAX_POD_CONTAINERS + 1)));
    assert.equal(r.response.allowed, false);
    assert.match(
      r.response.status!.message,
      new RegExp(`spec has ${MAX_POD_CONTAINERS + 1} containers .* at most ${MAX_POD_CONTAINERS}`),
    );
    const [e] = h.events();
    assert.equal(e!.decision, 'DENIED');
    assert.deepEqual(
      e!.findings.map((f) => [f.policyId, f.ruleId, f.action, f.path]),
      [['portcullis-agent', 'pod-container-limit', 'BLOCK', 'spec']],
    );
    assert.equal(e!.snapshot, undefined, 'the oversized object is not copied into the event');
    assert.ok(e!.images.length <= 200);
  });

  it('ephemeral containers count toward the bound', async () => {
    const h = harness({ policies: [noPrivileged('BLOCK')] });
    const pod = podWith(1);
    const debugged = {
      ...pod,
      spec: {
        ...pod.spec,
        ephemeralContainers: Array.from({ length: MAX_POD_CONTAINERS }, (_, i) => ({
          name: `dbg${i}`,
          image: 'busybox',
        })),
      },
    };
    const review = reviewOf(debugged, { operation: 'UPDATE' });
    (review['request'] as Record<string, unknown>)['subResource'] = 'ephemeralcontainers';
    const r = await h.review(review);
    assert.equal(r.response.allowed, false);
    assert.equal(h.events()[0]!.findings[0]!.ruleId, 'pod-container-limit');
  });

  it('at the bound the pod is evaluated; beyond it under Audit-only policies it is allowed with a warning', async () => {
    const h = harness({ policies: [noPrivileged('AUDIT')] });
    const atBound = await h.review(reviewOf(podWith(MAX_POD_CONTAINERS)));
    assert.equal(atBound.response.allowed, true);
    assert.equal(h.events()[0]!.findings[0]!.ruleId, 'privileged-container');
    const beyond = await h.review(reviewOf(podWith(MAX_POD_CONTAINERS + 1)));
    assert.equal(beyond.response.allowed, true);
    assert.ok(
      beyond.response.warnings!.some((w) => w.includes('pod-container-limit')),
      JSON.stringify(beyond.response.warnings),
    );
    assert.equal(h.events()[1]!.decision, 'AUDITED');
  });
});
