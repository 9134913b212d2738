import { Inject, Injectable } from '@nestjs/common';
import type { Prisma, TenantTx } from '@portcullis/db';
import { storedPolicyName } from '@portcullis/policy-engine';
import { CLOCK, badInput, conflict, forbidden, isUniqueViolation, type Clock } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { DomainEvents } from '../events/domain-events';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import { auditSnapshot, coveredScopeIds, policyInclude, toPolicy, type PolicyRow } from './policy.mapper';
import { composeRules, patchRules, validateNamespacePatterns, type StoredRule } from './policy-rules';
import type { CreatePolicyInput, PoliciesArgs, Policy, PolicyScopeInput, UpdatePolicyInput } from './policy.types';
import { containingAnyCase } from '../platform/substring-filter';

export interface ResolvedScope {
  readonly cloudScopeIds: string[];
  readonly clusterIds: string[];
  readonly include: string[];
  readonly exclude: string[];
  /** Cloud scopes the policy covers ([] = tenant-wide). */
  readonly covered: string[];
}

/** Policies: CRUD with per-cloud-scope authorisation, optimistic concurrency, audit and outbox events. */
@Injectable()
export class PolicyService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly events: DomainEvents,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  list(principal: Principal, args: PoliciesArgs): Promise<Connection<Policy>> {
    const f = args.filter ?? {};
    const view = Visibility.of(principal);
    // readers see tenant-wide policies and those touching a scope they read; the scope filter narrows that
    const where: Prisma.PolicyWhereInput = {
      AND: [
        view.policies(f.cloudScopeId),
        f.type ? { type: f.type } : {},
        f.action ? { action: f.action } : {},
        f.name ? { name: containingAnyCase(f.name) } : {},
      ],
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      // one connection per transaction: statements run one after the other
      const rows = await tx.policy.findMany({
          where: after ? { AND: [where, { OR: [{ name: { gt: after.key } }, { name: after.key, id: { gt: after.id } }] }] } : where,
          include: policyInclude,
          orderBy: [{ name: 'asc' }, { id: 'asc' }],
          take: size + 1,
        });
      const total = await tx.policy.count({ where });
      const now = this.clock.now();
      return toConnection(rows, size, total, (r) => ({ key: r.name, id: r.id }), (r) => toPolicy(r, now, view));
    });
  }

  get(principal: Principal, id: string): Promise<Policy> {
    return this.db.run(principal, async (tx) => toPolicy(await this.load(tx, principal, id), this.clock.now(), Visibility.of(principal)));
  }

  async create(principal: Principal, input: CreatePolicyInput): Promise<Policy> {
    const rules = composeRules(input.type, input.presets, input.rules);
    const { policy, events } = await this.mutate(principal, input.name, async (tx) => {
      const scope = await this.resolveScope(tx, principal, input.scope);
      this.requireManage(principal, scope.covered);
      const row = await tx.policy.create({
        data: {
          tenantId: principal.tenantId,
          name: storedPolicyName(input.name),
          description: input.description.trim(),
          type: input.type,
          action: input.action,
          namespaceInclude: scope.include,
          namespaceExclude: scope.exclude,
          createdBy: principal.objectId,
          updatedBy: principal.objectId,
          rules: { create: rules.map((r) => ruleRow(principal.tenantId, r)) },
          cloudScopes: { create: scope.cloudScopeIds.map((cloudScopeId) => ({ cloudScopeId, tenantId: principal.tenantId })) },
          clusters: { create: scope.clusterIds.map((clusterId) => ({ clusterId, tenantId: principal.tenantId })) },
        },
        include: policyInclude,
      });
      const now = this.clock.now();
      const policy = toPolicy(row, now, Visibility.of(principal));
      await this.audit.record(tx, principal, { action: 'policy.create', targetType: 'Policy', targetId: row.id, after: auditSnapshot(row, now) });
      const event = await this.events.record(tx, principal.tenantId, 'policy.created', { policyId: row.id, cloudScopeIds: scope.covered, clusterIds: scope.clusterIds });
      return { policy, events: [event] };
    });
    await this.events.publish(events);
    return policy;
  }

  async update(principal: Principal, id: string, input: UpdatePolicyInput): Promise<Policy> {
    const { policy, events } = await this.mutate(principal, input.name ?? '', async (tx) => {
      const current = await this.load(tx, principal, id);
      this.requireManage(principal, coveredScopeIds(current));
      checkVersion(current, input.version);
      if (current.isDefault) refuseDefaultChanges(current, input);
      const scope = input.scope ? await this.resolveScope(tx, principal, input.scope) : undefined;
      if (scope) this.requireManage(principal, scope.covered);
      const rules = input.rules ? patchRules(current.type, current.rules.map(storedRule), input.rules) : undefined;

      const bumped = await tx.policy.updateMany({
        where: { id, version: input.version },
        data: {
          version: { increment: 1 },
          updatedBy: principal.objectId,
          ...(input.name !== undefined ? { name: storedPolicyName(input.name) } : {}),
          ...(input.description !== undefined ? { description: input.description.trim() } : {}),
          ...(input.action !== undefined ? { action: input.action } : {}),
          ...(scope ? { namespaceInclude: scope.include, namespaceExclude: scope.exclude } : {}),
        },
      });
      if (bumped.count !== 1) throw staleVersion(current, input.version);
      if (scope) await this.replaceScope(tx, principal.tenantId, id, scope);
      if (rules) await replaceRules(tx, principal.tenantId, id, rules);
      const now = this.clock.now();
      const updated = await this.load(tx, principal, id);
      await this.audit.record(tx, principal, { action: 'policy.update', targetType: 'Policy', targetId: id, before: auditSnapshot(current, now), after: auditSnapshot(updated, now) });
      const event = await this.events.record(tx, principal.tenantId, 'policy.updated', {
        policyId: id,
        cloudScopeIds: union(coveredScopeIds(current), scope?.covered ?? coveredScopeIds(current), coveredScopeIds(current).length === 0 || scope?.covered.length === 0),
        clusterIds: [...new Set([...current.clusters.map((c) => c.clusterId), ...(scope?.clusterIds ?? [])])],
      });
      return { policy: toPolicy(updated, now, Visibility.of(principal)), events: [event] };
    });
    await this.events.publish(events);
    return policy;
  }

  async delete(principal: Principal, id: string, version: number | undefined): Promise<Policy> {
    const { policy, events } = await this.mutate(principal, '', async (tx) => {
      const current = await this.load(tx, principal, id);
      this.requireManage(principal, coveredScopeIds(current));
      if (current.isDefault) throw badInput('id', `"${current.name}" is a default policy of the tenant and cannot be deleted; set it to AUDIT or disable its rules instead`);
      if (version !== undefined) checkVersion(current, version);
      await tx.policy.delete({ where: { id } });
      const now = this.clock.now();
      const policy = toPolicy(current, now, Visibility.of(principal));
      await this.audit.record(tx, principal, { action: 'policy.delete', targetType: 'Policy', targetId: id, before: auditSnapshot(current, now) });
      const event = await this.events.record(tx, principal.tenantId, 'policy.deleted', { policyId: id, cloudScopeIds: coveredScopeIds(current), clusterIds: current.clusters.map((c) => c.clusterId) });
      return { policy, events: [event] };
    });
    await this.events.publish(events);
    return policy;
  }

  /** Loads a policy the caller can read; a policy it cannot read does not exist for it. */
  async load(tx: TenantTx, principal: Principal, id: string): Promise<PolicyRow> {
    const row = await tx.policy.findFirst({ where: { AND: [{ id }, Visibility.of(principal).policies()] }, include: policyInclude });
    if (!row) throw hidden('policy', id);
    return row;
  }

  requireManage(principal: Principal, covered: readonly string[]): void {
    if (!principal.canOnScopes('manage', covered)) {
      throw forbidden(
        covered.length === 0
          ? 'a tenant-wide policy needs SECURITY_ADMIN or OWNER at tenant level'
          : 'this policy covers a cloud scope where you are not SECURITY_ADMIN or OWNER',
      );
    }
  }

  /**
   * Validates a scope input against the cloud scopes and clusters the caller reads: one it
   * cannot read is refused like one that does not exist, and no error names it.
   */
  async resolveScope(tx: TenantTx, principal: Principal, input: PolicyScopeInput | undefined): Promise<ResolvedScope> {
    const view = Visibility.of(principal);
    const cloudScopeIds = [...new Set(input?.cloudScopeIds ?? [])];
    const clusterIds = [...new Set(input?.clusterIds ?? [])];
    const include = validateNamespacePatterns(input?.namespaces?.include ?? [], 'scope.namespaces.include');
    const exclude = validateNamespacePatterns(input?.namespaces?.exclude ?? [], 'scope.namespaces.exclude');
    const scopes = cloudScopeIds.length ? await tx.cloudScope.findMany({ where: { AND: [{ id: { in: cloudScopeIds } }, view.cloudScopes()] }, select: { id: true } }) : [];
    cloudScopeIds.forEach((sid, i) => {
      if (!scopes.some((s) => s.id === sid)) throw badInput(`scope.cloudScopeIds[${i}]`, `scope.cloudScopeIds[${i}]: cloud scope ${sid} does not exist`);
    });
    const clusters = clusterIds.length ? await tx.cluster.findMany({ where: { AND: [{ id: { in: clusterIds } }, view.clusters()] }, select: { id: true, cloudScopeId: true, name: true } }) : [];
    clusterIds.forEach((cid, i) => {
      const c = clusters.find((x) => x.id === cid);
      if (!c) throw badInput(`scope.clusterIds[${i}]`, `scope.clusterIds[${i}]: cluster ${cid} does not exist`);
      if (cloudScopeIds.length && !cloudScopeIds.includes(c.cloudScopeId)) {
        throw badInput(`scope.clusterIds[${i}]`, `scope.clusterIds[${i}]: cluster ${c.name} is not in any of the policy's cloud scopes`);
      }
    });
    const covered = cloudScopeIds.length ? cloudScopeIds : [...new Set(clusters.map((c) => c.cloudScopeId))];
    return { cloudScopeIds, clusterIds, include, exclude, covered };
  }

  async replaceScope(tx: TenantTx, tenantId: string, policyId: string, scope: ResolvedScope): Promise<void> {
    await tx.policyCloudScope.deleteMany({ where: { policyId } });
    await tx.policyCluster.deleteMany({ where: { policyId } });
    if (scope.cloudScopeIds.length) await tx.policyCloudScope.createMany({ data: scope.cloudScopeIds.map((cloudScopeId) => ({ policyId, cloudScopeId, tenantId })) });
    if (scope.clusterIds.length) await tx.policyCluster.createMany({ data: scope.clusterIds.map((clusterId) => ({ policyId, clusterId, tenantId })) });
  }

  /** One transaction; a duplicate name becomes CONFLICT on `name`. */
  private async mutate<T>(principal: Principal, name: string, work: (tx: TenantTx) => Promise<T>): Promise<T> {
    try {
      return await this.db.run(principal, work);
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('name', `name: a policy named "${name}" already exists in this tenant`);
      throw err;
    }
  }
}

export function storedRule(r: PolicyRow['rules'][number]): StoredRule {
  return { ruleId: r.ruleId, enabled: r.enabled, params: r.params as Record<string, unknown> };
}

export function ruleRow(tenantId: string, r: StoredRule) {
  return { tenantId, ruleId: r.ruleId, enabled: r.enabled, params: r.params as Prisma.InputJsonValue };
}

export async function replaceRules(tx: TenantTx, tenantId: string, policyId: string, rules: readonly StoredRule[]): Promise<void> {
  await tx.policyRule.deleteMany({ where: { policyId } });
  await tx.policyRule.createMany({ data: rules.map((r) => ({ policyId, ...ruleRow(tenantId, r) })) });
}

export function checkVersion(current: PolicyRow, version: number): void {
  if (current.version !== version) throw staleVersion(current, version);
}

function staleVersion(current: PolicyRow, version: number) {
  return conflict(
    'version',
    `version: policy "${current.name}" is at version ${current.version} (changed by ${current.updatedBy} at ${current.updatedAt.toISOString()}), not ${version}; reload it and apply your change again`,
  );
}

function refuseDefaultChanges(current: PolicyRow, input: { name?: string; description?: string; scope?: unknown }): void {
  const what = input.name !== undefined && storedPolicyName(input.name) !== current.name ? 'name' : input.description !== undefined && input.description.trim() !== current.description ? 'description' : input.scope !== undefined ? 'scope' : undefined;
  if (what) throw badInput(what, `${what}: "${current.name}" is a default policy; only its action and rules can change`);
}

function union(a: readonly string[], b: readonly string[], tenantWide: boolean): string[] {
  return tenantWide ? [] : [...new Set([...a, ...b])];
}

