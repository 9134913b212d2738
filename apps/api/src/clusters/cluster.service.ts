import { Injectable } from '@nestjs/common';
import type { EnforcementMode, Prisma } from '@portcullis/db';
import { badInput, conflict, forbidden, isUniqueViolation } from '@portcullis/platform';
import { AuditLogWriter } from '../audit/audit-log.writer';
import { DomainEvents } from '../events/domain-events';
import { toCloudScope } from '../cloud-scopes/cloud-scope.service';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import { Visibility, hidden } from '../tenancy/visibility';
import { issueAgentCredential } from '@portcullis/credentials';
import { CredentialRevocations } from './credential-revocations';
import type { Cluster, ClustersArgs, ClusterWithToken, RegisterClusterInput } from './cluster.types';
import { containing } from '../platform/substring-filter';

const withScope = { cloudScope: true } as const;
type Row = Prisma.ClusterGetPayload<{ include: typeof withScope }>;

/** Clusters and their agent credentials; managed by SECURITY_ADMIN/OWNER of the cluster's cloud scope. */
@Injectable()
export class ClusterService {
  constructor(
    private readonly db: TenantDb,
    private readonly audit: AuditLogWriter,
    private readonly events: DomainEvents,
    private readonly revocations: CredentialRevocations,
  ) {}

  list(principal: Principal, args: ClustersArgs): Promise<Connection<Cluster>> {
    const f = args.filter ?? {};
    // the scope filter narrows what the caller reads; it never replaces it
    const where: Prisma.ClusterWhereInput = {
      AND: [
        Visibility.of(principal).clusters(f.cloudScopeId),
        f.distribution ? { distribution: f.distribution } : {},
        f.search ? { name: containing(f.search.toLowerCase()) } : {},
      ],
    };
    const after = decodeCursor(args.after);
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      // one connection per transaction: statements run one after the other
      const rows = await tx.cluster.findMany({
        where: after
          ? { AND: [where, { OR: [{ name: { gt: after.key } }, { name: after.key, id: { gt: after.id } }] }] }
          : where,
        include: withScope,
        orderBy: [{ name: 'asc' }, { id: 'asc' }],
        take: size + 1,
      });
      const total = await tx.cluster.count({ where });
      return toConnection(rows, size, total, (r) => ({ key: r.name, id: r.id }), toCluster);
    });
  }

  async register(principal: Principal, input: RegisterClusterInput): Promise<ClusterWithToken> {
    if (!principal.canOnScope('manage', input.cloudScopeId)) {
      throw Visibility.of(principal).canRead(input.cloudScopeId)
        ? forbidden('registering a cluster needs SECURITY_ADMIN or OWNER on its cloud scope')
        : unknownScope(input.cloudScopeId);
    }
    const credential = issueAgentCredential();
    try {
      const { result, event } = await this.db.run(principal, async (tx) => {
        if (!(await tx.cloudScope.findUnique({ where: { id: input.cloudScopeId } })))
          throw unknownScope(input.cloudScopeId);
        const row = await tx.cluster.create({
          data: {
            tenantId: principal.tenantId,
            cloudScopeId: input.cloudScopeId,
            name: input.name,
            distribution: input.distribution,
            kubernetesVersion: input.kubernetesVersion ?? null,
            enforcementMode: input.enforcementMode ?? 'WEBHOOK',
            agentTokenId: credential.tokenId,
            agentTokenHash: credential.secretHash,
          },
          include: withScope,
        });
        const cluster = toCluster(row);
        await this.audit.record(tx, principal, {
          action: 'cluster.register',
          targetType: 'Cluster',
          targetId: row.id,
          after: snapshot(cluster),
        });
        // the new cluster's first bundle is compiled from this event
        const event = await this.events.record(tx, principal.tenantId, 'cluster.registered', { clusterId: row.id });
        return { result: { cluster, agentToken: credential.token }, event };
      });
      await this.events.publish([event]);
      return result;
    } catch (err) {
      if (isUniqueViolation(err))
        throw conflict('name', `name: a cluster named ${input.name} already exists in this tenant`);
      throw err;
    }
  }

  async rotateToken(principal: Principal, id: string): Promise<ClusterWithToken> {
    const credential = issueAgentCredential();
    const { result, revoked } = await this.db.run(principal, async (tx) => {
      const before = await this.findManageable(tx, principal, id);
      const row = await tx.cluster.update({
        where: { id },
        data: { agentTokenId: credential.tokenId, agentTokenHash: credential.secretHash, tokenRotatedAt: new Date() },
        include: withScope,
      });
      await this.audit.record(tx, principal, {
        action: 'cluster.rotateToken',
        targetType: 'Cluster',
        targetId: id,
        before: { tokenRotatedAt: before.tokenRotatedAt },
        after: { tokenRotatedAt: row.tokenRotatedAt },
      });
      return {
        result: { cluster: toCluster(row), agentToken: credential.token },
        revoked: { clusterId: id, tokenId: before.agentTokenId },
      };
    });
    // after commit: the old credential's parked polls end now, on every replica
    await this.revocations.announce([revoked]);
    return result;
  }

  /**
   * Switches webhook <-> native. The mode travels in the cluster's bundle, so a change records
   * a domain event in the same transaction: the worker signs a new revision carrying it.
   * Setting the mode a cluster already has changes nothing and records nothing.
   */
  async setEnforcementMode(principal: Principal, id: string, mode: EnforcementMode): Promise<Cluster> {
    const { cluster, event } = await this.db.run(principal, async (tx) => {
      const before = await this.findManageable(tx, principal, id);
      if (before.enforcementMode === mode) return { cluster: toCluster(before), event: null };
      const row = await tx.cluster.update({ where: { id }, data: { enforcementMode: mode }, include: withScope });
      await this.audit.record(tx, principal, {
        action: 'cluster.setEnforcementMode',
        targetType: 'Cluster',
        targetId: id,
        before: { enforcementMode: before.enforcementMode },
        after: { enforcementMode: row.enforcementMode },
      });
      const event = await this.events.record(tx, principal.tenantId, 'cluster.enforcement-mode-changed', {
        clusterId: id,
      });
      return { cluster: toCluster(row), event };
    });
    if (event) await this.events.publish([event]);
    return cluster;
  }

  async delete(principal: Principal, id: string): Promise<Cluster> {
    const { cluster, revoked } = await this.db.run(principal, async (tx) => {
      const row = await this.findManageable(tx, principal, id);
      await tx.cluster.delete({ where: { id } });
      const cluster = toCluster(row);
      await this.audit.record(tx, principal, {
        action: 'cluster.delete',
        targetType: 'Cluster',
        targetId: id,
        before: snapshot(cluster),
      });
      return { cluster, revoked: { clusterId: id, tokenId: row.agentTokenId } };
    });
    await this.revocations.announce([revoked]);
    return cluster;
  }

  private async findManageable(tx: Prisma.TransactionClient, principal: Principal, id: string): Promise<Row> {
    const row = await tx.cluster.findFirst({
      where: { AND: [{ id }, Visibility.of(principal).clusters()] },
      include: withScope,
    });
    if (!row) throw hidden('cluster', id);
    if (!principal.canOnScope('manage', row.cloudScopeId))
      throw forbidden("this needs SECURITY_ADMIN or OWNER on the cluster's cloud scope");
    return row;
  }
}

export function toCluster(row: Row): Cluster {
  return {
    id: row.id,
    name: row.name,
    distribution: row.distribution,
    kubernetesVersion: row.kubernetesVersion,
    cloudScope: toCloudScope(row.cloudScope),
    lastSeenAt: row.lastSeenAt,
    agentVersion: row.agentVersion,
    appliedRevision: row.appliedRevision,
    enforcementMode: row.enforcementMode,
    tokenRotatedAt: row.tokenRotatedAt,
    createdAt: row.createdAt,
  };
}

/** The same answer for a scope that does not exist and one the caller cannot read. */
function unknownScope(id: string) {
  return badInput('cloudScopeId', `cloudScopeId: cloud scope ${id} does not exist`);
}

function snapshot(c: Cluster) {
  return {
    name: c.name,
    distribution: c.distribution,
    kubernetesVersion: c.kubernetesVersion,
    cloudScopeId: c.cloudScope.id,
    enforcementMode: c.enforcementMode,
  };
}
