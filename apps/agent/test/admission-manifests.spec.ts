import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import YAML from 'yaml';
import { compilePolicies, defaultRuleConfigs, evaluatePolicies, inspectObject } from '@portcullis/policy-engine';
import { SHARED, SHARED_MISSING, misconfigurationPolicy, reviewOf } from '@portcullis/testing';
import { handlerHarness, type HandlerHarness } from './support/handler-harness';

const MANIFESTS = path.join(SHARED, 'manifests');

/** Every workload and Ingress of the real install manifests, as the API server would send them. */
function workloads(): Array<{ file: string; object: Record<string, unknown> }> {
  const out: Array<{ file: string; object: Record<string, unknown> }> = [];
  for (const file of fs
    .readdirSync(MANIFESTS)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(MANIFESTS, file), 'utf8'))) {
      const object = doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown> | null;
      if (!object || typeof object !== 'object') continue;
      const status = inspectObject(object, 'default').status;
      if (status === 'pod' || status === 'ingress') out.push({ file, object });
    }
  }
  return out;
}

describe('webhook on reviews built from ../shared/fixtures/manifests', { skip: SHARED_MISSING }, () => {
  const harnesses: HandlerHarness[] = [];
  after(() => Promise.all(harnesses.map((h) => h.close())));
  const all = SHARED_MISSING ? [] : workloads();

  it('decides every workload exactly as the policy engine does: Block denies, Audit warns, all events meet the contract', async () => {
    assert.ok(all.length >= 50, `found only ${all.length} workloads`);
    for (const action of ['BLOCK', 'AUDIT'] as const) {
      const policy = misconfigurationPolicy(action);
      const h = handlerHarness({ policies: [policy] });
      harnesses.push(h);
      const compiled = compilePolicies([
        { ...policy, rules: policy.rules.map((r) => ({ id: r.id, params: { ...r.params } })), exemptions: [] },
      ]);
      let denied = 0;
      let warned = 0;
      for (const { file, object } of all) {
        const meta = (object['metadata'] ?? {}) as { namespace?: string; name?: string };
        const namespace = meta.namespace ?? 'shop';
        const r = await h.review(reviewOf(object, { namespace }));
        const expected = evaluatePolicies(object, compiled, { defaultNamespace: namespace, now: new Date() });
        const where = `${file} ${String(object['kind'])} ${meta.name}`;
        if (namespace === 'kube-system') {
          assert.equal(r.response.allowed, true, where);
          assert.equal(r.response.auditAnnotations?.['excluded-namespace'], 'kube-system', where);
          continue;
        }
        const violations = expected.violations.length;
        if (action === 'BLOCK') {
          assert.equal(r.response.allowed, expected.decision === 'allow', where);
          if (!r.response.allowed) {
            denied++;
            const lines = r.response.status!.message.split('\n').slice(1);
            assert.equal(lines.length, Math.min(violations, 26), where);
            for (const v of expected.violations.slice(0, 25))
              assert.ok(
                r.response.status!.message.includes(
                  `rule ${v.rule}${v.container ? `, container "${v.container}"` : ''}: ${v.message}`,
                ),
                `${where}: ${v.rule}`,
              );
          }
        } else {
          assert.equal(r.response.allowed, true, where);
          if (violations > 0) {
            warned++;
            assert.ok((r.response.warnings?.length ?? 0) > 0, where);
          } else assert.equal(r.response.warnings, undefined, where);
        }
      }
      const events = h.events();
      assert.equal(
        events.length,
        all.filter(({ object }) => ((object['metadata'] ?? {}) as { namespace?: string }).namespace !== 'kube-system')
          .length,
      );
      if (action === 'BLOCK') {
        assert.ok(denied > 0 && denied < all.length, `denied ${denied} of ${all.length}`);
        assert.equal(events.filter((e) => e.decision === 'DENIED').length, denied);
      } else {
        assert.ok(warned > 0);
        assert.equal(events.filter((e) => e.decision === 'AUDITED').length, warned);
      }
    }
  });

  it('names the known problems of the real manifests: calico privileged, flannel host network, guestbook without limits', async () => {
    const h = handlerHarness({ policies: [misconfigurationPolicy('BLOCK')], excluded: [] });
    harnesses.push(h);
    const find = (file: string, kind: string, name: string) =>
      all.find(
        (w) => w.file === file && w.object['kind'] === kind && (w.object['metadata'] as { name: string }).name === name,
      )!.object;
    const calico = await h.review(reviewOf(find('calico-v3.32.1.yaml', 'DaemonSet', 'calico-node')));
    assert.match(calico.response.status!.message, /rule privileged-container, container "calico-node"/);
    const flannel = await h.review(reviewOf(find('kube-flannel.yml', 'DaemonSet', 'kube-flannel-ds')));
    assert.match(flannel.response.status!.message, /rule host-namespaces/);
    const guestbook = await h.review(
      reviewOf(find('guestbook-all-in-one.yaml', 'Deployment', 'frontend'), { namespace: 'shop' }),
    );
    assert.match(guestbook.response.status!.message, /rule resource-limits, container "php-redis": .*limit/);
  });

  it('allows a hardened workload under Block with a policy limited to the rules it meets', async () => {
    const ids = ['privileged-container', 'host-namespaces', 'privilege-escalation'];
    const h = handlerHarness({
      policies: [
        misconfigurationPolicy('BLOCK', {
          rules: defaultRuleConfigs('MISCONFIGURATION')
            .filter((r) => ids.includes(r.id))
            .map((r) => ({ id: r.id, params: { ...r.params } })),
        }),
      ],
    });
    harnesses.push(h);
    const argo = all.filter((w) => w.file.startsWith('argo-cd') && w.object['kind'] === 'Deployment');
    assert.ok(argo.length > 0);
    for (const { object } of argo) {
      const r = await h.review(reviewOf(object, { namespace: 'argocd' }));
      assert.equal(r.response.allowed, true, JSON.stringify(r.response.status));
    }
  });
});
