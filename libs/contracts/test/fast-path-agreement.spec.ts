import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AdmissionEventSchema,
  EVENT_LIMITS,
  MAX_SNAPSHOT_BYTES,
  decisionFor,
  validateAdmissionEvent,
  type Finding,
} from '@portcullis/contracts';

/**
 * validateAdmissionEvent answers from a hand-written hot path and falls back to zod only
 * on rejection. These properties hold the two to the same verdict and the same value,
 * on valid events and on events with one field replaced by something near a boundary.
 */
const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const uuid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join('-'));
const text = (max: number) => fc.string({ minLength: 1, maxLength: Math.min(max, 24) });

const findingArb = fc
  .record(
    {
      policyId: uuid,
      policyName: text(EVENT_LIMITS.policyName),
      action: fc.constantFrom('AUDIT' as const, 'BLOCK' as const),
      ruleId: fc.constantFrom('resource-limits', 'run-as-non-root', 'vulnerability-severity'),
      container: text(EVENT_LIMITS.container),
      path: fc.string({ maxLength: 40 }),
      message: text(EVENT_LIMITS.message),
      exempted: fc.boolean(),
      reason: fc.string({ maxLength: 20 }),
      image: text(EVENT_LIMITS.image),
    },
    { requiredKeys: ['policyId', 'policyName', 'action', 'ruleId', 'path', 'message', 'exempted'] },
  )
  .map((f): Finding => (f.exempted ? { ...f, exemptionId: 'ex-1' } : f));

const eventArb = fc
  .record(
    {
      eventId: uuid,
      occurredAt: fc
        .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT'),
      subResource: fc.constantFrom('ephemeralcontainers', 'status', 'scale'),
      dryRun: fc.boolean(),
      kind: fc.constantFrom('Pod', 'Deployment', 'Ingress', 'CronJob'),
      apiVersion: fc.constantFrom('v1', 'apps/v1', 'networking.k8s.io/v1'),
      namespace: fc.constantFrom('shop', 'kube-system', 'a'),
      name: fc.string({ maxLength: 30 }),
      uid: uuid,
      requestUid: uuid,
      owner: fc.record({ kind: fc.constantFrom('Deployment', 'Pod'), name: text(EVENT_LIMITS.name) }),
      requestingUser: fc.record(
        { username: text(EVENT_LIMITS.username), groups: fc.array(text(EVENT_LIMITS.group), { maxLength: 3 }) },
        { requiredKeys: ['username'] },
      ),
      images: fc.array(text(EVENT_LIMITS.image), { maxLength: 3 }),
      bundleRevision: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: null }),
      findings: fc.array(findingArb, { maxLength: 4 }),
      snapshot: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      snapshotHash: fc.stringMatching(/^[0-9a-f]{64}$/),
      clusterId: uuid,
    },
    {
      requiredKeys: [
        'eventId',
        'occurredAt',
        'operation',
        'dryRun',
        'kind',
        'apiVersion',
        'name',
        'owner',
        'requestingUser',
        'images',
        'bundleRevision',
        'findings',
      ],
    },
  )
  .map((e) => {
    // an event carries its snapshot or refers to one by id, never both
    const { snapshotHash, ...rest } = e;
    return {
      ...(rest.snapshot !== undefined || snapshotHash === undefined ? rest : { ...rest, snapshotHash }),
      decision: decisionFor(e.findings),
    };
  });

// values that sit on or just past the boundaries the schema draws
const junk = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    true,
    0,
    -1,
    1.5,
    Number.NaN,
    '',
    ' ',
    'x',
    [],
    {},
    [1],
    'CREATE',
    'AUDIT',
    'ALLOWED',
    'Pod',
    'shop',
    'Shop',
  ),
  fc
    .constantFrom(...Object.values(EVENT_LIMITS))
    .chain((n) =>
      fc.constantFrom('y'.repeat(n), 'y'.repeat(n + 1), Array(n).fill('nginx'), Array(n + 1).fill('nginx')),
    ),
  fc.constantFrom(
    '2025-06-01T12:00:00Z',
    '2025-06-01T12:00:00',
    '2025-06-01 12:00:00Z',
    '6f1c2d3e-4b5a-4c6d-8e7f-000000000001',
    'ex-1',
    { blob: 'z'.repeat(MAX_SNAPSHOT_BYTES) },
    'AB'.repeat(32),
    'ab'.repeat(31),
    'EphemeralContainers',
    'pods/ephemeralcontainers',
  ),
);

type Json = Record<string, unknown>;
const eventKeys = [
  'eventId',
  'occurredAt',
  'operation',
  'subResource',
  'dryRun',
  'kind',
  'apiVersion',
  'namespace',
  'name',
  'uid',
  'requestUid',
  'owner',
  'requestingUser',
  'images',
  'decision',
  'bundleRevision',
  'findings',
  'snapshot',
  'snapshotHash',
  'clusterId',
];
const findingKeys = [
  'policyId',
  'policyName',
  'action',
  'ruleId',
  'container',
  'path',
  'message',
  'exempted',
  'exemptionId',
  'reason',
  'image',
];

// the length each field may have, to probe exactly at and one past it
const L = EVENT_LIMITS;
const limitOf: Record<string, number> = {
  namespace: L.namespace,
  subResource: 63,
  name: L.name,
  uid: L.uid,
  requestUid: L.uid,
  apiVersion: L.apiVersion,
  kind: 63,
  username: L.username,
  groups: L.groups,
  images: L.images,
  findings: L.findings,
  policyId: L.policyId,
  policyName: L.policyName,
  container: L.container,
  path: L.path,
  message: L.message,
  exemptionId: L.exemptionId,
  reason: L.reason,
  image: L.image,
};
const arrayItem: Record<string, unknown> = { groups: 'g', images: 'nginx', findings: null };

/** Replaces one field (of the event, a finding, the owner or the user) with junk or a value at its length limit. */
const mutated = fc
  .tuple(eventArb, fc.nat(), fc.nat(), fc.nat({ max: 3 }), junk)
  .map(([e, i, j, probe, junkValue]): unknown => {
    const copy = JSON.parse(JSON.stringify(e)) as Json;
    const findings = copy['findings'] as Json[];
    const target: Json =
      i % 4 === 0 && findings.length > 0
        ? findings[j % findings.length]!
        : i % 4 === 1
          ? (copy['owner'] as Json)
          : i % 4 === 2
            ? (copy['requestingUser'] as Json)
            : copy;
    const keys =
      target === copy
        ? eventKeys
        : findings.includes(target)
          ? findingKeys
          : target === copy['owner']
            ? ['kind', 'name']
            : ['username', 'groups'];
    const key = keys[j % keys.length]!;
    const limit = limitOf[key];
    let value = junkValue;
    if (probe > 0 && limit !== undefined) {
      const n = probe === 1 ? limit : limit + 1;
      value =
        key in arrayItem
          ? Array(n).fill(arrayItem[key] ?? (target === copy ? ((copy['findings'] as unknown[])[0] ?? null) : null))
          : 'y'.repeat(n);
    }
    // on the wire a missing field is absent, never undefined
    if (value === undefined) delete target[key];
    else target[key] = value;
    return copy;
  });

function agree(value: unknown): void {
  const zod = AdmissionEventSchema.safeParse(value);
  const ours = validateAdmissionEvent(value);
  assert.equal(
    ours.ok,
    zod.success,
    `verdicts differ on ${JSON.stringify(value)?.slice(0, 400)}: ${zod.success ? '' : JSON.stringify(zod.error.issues[0])}`,
  );
  if (ours.ok && zod.success) assert.deepEqual(ours.value, zod.data);
}

describe('event validation hot path agrees with the zod schema', () => {
  it('on valid events (same value out)', () => {
    fc.assert(
      fc.property(eventArb, (e) => {
        assert.ok(validateAdmissionEvent(e).ok);
        agree(e);
      }),
      { numRuns: 200 },
    );
  });

  it('on events with one field replaced by boundary values', () => {
    fc.assert(fc.property(mutated, agree), { numRuns: 1000 });
  });
});
