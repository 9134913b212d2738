import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { Prisma, type TenantTx } from '@portcullis/db';
import { alertRulesChannel, THRESHOLD_RULE_KINDS } from '@portcullis/alert-rules';
import { findRule } from '@portcullis/policy-engine';
import {
  APP_CONFIG,
  LOGGER,
  REDIS,
  badInput,
  conflict,
  forbidden,
  isUniqueViolation,
  notFound,
  type Logger,
} from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { AuditLogWriter } from '../../audit/audit-log.writer';
import {
  decodeCursor,
  pageSize,
  toConnection,
  type Connection,
  NEWEST_FIRST,
  newestFirstAfter,
  newestFirstPosition,
} from '../../graphql/connection';
import type { AdmissionDecision } from '../../inventory/inventory.types';
import { validateNamespacePatterns } from '../../policies/policy-rules';
import type { Principal } from '../../tenancy/principal';
import { TenantDb } from '../../tenancy/tenant-db';
import { Visibility } from '../../tenancy/visibility';
import type {
  AlertRuleKind,
  AlertSeverity,
  AlertRule,
  AlertRuleFiltersInput,
  AlertRulesArgs,
  CreateAlertRuleInput,
  UpdateAlertRuleInput,
} from './alert-rule.types';

type Row = Prisma.AlertRuleGetPayload<{ include: { destinations: { select: { destinationId: true } } } }>;
const WITH_DESTINATIONS = { destinations: { select: { destinationId: true } } } as const;

interface Filters {
  cloudScopeIds: string[];
  clusterIds: string[];
  namespacePatterns: string[];
  policyIds: string[];
  ruleIds: string[];
  decisions: string[];
}

/**
 * Alert rules: managed by OWNER and SECURITY_ADMIN at tenant level (a rule may watch every
 * cluster and names tenant-wide destinations), listed by tenant-level readers, audited. Every
 * change is announced on the alert-rules channel after commit, so each API replica drops the
 * tenant's cached rules.
 */
@Injectable()
export class AlertRuleService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async list(principal: Principal, args: AlertRulesArgs): Promise<Connection<AlertRule>> {
    if (!principal.canTenantWide('read')) throw forbidden('alert rules are listed for tenant-level roles only');
    const where: Prisma.AlertRuleWhereInput = args.kind ? { kind: args.kind } : {};
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.alertRule.findMany({
        where: newestFirstAfter(where, after),
        include: WITH_DESTINATIONS,
        orderBy: NEWEST_FIRST,
        take: size + 1,
      });
      const total = await tx.alertRule.count({ where });
      return toConnection(rows, size, total, newestFirstPosition, toRule);
    });
  }

  async create(principal: Principal, input: CreateAlertRuleInput): Promise<AlertRule> {
    this.requireManager(principal);
    if ((THRESHOLD_RULE_KINDS as readonly string[]).includes(input.kind) && input.thresholdMinutes === undefined)
      throw badInput('thresholdMinutes', `thresholdMinutes: required for ${input.kind} rules`);
    const filters = normaliseFilters(input.filters);
    const destinationIds = uniqueIds(input.destinationIds);
    if (destinationIds.length === 0) throw badInput('destinationIds', 'destinationIds: name at least one destination');
    const rule = await this.db.run(principal, async (tx) => {
      await checkReferences(tx, Visibility.of(principal), filters, destinationIds);
      try {
        const row = await tx.alertRule.create({
          data: {
            tenantId: principal.tenantId,
            name: input.name.trim(),
            kind: input.kind,
            severity: input.severity,
            enabled: input.enabled,
            ...filters,
            thresholdMinutes: input.thresholdMinutes ?? null,
            readyAfterDays: input.readyAfterDays,
            digestSeconds: input.digestSeconds,
            createdBy: principal.objectId,
            destinations: {
              create: destinationIds.map((destinationId) => ({ destinationId, tenantId: principal.tenantId })),
            },
          },
          include: WITH_DESTINATIONS,
        });
        const rule = toRule(row);
        await this.audit.record(tx, principal, {
          action: 'alertRule.create',
          targetType: 'AlertRule',
          targetId: row.id,
          after: auditView(rule),
        });
        return rule;
      } catch (err) {
        throw isUniqueViolation(err) ? conflict('name', `an alert rule named "${input.name.trim()}" exists`) : err;
      }
    });
    await this.announce(principal.tenantId);
    return rule;
  }

  async update(principal: Principal, id: string, input: UpdateAlertRuleInput): Promise<AlertRule> {
    this.requireManager(principal);
    const filters = input.filters ? normaliseFilters(input.filters) : undefined;
    const destinationIds = input.destinationIds ? uniqueIds(input.destinationIds) : undefined;
    if (destinationIds?.length === 0) throw badInput('destinationIds', 'destinationIds: name at least one destination');
    const rule = await this.db.run(principal, async (tx) => {
      const current = await tx.alertRule.findUnique({ where: { id }, include: WITH_DESTINATIONS });
      if (!current) throw notFound(`alert rule ${id} does not exist`);
      if ((THRESHOLD_RULE_KINDS as readonly string[]).includes(current.kind) && input.thresholdMinutes === null)
        throw badInput('thresholdMinutes', `thresholdMinutes: required for ${current.kind} rules`);
      await checkReferences(tx, Visibility.of(principal), filters, destinationIds ?? []);
      try {
        if (destinationIds) {
          await tx.alertRuleDestination.deleteMany({ where: { ruleId: id } });
          await tx.alertRuleDestination.createMany({
            data: destinationIds.map((destinationId) => ({ ruleId: id, destinationId, tenantId: principal.tenantId })),
          });
        }
        const row = await tx.alertRule.update({
          where: { id },
          data: {
            ...(input.name !== undefined ? { name: input.name.trim() } : {}),
            ...(input.severity !== undefined ? { severity: input.severity } : {}),
            ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
            ...(filters ?? {}),
            ...(input.thresholdMinutes !== undefined ? { thresholdMinutes: input.thresholdMinutes } : {}),
            ...(input.readyAfterDays !== undefined ? { readyAfterDays: input.readyAfterDays } : {}),
            ...(input.digestSeconds !== undefined ? { digestSeconds: input.digestSeconds } : {}),
            version: { increment: 1 },
            updatedAt: new Date(),
          },
          include: WITH_DESTINATIONS,
        });
        const rule = toRule(row);
        await this.audit.record(tx, principal, {
          action: 'alertRule.update',
          targetType: 'AlertRule',
          targetId: id,
          before: auditView(toRule(current)),
          after: auditView(rule),
        });
        return rule;
      } catch (err) {
        throw isUniqueViolation(err) ? conflict('name', `an alert rule named "${input.name?.trim()}" exists`) : err;
      }
    });
    await this.announce(principal.tenantId);
    return rule;
  }

  async delete(principal: Principal, id: string): Promise<AlertRule> {
    this.requireManager(principal);
    const rule = await this.db.run(principal, async (tx) => {
      const current = await tx.alertRule.findUnique({ where: { id }, include: WITH_DESTINATIONS });
      if (!current) throw notFound(`alert rule ${id} does not exist`);
      await tx.alertRule.delete({ where: { id } });
      const rule = toRule(current);
      await this.audit.record(tx, principal, {
        action: 'alertRule.delete',
        targetType: 'AlertRule',
        targetId: id,
        before: auditView(rule),
      });
      return rule;
    });
    await this.announce(principal.tenantId);
    return rule;
  }

  private requireManager(principal: Principal): void {
    if (!principal.canTenantWide('manage'))
      throw forbidden('alert rules are managed by OWNER or SECURITY_ADMIN at tenant level');
  }

  /** After commit: every API replica drops the tenant's cached rules (a lost message ages out with the cache). */
  private async announce(tenantId: string): Promise<void> {
    try {
      await this.redis.publish(alertRulesChannel(this.config.redisPrefix), tenantId);
    } catch (err) {
      this.logger.warn({ err, tenantId }, 'alert rule change not announced; cached rules refresh within a minute');
    }
  }
}

function uniqueIds(ids: readonly string[]): string[] {
  return [...new Set(ids.map((s) => s.toLowerCase()))];
}

function normaliseFilters(input: AlertRuleFiltersInput | undefined): Filters {
  const ruleIds = [...new Set(input?.ruleIds ?? [])];
  ruleIds.forEach((id, i) => {
    if (!findRule(id))
      throw badInput(
        `filters.ruleIds[${i}]`,
        `filters.ruleIds[${i}]: "${id.slice(0, 80)}" is not a rule of the catalog`,
      );
  });
  return {
    cloudScopeIds: uniqueIds(input?.cloudScopeIds ?? []),
    clusterIds: uniqueIds(input?.clusterIds ?? []),
    namespacePatterns: [
      ...new Set(validateNamespacePatterns(input?.namespacePatterns ?? [], 'filters.namespacePatterns')),
    ],
    policyIds: uniqueIds(input?.policyIds ?? []),
    ruleIds,
    decisions: [...new Set((input?.decisions ?? []) as string[])],
  };
}

/**
 * Every id a rule names exists in the tenant and is visible to the caller (RLS confines the reads to the
 * tenant, Visibility to the caller's scopes); the first unknown one is named.
 */
async function checkReferences(
  tx: TenantTx,
  visible: Visibility,
  filters: Filters | undefined,
  destinationIds: readonly string[],
) {
  const missing = async (field: string, ids: readonly string[], found: (ids: string[]) => Promise<string[]>) => {
    if (ids.length === 0) return;
    const known = new Set(await found([...ids]));
    const i = ids.findIndex((id) => !known.has(id));
    if (i >= 0) throw badInput(`${field}[${i}]`, `${field}[${i}]: ${ids[i]} does not exist in this tenant`);
  };
  if (filters) {
    await missing('filters.cloudScopeIds', filters.cloudScopeIds, async (ids) =>
      (
        await tx.cloudScope.findMany({
          where: { AND: [{ id: { in: ids } }, visible.cloudScopes()] },
          select: { id: true },
        })
      ).map((r) => r.id),
    );
    await missing('filters.clusterIds', filters.clusterIds, async (ids) =>
      (
        await tx.cluster.findMany({ where: { AND: [{ id: { in: ids } }, visible.clusters()] }, select: { id: true } })
      ).map((r) => r.id),
    );
    await missing('filters.policyIds', filters.policyIds, async (ids) =>
      (
        await tx.policy.findMany({ where: { AND: [{ id: { in: ids } }, visible.policies()] }, select: { id: true } })
      ).map((r) => r.id),
    );
  }
  await missing('destinationIds', destinationIds, async (ids) =>
    (
      await tx.$queryRaw<Array<{ id: string }>>`
        SELECT id::text FROM alert_destinations WHERE id = ANY(${ids}::uuid[]) AND deleted_at IS NULL`
    ).map((r) => r.id),
  );
}

function toRule(row: Row): AlertRule {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AlertRuleKind,
    severity: row.severity as AlertSeverity,
    enabled: row.enabled,
    filters: {
      cloudScopeIds: row.cloudScopeIds,
      clusterIds: row.clusterIds,
      namespacePatterns: row.namespacePatterns,
      policyIds: row.policyIds,
      ruleIds: row.ruleIds,
      decisions: row.decisions as AdmissionDecision[],
    },
    thresholdMinutes: row.thresholdMinutes,
    readyAfterDays: row.readyAfterDays,
    digestSeconds: row.digestSeconds,
    destinationIds: row.destinations.map((d) => d.destinationId).sort(),
    version: row.version,
    createdAt: row.createdAt,
    createdBy: row.createdBy,
    updatedAt: row.updatedAt,
  };
}

function auditView(rule: AlertRule) {
  const { createdAt: _c, updatedAt: _u, ...rest } = rule;
  return rest;
}
