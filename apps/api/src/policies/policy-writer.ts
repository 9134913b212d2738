import { Inject, Injectable } from '@nestjs/common';
import type { PolicyAction, PolicyType, Prisma, TenantTx } from '@portcullis/db';
import { storedPolicyName } from '@portcullis/policy-engine';
import { CLOCK, badInput, conflict, forbidden, isUniqueViolation, type Clock } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { DomainEvents, type RecordedEvent } from '../events/domain-events';
import type { Principal } from '../tenancy/principal';
import { auditSnapshot, coveredScopeIds, loadPolicy, policyInclude, type PolicyRow } from './policy.mapper';
import type { StoredRule } from './policy-rules';
import { POLICY_DESCRIPTION_MAX } from './policy.types';

/** A policy scope validated against what the caller reads (PolicyService.resolveScope). */
export interface ResolvedScope {
  readonly cloudScopeIds: string[];
  readonly clusterIds: string[];
  readonly include: string[];
  readonly exclude: string[];
  /** Cloud scopes the policy covers ([] = tenant-wide). */
  readonly covered: string[];
}

/** An exemption as policy_exemptions stores it. */
export interface ExemptionRow {
  readonly criteria: Prisma.InputJsonValue;
  readonly reason: string;
  readonly grantedBy: string;
  readonly expiresAt: Date | null;
}

/** A new policy: rules composed and validated, scope resolved. */
export interface PolicyDraft {
  readonly name: string;
  readonly description: string;
  readonly type: PolicyType;
  readonly action: PolicyAction;
  readonly scope: ResolvedScope;
  readonly rules: readonly StoredRule[];
  readonly exemptions?: readonly ExemptionRow[];
}

/** A change to a stored policy at `version`; what is undefined is kept. */
export interface PolicyChange {
  readonly version: number;
  readonly name?: string;
  readonly description?: string;
  readonly action?: PolicyAction;
  readonly scope?: ResolvedScope;
  readonly rules?: readonly StoredRule[];
  readonly exemptions?: readonly ExemptionRow[];
}

export interface PolicyWrite {
  readonly row: PolicyRow;
  readonly event: RecordedEvent;
}

/** The description as stored: trimmed, bounded. */
export function storedDescription(description: string, field = 'description'): string {
  const text = description.trim();
  if (text.length > POLICY_DESCRIPTION_MAX)
    throw badInput(
      field,
      `${field}: a policy description is at most ${POLICY_DESCRIPTION_MAX} characters (this one has ${text.length})`,
    );
  return text;
}

/** Write access is checked on every cloud scope a policy covers; none = tenant level. */
export function requireManage(principal: Principal, covered: readonly string[]): void {
  if (!principal.canOnScopes('manage', covered)) {
    throw forbidden(
      covered.length === 0
        ? 'a tenant-wide policy needs SECURITY_ADMIN or OWNER at tenant level'
        : 'this policy covers a cloud scope where you are not SECURITY_ADMIN or OWNER',
    );
  }
}

export function checkVersion(current: PolicyRow, version: number): void {
  if (current.version !== version) throw staleVersion(current, version);
}

/**
 * The one way a policy is created or changed, whether by createPolicy/updatePolicy or by a
 * policy-file import: the same normalisation, the same authorisation on the old and new
 * scope, optimistic concurrency, the same audit entry and the same outbox event (which
 * names every cluster the policy reached before or reaches now, so none keeps a stale bundle).
 * Runs in the caller's transaction; the caller publishes the event after commit.
 */
@Injectable()
export class PolicyWriter {
  constructor(
    private readonly audit: AuditLogWriter,
    private readonly events: DomainEvents,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(tx: TenantTx, principal: Principal, draft: PolicyDraft): Promise<PolicyWrite> {
    const { tenantId } = principal;
    const { scope } = draft;
    requireManage(principal, scope.covered);
    const name = storedPolicyName(draft.name);
    const row = await uniqueName(name, () =>
      tx.policy.create({
        data: {
          tenantId,
          name,
          description: storedDescription(draft.description),
          type: draft.type,
          action: draft.action,
          namespaceInclude: scope.include,
          namespaceExclude: scope.exclude,
          createdBy: principal.objectId,
          updatedBy: principal.objectId,
          rules: { create: draft.rules.map((r) => ruleRow(tenantId, r)) },
          cloudScopes: { create: scope.cloudScopeIds.map((cloudScopeId) => ({ cloudScopeId, tenantId })) },
          clusters: { create: scope.clusterIds.map((clusterId) => ({ clusterId, tenantId })) },
          ...(draft.exemptions?.length
            ? { exemptions: { create: draft.exemptions.map((e) => ({ ...e, tenantId })) } }
            : {}),
        },
        include: policyInclude,
      }),
    );
    await this.audit.record(tx, principal, {
      action: 'policy.create',
      targetType: 'Policy',
      targetId: row.id,
      after: auditSnapshot(row, this.clock.now()),
    });
    const event = await this.events.record(tx, tenantId, 'policy.created', {
      policyId: row.id,
      cloudScopeIds: scope.covered,
      clusterIds: scope.clusterIds,
    });
    return { row, event };
  }

  async update(tx: TenantTx, principal: Principal, current: PolicyRow, change: PolicyChange): Promise<PolicyWrite> {
    const { tenantId } = principal;
    const { id } = current;
    const { scope } = change;
    requireManage(principal, coveredScopeIds(current));
    if (scope) requireManage(principal, scope.covered);
    checkVersion(current, change.version);
    const name = change.name !== undefined ? storedPolicyName(change.name) : undefined;
    const bumped = await uniqueName(name ?? current.name, () =>
      tx.policy.updateMany({
        where: { id, version: change.version },
        data: {
          version: { increment: 1 },
          updatedBy: principal.objectId,
          ...(name !== undefined ? { name } : {}),
          ...(change.description !== undefined ? { description: storedDescription(change.description) } : {}),
          ...(change.action !== undefined ? { action: change.action } : {}),
          ...(scope ? { namespaceInclude: scope.include, namespaceExclude: scope.exclude } : {}),
        },
      }),
    );
    // a concurrent writer moved the version between our read and this write
    if (bumped.count !== 1) throw staleVersion(current, change.version);
    if (scope) await replaceScope(tx, tenantId, id, scope);
    if (change.rules) await replaceRules(tx, tenantId, id, change.rules);
    if (change.exemptions) {
      await tx.policyExemption.deleteMany({ where: { policyId: id } });
      if (change.exemptions.length)
        await tx.policyExemption.createMany({ data: change.exemptions.map((e) => ({ ...e, policyId: id, tenantId })) });
    }
    const row = await loadPolicy(tx, principal, id);
    const now = this.clock.now();
    await this.audit.record(tx, principal, {
      action: 'policy.update',
      targetType: 'Policy',
      targetId: id,
      before: auditSnapshot(current, now),
      after: auditSnapshot(row, now),
    });
    const before = coveredScopeIds(current);
    const after = scope?.covered ?? before;
    const event = await this.events.record(tx, tenantId, 'policy.updated', {
      policyId: id,
      // tenant-wide before or after: every cluster of the tenant may gain or lose the policy
      cloudScopeIds: before.length === 0 || after.length === 0 ? [] : [...new Set([...before, ...after])],
      clusterIds: [...new Set([...current.clusters.map((c) => c.clusterId), ...(scope?.clusterIds ?? [])])],
    });
    return { row, event };
  }
}

/** A duplicate name is CONFLICT on `name`, not a database error. */
async function uniqueName<T>(name: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('name', `name: a policy named "${name}" already exists in this tenant`);
    throw err;
  }
}

function ruleRow(tenantId: string, r: StoredRule) {
  return { tenantId, ruleId: r.ruleId, enabled: r.enabled, params: r.params as Prisma.InputJsonValue };
}

async function replaceRules(
  tx: TenantTx,
  tenantId: string,
  policyId: string,
  rules: readonly StoredRule[],
): Promise<void> {
  await tx.policyRule.deleteMany({ where: { policyId } });
  await tx.policyRule.createMany({ data: rules.map((r) => ({ policyId, ...ruleRow(tenantId, r) })) });
}

async function replaceScope(tx: TenantTx, tenantId: string, policyId: string, scope: ResolvedScope): Promise<void> {
  await tx.policyCloudScope.deleteMany({ where: { policyId } });
  await tx.policyCluster.deleteMany({ where: { policyId } });
  if (scope.cloudScopeIds.length)
    await tx.policyCloudScope.createMany({
      data: scope.cloudScopeIds.map((cloudScopeId) => ({ policyId, cloudScopeId, tenantId })),
    });
  if (scope.clusterIds.length)
    await tx.policyCluster.createMany({
      data: scope.clusterIds.map((clusterId) => ({ policyId, clusterId, tenantId })),
    });
}

function staleVersion(current: PolicyRow, version: number) {
  return conflict(
    'version',
    `version: policy "${current.name}" is at version ${current.version} (changed by ${current.updatedBy} at ${current.updatedAt.toISOString()}), not ${version}; reload it and apply your change again`,
  );
}
