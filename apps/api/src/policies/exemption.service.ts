import { Inject, Injectable } from '@nestjs/common';
import { findRule } from '@portcullis/policy-engine';
import type { Prisma } from '@portcullis/db';
import { CLOCK, badInput, notFound, type Clock } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { DomainEvents } from '../events/domain-events';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility } from '../tenancy/visibility';
import { auditSnapshot, coveredScopeIds, toPolicy, type ExemptionCriteria, type PolicyRow } from './policy.mapper';
import { validateNamespacePatterns } from './policy-rules';
import { PolicyService } from './policy.service';
import { checkVersion, requireManage } from './policy-writer';
import type { ExemptionInput, Policy } from './policy.types';

const CVE_ID = /^CVE-\d{4}-\d{4,}$/;
const GHSA_ID = /^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$/i;
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** Validates an exemption against its policy; every error names the field. */
export function exemptionCriteria(
  policy: Pick<PolicyRow, 'type'>,
  input: ExemptionInput,
  now: Date,
  field = 'input',
): ExemptionCriteria {
  const namespaces = validateNamespacePatterns(input.namespaces, `${field}.namespaces`);
  input.kinds.forEach((k, i) => {
    if (!KIND.test(k))
      throw badInput(
        `${field}.kinds[${i}]`,
        `${field}.kinds[${i}]: "${k.slice(0, 64)}" is not a Kubernetes kind such as Deployment`,
      );
  });
  input.names.concat(input.images).forEach((n) => {
    if (n.length === 0 || n.length > 512)
      throw badInput(`${field}.names`, `${field}: names and images must be 1-512 characters`);
  });
  if (input.cves.length && policy.type !== 'VULNERABILITY')
    throw badInput(`${field}.cves`, `${field}.cves: CVE exemptions belong to VULNERABILITY policies`);
  const cves = input.cves.map((c, i) => {
    const id = c.trim();
    if (GHSA_ID.test(id)) return id.toLowerCase().replace(/^ghsa/, 'GHSA');
    if (CVE_ID.test(id.toUpperCase())) return id.toUpperCase();
    throw badInput(
      `${field}.cves[${i}]`,
      `${field}.cves[${i}]: "${c.slice(0, 40)}" is not a CVE id such as CVE-2024-3094 (or a GHSA id)`,
    );
  });
  input.rules.forEach((r, i) => {
    const rule = findRule(r);
    if (!rule || rule.policyType !== policy.type)
      throw badInput(`${field}.rules[${i}]`, `${field}.rules[${i}]: "${r}" is not a ${policy.type} rule id`);
  });
  const labels = input.labelSelector ?? null;
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_KEY.test(k) || typeof v !== 'string' || v.length > 63)
        throw badInput(
          `${field}.labelSelector`,
          `${field}.labelSelector: "${k.slice(0, 64)}" is not a valid label key with a string value`,
        );
    }
  }
  if (
    !namespaces.length &&
    !input.kinds.length &&
    !input.names.length &&
    !input.images.length &&
    !cves.length &&
    !(labels && Object.keys(labels).length)
  ) {
    throw badInput(
      field,
      `${field}: an exemption must name at least one of namespaces, kinds, names, images, labelSelector or cves`,
    );
  }
  if (input.expiresAt && input.expiresAt <= now)
    throw badInput(`${field}.expiresAt`, `${field}.expiresAt: ${input.expiresAt.toISOString()} is in the past`);
  return {
    namespaces,
    kinds: input.kinds,
    names: input.names,
    images: input.images,
    labelSelector: labels,
    cves,
    rules: input.rules,
    match: input.match,
  };
}

@Injectable()
export class ExemptionService {
  constructor(
    private readonly db: TenantDb,
    private readonly policies: PolicyService,
    private readonly audit: AuditLogWriter,
    private readonly events: DomainEvents,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async add(
    principal: Principal,
    policyId: string,
    version: number | undefined,
    input: ExemptionInput,
  ): Promise<Policy> {
    return this.change(principal, policyId, version, 'policy.exemption.add', async (tx, current) => {
      const criteria = exemptionCriteria(current, input, this.clock.now());
      await tx.policyExemption.create({
        data: {
          policyId,
          tenantId: principal.tenantId,
          criteria: criteria as unknown as Prisma.InputJsonValue,
          reason: input.reason.trim(),
          grantedBy: principal.objectId,
          expiresAt: input.expiresAt ?? null,
        },
      });
    });
  }

  async remove(
    principal: Principal,
    policyId: string,
    exemptionId: string,
    version: number | undefined,
  ): Promise<Policy> {
    return this.change(principal, policyId, version, 'policy.exemption.remove', async (tx, current) => {
      if (!current.exemptions.some((e) => e.id === exemptionId))
        throw notFound(`exemption ${exemptionId} is not part of policy "${current.name}"`);
      await tx.policyExemption.delete({ where: { id: exemptionId } });
    });
  }

  private async change(
    principal: Principal,
    policyId: string,
    version: number | undefined,
    action: string,
    apply: (tx: Prisma.TransactionClient, current: PolicyRow) => Promise<void>,
  ): Promise<Policy> {
    const { policy, event } = await this.db.run(principal, async (tx) => {
      const current = await this.policies.load(tx, principal, policyId);
      requireManage(principal, coveredScopeIds(current));
      if (version !== undefined) checkVersion(current, version);
      await apply(tx, current);
      await tx.policy.update({
        where: { id: policyId },
        data: { version: { increment: 1 }, updatedBy: principal.objectId },
      });
      const now = this.clock.now();
      const updated = await this.policies.load(tx, principal, policyId);
      await this.audit.record(tx, principal, {
        action,
        targetType: 'Policy',
        targetId: policyId,
        before: auditSnapshot(current, now),
        after: auditSnapshot(updated, now),
      });
      const after = toPolicy(updated, now, Visibility.of(principal));
      const event = await this.events.record(tx, principal.tenantId, 'policy.exemptions-changed', {
        policyId,
        cloudScopeIds: coveredScopeIds(current),
        clusterIds: current.clusters.map((c) => c.clusterId),
      });
      return { policy: after, event };
    });
    await this.events.publish([event]);
    return policy;
  }
}
