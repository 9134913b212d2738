import { Inject, Injectable } from '@nestjs/common';
import type { Prisma, TenantTx } from '@portcullis/db';
import { storedPolicyName } from '@portcullis/policy-engine';
import { CLOCK, badInput, type Clock } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { DomainEvents } from '../events/domain-events';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { auditSnapshot, coveredScopeIds, loadPolicy, policyInclude, toPolicy, type PolicyRow } from './policy.mapper';
import { composeRules, patchRules, validateNamespacePatterns, type StoredRule } from './policy-rules';
import type { CreatePolicyInput, PoliciesArgs, Policy, PolicyScopeInput, UpdatePolicyInput } from './policy.types';
import { containingAnyCase } from '../platform/substring-filter';
import { PolicyWriter, checkVersion, requireManage, type ResolvedScope } from './policy-writer';

/** Policies: CRUD with per-cloud-scope authorisation; creates and updates are written by PolicyWriter. */
@Injectable()
export class PolicyService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly events: DomainEvents,
    private readonly writer: PolicyWriter,
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
        where: after
          ? { AND: [where, { OR: [{ name: { gt: after.key } }, { name: after.key, id: { gt: after.id } }] }] }
          : where,
        include: policyInclude,
        orderBy: [{ name: 'asc' }, { id: 'asc' }],
        take: size + 1,
      });
      const total = await tx.policy.count({ where });
      const now = this.clock.now();
      return toConnection(
        rows,
        size,
        total,
        (r) => ({ key: r.name, id: r.id }),
        (r) => toPolicy(r, now, view),
      );
    });
  }

  get(principal: Principal, id: string): Promise<Policy> {
    return this.db.run(principal, async (tx) =>
      toPolicy(await this.load(tx, principal, id), this.clock.now(), Visibility.of(principal)),
    );
  }

  async create(principal: Principal, input: CreatePolicyInput): Promise<Policy> {
    const rules = composeRules(input.type, input.presets, input.rules);
    const { policy, event } = await this.db.run(principal, async (tx) => {
      const scope = await this.resolveScope(tx, principal, input.scope);
      const { row, event } = await this.writer.create(tx, principal, {
        name: input.name,
        description: input.description,
        type: input.type,
        action: input.action,
        scope,
        rules,
      });
      return { policy: toPolicy(row, this.clock.now(), Visibility.of(principal)), event };
    });
    await this.events.publish([event]);
    return policy;
  }

  async update(principal: Principal, id: string, input: UpdatePolicyInput): Promise<Policy> {
    const { policy, event } = await this.db.run(principal, async (tx) => {
      const current = await this.load(tx, principal, id);
      requireManage(principal, coveredScopeIds(current));
      checkVersion(current, input.version);
      if (current.isDefault) refuseDefaultChanges(current, input);
      const scope = input.scope ? await this.resolveScope(tx, principal, input.scope) : undefined;
      if (scope) requireManage(principal, scope.covered);
      const rules = input.rules ? patchRules(current.type, current.rules.map(storedRule), input.rules) : undefined;
      const { row, event } = await this.writer.update(tx, principal, current, {
        version: input.version,
        name: input.name,
        description: input.description,
        action: input.action,
        scope,
        rules,
      });
      return { policy: toPolicy(row, this.clock.now(), Visibility.of(principal)), event };
    });
    await this.events.publish([event]);
    return policy;
  }

  async delete(principal: Principal, id: string, version: number | undefined): Promise<Policy> {
    const { policy, events } = await this.db.run(principal, async (tx) => {
      const current = await this.load(tx, principal, id);
      requireManage(principal, coveredScopeIds(current));
      if (current.isDefault)
        throw badInput(
          'id',
          `"${current.name}" is a default policy of the tenant and cannot be deleted; set it to AUDIT or disable its rules instead`,
        );
      if (version !== undefined) checkVersion(current, version);
      await tx.policy.delete({ where: { id } });
      const now = this.clock.now();
      const policy = toPolicy(current, now, Visibility.of(principal));
      await this.audit.record(tx, principal, {
        action: 'policy.delete',
        targetType: 'Policy',
        targetId: id,
        before: auditSnapshot(current, now),
      });
      const event = await this.events.record(tx, principal.tenantId, 'policy.deleted', {
        policyId: id,
        cloudScopeIds: coveredScopeIds(current),
        clusterIds: current.clusters.map((c) => c.clusterId),
      });
      return { policy, events: [event] };
    });
    await this.events.publish(events);
    return policy;
  }

  /** Loads a policy the caller can read; a policy it cannot read does not exist for it. */
  load(tx: TenantTx, principal: Principal, id: string): Promise<PolicyRow> {
    return loadPolicy(tx, principal, id);
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
    const scopes = cloudScopeIds.length
      ? await tx.cloudScope.findMany({
          where: { AND: [{ id: { in: cloudScopeIds } }, view.cloudScopes()] },
          select: { id: true },
        })
      : [];
    cloudScopeIds.forEach((sid, i) => {
      if (!scopes.some((s) => s.id === sid))
        throw badInput(`scope.cloudScopeIds[${i}]`, `scope.cloudScopeIds[${i}]: cloud scope ${sid} does not exist`);
    });
    const clusters = clusterIds.length
      ? await tx.cluster.findMany({
          where: { AND: [{ id: { in: clusterIds } }, view.clusters()] },
          select: { id: true, cloudScopeId: true, name: true },
        })
      : [];
    clusterIds.forEach((cid, i) => {
      const c = clusters.find((x) => x.id === cid);
      if (!c) throw badInput(`scope.clusterIds[${i}]`, `scope.clusterIds[${i}]: cluster ${cid} does not exist`);
      if (cloudScopeIds.length && !cloudScopeIds.includes(c.cloudScopeId)) {
        throw badInput(
          `scope.clusterIds[${i}]`,
          `scope.clusterIds[${i}]: cluster ${c.name} is not in any of the policy's cloud scopes`,
        );
      }
    });
    const covered = cloudScopeIds.length ? cloudScopeIds : [...new Set(clusters.map((c) => c.cloudScopeId))];
    return { cloudScopeIds, clusterIds, include, exclude, covered };
  }
}

export function storedRule(r: PolicyRow['rules'][number]): StoredRule {
  return { ruleId: r.ruleId, enabled: r.enabled, params: r.params as Record<string, unknown> };
}

function refuseDefaultChanges(
  current: PolicyRow,
  input: { name?: string; description?: string; scope?: unknown },
): void {
  const what =
    input.name !== undefined && storedPolicyName(input.name) !== current.name
      ? 'name'
      : input.description !== undefined && input.description.trim() !== current.description
        ? 'description'
        : input.scope !== undefined
          ? 'scope'
          : undefined;
  if (what)
    throw badInput(what, `${what}: "${current.name}" is a default policy; only its action and rules can change`);
}
