import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { SHARED, SHARED_MISSING, misconfigurationPolicy, onlyRule, readJson, wrapRequest } from '@portcullis/testing';
import { harnessesClosedAfter } from './support/handler-harness';

const ADMISSION = path.join(SHARED, 'admission');
const fixture = (name: string) => {
  const raw = readJson(path.join(ADMISSION, name));
  return raw['kind'] === 'AdmissionReview' ? raw : wrapRequest(raw);
};

describe(
  'webhook on the real AdmissionReview samples of ../shared/fixtures/admission',
  { skip: SHARED_MISSING },
  () => {
    const harness = harnessesClosedAfter();

    it('denies the privileged pod under a Block policy, naming policy, rule, container and fix; the unprivileged one passes', async () => {
      const h = harness({
        policies: [
          misconfigurationPolicy('BLOCK', { name: 'No privileged pods', rules: onlyRule('privileged-container') }),
        ],
      });
      const denied = await h.review(fixture('kubewarden-pod-privileged-create.json'));
      assert.equal(denied.apiVersion, 'admission.k8s.io/v1');
      assert.equal(denied.kind, 'AdmissionReview');
      assert.equal(denied.response.allowed, false);
      assert.equal(denied.response.status?.code, 403);
      const message = denied.response.status!.message;
      assert.match(message, /^portcullis denied Pod default\/nginx: 1 violation of Block-mode policies/);
      assert.match(
        message,
        /policy "No privileged pods", rule privileged-container, container "nginx": .*privileged.*false/,
      );
      assert.doesNotMatch(message, /sleeping-sidecar/);
      const allowed = await h.review(fixture('kubewarden-pod-unprivileged-create.json'));
      assert.equal(allowed.response.allowed, true);
      assert.equal(allowed.response.warnings, undefined);
      const [e1, e2] = h.events();
      assert.equal(e1!.decision, 'DENIED');
      assert.equal(e1!.findings[0]!.container, 'nginx');
      assert.deepEqual(e1!.images, ['alpine', 'nginx']);
      assert.equal(
        e1!.requestUid,
        (fixture('kubewarden-pod-privileged-create.json')['request'] as { uid: string }).uid,
      );
      assert.equal(e2!.decision, 'ALLOWED');
      assert.deepEqual(e2!.findings, []);
    });

    it('turns Audit-mode violations into warnings and audit annotations, and allows', async () => {
      const h = harness({ policies: [misconfigurationPolicy('AUDIT')] });
      const r = await h.review(fixture('kubewarden-pod-privileged-create.json'));
      assert.equal(r.response.allowed, true);
      assert.equal(r.response.status, undefined);
      const warnings = r.response.warnings ?? [];
      assert.ok(
        warnings.some((w) =>
          /^\[audit\] policy "Default K8s misconfiguration rule", rule privileged-container, container "nginx"/.test(w),
        ),
        warnings.join('\n'),
      );
      assert.ok(warnings.some((w) => /rule resource-limits, container "sleeping-sidecar"/.test(w)));
      assert.ok(warnings.every((w) => w.length <= 256));
      assert.equal(r.response.auditAnnotations?.['decision'], 'AUDITED');
      assert.match(
        r.response.auditAnnotations?.['violations'] ?? '',
        /AUDIT Default K8s misconfiguration rule\/privileged-container\/nginx/,
      );
      const [event] = h.events();
      assert.equal(event!.decision, 'AUDITED');
      assert.equal(event!.findings.length, warnings.length);
      assert.ok(event!.snapshot, 'the evaluated object travels with the event');
      assert.equal((event!.snapshot!['metadata'] as Record<string, unknown>)['managedFields'], undefined);
    });

    it('evaluates a Deployment CREATE and an UPDATE, records the owner, the requesting user and the operation', async () => {
      const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
      const created = await h.review(fixture('kubewarden-deployment-create.json'));
      assert.equal(created.response.allowed, false);
      assert.match(created.response.status!.message, /Deployment customer-1\/api/);
      const updated = await h.review(fixture('kubewarden-echo-deployment-update.request.json'));
      assert.equal(updated.response.uid, 'ab41adeb-eca2-4add-9336-c263895d3953');
      assert.equal(updated.response.allowed, false);
      const [c, u] = h.events();
      assert.deepEqual(c!.owner, { kind: 'Deployment', name: 'api' });
      assert.equal(c!.operation, 'CREATE');
      assert.equal(u!.operation, 'UPDATE');
      assert.equal(u!.namespace, 'default');
      assert.equal(u!.name, 'nginx');
      assert.ok(u!.uid, 'an UPDATE carries the object uid');
      assert.match(u!.requestingUser.username, /minikube-user|kubernetes-admin|\w/);
    });

    it('allows a DELETE without evaluating it, and records it', async () => {
      const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
      const r = await h.review(fixture('kubewarden-echo-deployment-delete.request.json'));
      assert.equal(r.response.allowed, true);
      assert.equal(r.response.uid, '4477bb16-cc59-496f-91ec-91dcbe6658a3');
      const [e] = h.events();
      assert.equal(e!.operation, 'DELETE');
      assert.equal(e!.decision, 'ALLOWED');
      assert.deepEqual(e!.images, ['nginx:latest']);
    });

    it('evaluates the CronJob pod template of a request that names neither namespace nor object', async () => {
      const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
      const r = await h.review(fixture('kubewarden-cronjob-create.request.json'));
      assert.equal(r.response.allowed, false);
      assert.match(r.response.status!.message, /CronJob/);
      const [e] = h.events();
      assert.deepEqual(e!.images, ['ghcr.io/kubewarden/test-verify-image-signatures:unsigned']);
    });

    it('answers the all-fields round-trip sample (placeholder operation, dry run) with a well-formed review, uid echoed', async () => {
      const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
      const r = await h.review(fixture('k8s-api-roundtrip-AdmissionReview-v1.json'));
      assert.equal(r.kind, 'AdmissionReview');
      assert.equal(r.response.uid, 'uidValue');
      assert.equal(r.response.allowed, true);
      assert.match(r.response.warnings![0]!, /operation operationValue is not one the agent evaluates/);
      assert.deepEqual(h.events(), []);
    });

    it('every sample gets a well-formed answer whose uid is the request uid', async () => {
      const h = harness({ policies: [misconfigurationPolicy('AUDIT')] });
      for (const name of fs.readdirSync(ADMISSION).filter((f) => f.endsWith('.json'))) {
        const review = fixture(name);
        const r = await h.review(review);
        assert.equal(r.response.uid, (review['request'] as { uid: string }).uid, name);
        assert.equal(typeof r.response.allowed, 'boolean', name);
      }
      assert.ok(h.events().length >= 7);
    });
  },
);
