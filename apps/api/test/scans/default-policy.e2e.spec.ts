import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RULE_CATALOG } from '@portcullis/policy-engine';
import { NO_DB_REASON, ok, startApi, testDatabaseConfigured, type ApiHarness } from '@portcullis/testing';

/** The default vulnerability policy is built from the rule catalog at onboarding, not from a copy of it. */
describe('default vulnerability gating policy', { skip: testDatabaseConfigured ? false : NO_DB_REASON }, () => {
  let h: ApiHarness;
  before(async () => {
    h = await startApi();
  });
  after(async () => h?.close());

  it('holds every VULNERABILITY rule of the catalog, enabled per its default, with its default parameters, in Audit mode', async () => {
    const t = await h.onboard('default vuln policy');
    const d = await ok<{
      policies: {
        edges: Array<{
          node: {
            isDefault: boolean;
            action: string;
            rules: Array<{ ruleId: string; enabled: boolean; params: Record<string, unknown> }>;
          };
        }>;
      };
    }>(
      h.gql(
        t.ownerToken,
        '{ policies(filter: { type: VULNERABILITY }) { edges { node { isDefault action rules { ruleId enabled params } } } } }',
      ),
    );
    const defaults = d.policies.edges.map((e) => e.node).filter((p) => p.isDefault);
    assert.equal(defaults.length, 1);
    assert.equal(defaults[0]!.action, 'AUDIT');
    const catalog = RULE_CATALOG.filter((r) => r.policyType === 'VULNERABILITY');
    assert.deepEqual(defaults[0]!.rules.map((r) => r.ruleId).sort(), catalog.map((r) => r.id).sort());
    assert.deepEqual(catalog.map((r) => r.id).sort(), [
      'vulnerability-assessment-required',
      'vulnerability-blocked-cves',
      'vulnerability-severity',
    ]);
    for (const rule of catalog) {
      const got = defaults[0]!.rules.find((r) => r.ruleId === rule.id)!;
      assert.equal(got.enabled, rule.defaultEnabled, rule.id);
      const expected = Object.fromEntries(
        Object.entries(rule.parameters.properties ?? {}).map(([k, v]) => [k, v.default ?? null]),
      );
      assert.deepEqual(got.params, expected, rule.id);
    }
    // the gate the issue names: at most 0 criticals, 30-day-old scans, allow when the API cannot be reached
    const severity = defaults[0]!.rules.find((r) => r.ruleId === 'vulnerability-severity')!;
    const assessment = defaults[0]!.rules.find((r) => r.ruleId === 'vulnerability-assessment-required')!;
    assert.deepEqual(
      [severity.params['maxCritical'], assessment.params['maxAgeDays'], assessment.params['onLookupFailure']],
      [0, 30, 'ALLOW'],
    );
  });
});
