import { DEFAULT_POLICY_NAMES, defaultRuleConfigs, RULE_CATALOG } from '@portcullis/policy-engine';
import { withTenant, type PrismaClient, type Prisma, type TenantStatus, type PolicyType } from '@portcullis/db';

/** The two policies every tenant starts with (DESIGN.md §3): Audit mode, scope = everything. */
export const DEFAULT_POLICIES: ReadonlyArray<{
  readonly type: PolicyType;
  readonly name: string;
  readonly description: string;
}> = [
  {
    type: 'MISCONFIGURATION',
    name: DEFAULT_POLICY_NAMES.MISCONFIGURATION,
    description:
      'Workload and Ingress misconfiguration checks every cluster of the tenant gets, in Audit mode until the team chooses Block.',
  },
  {
    type: 'VULNERABILITY',
    name: DEFAULT_POLICY_NAMES.VULNERABILITY,
    description: 'Image vulnerability gating from signed scan artifacts, in Audit mode until the team chooses Block.',
  },
];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class OnboardingError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export interface TenantSummary {
  readonly id: string;
  readonly name: string;
  readonly status: TenantStatus;
  readonly createdAt: Date;
  readonly owners: readonly string[];
}

/** Every rule of the catalog for a policy type: enabled per the catalog's default, with its default parameters. */
export function defaultPolicyRules(
  type: PolicyType,
): Array<{ ruleId: string; enabled: boolean; params: Prisma.InputJsonValue }> {
  const enabled = new Map(defaultRuleConfigs(type).map((r) => [r.id, r.params]));
  return RULE_CATALOG.filter((r) => r.policyType === type).map((r) => ({
    ruleId: r.id,
    enabled: enabled.has(r.id),
    params: (enabled.get(r.id) ?? defaultParams(r.parameters)) as Prisma.InputJsonValue,
  }));
}

function defaultParams(schema: { properties?: Record<string, { default?: unknown }> }): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, v.default ?? null]));
}

/**
 * Platform-operator onboarding: a tenant, its first Owner and its two default
 * policies, in one transaction, with the operator's action in the tenant's audit log.
 */
export class TenantOnboarding {
  constructor(private readonly prisma: PrismaClient) {}

  async create(input: {
    tenantId: string;
    ownerObjectId: string;
    name?: string;
    operator: string;
  }): Promise<TenantSummary> {
    const tenantId = input.tenantId.trim().toLowerCase();
    const owner = input.ownerObjectId.trim().toLowerCase();
    if (!GUID.test(tenantId))
      throw new OnboardingError('tenant', `--tenant "${input.tenantId}" is not an Entra ID tenant id (a GUID)`);
    if (!GUID.test(owner))
      throw new OnboardingError('owner', `--owner "${input.ownerObjectId}" is not an Entra ID object id (a GUID)`);
    const name = (input.name ?? `Tenant ${tenantId}`).trim();
    if (name.length < 1 || name.length > 200) throw new OnboardingError('name', '--name must be 1-200 characters');

    const existing = await this.prisma.tenant.findUnique({ where: { id: tenantId } });
    if (existing) throw new OnboardingError('tenant', `tenant ${tenantId} is already onboarded`);

    await withTenant(this.prisma, tenantId, async (tx) => {
      await tx.tenant.create({ data: { id: tenantId, name } });
      const grant = await tx.roleAssignment.create({
        data: { tenantId, principalId: owner, role: 'OWNER', createdBy: input.operator },
      });
      for (const p of DEFAULT_POLICIES) {
        const policy = await tx.policy.create({
          data: {
            tenantId,
            name: p.name,
            description: p.description,
            type: p.type,
            action: 'AUDIT',
            isDefault: true,
            createdBy: input.operator,
            updatedBy: input.operator,
            rules: { create: defaultPolicyRules(p.type).map((r) => ({ ...r, tenantId })) },
          },
        });
        await tx.auditLogEntry.create({
          data: {
            tenantId,
            principalId: input.operator,
            action: 'policy.create',
            targetType: 'Policy',
            targetId: policy.id,
            after: { name: p.name, type: p.type, action: 'AUDIT', default: true },
          },
        });
      }
      await tx.auditLogEntry.create({
        data: {
          tenantId,
          principalId: input.operator,
          action: 'tenant.onboard',
          targetType: 'Tenant',
          targetId: tenantId,
          after: { name, owner, roleAssignmentId: grant.id },
        },
      });
    });
    return (await this.get(tenantId))!;
  }

  async list(): Promise<TenantSummary[]> {
    const rows = await this.prisma.tenant.findMany({
      orderBy: { createdAt: 'asc' },
      include: { roleAssignments: { where: { role: 'OWNER', cloudScopeId: null } } },
    });
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      status: t.status,
      createdAt: t.createdAt,
      owners: t.roleAssignments.map((r) => r.principalId),
    }));
  }

  async get(tenantId: string): Promise<TenantSummary | undefined> {
    return (await this.list()).find((t) => t.id === tenantId);
  }

  async setStatus(tenantId: string, status: TenantStatus, operator: string): Promise<TenantSummary> {
    const id = tenantId.trim().toLowerCase();
    const existing = await this.prisma.tenant.findUnique({ where: { id } });
    if (!existing) throw new OnboardingError('tenant', `tenant ${tenantId} is not onboarded`);
    await withTenant(this.prisma, id, async (tx) => {
      await tx.tenant.update({ where: { id }, data: { status } });
      await tx.auditLogEntry.create({
        data: {
          tenantId: id,
          principalId: operator,
          action: status === 'DISABLED' ? 'tenant.disable' : 'tenant.enable',
          targetType: 'Tenant',
          targetId: id,
          before: { status: existing.status },
          after: { status },
        },
      });
    });
    return (await this.get(id))!;
  }
}
