import { Query, Resolver } from '@nestjs/graphql';
import { PRESET_IDS, RULE_CATALOG, expandPreset, type JsonSchema } from '@portcullis/policy-engine';
import { Access } from '../tenancy/access.decorator';
import { RuleCatalog } from './rule-catalog.types';

/** Defaults as the schema declares them, property by property. */
export function schemaDefaults(schema: JsonSchema): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, v.default ?? null]));
}

// Built once: the catalog is static for the life of the process, and served from the engine, never copied.
const CATALOG: RuleCatalog = {
  rules: RULE_CATALOG.map((r) => ({
    id: r.id,
    title: r.title,
    description: r.description,
    category: r.category,
    policyType: r.policyType,
    pssLevels: [...r.pssLevels],
    defaultEnabled: r.defaultEnabled,
    parameterSchema: r.parameters,
    defaults: schemaDefaults(r.parameters),
    remediation: r.remediation,
  })),
  presets: PRESET_IDS.map((id) => ({ id, rules: expandPreset(id).map((r) => ({ ruleId: r.id, params: r.params })) })),
};

@Resolver(() => RuleCatalog)
export class RuleCatalogResolver {
  @Access('signed-in')
  @Query(() => RuleCatalog, {
    description: 'Every rule Portcullis can enforce, with parameter schemas, defaults and presets.',
  })
  ruleCatalog(): RuleCatalog {
    return CATALOG;
  }
}
