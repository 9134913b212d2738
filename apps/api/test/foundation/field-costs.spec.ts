import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { buildSchema, type GraphQLObjectType } from 'graphql';
import { NESTED_FIELD_COSTS, ROOT_FIELD_COSTS, baseCost } from '../../src/graphql/field-costs';
import { SCHEMA_FILE } from '../../src/graphql/graphql.options';

/** The committed schema (a drift test keeps it equal to the code-first one). */
const schema = buildSchema(fs.readFileSync(SCHEMA_FILE, 'utf8'));

function rootFields(): string[] {
  return [schema.getQueryType(), schema.getMutationType()]
    .filter((t): t is GraphQLObjectType => t !== null && t !== undefined)
    .flatMap((t) => Object.keys(t.getFields()).map((f) => `${t.name}.${f}`));
}

describe('field costs', () => {
  it('prices every root field of the schema, so a new resolver cannot come in at the default cost', () => {
    const missing = rootFields().filter((f) => !(f in ROOT_FIELD_COSTS));
    assert.deepEqual(
      missing,
      [],
      `add these to ROOT_FIELD_COSTS in apps/api/src/graphql/field-costs.ts: ${missing.join(', ')}`,
    );
  });

  it('names only fields the schema has', () => {
    const known = new Set(rootFields());
    for (const key of Object.keys(NESTED_FIELD_COSTS)) {
      const [type, field] = key.split('.') as [string, string];
      const t = schema.getType(type) as GraphQLObjectType | undefined;
      if (t?.getFields()[field]) known.add(key);
    }
    const stale = [...Object.keys(ROOT_FIELD_COSTS), ...Object.keys(NESTED_FIELD_COSTS)].filter((k) => !known.has(k));
    assert.deepEqual(stale, []);
  });

  it('prices whole-tenant exports and simulations far above a page of a list', () => {
    const q = (f: string, args: Record<string, unknown> = {}) => baseCost(ROOT_FIELD_COSTS[`Query.${f}`]!, args);
    assert.ok(q('exportPolicies') >= 50 * q('policies'));
    assert.ok(q('exportPolicies', { ids: ['a', 'b'] }) < q('exportPolicies'));
    assert.ok(
      q('simulatePolicy', { days: 90, workloadLimit: 2000 }) > q('simulatePolicy', { days: 1, workloadLimit: 1 }),
    );
    for (const f of ['exportPolicies', 'simulatePolicy', 'auditToDenyReport', 'admissionSummary', 'effectivePolicies'])
      assert.equal(ROOT_FIELD_COSTS[`Query.${f}`]!.expensive, true, f);
  });
});
