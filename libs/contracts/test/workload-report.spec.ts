import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prepareSnapshot, validateWorkloadReport } from '@portcullis/contracts';

const snapshot = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' } };
const workload = {
  kind: 'Deployment',
  apiVersion: 'apps/v1',
  namespace: 'shop',
  name: 'web',
  uid: '1b7e2d0c-0000-4000-8000-000000000001',
  pods: 3,
  images: ['nginx:1.27'],
  snapshotHash: prepareSnapshot(snapshot).hash,
  snapshot,
  violations: [
    { policyId: 'p1', rule: 'privileged', action: 'BLOCK', message: 'privileged', container: 'web', exempted: false },
  ],
};
const full = {
  reportId: '5f0e8a3c-1111-4a1a-9a1a-000000000001',
  mode: 'FULL',
  sync: { id: '5f0e8a3c-2222-4a1a-9a1a-000000000001', page: 1, last: true },
  bundleRevision: 4,
  observedAt: '2026-12-06T17:00:00Z',
  workloads: [workload],
};
const delta = {
  reportId: '5f0e8a3c-1111-4a1a-9a1a-000000000002',
  mode: 'DELTA',
  bundleRevision: 4,
  observedAt: '2026-12-06T17:00:00Z',
  workloads: [],
  removed: [{ kind: 'Pod', namespace: 'shop', name: 'debug' }],
};

describe('WorkloadReport', () => {
  it('accepts a FULL page, a DELTA with removals and an empty heartbeat; removed defaults to []', () => {
    const r = validateWorkloadReport(full);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value.removed, []);
    assert.ok(validateWorkloadReport(delta).ok);
    assert.ok(validateWorkloadReport({ ...delta, removed: [], bundleRevision: null }).ok);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['a FULL report without sync', { ...full, sync: undefined }, 'sync'],
    ['a DELTA report with sync', { ...delta, sync: full.sync }, 'sync'],
    ['removals in a FULL report', { ...full, removed: delta.removed }, 'removed'],
    ['page 0', { ...full, sync: { ...full.sync, page: 0 } }, 'sync.page'],
    ['an unknown mode', { ...full, mode: 'PARTIAL' }, 'mode'],
    ['a local observedAt', { ...full, observedAt: '2026-12-06T17:00:00' }, 'observedAt'],
    [
      'a bad rule id',
      { ...full, workloads: [{ ...workload, violations: [{ ...workload.violations[0], rule: 'Not A Rule' }] }] },
      'workloads[0].violations[0].rule',
    ],
    [
      'a violation action that is not AUDIT or BLOCK',
      { ...full, workloads: [{ ...workload, violations: [{ ...workload.violations[0], action: 'WARN' }] }] },
      'workloads[0].violations[0].action',
    ],
    [
      'a bad snapshot hash',
      { ...full, workloads: [{ ...workload, snapshotHash: 'abc' }] },
      'workloads[0].snapshotHash',
    ],
    ['a negative pod count', { ...full, workloads: [{ ...workload, pods: -1 }] }, 'workloads[0].pods'],
    ['a repeated workload', { ...full, workloads: [workload, workload] }, 'workloads[1].name'],
    [
      'a workload both reported and removed',
      { ...delta, workloads: [workload], removed: [{ kind: 'Deployment', namespace: 'shop', name: 'web' }] },
      'removed[0].name',
    ],
    [
      '501 workloads',
      { ...delta, workloads: Array.from({ length: 501 }, (_, i) => ({ ...workload, name: `w${i}` })) },
      'workloads',
    ],
    [
      '101 images',
      { ...full, workloads: [{ ...workload, images: Array.from({ length: 101 }, () => 'x') }] },
      'workloads[0].images',
    ],
  ];
  for (const [what, value, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const r = validateWorkloadReport(value);
      assert.ok(!r.ok && r.errors[0]!.path === path, JSON.stringify(r).slice(0, 500));
    });
  }
});
