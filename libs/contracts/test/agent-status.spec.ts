import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateAgentStatus } from '@portcullis/contracts';

const status = {
  agentVersion: '0.4.1',
  appliedRevision: 12,
  lastError: null,
  spoolDepth: 3,
  droppedEvents: 0,
  reportedAt: '2025-06-01T12:00:00+02:00',
};

describe('AgentStatus', () => {
  it('accepts a healthy status, and one before any bundle with an error', () => {
    assert.ok(validateAgentStatus(status).ok);
    const r = validateAgentStatus({
      ...status,
      appliedRevision: null,
      lastError: 'bundle rejected: EXPIRED (revision 11 expired at ...)',
      lastErrorAt: 'ignored',
    });
    assert.ok(r.ok);
    assert.equal('lastErrorAt' in r.value, false);
  });

  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['no agent version', { agentVersion: '' }, 'agentVersion'],
    ['revision 0', { appliedRevision: 0 }, 'appliedRevision'],
    ['a negative spool depth', { spoolDepth: -1 }, 'spoolDepth'],
    ['a fractional dropped count', { droppedEvents: 0.5 }, 'droppedEvents'],
    ['no dropped count', { droppedEvents: undefined }, 'droppedEvents'],
    ['a 2001-character error', { lastError: 'e'.repeat(2001) }, 'lastError'],
    ['a local time', { reportedAt: '2025-06-01T12:00:00' }, 'reportedAt'],
  ];
  for (const [what, overrides, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const r = validateAgentStatus({ ...status, ...overrides });
      assert.ok(!r.ok && r.errors[0]!.path === path, JSON.stringify(r));
    });
  }
});

const P1 = '0b8e4c8e-3c55-4a5e-9d36-0f4d7b0f0001';
const P2 = '0b8e4c8e-3c55-4a5e-9d36-0f4d7b0f0002';
const native = {
  reconciledAt: '2025-06-01T12:00:00Z',
  revision: 12,
  policies: [
    { policyId: P1, state: 'ENFORCED', objects: 4 },
    {
      policyId: P2,
      state: 'PARTIAL',
      reason: '1 rule could not be compiled',
      objects: 2,
      unsupported: [{ rule: 'trusted-registries', what: 'parameter allowedImages', reason: 'too many patterns' }],
    },
  ],
  checks: [
    { policyId: P1, rule: 'privileged-container', enforcementAction: 'deny', count: 3 },
    { policyId: P1, rule: 'privileged-container', enforcementAction: 'warn', count: 1 },
  ],
  metricsError: null,
};

describe('AgentStatus.native', () => {
  it('accepts a native report, one without metrics, and a status without it', () => {
    assert.ok(validateAgentStatus({ ...status, native }).ok);
    const r = validateAgentStatus({ ...status, native: { ...native, checks: null, metricsError: 'HTTP 403' } });
    assert.ok(r.ok && r.value.native?.checks === null);
    const none = validateAgentStatus(status);
    assert.ok(none.ok && none.value.native === undefined);
  });

  const withPolicy = (p: Record<string, unknown>) => ({ ...native, policies: [{ ...native.policies[0], ...p }] });
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['no reconciledAt', { ...native, reconciledAt: undefined }, 'native.reconciledAt'],
    ['revision 0', { ...native, revision: 0 }, 'native.revision'],
    ['a policy id that is not a UUID', withPolicy({ policyId: 'p1' }), 'native.policies[0].policyId'],
    ['an unknown state', withPolicy({ state: 'DONE' }), 'native.policies[0].state'],
    ['a negative object count', withPolicy({ objects: -1 }), 'native.policies[0].objects'],
    ['a 2001-character reason', withPolicy({ reason: 'r'.repeat(2001) }), 'native.policies[0].reason'],
    [
      'an unsupported entry without a reason',
      withPolicy({ unsupported: [{ what: 'exemption 1' }] }),
      'native.policies[0].unsupported[0].reason',
    ],
    [
      '101 unsupported entries',
      withPolicy({ unsupported: Array.from({ length: 101 }, () => ({ what: 'w', reason: 'r' })) }),
      'native.policies[0].unsupported',
    ],
    [
      '1001 policies',
      {
        ...native,
        policies: Array.from({ length: 1001 }, (_, i) => ({
          policyId: `0b8e4c8e-3c55-4a5e-9d36-${String(i).padStart(12, '0')}`,
          state: 'ENFORCED',
          objects: 2,
        })),
      },
      'native.policies',
    ],
    [
      'a policy reported twice',
      { ...native, policies: [native.policies[0], native.policies[0]] },
      'native.policies[1].policyId',
    ],
    [
      'an unknown enforcement action',
      { ...native, checks: [{ ...native.checks[0], enforcementAction: 'block' }] },
      'native.checks[0].enforcementAction',
    ],
    ['a fractional count', { ...native, checks: [{ ...native.checks[0], count: 1.5 }] }, 'native.checks[0].count'],
    ['a check without rule', { ...native, checks: [{ ...native.checks[0], rule: '' }] }, 'native.checks[0].rule'],
    ['a counter reported twice', { ...native, checks: [native.checks[0], native.checks[0]] }, 'native.checks[1]'],
    ['a NUL in metricsError', { ...native, metricsError: 'a\u0000b' }, 'native.metricsError'],
  ];
  for (const [what, value, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const r = validateAgentStatus({ ...status, native: value });
      assert.ok(!r.ok && r.errors[0]!.path === path, JSON.stringify(r).slice(0, 500));
    });
  }
});
