/**
 * `portcullis eval` over every third-party manifest of ../shared/fixtures/manifests with
 * the default policy: every file is read (never exit 2), and the verdicts a reviewer
 * checked by hand hold.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot } from '@portcullis/config';
import { parseJson, portcullis, type JsonReport } from './support';

const DIR = path.resolve(repoRoot(), '..', 'shared', 'fixtures', 'manifests');
const skip = fs.existsSync(DIR) ? false : `../shared/fixtures/manifests is not beside this clone (${DIR})`;

describe('eval over the shared third-party manifests', { skip }, () => {
  let report: JsonReport;
  let code: number;
  before(async () => {
    const run = await portcullis(['eval', '--format', 'json', DIR], { cwd: process.cwd() });
    code = run.code;
    assert.notEqual(run.code, 2, run.stderr);
    report = parseJson(run);
  });
  const find = (file: string, kind: string, name: string) => {
    const r = report.results.find((x) => x.source.endsWith(file) && x.kind === kind && x.name === name);
    assert.ok(r, `${file}: ${kind} ${name} not found`);
    return r;
  };
  const rules = (r: JsonReport['results'][number]) => new Set(r.violations.map((v) => v.rule));

  it('reads every file and document without an input error, and fails the pipeline', () => {
    assert.equal(code, 1);
    const files = fs.readdirSync(DIR).filter((f) => /\.(ya?ml|json)$/.test(f));
    assert.deepEqual([...new Set(report.results.map((r) => path.basename(r.source)))].sort(), files.sort());
    assert.equal(report.summary['cannotEvaluate'], 0);
    assert.ok(report.results.every((r) => r.status !== 'cannot-evaluate'));
  });
  it('denies the privileged DaemonSets of calico and longhorn for privileged-container', () => {
    for (const [file, name, container] of [
      ['calico-v3.32.1.yaml', 'calico-node', 'calico-node'],
      ['longhorn-v1.12.1.yaml', 'longhorn-manager', 'longhorn-manager'],
    ] as const) {
      const ds = find(file, 'DaemonSet', name);
      assert.equal(ds.decision, 'deny');
      assert.ok(
        ds.violations.some(
          (v) =>
            v.rule === 'privileged-container' &&
            v.container === container &&
            v.path.endsWith('securityContext.privileged'),
        ),
        name,
      );
    }
  });
  it('denies flannel for the host network, not for privilege (it sets privileged: false)', () => {
    const ds = find('kube-flannel.yml', 'DaemonSet', 'kube-flannel-ds');
    assert.equal(ds.decision, 'deny');
    assert.ok(rules(ds).has('host-namespaces'));
    assert.ok(!rules(ds).has('privileged-container'));
    assert.ok(ds.violations.some((v) => v.rule === 'host-namespaces' && v.path === 'spec.template.spec.hostNetwork'));
  });
  it('flags deployments without limits for resource-limits, per container', () => {
    const guestbook = find('guestbook-all-in-one.yaml', 'Deployment', 'frontend');
    const limits = guestbook.violations.filter((v) => v.rule === 'resource-limits');
    assert.deepEqual(limits.map((v) => v.path).sort(), [
      'spec.template.spec.containers[0].resources.limits.cpu',
      'spec.template.spec.containers[0].resources.limits.memory',
    ]);
    assert.ok(
      rules(find('argo-cd-v3.5.1-install.yaml', 'Deployment', 'argocd-server')).has('resource-limits'),
      'argo-cd has no limits',
    );
  });
  it('lets the hardened parts through: no privileged or host findings for argo-cd, limits set in online-boutique', () => {
    const argo = find('argo-cd-v3.5.1-install.yaml', 'Deployment', 'argocd-server');
    for (const r of [
      'privileged-container',
      'privilege-escalation',
      'run-as-non-root',
      'host-namespaces',
      'capabilities',
    ])
      assert.ok(!rules(argo).has(r), r);
    assert.ok(
      !rules(find('online-boutique-kubernetes-manifests.yaml', 'Deployment', 'frontend')).has('resource-limits'),
    );
  });
  it('evaluates kinds without pod specs by the namespace rules only', () => {
    const others = report.results.filter(
      (r) => !['Pod', 'Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'CronJob', 'Ingress'].includes(r.kind),
    );
    assert.ok(others.length > 100);
    assert.ok(others.every((r) => r.violations.every((v) => v.rule === 'default-namespace')));
    const boutiqueService = find('online-boutique-kubernetes-manifests.yaml', 'Service', 'frontend');
    assert.deepEqual([boutiqueService.namespace, boutiqueService.decision], ['default', 'deny']);
    const crd = report.results.find((r) => r.kind === 'CustomResourceDefinition')!;
    assert.deepEqual([crd.namespace, crd.decision, crd.violations.length], [null, 'allow', 0]);
  });
  it('denies the kind example Ingress for serving without TLS', () => {
    const ingress = report.results.find((r) => r.source.endsWith('kind-ingress-usage.yaml') && r.kind === 'Ingress')!;
    assert.equal(ingress.decision, 'deny');
    assert.ok(rules(ingress).has('ingress-https'));
  });
});
