/**
 * decideAdmission without the agent around it: what the webhook and the CLI demo's history
 * share. The agent's own tests (apps/agent/test) drive it through the webhook handler.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdmissionEvent } from '@portcullis/contracts';
import { compileGlob, type ArtifactLookup } from '@portcullis/policy-engine';
import {
  decideAdmission,
  parseReview,
  toEnforceable,
  type AdmissionContext,
  type AdmissionRequestView,
  type EnforceableBundle,
  type ScanArtifactSource,
} from '@portcullis/admission';
import {
  CLUSTER,
  TENANT,
  bundleDocument,
  misconfigurationPolicy,
  onlyRule,
  reviewOf,
  vulnerabilityPolicy,
} from '@portcullis/testing';

const privileged = (name: string, namespace = 'shop') => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace },
  spec: { containers: [{ name: 'app', image: 'ghcr.io/acme/web:1', securityContext: { privileged: true } }] },
});

function requestOf(object: Record<string, unknown>, o: Parameters<typeof reviewOf>[1] = {}): AdmissionRequestView {
  const parsed = parseReview(JSON.stringify(reviewOf(object, o)));
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.request;
}

interface Recorded {
  readonly context: AdmissionContext;
  readonly lines: string[];
}

function contextFor(
  bundle: EnforceableBundle | null,
  o: Partial<AdmissionContext> & { keep?: boolean } = {},
): Recorded {
  const lines: string[] = [];
  const context: AdmissionContext = {
    clusterId: CLUSTER,
    excluded: ['kube-system'].map((p) => compileGlob(p)),
    noBundleAction: 'allow',
    lookupTimeoutMs: 1500,
    bundles: { current: () => bundle, revision: bundle?.document.revision ?? null, heldExpired: false },
    artifacts: null,
    record: (line) => {
      lines.push(line);
      return o.keep ?? true;
    },
    ...o,
  };
  return { context, lines };
}

const noPrivileged = (overrides = {}) =>
  toEnforceable(
    bundleDocument(3, [misconfigurationPolicy('BLOCK', { rules: onlyRule('privileged-container'), ...overrides })]),
  );

describe('decideAdmission', () => {
  it('decides at the time it is given: an exemption covers an admission before it expires, not after', async () => {
    const expiresAt = '2026-06-01T00:00:00.000Z';
    const bundle = noPrivileged({
      exemptions: [
        { id: 'legacy', namespaces: ['shop'], match: 'GLOB', reason: 'legacy web tier', grantedBy: 'alice', expiresAt },
      ],
    });
    const { context, lines } = contextFor(bundle);
    const before = await decideAdmission(requestOf(privileged('web-1')), new Date('2026-05-31T12:00:00Z'), context);
    assert.equal(before.response.allowed, true);
    assert.equal(before.findings[0]!.exempted, true);
    assert.equal(before.findings[0]!.reason, 'legacy web tier', 'the exemption reason travels with the finding');
    const after = await decideAdmission(requestOf(privileged('web-2')), new Date('2026-06-01T00:00:01Z'), context);
    assert.equal(after.response.allowed, false);
    assert.equal(after.result, 'denied');
    assert.match(
      after.response.status!.message,
      /portcullis denied Pod shop\/web-2: 1 violation of Block-mode policies\n- policy "Default K8s misconfiguration rule", rule privileged-container/,
    );
    const events = lines.map((l) => JSON.parse(l) as AdmissionEvent);
    assert.deepEqual(
      events.map((e) => [e.occurredAt, e.decision, e.bundleRevision]),
      [
        ['2026-05-31T12:00:00.000Z', 'EXEMPTED', 3],
        ['2026-06-01T00:00:01.000Z', 'DENIED', 3],
      ],
    );
  });

  it('names the recorded event in the answer, and only an event that was kept', async () => {
    const kept = contextFor(noPrivileged());
    const a = await decideAdmission(requestOf(privileged('web-1')), new Date(), kept.context);
    const event = JSON.parse(kept.lines[0]!) as AdmissionEvent & { snapshot?: unknown };
    assert.equal(a.response.auditAnnotations?.['event-id'], event.eventId);
    assert.equal(event.clusterId, CLUSTER);
    assert.equal(
      (event.snapshot as { metadata: { name: string } }).metadata.name,
      'web-1',
      'the evaluated object goes with the event',
    );

    const dropped = contextFor(noPrivileged(), { keep: false });
    const b = await decideAdmission(requestOf(privileged('web-1')), new Date(), dropped.context);
    assert.equal(dropped.lines.length, 1);
    assert.equal(b.response.allowed, false, 'a full spool does not change the decision');
    assert.equal(b.response.auditAnnotations?.['event-id'], undefined);
  });

  it('sends the snapshot by the id the caller knows it by', async () => {
    const seen: string[] = [];
    const { context, lines } = contextFor(noPrivileged(), { snapshotId: (json) => (seen.push(json), 'a'.repeat(64)) });
    await decideAdmission(requestOf(privileged('web-1')), new Date(), context);
    assert.equal(seen.length, 1);
    const event = JSON.parse(lines[0]!) as { snapshot?: unknown; snapshotHash?: string };
    assert.equal(event.snapshot, undefined);
    assert.equal(event.snapshotHash, 'a'.repeat(64));
  });

  it("answers excluded namespaces, the caller's and the bundle's, without evaluating or recording", async () => {
    const bundle = toEnforceable(
      bundleDocument(1, [misconfigurationPolicy('BLOCK')], { agentSettings: { excludedNamespaces: ['team-*'] } }),
    );
    const { context, lines } = contextFor(bundle);
    for (const ns of ['kube-system', 'team-a']) {
      const o = await decideAdmission(requestOf(privileged('p', ns)), new Date(), context);
      assert.equal(o.response.allowed, true);
      assert.equal(o.result, 'excluded');
      assert.deepEqual(o.response.auditAnnotations, { 'excluded-namespace': ns });
    }
    assert.equal(lines.length, 0);
  });

  it('without a bundle: allowed with a warning, or denied when configured so, and recorded either way', async () => {
    const allow = contextFor(null);
    const a = await decideAdmission(requestOf(privileged('p')), new Date(), allow.context);
    assert.equal(a.response.allowed, true);
    assert.equal(a.result, 'no_bundle');
    assert.match(a.response.warnings![0]!, /no verified policy bundle is held yet/);
    const deny = contextFor(null, { noBundleAction: 'deny' });
    const d = await decideAdmission(requestOf(privileged('p')), new Date(), deny.context);
    assert.equal(d.response.allowed, false);
    assert.equal(d.findings[0]!.ruleId, 'bundle-required');
    assert.deepEqual(
      [...allow.lines, ...deny.lines].map((l) => (JSON.parse(l) as AdmissionEvent).decision),
      ['ALLOWED', 'DENIED'],
    );
  });

  describe('scan artifacts', () => {
    const notFound: ArtifactLookup = { status: 'not-found' };
    const source = (cached: boolean) => {
      const calls: Array<{ images: readonly string[]; tenantId: string; budgetMs: number }> = [];
      const artifacts: ScanArtifactSource = {
        cached: (images) => (cached ? new Map(images.map((i) => [i, notFound])) : null),
        resolve: (images, tenantId, budgetMs) => {
          calls.push({ images, tenantId, budgetMs });
          return Promise.resolve(new Map(images.map((i) => [i, notFound])));
        },
      };
      return { artifacts, calls };
    };
    const gated = (agentSettings = {}) =>
      toEnforceable(bundleDocument(1, [vulnerabilityPolicy('AUDIT')], { agentSettings }));

    it('a warm cache answers without a lookup', async () => {
      const { artifacts, calls } = source(true);
      const { context, lines } = contextFor(gated(), { artifacts });
      await decideAdmission(requestOf(privileged('p')), new Date(), context);
      assert.equal(calls.length, 0);
      assert.equal(lines.length, 1);
    });

    it("a lookup gets the bundle's budget, else the caller's, for the bundle's tenant", async () => {
      const { artifacts, calls } = source(false);
      await decideAdmission(
        requestOf(privileged('p')),
        new Date(),
        contextFor(gated({ vulnerabilityLookupTimeoutMs: 250 }), { artifacts }).context,
      );
      await decideAdmission(requestOf(privileged('q')), new Date(), contextFor(gated(), { artifacts }).context);
      assert.deepEqual(calls, [
        { images: ['ghcr.io/acme/web:1'], tenantId: TENANT, budgetMs: 250 },
        { images: ['ghcr.io/acme/web:1'], tenantId: TENANT, budgetMs: 1500 },
      ]);
    });

    it('no lookup when no policy gates on vulnerabilities', async () => {
      const { artifacts, calls } = source(false);
      await decideAdmission(requestOf(privileged('p')), new Date(), contextFor(noPrivileged(), { artifacts }).context);
      assert.equal(calls.length, 0);
    });
  });
});
