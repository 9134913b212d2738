import { Injectable } from '@nestjs/common';
import type { Prisma } from '@portcullis/db';
import { badInput, notFound } from '@portcullis/platform';
import { decodeCursor, pageSize, toConnection, type Connection } from '../graphql/connection';
import type { Principal } from '../tenancy/principal';
import { TenantDb } from '../tenancy/tenant-db';
import type { ScanArtifact, ScanArtifactsArgs, ScanFindingView } from './scan.types';
import { byWorst } from './vulnerability-counts';
import { containing } from '../platform/substring-filter';
import { storedDocumentOf, toArtifactSummary } from './scan-artifact.mapper';

const listed = { uploadToken: { select: { name: true } } } as const;
type Row = Prisma.ScanArtifactGetPayload<{ include: typeof listed }>;

/** Reads of the tenant's scan artifacts for the portal: newest upload first. Artifacts are tenant-wide, like images. */
@Injectable()
export class ScanArtifactService {
  constructor(private readonly db: TenantDb) {}

  list(principal: Principal, args: ScanArtifactsArgs): Promise<Connection<ScanArtifact>> {
    const f = args.filter ?? {};
    const where: Prisma.ScanArtifactWhereInput = {
      ...(f.repository !== undefined
        ? { repository: f.repositoryContains ? containing(f.repository.toLowerCase()) : f.repository.toLowerCase() }
        : {}),
      ...(f.tag !== undefined ? { tags: { has: f.tag } } : {}),
      ...(f.digest !== undefined ? { repoDigest: f.digest } : {}),
      ...(f.tagBound !== undefined ? { tagBound: f.tagBound } : {}),
    };
    const after = decodeCursor(args.after);
    const afterTime = after ? new Date(after.key) : undefined;
    if (afterTime && Number.isNaN(afterTime.getTime()))
      throw badInput('after', 'is not a cursor returned by this list');
    const size = pageSize(args);
    return this.db.run(principal, async (tx) => {
      const rows = await tx.scanArtifact.findMany({
        where: afterTime
          ? {
              AND: [
                where,
                { OR: [{ receivedAt: { lt: afterTime } }, { receivedAt: afterTime, id: { lt: after!.id } }] },
              ],
            }
          : where,
        // the envelope (up to megabytes) is only read when findings are asked for
        omit: { envelope: true },
        include: listed,
        orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
        take: size + 1,
      });
      const total = await tx.scanArtifact.count({ where });
      return toConnection(rows, size, total, (r) => ({ key: r.receivedAt.toISOString(), id: r.id }), toArtifact);
    });
  }

  async findings(principal: Principal, artifactId: string, first: number): Promise<ScanFindingView[]> {
    const row = await this.db.run(principal, (tx) =>
      tx.scanArtifact.findUnique({ where: { id: artifactId }, select: { envelope: true } }),
    );
    if (!row) throw notFound(`scan artifact ${artifactId} does not exist`);
    return [...storedDocumentOf(row.envelope).findings]
      .sort(byWorst)
      .slice(0, first)
      .map((f) => ({
        id: f.id,
        severity: f.severity,
        cvss: f.cvss ?? null,
        packageName: f.packageName,
        installedVersion: f.installedVersion,
        fixedVersion: f.fixedVersion ?? null,
      }));
  }
}

function toArtifact(row: Omit<Row, 'envelope'>): ScanArtifact {
  return { ...toArtifactSummary(row), format: row.format, uploadedWith: row.uploadToken?.name ?? null };
}
