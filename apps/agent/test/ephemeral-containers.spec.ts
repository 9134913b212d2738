/**
 * Issue 21, finding 11: `kubectl debug` adds an ephemeral container to a running Pod through
 * an UPDATE of pods/ephemeralcontainers. The agent evaluates the whole Pod the review
 * carries, ephemeral containers included, and the admission event names the subresource.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { misconfigurationPolicy, onlyRule } from '@portcullis/testing';
import { harnessesClosedAfter } from './support/handler-harness';

const running = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-7d9f',
    namespace: 'shop',
    uid: '0b7e3c1a-52d4-4f0e-9a61-3f1d2c4b5a69',
    resourceVersion: '48121',
    labels: { app: 'web' },
  },
  spec: {
    automountServiceAccountToken: false,
    containers: [
      {
        name: 'web',
        image: 'ghcr.io/acme/web:1.4.2',
        resources: { limits: { cpu: '500m', memory: '256Mi' } },
        securityContext: {
          privileged: false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  },
  status: { phase: 'Running' },
};

/** What `kubectl debug -it web-7d9f --image=busybox --profile=sysadmin` makes kube-apiserver send. */
function debugReview(securityContext: Record<string, unknown>, o: { dryRun?: boolean } = {}): Record<string, unknown> {
  const debugged = {
    ...running,
    spec: {
      ...running.spec,
      ephemeralContainers: [
        {
          name: 'debugger-x7k2p',
          image: 'busybox:1.36',
          stdin: true,
          tty: true,
          targetContainerName: 'web',
          securityContext,
        },
      ],
    },
  };
  const pods = { group: '', version: 'v1', resource: 'pods' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '3c6f1e0a-9b2d-4e57-8a14-6d0c2b9f7e31',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: pods,
      subResource: 'ephemeralcontainers',
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: pods,
      requestSubResource: 'ephemeralcontainers',
      name: 'web-7d9f',
      namespace: 'shop',
      operation: 'UPDATE',
      userInfo: { username: 'alice@example.com', groups: ['system:authenticated'] },
      object: debugged,
      oldObject: running,
      dryRun: o.dryRun ?? false,
      options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  };
}

describe('ephemeral containers (kubectl debug)', () => {
  const harness = harnessesClosedAfter();

  it('a privileged ephemeral container is denied under a Block policy, and the event records the subresource and operation', async () => {
    const h = harness({ policies: [misconfigurationPolicy('BLOCK', { rules: onlyRule('privileged-container') })] });
    const r = await h.review(debugReview({ privileged: true }));
    assert.equal(r.response.allowed, false);
    assert.equal(r.response.status?.code, 403);
    assert.match(r.response.status!.message, /Pod shop\/web-7d9f \(subresource ephemeralcontainers\)/);
    assert.match(r.response.status!.message, /privileged-container, container "debugger-x7k2p"/);
    assert.equal(r.response.auditAnnotations?.['decision'], 'DENIED');
    const [e] = h.events();
    assert.equal(e!.decision, 'DENIED');
    assert.equal(e!.operation, 'UPDATE');
    assert.equal(e!.subResource, 'ephemeralcontainers');
    assert.equal(e!.kind, 'Pod');
    assert.equal(e!.name, 'web-7d9f');
    assert.deepEqual(
      e!.findings.map((f) => [f.ruleId, f.container, f.path]),
      [['privileged-container', 'debugger-x7k2p', 'spec.ephemeralContainers[0].securityContext.privileged']],
    );
    assert.ok(e!.images.includes('busybox:1.36'), 'the debug image is among the admitted images');
  });

  it("every container rule reaches ephemeral containers: the default policy finds the debug container's own violations", async () => {
    const h = harness({ policies: [misconfigurationPolicy('AUDIT')] });
    const r = await h.review(debugReview({ capabilities: { add: ['SYS_ADMIN'] }, runAsUser: 0 }));
    assert.equal(r.response.allowed, true);
    const [e] = h.events();
    const debug = e!.findings
      .filter((f) => f.container === 'debugger-x7k2p')
      .map((f) => f.ruleId)
      .sort();
    // resource-limits is absent on purpose: the API forbids resources on ephemeral containers
    for (const rule of ['capabilities', 'privilege-escalation', 'read-only-root-filesystem', 'run-as-non-root'])
      assert.ok(debug.includes(rule), `${rule} among ${debug.join(', ')}`);
    assert.ok(!debug.includes('resource-limits'));
    assert.equal(
      e!.findings.filter((f) => f.container === 'web').length,
      0,
      'the running container was already compliant',
    );
    assert.ok(
      r.response.warnings!.some((w) => w.includes('ephemeral container "debugger-x7k2p"')),
      JSON.stringify(r.response.warnings),
    );
  });

  it('a hardened debug container is allowed; a dry run of a privileged one is denied and marked', async () => {
    const h = harness({ policies: [misconfigurationPolicy('BLOCK', { rules: onlyRule('privileged-container') })] });
    assert.equal((await h.review(debugReview({ privileged: false }))).response.allowed, true);
    const dry = await h.review(debugReview({ privileged: true }, { dryRun: true }));
    assert.equal(dry.response.allowed, false);
    assert.equal(dry.response.auditAnnotations?.['dry-run'], 'true');
    assert.deepEqual(
      h.events().map((e) => [e.decision, e.subResource, e.dryRun]),
      [
        ['ALLOWED', 'ephemeralcontainers', false],
        ['DENIED', 'ephemeralcontainers', true],
      ],
    );
  });
});
