import type { Type } from '@nestjs/common';
import { Args, ArgsType, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { IsInt, Max, Min } from 'class-validator';
import type { TenantTx } from '@portcullis/db';
import { forbidden, notFound } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { Access } from './access.decorator';
import { CurrentPrincipal } from './current-principal.decorator';
import type { Principal } from './principal';
import { TenantDb } from './tenant-db';

/** Tenant columns that hold a number of days a kind of data is kept. */
export type TenantDaysColumn = 'admissionRetentionDays' | 'scanHistoryDays';

export interface TenantDaysSpec {
  readonly column: TenantDaysColumn;
  /** Bounds of the value; the column's CHECK says the same. */
  readonly bounds: { readonly min: number; readonly max: number };
  /** Who may change it, for the FORBIDDEN message. */
  readonly forbiddenMessage: string;
  /**
   * The GraphQL object type, e.g. `AdmissionRetention`; the rest is named after it: the query
   * `admissionRetention`, the mutation `setAdmissionRetention`, the audit action
   * `admissionRetention.update`.
   */
  readonly typeName: string;
  /** What is kept, for the descriptions: "the tenant's admission inventory". */
  readonly what: string;
  /** The description of `days`: what is removed once older, and by what. */
  readonly daysDescription: string;
  /** What shortening it does, for the argument's description. */
  readonly whenShortened: string;
}

/**
 * A per-tenant "keep this many days" setting: any reader of the tenant reads it; only a
 * tenant-level admin (OWNER or SECURITY_ADMIN without a scope) changes it, since it deletes
 * data of every cloud scope; every change is audited with before and after, and setting the
 * value it already has changes nothing.
 */
export class TenantDaysSetting {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly spec: Pick<TenantDaysSpec, 'column' | 'forbiddenMessage'> & { readonly auditAction: string },
  ) {}

  async get(principal: Principal): Promise<number> {
    return this.db.run(principal, (tx) => this.read(tx, principal.tenantId));
  }

  async set(principal: Principal, days: number): Promise<number> {
    if (!principal.canTenantWide('manage')) throw forbidden(this.spec.forbiddenMessage);
    return this.db.run(principal, async (tx) => {
      const before = await this.read(tx, principal.tenantId);
      if (before === days) return days;
      await tx.tenant.update({ where: { id: principal.tenantId }, data: { [this.spec.column]: days } });
      await this.audit.record(tx, principal, {
        action: this.spec.auditAction,
        targetType: 'Tenant',
        targetId: principal.tenantId,
        before: { days: before },
        after: { days },
      });
      return days;
    });
  }

  private async read(tx: TenantTx, tenantId: string): Promise<number> {
    const tenant = await tx.tenant.findUnique({
      where: { id: tenantId },
      select: { admissionRetentionDays: true, scanHistoryDays: true },
    });
    if (!tenant) throw notFound('tenant not found');
    return tenant[this.spec.column];
  }
}

/** The GraphQL resolver of one such setting: `<query> { days }` and `<mutation>(days)`, with the bounds checked before anything runs. */
export function tenantDaysSettingResolver(spec: TenantDaysSpec): Type<unknown> {
  const { min, max } = spec.bounds;
  const query = spec.typeName.charAt(0).toLowerCase() + spec.typeName.slice(1);

  @ObjectType(spec.typeName, { description: `How long ${spec.what} is kept.` })
  class Setting {
    @Field(() => Int, { description: spec.daysDescription })
    days!: number;
  }

  @ArgsType()
  class SetDaysArgs {
    @Field(() => Int, { description: `Days to keep: ${min}-${max}. ${spec.whenShortened}` })
    @IsInt({ message: 'days must be a whole number' })
    @Min(min, { message: `days must be at least ${min}` })
    @Max(max, { message: `days must be at most ${max}` })
    days!: number;
  }

  @Resolver(() => Setting)
  class SettingResolver {
    private readonly setting: TenantDaysSetting;

    constructor(db: TenantDb, audit: AuditLogWriter) {
      this.setting = new TenantDaysSetting(db, audit, { ...spec, auditAction: `${query}.update` });
    }

    @Access('read')
    @Query(() => Setting, { name: query, description: `How long ${spec.what} is kept.` })
    async read(@CurrentPrincipal() principal: Principal): Promise<Setting> {
      return { days: await this.setting.get(principal) };
    }

    @Access('manage')
    @Mutation(() => Setting, {
      name: `set${spec.typeName}`,
      description: `Sets how long ${spec.what} is kept (OWNER or SECURITY_ADMIN at tenant level); audited.`,
    })
    async write(@CurrentPrincipal() principal: Principal, @Args() args: SetDaysArgs): Promise<Setting> {
      return { days: await this.setting.set(principal, args.days) };
    }
  }
  return SettingResolver;
}
