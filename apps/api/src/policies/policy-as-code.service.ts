import { Injectable } from '@nestjs/common';
import {
  joinPolicyDocuments,
  parsePolicyDocuments,
  serializePolicyDocument,
  type Exemption,
  type Policy as EnginePolicy,
} from '@portcullis/policy-engine';
import type { CloudProvider, Prisma, TenantTx } from '@portcullis/db';
import { policyScopeOf } from '@portcullis/distribution';
import { DomainError, badInput, mapSliced } from '@portcullis/platform';
import { DomainEvents, type RecordedEvent } from '../events/domain-events';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { coveredScopeIds, policyInclude, toPolicy, type ExemptionCriteria, type PolicyRow } from './policy.mapper';
import { composeRules, type StoredRule } from './policy-rules';
import { PolicyService, storedRule } from './policy.service';
import { PolicyWriter, requireManage, storedDescription, type ExemptionRow, type ResolvedScope } from './policy-writer';

const PROVIDER_PREFIX: Record<CloudProvider, string> = {
  AZURE_SUBSCRIPTION: 'azure',
  AWS_ACCOUNT: 'aws',
  GCP_PROJECT: 'gcp',
};
const PREFIX_PROVIDER = Object.fromEntries(Object.entries(PROVIDER_PREFIX).map(([k, v]) => [v, k])) as Record<
  string,
  CloudProvider
>;

/** One import is one transaction: its size is bounded so it finishes well inside the transaction's time. */
export const POLICY_IMPORT_LIMITS = { maxCharacters: 1_000_000, maxDocuments: 100 } as const;

export type ImportChange = 'CREATED' | 'UPDATED' | 'UNCHANGED';

export interface ImportOutcome {
  readonly dryRun: boolean;
  readonly changes: Array<{
    name: string;
    change: ImportChange;
    policyId: string | null;
    version: number | null;
    changedFields: string[];
  }>;
}

/** Thrown inside the transaction of a dry run, so nothing it did is kept. */
class DryRunRollback extends Error {
  constructor(readonly outcome: ImportOutcome) {
    super('dry run');
  }
}

/** What an import compares: a policy as its file describes it. */
interface Comparable {
  description: string;
  action: string;
  cloudScopes: string[];
  clusters: string[];
  include: string[];
  exclude: string[];
  rules: Array<{ id: string; params: unknown }>;
  exemptions: unknown[];
}

/**
 * Policy as code: export in the policy-file format `portcullis eval -p` reads, and
 * import all or nothing — every document validated and applied in one transaction,
 * with a dry run that reports what would change and keeps nothing.
 */
@Injectable()
export class PolicyAsCodeService {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
    private readonly writer: PolicyWriter,
    private readonly events: DomainEvents,
  ) {}

  export(principal: Principal, ids: readonly string[] | undefined): Promise<string> {
    const view = Visibility.of(principal);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.policy.findMany({
        where: { AND: [view.policies(), ids?.length ? { id: { in: [...ids] } } : {}] },
        include: policyInclude,
        orderBy: { name: 'asc' },
      });
      if (ids?.length) {
        const i = ids.findIndex((id) => !rows.some((r) => r.id === id));
        if (i >= 0) throw badInput(`ids[${i}]`, `ids[${i}]: policy ${ids[i]} does not exist`);
      }
      // a file naming only part of a policy's scope would narrow the policy if imported again:
      // a policy reaching scopes the caller cannot read is exported whole or not at all
      const partial = rows.findIndex((r) => !readableWhole(r, view));
      if (ids?.length && partial >= 0) {
        const i = ids.indexOf(rows[partial]!.id);
        throw badInput(
          `ids[${i}]`,
          `ids[${i}]: policy "${rows[partial]!.name}" also covers cloud scopes you cannot read; it can only be exported by a reader of all of them`,
        );
      }
      // rendered policy by policy, yielding the event loop between slices: 100 policies are
      // ~50-90 ms of YAML, which in one stretch would hold every other tenant's request
      return joinPolicyDocuments(
        await mapSliced(
          rows.filter((r) => readableWhole(r, view)),
          (r) => serializePolicyDocument(toEnginePolicy(r, view)),
        ),
      );
    });
  }

  async import(principal: Principal, document: string, dryRun: boolean): Promise<ImportOutcome> {
    if (document.length > POLICY_IMPORT_LIMITS.maxCharacters)
      throw badInput(
        'document',
        `document: a policy file is limited to ${POLICY_IMPORT_LIMITS.maxCharacters} characters`,
      );
    const parsed = parsePolicyDocuments(document, 'document', { maxDocuments: POLICY_IMPORT_LIMITS.maxDocuments });
    if (!parsed.ok) {
      const first = parsed.errors[0]!;
      const more =
        parsed.errors.length > 1
          ? ` (and ${parsed.errors.length - 1} more: ${parsed.errors
              .slice(1, 4)
              .map((e) => e.message)
              .join('; ')})`
          : '';
      throw badInput(
        first.field === '(document)' ? 'document' : `document[${first.document}].${first.field}`,
        `${first.message}${more}`,
      );
    }
    const events: RecordedEvent[] = [];
    try {
      const outcome = await this.db.run(principal, async (tx) => {
        const changes: ImportOutcome['changes'] = [];
        for (const [index, doc] of parsed.policies.entries())
          changes.push(await this.apply(tx, principal, doc, index, events));
        const result = { dryRun, changes };
        if (dryRun) throw new DryRunRollback(result);
        return result;
      });
      await this.events.publish(events);
      return outcome;
    } catch (err) {
      if (err instanceof DryRunRollback) return err.outcome;
      throw err;
    }
  }

  private async apply(
    tx: TenantTx,
    principal: Principal,
    doc: EnginePolicy,
    index: number,
    events: RecordedEvent[],
  ): Promise<ImportOutcome['changes'][number]> {
    const field = (f: string) => `document[${index}].${f}`;
    const scope = await this.resolveRefs(tx, principal, doc, index);
    const rules = composeRules(
      doc.type,
      [],
      doc.rules.map((r) => ({ ruleId: r.id, enabled: true, params: r.params })),
    );
    const exemptions = doc.exemptions.map((e, i) => exemptionRow(e, field(`spec.exemptions[${i}]`), doc.type));
    // compared as it would be stored, so a file differing only by surrounding spaces is UNCHANGED
    const description = storedDescription(doc.description ?? '', field('metadata.description'));
    const existing = await tx.policy.findUnique({
      where: { tenantId_name: { tenantId: principal.tenantId, name: doc.name } },
      include: policyInclude,
    });
    requireManage(principal, scope.covered);
    const desired = comparable(description, doc.action, scope, rules, exemptions);

    if (!existing) {
      const { row, event } = await inDocument(index, () =>
        this.writer.create(tx, principal, {
          name: doc.name,
          description,
          type: doc.type,
          action: doc.action,
          scope,
          rules,
          exemptions,
        }),
      );
      events.push(event);
      return { name: doc.name, change: 'CREATED', policyId: row.id, version: row.version, changedFields: [] };
    }

    if (existing.type !== doc.type)
      throw badInput(
        field('spec.type'),
        `${field('spec.type')}: policy "${doc.name}" exists as a ${existing.type} policy`,
      );
    requireManage(principal, coveredScopeIds(existing));
    const current = comparable(
      existing.description,
      existing.action,
      fromRow(existing),
      existing.rules.map(storedRule),
      existing.exemptions.map(storedExemption),
    );
    const changed = (Object.keys(desired) as Array<keyof Comparable>).filter(
      (k) => JSON.stringify(desired[k]) !== JSON.stringify(current[k]),
    );
    if (changed.length === 0)
      return {
        name: doc.name,
        change: 'UNCHANGED',
        policyId: existing.id,
        version: existing.version,
        changedFields: [],
      };
    if (existing.isDefault) {
      const locked = changed.filter((k) =>
        ['description', 'cloudScopes', 'clusters', 'include', 'exclude'].includes(k),
      );
      if (locked.length)
        throw badInput(
          field(locked[0] === 'description' ? 'metadata.description' : 'spec.scope'),
          `${field('spec')}: "${doc.name}" is a default policy; only its action and rules can change (the file changes ${locked.join(', ')})`,
        );
    }
    const { row, event } = await inDocument(index, () =>
      this.writer.update(tx, principal, existing, {
        version: existing.version,
        description,
        action: doc.action,
        scope,
        rules,
        exemptions,
      }),
    );
    events.push(event);
    return { name: doc.name, change: 'UPDATED', policyId: existing.id, version: row.version, changedFields: changed };
  }

  /** `aws:123456789012`-style cloud scope references and cluster names, resolved in the tenant. */
  private async resolveRefs(
    tx: TenantTx,
    principal: Principal,
    doc: EnginePolicy,
    index: number,
  ): Promise<ResolvedScope> {
    const field = (f: string) => `document[${index}].${f}`;
    // a scope or cluster the caller cannot read is refused like one the tenant does not have
    const view = Visibility.of(principal);
    const scopeIds: string[] = [];
    for (const [i, ref] of (doc.cloudScopes ?? []).entries()) {
      const [prefix, ...rest] = ref.split(':');
      const provider = PREFIX_PROVIDER[prefix ?? ''];
      const externalId = rest.join(':');
      const found = provider
        ? await tx.cloudScope.findUnique({
            where: {
              tenantId_provider_externalId: {
                tenantId: principal.tenantId,
                provider,
                externalId: provider === 'AZURE_SUBSCRIPTION' ? externalId.toLowerCase() : externalId,
              },
            },
          })
        : null;
      if (!found || !view.canRead(found.id))
        throw badInput(
          field(`spec.scope.cloudScopes[${i}]`),
          `${field(`spec.scope.cloudScopes[${i}]`)}: "${ref}" is not a cloud scope of this tenant (write aws:<account>, azure:<subscription> or gcp:<project>)`,
        );
      scopeIds.push(found.id);
    }
    const clusterIds: string[] = [];
    for (const [i, name] of (doc.clusters ?? []).entries()) {
      const found = await tx.cluster.findFirst({ where: { AND: [{ name }, view.clusters()] } });
      if (!found)
        throw badInput(
          field(`spec.scope.clusters[${i}]`),
          `${field(`spec.scope.clusters[${i}]`)}: no cluster named "${name}" in this tenant`,
        );
      clusterIds.push(found.id);
    }
    return inDocument(index, () =>
      this.policies.resolveScope(tx, principal, {
        cloudScopeIds: scopeIds,
        clusterIds,
        namespaces: { include: [...doc.namespaces.include], exclude: [...doc.namespaces.exclude] },
      }),
    );
  }
}

/** Where a field of the API's policy inputs is in a policy document; unlisted: the same path, under the document. */
const DOCUMENT_FIELD: Readonly<Record<string, string | null>> = {
  name: 'metadata.name',
  description: 'metadata.description',
  version: null,
};

/** An error naming an input field, re-addressed to document `index` of the import (same code). */
async function inDocument<T>(index: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof DomainError) || !err.field) throw err;
    const sub = Object.hasOwn(DOCUMENT_FIELD, err.field) ? DOCUMENT_FIELD[err.field] : err.field;
    const where = sub ? `document[${index}].${sub}` : `document[${index}]`;
    const text = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    throw new DomainError(err.code, `${where}: ${text}`, where, err.details);
  }
}

function readableWhole(row: PolicyRow, view: Visibility): boolean {
  return (
    row.cloudScopes.every((s) => view.canRead(s.cloudScopeId)) &&
    row.clusters.every((c) => view.canRead(c.cluster.cloudScopeId))
  );
}

function fromRow(row: PolicyRow): ResolvedScope {
  const { cloudScopeIds, clusterIds } = policyScopeOf(row);
  return {
    cloudScopeIds: [...cloudScopeIds],
    clusterIds: [...clusterIds],
    include: row.namespaceInclude,
    exclude: row.namespaceExclude,
    covered: coveredScopeIds(row),
  };
}

function exemptionRow(e: Omit<Exemption, 'id'>, field: string, type: string): ExemptionRow {
  if (e.cves?.length && type !== 'VULNERABILITY')
    throw badInput(`${field}.cves`, `${field}.cves: CVE exemptions belong to VULNERABILITY policies`);
  const criteria: ExemptionCriteria = {
    namespaces: [...(e.namespaces ?? [])],
    kinds: [...(e.kinds ?? [])],
    names: [...(e.names ?? [])],
    images: [...(e.images ?? [])],
    labelSelector: e.labelSelector ? { ...e.labelSelector } : null,
    cves: [...(e.cves ?? [])],
    rules: [...(e.rules ?? [])],
    match: e.match as ExemptionCriteria['match'],
  };
  return {
    criteria: criteria as unknown as Prisma.InputJsonValue,
    reason: e.reason,
    grantedBy: e.grantedBy,
    expiresAt: e.expiresAt ? new Date(e.expiresAt) : null,
  };
}

function storedExemption(e: PolicyRow['exemptions'][number]): ExemptionRow {
  return {
    criteria: e.criteria as Prisma.InputJsonValue,
    reason: e.reason,
    grantedBy: e.grantedBy,
    expiresAt: e.expiresAt,
  };
}

function comparable(
  description: string,
  action: string,
  scope: ResolvedScope,
  rules: readonly StoredRule[],
  exemptions: readonly ExemptionRow[],
): Comparable {
  return {
    description,
    action,
    cloudScopes: [...scope.cloudScopeIds].sort(),
    clusters: [...scope.clusterIds].sort(),
    include: [...scope.include],
    exclude: [...scope.exclude],
    rules: rules
      .filter((r) => r.enabled)
      .map((r) => ({ id: r.ruleId, params: sortKeys(r.params) }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    exemptions: exemptions.map((e) =>
      sortKeys({
        ...(e.criteria as object),
        reason: e.reason,
        grantedBy: e.grantedBy,
        expiresAt: e.expiresAt?.toISOString() ?? null,
      }),
    ),
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  return value;
}

/** A stored policy as the engine and the policy file see it. */
export function toEnginePolicy(row: PolicyRow, view: Visibility): EnginePolicy {
  const p = toPolicy(row, new Date(), view);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    action: row.action,
    cloudScopes: p.scope.cloudScopes.map((s) => `${PROVIDER_PREFIX[s.provider]}:${s.externalId}`),
    clusters: p.scope.clusters.map((c) => c.name),
    namespaces: p.scope.namespaces,
    rules: p.rules.filter((r) => r.enabled).map((r) => ({ id: r.ruleId, params: r.params })),
    exemptions: p.exemptions.map((e) => ({
      id: e.id,
      namespaces: e.namespaces,
      kinds: e.kinds,
      names: e.names,
      images: e.images,
      labelSelector: e.labelSelector,
      cves: e.cves,
      rules: e.rules,
      match: e.match,
      reason: e.reason,
      grantedBy: e.grantedBy,
      expiresAt: e.expiresAt?.toISOString() ?? null,
    })),
  };
}
