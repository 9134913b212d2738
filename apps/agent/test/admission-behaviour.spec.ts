import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateSigningKey, type ScanArtifactDocument } from '@portcullis/bundle';
import { defaultRuleConfigs } from '@portcullis/policy-engine';
import {
  ControlPlane,
  TENANT,
  misconfigurationPolicy,
  newAgentToken,
  onlyRule,
  reviewOf,
  testTls,
  vulnerabilityPolicy,
  type TestTls,
} from '@portcullis/testing';
import { handlerHarness, harnessesClosedAfter, type HandlerHarness } from './support/handler-harness';

const pod = (o: { namespace?: string; image?: string; privileged?: boolean; name?: string } = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: o.name ?? 'web', namespace: o.namespace ?? 'shop', labels: { app: 'web' } },
  spec: {
    automountServiceAccountToken: false,
    containers: [
      {
        name: 'web',
        image: o.image ?? 'ghcr.io/acme/web:1.4.2',
        resources: { limits: { cpu: '500m', memory: '256Mi' } },
        securityContext: {
          privileged: o.privileged ?? false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        },
      },
    ],
  },
});
const noPrivileged = (action: 'AUDIT' | 'BLOCK' = 'BLOCK') =>
  misconfigurationPolicy(action, { rules: onlyRule('privileged-container') });

describe('admission decisions', () => {
  const harness = harnessesClosedAfter();

  it('a hardened pod passes the whole default policy in Block mode', async () => {
    const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
    const r = await h.review(reviewOf(pod()));
    assert.equal(r.response.allowed, true, r.response.status?.message);
    assert.equal(h.events()[0]!.decision, 'ALLOWED');
  });

  it('the event snapshot keeps what rules read but not env values, managedFields, status or the last-applied copy', async () => {
    const h = harness({ policies: [noPrivileged('AUDIT')] });
    const p = pod();
    const object = {
      ...p,
      metadata: {
        ...p.metadata,
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"secret":"s3cret"}', team: 'shop' },
        managedFields: [{ manager: 'kubectl' }],
      },
      spec: {
        ...p.spec,
        securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] },
        containers: [
          {
            ...p.spec.containers[0]!,
            env: [
              { name: 'DB_PASSWORD', value: 's3cret' },
              { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } },
            ],
          },
        ],
      },
      status: { phase: 'Pending' },
    };
    await h.review(reviewOf(object));
    const snapshot = h.events()[0]!.snapshot!;
    const text = JSON.stringify(snapshot);
    assert.doesNotMatch(text, /s3cret/);
    assert.doesNotMatch(text, /managedFields|last-applied|Pending/);
    assert.match(text, /"name":"DB_PASSWORD","value":"\(redacted by the agent\)"/);
    assert.match(text, /"secretKeyRef":\{"name":"api","key":"token"\}/);
    assert.match(text, /"net.ipv4.ip_unprivileged_port_start","value":"0"/);
    assert.equal((snapshot['metadata'] as { annotations: Record<string, string> }).annotations['team'], 'shop');
  });

  it('a dry-run is evaluated, answered as it would be, and marked in the answer and the event', async () => {
    const h = harness({ policies: [noPrivileged()] });
    const r = await h.review(reviewOf(pod({ privileged: true }), { dryRun: true }));
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status!.message, /\(dry run\)/);
    assert.equal(r.response.auditAnnotations?.['dry-run'], 'true');
    const [e] = h.events();
    assert.equal(e!.dryRun, true);
    assert.equal(e!.decision, 'DENIED');
  });

  it("excluded namespaces (the agent's own, kube-system, and the bundle's globs) are allowed unevaluated, visibly", async () => {
    const h = harness({ policies: [noPrivileged()], bundle: { agentSettings: { excludedNamespaces: ['sandbox-*'] } } });
    for (const ns of ['kube-system', 'portcullis-system', 'sandbox-42']) {
      const r = await h.review(reviewOf(pod({ privileged: true, namespace: ns })));
      assert.equal(r.response.allowed, true, ns);
      assert.equal(r.response.auditAnnotations?.['excluded-namespace'], ns);
    }
    assert.equal((await h.review(reviewOf(pod({ privileged: true, namespace: 'sandbox' })))).response.allowed, false);
    assert.equal(h.events().length, 1);
  });

  it('policy namespace scopes apply: a policy excluding a namespace does not deny there', async () => {
    const h = harness({
      policies: [
        noPrivileged('BLOCK'),
        { ...noPrivileged('AUDIT'), id: 'p2', name: 'Audit dev', namespaces: { include: ['dev-*'], exclude: [] } },
      ],
    });
    const prod = await h.review(reviewOf(pod({ privileged: true, namespace: 'prod' })));
    assert.equal(prod.response.allowed, false);
    assert.equal(prod.response.warnings, undefined);
    const dev = await h.review(reviewOf(pod({ privileged: true, namespace: 'dev-1' })));
    assert.equal(dev.response.allowed, false);
    assert.match(dev.response.warnings![0]!, /\[audit\] policy "Audit dev", rule privileged-container/);
  });

  it('an exemption makes the admission EXEMPTED: allowed, recorded with the exemption id and reason', async () => {
    const exemption = {
      id: 'ex-legacy',
      namespaces: ['legacy'],
      match: 'EQUALS',
      reason: 'migration until Q3',
      grantedBy: 'alice',
      expiresAt: null,
    };
    const h = harness({ policies: [noPrivileged('BLOCK')].map((p) => ({ ...p, exemptions: [exemption] })) });
    const r = await h.review(reviewOf(pod({ privileged: true, namespace: 'legacy' })));
    assert.equal(r.response.allowed, true);
    assert.equal(r.response.auditAnnotations?.['decision'], 'EXEMPTED');
    const [e] = h.events();
    assert.equal(e!.decision, 'EXEMPTED');
    assert.equal(e!.findings[0]!.exempted, true);
    assert.equal(e!.findings[0]!.exemptionId, 'ex-legacy');
    assert.equal(e!.findings[0]!.reason, 'migration until Q3');
  });

  it('before any bundle: allows with a warning by default, records bundleRevision null', async () => {
    const h = harness();
    const r = await h.review(reviewOf(pod({ privileged: true })));
    assert.equal(r.response.allowed, true);
    assert.match(r.response.warnings![0]!, /no verified policy bundle is held yet/);
    const [e] = h.events();
    assert.equal(e!.bundleRevision, null);
    assert.equal(e!.decision, 'ALLOWED');
  });

  it('before any bundle with PORTCULLIS_NO_BUNDLE_ACTION=deny: denies, and the event names why', async () => {
    const h = harness({ noBundleAction: 'deny' });
    const r = await h.review(reviewOf(pod()));
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status!.message, /no verified policy bundle is held yet.*PORTCULLIS_NO_BUNDLE_ACTION=deny/);
    const [e] = h.events();
    assert.equal(e!.decision, 'DENIED');
    assert.equal(e!.findings[0]!.ruleId, 'bundle-required');
  });

  it('malformed reviews get a well-formed refusal naming the problem, uid echoed where present; nothing is spooled', async () => {
    const h = harness({ policies: [noPrivileged()] });
    const cases: Array<[unknown, string, RegExp]> = [
      ['{not json', '', /not JSON/],
      [[1, 2], '', /not an AdmissionReview object/],
      [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, '', /request is missing/],
      [
        {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u-1', operation: 'CREATE', kind: { kind: 'Pod' } },
        },
        'u-1',
        /request.object is missing/,
      ],
      [
        {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u-2', operation: 'CREATE', kind: { kind: 'Pod' }, object: pod(), dryRun: 'yes' },
        },
        'u-2',
        /dryRun is not a boolean/,
      ],
      [{ apiVersion: 'v1', kind: 'AdmissionReview', request: { uid: 'u-3' } }, 'u-3', /apiVersion is "v1"/],
      [
        {
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u-4', operation: 'CREATE', kind: 'Pod', object: pod() },
        },
        'u-4',
        /request.kind.kind/,
      ],
    ];
    for (const [body, uid, problem] of cases) {
      const r = await h.review(typeof body === 'string' ? body : body);
      assert.equal(r.apiVersion, 'admission.k8s.io/v1');
      assert.equal(r.kind, 'AdmissionReview');
      assert.equal(r.response.uid, uid);
      assert.equal(r.response.allowed, false);
      assert.equal(r.response.status?.code, 400);
      assert.match(r.response.status!.message, problem);
    }
    assert.deepEqual(h.events(), []);
  });

  it('an object the engine cannot read is allowed with a warning saying why', async () => {
    const h = harness({ policies: [misconfigurationPolicy('BLOCK')] });
    const broken = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x', namespace: 'shop' },
      spec: { template: 'not an object' },
    };
    const r = await h.review(reviewOf(broken));
    assert.equal(r.response.allowed, true);
    assert.match(r.response.warnings![0]!, /could not be evaluated: spec.template is missing or not an object/);
  });

  it('a v1beta1 review is answered in v1beta1', async () => {
    const h = harness({ policies: [noPrivileged()] });
    const r = await h.review({ ...reviewOf(pod({ privileged: true })), apiVersion: 'admission.k8s.io/v1beta1' });
    assert.equal(r.apiVersion, 'admission.k8s.io/v1beta1');
    assert.equal(r.response.allowed, false);
  });
});

describe('vulnerability gating through POST /agent/v1/scan-artifacts/lookup (a real HTTPS server signing real artifacts)', () => {
  const token = newAgentToken();
  const key = generateSigningKey();
  let tls: TestTls;
  let api: ControlPlane;
  const harnesses: HandlerHarness[] = [];
  const DIGEST = `sha256:${'ab'.repeat(32)}`;
  const artifact = (o: Partial<ScanArtifactDocument> = {}): ScanArtifactDocument => ({
    schemaVersion: 1,
    tenantId: TENANT,
    repository: 'ghcr.io/acme/web',
    tags: ['1.4.2'],
    tagBound: true,
    scanner: { name: 'trivy', version: '0.58.1' },
    scannedAt: new Date(Date.now() - 86_400_000).toISOString(),
    findings: [{ id: 'CVE-2023-45853', severity: 'CRITICAL', packageName: 'zlib1g', installedVersion: '1:1.2.13' }],
    ...o,
  });
  const harness = (policies = [vulnerabilityPolicy('BLOCK')], lookupTimeoutMs = 2000) => {
    const h = handlerHarness({ key, policies, api: { url: api.url, token, ca: tls.caPem }, lookupTimeoutMs });
    harnesses.push(h);
    return h;
  };
  before(async () => {
    tls = testTls();
    api = await new ControlPlane(tls, token, key).start();
  });
  after(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
    await api.stop();
  });

  it('denies an image whose signed artifact has a critical CVE; the count and CVE are in the message', async () => {
    api.addArtifact('ghcr.io/acme/web:1.4.2', { resolvedBy: 'TAG', document: artifact() });
    const h = harness();
    const r = await h.review(reviewOf(pod()));
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status!.message, /rule vulnerability-severity, container "web": .*CVE-2023-45853/);
    assert.equal(h.events()[0]!.findings[0]!.image, 'ghcr.io/acme/web:1.4.2');
  });

  it('caches artifacts: the second admission of the same image makes no lookup', async () => {
    api.addArtifact('ghcr.io/acme/clean:2', {
      resolvedBy: 'TAG',
      document: artifact({ repository: 'ghcr.io/acme/clean', tags: ['2'], findings: [] }),
    });
    const h = harness();
    const before = api.lookupRequests;
    assert.equal((await h.review(reviewOf(pod({ image: 'ghcr.io/acme/clean:2' })))).response.allowed, true);
    assert.equal((await h.review(reviewOf(pod({ image: 'ghcr.io/acme/clean:2' })))).response.allowed, true);
    assert.equal(api.lookupRequests - before, 1);
  });

  it('an image without an artifact fails vulnerability-assessment-required (NO_ARTIFACT)', async () => {
    const h = harness();
    const r = await h.review(reviewOf(pod({ image: 'ghcr.io/acme/unscanned:1' })));
    assert.equal(r.response.allowed, false);
    assert.match(r.response.status!.message, /rule vulnerability-assessment-required.*has no vulnerability assessment/);
  });

  it('an artifact signed by an untrusted key, or for another digest, does not count: the lookup failed (onLookupFailure ALLOW)', async () => {
    api.addArtifact('ghcr.io/acme/forged:1', {
      resolvedBy: 'TAG',
      document: artifact({ repository: 'ghcr.io/acme/forged', tags: ['1'] }),
      signWith: generateSigningKey(),
    });
    api.addArtifact(`ghcr.io/acme/other@${DIGEST}`, {
      resolvedBy: 'DIGEST',
      document: artifact({
        repository: 'ghcr.io/acme/other',
        repoDigest: `sha256:${'cd'.repeat(32)}`,
        tagBound: false,
      }),
    });
    const h = harness();
    for (const image of ['ghcr.io/acme/forged:1', `ghcr.io/acme/other@${DIGEST}`]) {
      const r = await h.review(reviewOf(pod({ image })));
      assert.equal(r.response.allowed, true, `${image}: ${r.response.status?.message}`);
    }
  });

  it('a lookup slower than the budget follows onLookupFailure: ALLOW admits, DENY refuses naming the failure', async () => {
    api.lookupDelayMs = 400;
    try {
      const allow = harness([vulnerabilityPolicy('BLOCK')], 50);
      assert.equal((await allow.review(reviewOf(pod({ image: 'ghcr.io/acme/slow:1' })))).response.allowed, true);
      const rules = defaultRuleConfigs('VULNERABILITY').map((r) => ({
        id: r.id,
        params:
          r.id === 'vulnerability-assessment-required' ? { ...r.params, onLookupFailure: 'DENY' } : { ...r.params },
      }));
      const deny = harness([vulnerabilityPolicy('BLOCK', { rules })], 50);
      const r = await deny.review(reviewOf(pod({ image: 'ghcr.io/acme/slow:2' })));
      assert.equal(r.response.allowed, false);
      assert.match(
        r.response.status!.message,
        /lookup failed \(no scan-artifact answer within 50 ms\); denied because onLookupFailure is DENY/,
      );
    } finally {
      api.lookupDelayMs = 0;
    }
  });

  it('with the API unreachable, lookups fail fast and ALLOW admits', async () => {
    const h = handlerHarness({
      key,
      policies: [vulnerabilityPolicy('BLOCK')],
      api: { url: 'https://127.0.0.1:1', token, ca: tls.caPem },
    });
    harnesses.push(h);
    const r = await h.review(reviewOf(pod({ image: 'ghcr.io/acme/x:1' })));
    assert.equal(r.response.allowed, true);
  });
});
