import type { PrismaClient } from '@portcullis/db';

/**
 * Scan artifacts no agent can be given any more, removed once older than their tenant's
 * scan history (`tenants.scan_history_days`, 30 days unless the tenant set it with
 * `setScanArtifactHistory`). A lookup returns the newest artifact (scanned_at, then
 * received_at) of a repository digest, and of a repository tag; every other artifact is
 * history: a nightly re-scan of a deployed image adds one per night, and only the newest is
 * served. Those received more than the tenant's days ago are deleted; what a lookup can
 * return is never deleted, however old (a pod may run that digest for years). Platform work
 * across tenants; idempotent.
 */
export class ScanArtifactRetention {
  constructor(private readonly prisma: PrismaClient) {}

  /** Returns the artifacts deleted. */
  async run(now: Date): Promise<number> {
    // the two DISTINCT ONs are the lookup's own (scan-artifact-lookup.ts): what it can answer with
    return this.prisma.$executeRaw`
      WITH served AS (
        (SELECT DISTINCT ON (tenant_id, repo_digest, repository) id FROM scan_artifacts
         WHERE repo_digest IS NOT NULL
         ORDER BY tenant_id, repo_digest, repository, scanned_at DESC, received_at DESC, id)
        UNION
        (SELECT DISTINCT ON (a.tenant_id, a.repository, t.tag) a.id FROM scan_artifacts a CROSS JOIN LATERAL unnest(a.tags) AS t(tag)
         ORDER BY a.tenant_id, a.repository, t.tag, a.scanned_at DESC, a.received_at DESC, a.id)
      )
      DELETE FROM scan_artifacts a
      USING tenants t
      WHERE t.id = a.tenant_id
        AND a.received_at < ${now}::timestamptz - make_interval(days => t.scan_history_days)
        AND NOT EXISTS (SELECT 1 FROM served s WHERE s.id = a.id)`;
  }
}
