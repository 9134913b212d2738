import { Injectable } from '@nestjs/common';
import { Args, ArgsType, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { IsInt, Max, Min } from 'class-validator';
import { forbidden, notFound } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';

/** The bounds of tenants.admission_retention_days (the column's CHECK says the same). */
export const RETENTION_DAYS = { min: 1, max: 400 } as const;

@ObjectType({ description: "How long the tenant's admission inventory is kept." })
export class AdmissionRetention {
  @Field(() => Int, {
    description:
      'Admission events, their rollups and snapshots no longer referenced are removed once older than this many days (UTC days), by the hourly maintenance job.',
  })
  days!: number;
}

@ArgsType()
export class SetAdmissionRetentionArgs {
  @Field(() => Int, { description: `Days to keep: ${RETENTION_DAYS.min}-${RETENTION_DAYS.max}. Shortening it deletes older events at the next hourly run.` })
  @IsInt({ message: 'days must be a whole number' })
  @Min(RETENTION_DAYS.min, { message: `days must be at least ${RETENTION_DAYS.min}` })
  @Max(RETENTION_DAYS.max, { message: `days must be at most ${RETENTION_DAYS.max}` })
  days!: number;
}

/** The tenant's admission-inventory retention: anyone who reads sees it; tenant-level admins set it, audited. */
@Injectable()
export class AdmissionRetentionService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
  ) {}

  async get(principal: Principal): Promise<AdmissionRetention> {
    const tenant = await this.db.run(principal, (tx) => tx.tenant.findUnique({ where: { id: principal.tenantId }, select: { admissionRetentionDays: true } }));
    if (!tenant) throw notFound('tenant not found');
    return { days: tenant.admissionRetentionDays };
  }

  async set(principal: Principal, days: number): Promise<AdmissionRetention> {
    // it deletes the inventory of every cloud scope of the tenant: a role on one scope is not enough
    if (!principal.canTenantWide('manage')) throw forbidden('the admission retention needs OWNER or SECURITY_ADMIN at tenant level');
    return this.db.run(principal, async (tx) => {
      const before = await tx.tenant.findUnique({ where: { id: principal.tenantId }, select: { admissionRetentionDays: true } });
      if (!before) throw notFound('tenant not found');
      if (before.admissionRetentionDays === days) return { days };
      await tx.tenant.update({ where: { id: principal.tenantId }, data: { admissionRetentionDays: days } });
      await this.audit.record(tx, principal, {
        action: 'admissionRetention.update',
        targetType: 'Tenant',
        targetId: principal.tenantId,
        before: { days: before.admissionRetentionDays },
        after: { days },
      });
      return { days };
    });
  }
}

@Resolver(() => AdmissionRetention)
export class AdmissionRetentionResolver {
  constructor(private readonly service: AdmissionRetentionService) {}

  @Access('read')
  @Query(() => AdmissionRetention, { description: "How long the tenant's admission inventory is kept." })
  admissionRetention(@CurrentPrincipal() principal: Principal): Promise<AdmissionRetention> {
    return this.service.get(principal);
  }

  @Access('manage')
  @Mutation(() => AdmissionRetention, { description: "Sets how long the tenant's admission inventory is kept (OWNER or SECURITY_ADMIN at tenant level); audited." })
  setAdmissionRetention(@CurrentPrincipal() principal: Principal, @Args() args: SetAdmissionRetentionArgs): Promise<AdmissionRetention> {
    return this.service.set(principal, args.days);
  }
}
