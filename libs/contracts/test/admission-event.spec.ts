import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_SNAPSHOT_BYTES, decisionFor, validateAdmissionEvent, type Finding } from '@portcullis/contracts';
import { admissionEvent, finding } from '@portcullis/testing';

/** The event these specs start from: an audited pod admission with one finding. */
const event = (overrides: Record<string, unknown> = {}) =>
  admissionEvent({
    decision: 'AUDITED',
    findings: [finding()],
    requestingUser: {
      username: 'system:serviceaccount:kube-system:replicaset-controller',
      groups: ['system:serviceaccounts'],
    },
    ...overrides,
  });

function errorsOf(value: unknown): Array<{ path: string; message: string }> {
  const r = validateAdmissionEvent(value);
  assert.equal(r.ok, false, 'expected a rejection');
  return r.ok ? [] : [...r.errors];
}

describe('AdmissionEvent', () => {
  it('accepts a pod admission with an audit finding, unchanged', () => {
    const e = event();
    const r = validateAdmissionEvent(JSON.parse(JSON.stringify(e)));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value, e);
  });

  it('accepts every optional field, a cluster-scoped object, and a generateName CREATE with no name yet', () => {
    const full = event({
      uid: '2b1c0d9e-8f7a-4b6c-9d5e-4f3a2b1c0d9e',
      requestUid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      dryRun: true,
      snapshot: { spec: { containers: [{ name: 'web', image: 'registry.example.com/shop/web:1.4.0' }] } },
      clusterId: '0b9e7c6d-5a4b-4c3d-8e2f-1a0b9c8d7e6f',
      findings: [
        finding({
          action: 'BLOCK',
          exempted: true,
          exemptionId: 'ex-1',
          reason: 'legacy workload until Q3',
          image: 'registry.example.com/shop/web:1.4.0',
        }),
      ],
      decision: 'EXEMPTED',
    });
    assert.ok(validateAdmissionEvent(full).ok);
    const { namespace: _ns, ...clusterScoped } = event({
      kind: 'ClusterRole',
      apiVersion: 'rbac.authorization.k8s.io/v1',
      findings: [],
      decision: 'ALLOWED',
    });
    assert.ok(validateAdmissionEvent(clusterScoped).ok);
    assert.ok(validateAdmissionEvent(event({ name: '', operation: 'CREATE' })).ok);
    assert.ok(validateAdmissionEvent(event({ bundleRevision: null })).ok, 'no bundle held yet');
    const byId = validateAdmissionEvent(event({ snapshotHash: 'ab'.repeat(32) }));
    assert.ok(byId.ok && byId.value.snapshotHash === 'ab'.repeat(32), 'a stored snapshot referred to by its id');
    const debug = validateAdmissionEvent(event({ operation: 'UPDATE', subResource: 'ephemeralcontainers' }));
    assert.ok(
      debug.ok && debug.value.subResource === 'ephemeralcontainers',
      'a kubectl debug admission names its subresource',
    );
  });

  it('drops properties it does not know (an agent newer than the API)', () => {
    const r = validateAdmissionEvent({ ...event(), newField: 1, findings: [{ ...finding(), severityScore: 3 }] });
    assert.ok(r.ok);
    assert.equal('newField' in r.value, false);
    assert.equal('severityScore' in r.value.findings[0]!, false);
  });

  const f = (o: Partial<Finding>): Finding => finding(o);
  const invalid: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an eventId that is not a UUID', { eventId: 'evt-1' }, 'eventId', /is not a UUID/],
    [
      'a timestamp without a zone',
      { occurredAt: '2025-06-01T12:00:00' },
      'occurredAt',
      /ISO-8601 timestamp with a zone/,
    ],
    ['month 13', { occurredAt: '2025-13-01T12:00:00Z' }, 'occurredAt', /ISO-8601/],
    ['an unknown operation', { operation: 'PATCH' }, 'operation', /CREATE/],
    ['dryRun as a string', { dryRun: 'false' }, 'dryRun', /boolean/],
    ['a kind with a dash', { kind: 'my-pod' }, 'kind', /is not a Kubernetes kind/],
    ['an uppercase namespace', { namespace: 'Shop' }, 'namespace', /RFC 1123 label/],
    ['a 64-character namespace', { namespace: 'a'.repeat(64) }, 'namespace', /at most 63/],
    ['no owner', { owner: undefined }, 'owner', /Required/],
    ['an owner without a name', { owner: { kind: 'Deployment', name: '' } }, 'owner.name', /at least 1/],
    ['an empty username', { requestingUser: { username: '' } }, 'requestingUser.username', /at least 1/],
    [
      '257 groups',
      { requestingUser: { username: 'u', groups: Array(257).fill('g') } },
      'requestingUser.groups',
      /at most 256/,
    ],
    ['201 images', { images: Array(201).fill('nginx') }, 'images', /at most 200/],
    ['a 513-character image', { images: ['nginx', 'x'.repeat(513)] }, 'images[1]', /at most 512/],
    ['revision 0', { bundleRevision: 0 }, 'bundleRevision', /greater than 0/],
    ['a fractional revision', { bundleRevision: 4.5 }, 'bundleRevision', /integer/],
    // bundle_revision is int4: 2^31 was stored wrapped, as -2147483648
    ['a revision of 2^31', { bundleRevision: 2 ** 31 }, 'bundleRevision', /less than or equal to 2147483647/],
    ['a revision beyond 2^53', { bundleRevision: 2 ** 53 + 2 }, 'bundleRevision', /less than or equal to 2147483647/],
    ['an unknown decision', { decision: 'WARNED' }, 'decision', /ALLOWED/],
    ['1001 findings', { findings: Array(1001).fill(finding()) }, 'findings', /at most 1000/],
    ['a finding with action WARN', { findings: [f({ action: 'WARN' as never })] }, 'findings[0].action', /AUDIT/],
    [
      'a finding with an uppercase rule id',
      { findings: [f({ ruleId: 'Privileged' })] },
      'findings[0].ruleId',
      /is not a rule id/,
    ],
    [
      'a 4097-character message',
      { findings: [f({ message: 'm'.repeat(4097) })] },
      'findings[0].message',
      /at most 4096/,
    ],
    [
      'an exempted finding without exemptionId',
      { findings: [f({ exempted: true })], decision: 'EXEMPTED' },
      'findings[0].exemptionId',
      /is required when exempted is true/,
    ],
    [
      'an exemptionId on a finding that is not exempted',
      { findings: [f({ exemptionId: 'ex-1' })] },
      'findings[0].exemptionId',
      /is set but exempted is false/,
    ],
    [
      'ALLOWED despite a Block-mode violation',
      { findings: [f({ action: 'BLOCK' })], decision: 'ALLOWED' },
      'decision',
      /is ALLOWED but the findings make it DENIED/,
    ],
    [
      'DENIED with only audit findings',
      { decision: 'DENIED' },
      'decision',
      /is DENIED but the findings make it AUDITED/,
    ],
    ['a snapshot that is an array', { snapshot: [1, 2] }, 'snapshot', /object/],
    [
      'a snapshot over the size limit',
      { snapshot: { blob: 'x'.repeat(MAX_SNAPSHOT_BYTES) } },
      'snapshot',
      /larger than 65536 bytes/,
    ],
    ['a snapshot id in uppercase', { snapshotHash: 'AB'.repeat(32) }, 'snapshotHash', /is not a snapshot id/],
    ['a snapshot id of 63 digits', { snapshotHash: 'a'.repeat(63) }, 'snapshotHash', /is not a snapshot id/],
    [
      'a snapshot and a snapshot id',
      { snapshot: { spec: {} }, snapshotHash: 'ab'.repeat(32) },
      'snapshotHash',
      /cannot be sent with snapshot/,
    ],
    ['a clusterId that is not a UUID', { clusterId: 'prod' }, 'clusterId', /is not a UUID/],
    [
      'a subresource path instead of its name',
      { subResource: 'pods/ephemeralcontainers' },
      'subResource',
      /is not a subresource name/,
    ],
    ['a 64-character subresource', { subResource: 's'.repeat(64) }, 'subResource', /is not a subresource name/],
  ];
  for (const [what, overrides, path, message] of invalid) {
    it(`refuses ${what}, naming ${path}`, () => {
      const errors = errorsOf(event(overrides));
      assert.ok(
        errors.some((e) => e.path === path && message.test(e.message)),
        JSON.stringify(errors),
      );
    });
  }

  it('refuses a value that is not an object, naming the body', () => {
    assert.deepEqual(errorsOf('event'), [{ path: '(body)', message: 'Expected object, received string' }]);
  });

  it('counts the snapshot limit in UTF-8 bytes of JSON', () => {
    // {"s":"…"} is 8 bytes plus 2 per é: 32764 of them make exactly the limit
    const exactly = 'é'.repeat((MAX_SNAPSHOT_BYTES - 8) / 2);
    assert.ok(validateAdmissionEvent(event({ snapshot: { s: exactly } })).ok);
    assert.equal(validateAdmissionEvent(event({ snapshot: { s: `${exactly}é` } })).ok, false);
  });
});

describe('decisionFor', () => {
  const a = (action: 'AUDIT' | 'BLOCK', exempted = false) => ({ action, exempted });
  const cases: Array<[string, Array<{ action: 'AUDIT' | 'BLOCK'; exempted: boolean }>, string]> = [
    ['no findings', [], 'ALLOWED'],
    ['an audit violation', [a('AUDIT')], 'AUDITED'],
    ['a block violation among audit ones', [a('AUDIT'), a('BLOCK'), a('AUDIT')], 'DENIED'],
    ['only exempted violations, block ones included', [a('BLOCK', true), a('AUDIT', true)], 'EXEMPTED'],
    ['an exempted block and a live audit violation', [a('BLOCK', true), a('AUDIT')], 'AUDITED'],
    ['an exempted audit and a live block violation', [a('AUDIT', true), a('BLOCK')], 'DENIED'],
  ];
  for (const [what, findings, decision] of cases) {
    it(`${what} -> ${decision}`, () => assert.equal(decisionFor(findings), decision));
  }
});
