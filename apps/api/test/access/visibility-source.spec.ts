/**
 * Keeps tenancy/visibility.ts the one place a caller's readable scopes turn into a
 * condition or an answer: a service that reads scoped tables for a principal goes
 * through it, nothing else asks the principal for its scopes, and nothing else writes
 * the NOT_FOUND of a scoped object (so a hidden one and an unknown one answer alike).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { API_SRC, apiSources } from '../support/sources';

const VISIBILITY = path.join('tenancy', 'visibility.ts');

/** Reads of tables whose rows belong to a cloud scope (or name one). */
const SCOPED_READ =
  /tx\.(cluster|cloudScope|roleAssignment|policy)\.(find\w*|count)\(|admission_events|admission_rollups_hourly|admission_snapshot_days|workloadMonthsInWindow\(/;

describe('visibility in the source', () => {
  const files = apiSources();

  it('finds the API sources', () => {
    assert.ok(
      files.some((f) => f.file === VISIBILITY),
      `${VISIBILITY} under ${API_SRC}`,
    );
    assert.ok(files.length > 30);
  });

  it('every principal-facing reader of scoped tables imports tenancy/visibility', () => {
    const offenders = files.filter(
      (f) =>
        f.file !== VISIBILITY &&
        /\bPrincipal\b/.test(f.text) &&
        SCOPED_READ.test(f.text) &&
        !f.text.includes("tenancy/visibility'"),
    );
    assert.deepEqual(
      offenders.map((f) => f.file),
      [],
    );
  });

  it('only tenancy/visibility asks a principal for its readable scopes', () => {
    const offenders = files.filter(
      (f) =>
        f.file !== VISIBILITY &&
        f.file !== path.join('tenancy', 'principal.ts') &&
        /\.scopesWith\(|canOnScope\(\s*'read'/.test(f.text),
    );
    assert.deepEqual(
      offenders.map((f) => f.file),
      [],
    );
  });

  it('only the audit snapshot of a policy sees past the caller (Visibility.unrestricted)', () => {
    const offenders = files.filter(
      (f) =>
        f.file !== VISIBILITY &&
        f.file !== path.join('policies', 'policy.mapper.ts') &&
        f.text.includes('Visibility.unrestricted'),
    );
    assert.deepEqual(
      offenders.map((f) => f.file),
      [],
    );
  });

  it('only tenancy/visibility answers NOT_FOUND for a cluster, cloud scope, policy or role assignment', () => {
    const offenders = files.filter(
      (f) => f.file !== VISIBILITY && /notFound\(\s*`(cluster|cloud scope|policy|role assignment) /.test(f.text),
    );
    assert.deepEqual(
      offenders.map((f) => f.file),
      [],
    );
  });
});
