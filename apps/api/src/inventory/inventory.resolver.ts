import { Args, Query, Resolver } from '@nestjs/graphql';
import { Access } from '../tenancy/access.decorator';
import { CurrentPrincipal } from '../tenancy/current-principal.decorator';
import type { Principal } from '../tenancy/principal';
import { AdmissionInventoryService } from './admission-inventory.service';
import { AuditToDenyService } from './audit-to-deny.service';
import {
  AdmissionEventConnection,
  AdmissionEventsArgs,
  AdmissionSummary,
  AdmissionSummaryArgs,
  AuditToDenyArgs,
  AuditToDenyReport,
  PolicySimulation,
  SimulatePolicyArgs,
} from './inventory.types';
import { PolicySimulatorService } from './policy-simulator.service';
import { RollupFlusher } from './rollup-flusher';

/**
 * The admission inventory and audit-to-deny analysis; every answer is limited to the cloud scopes the caller reads.
 * What reads rollups first folds the tenant's staged contributions (RollupFlusher.flushTenant), so an answer
 * includes every batch acknowledged before the query, as when the rollups were written by the ingest itself.
 */
@Resolver()
export class InventoryResolver {
  constructor(
    private readonly inventory: AdmissionInventoryService,
    private readonly reports: AuditToDenyService,
    private readonly simulator: PolicySimulatorService,
    private readonly flusher: RollupFlusher,
  ) {}

  @Access('read')
  @Query(() => AdmissionEventConnection, { description: 'Admission decisions agents reported, newest first.' })
  admissionEvents(@CurrentPrincipal() principal: Principal, @Args() args: AdmissionEventsArgs) {
    return this.inventory.events(principal, args);
  }

  @Access('read')
  @Query(() => AdmissionSummary, { description: 'Admission counts over a window, grouped (from the hourly rollup).' })
  async admissionSummary(@CurrentPrincipal() principal: Principal, @Args() args: AdmissionSummaryArgs) {
    await this.flusher.flushTenant(principal.tenantId);
    return this.inventory.summary(principal, args);
  }

  @Access('read')
  @Query(() => AuditToDenyReport, {
    description: 'What Block mode would have denied for this policy, per workload, and whether it is ready to Block.',
  })
  async auditToDenyReport(@CurrentPrincipal() principal: Principal, @Args() args: AuditToDenyArgs) {
    await this.flusher.flushTenant(principal.tenantId);
    return this.reports.report(principal, args.policyId.toLowerCase(), args);
  }

  @Access('read')
  @Query(() => PolicySimulation, {
    description: 'A draft policy evaluated on the recorded admissions: what it would deny, and which workloads flip.',
  })
  async simulatePolicy(@CurrentPrincipal() principal: Principal, @Args() args: SimulatePolicyArgs) {
    await this.flusher.flushTenant(principal.tenantId);
    return this.simulator.simulate(principal, args.draft, args);
  }
}
