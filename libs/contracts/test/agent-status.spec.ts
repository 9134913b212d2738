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
