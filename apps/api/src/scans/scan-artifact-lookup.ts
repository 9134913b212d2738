import { Injectable } from '@nestjs/common';
import { DIGEST, type ScanArtifactLookupResponse, type ScanArtifactLookupResult } from '@portcullis/contracts';
import { Prisma, type TenantTx } from '@portcullis/db';
import { normalizeImage } from '@portcullis/policy-engine';
import type { SignedEnvelope } from '@portcullis/bundle';
import { TenantDb } from '../tenancy/tenant-db';
import { ArtifactSigningKeys } from './artifact-signing-keys';
import { storedDocumentOf } from './scan-artifact.mapper';

/** One image of a lookup, as the API resolves it. */
type Query =
  | { readonly kind: 'digest'; readonly digest: string; readonly repository?: string }
  | { readonly kind: 'tag'; readonly repository: string; readonly tag: string }
  | { readonly kind: 'none' };

interface Hit {
  readonly id: string;
  readonly repository: string;
  readonly repo_digest: string | null;
  readonly kid: string;
  readonly envelope: SignedEnvelope;
}

/** A digest names content: the API answers with a tag only for a reference that has no digest. */
export function queryOf(image: string): Query {
  if (DIGEST.test(image)) return { kind: 'digest', digest: image.toLowerCase() };
  const ref = normalizeImage(image);
  if (!ref) return { kind: 'none' };
  const repository = `${ref.registry}/${ref.repository}`;
  if (ref.digest !== undefined) return { kind: 'digest', digest: ref.digest.toLowerCase(), repository };
  return { kind: 'tag', repository, tag: ref.tag ?? 'latest' };
}

/**
 * POST /agent/v1/scan-artifacts/lookup: the newest signed artifact of each image, in
 * the agent's tenant only. Two set-based queries answer any number of images (bounded
 * by MAX_LOOKUP_IMAGES): one for digests, one for (repository, tag) pairs. A tag
 * resolves to the newest artifact reported for it, and the answer says so (TAG).
 */
@Injectable()
export class ScanArtifactLookup {
  constructor(
    private readonly db: TenantDb,
    private readonly keys: ArtifactSigningKeys,
  ) {}

  async lookup(tenantId: string, images: readonly string[]): Promise<ScanArtifactLookupResponse> {
    const queries = images.map(queryOf);
    const digests = [...new Set(queries.flatMap((q) => (q.kind === 'digest' ? [q.digest] : [])))];
    const pairs = [
      ...new Map(queries.flatMap((q) => (q.kind === 'tag' ? [[`${q.repository}:${q.tag}`, q] as const] : []))).values(),
    ];
    const { byDigest, byTag } = await this.db.run({ tenantId }, async (tx) => {
      const [digestHits, tagHits] = [
        await this.digestHits(tx, tenantId, digests),
        await this.tagHits(tx, tenantId, pairs),
      ];
      await this.resignRetired(tx, [...digestHits, ...tagHits]);
      return { byDigest: digestHits, byTag: tagHits };
    });
    const results = images.map((image, i): ScanArtifactLookupResult => {
      const q = queries[i]!;
      if (q.kind === 'digest') {
        // the same digest in the repository asked for, else in any repository (same content)
        const hit =
          byDigest.find((h) => h.repo_digest === q.digest && h.repository === q.repository) ??
          byDigest.find((h) => h.repo_digest === q.digest);
        return hit
          ? { image, status: 'FOUND', resolvedBy: 'DIGEST', digest: q.digest, artifact: hit.envelope }
          : { image, status: 'NOT_FOUND' };
      }
      if (q.kind === 'tag') {
        const hit = byTag.find((h) => h.repository === q.repository && h.tag === q.tag);
        if (!hit) return { image, status: 'NOT_FOUND' };
        return {
          image,
          status: 'FOUND',
          resolvedBy: 'TAG',
          ...(hit.repo_digest ? { digest: hit.repo_digest } : {}),
          artifact: hit.envelope,
        };
      }
      return { image, status: 'NOT_FOUND' };
    });
    return { results };
  }

  private async digestHits(tx: TenantTx, tenantId: string, digests: readonly string[]): Promise<Hit[]> {
    if (digests.length === 0) return [];
    // newest scan per (digest, repository)
    return tx.$queryRaw<Hit[]>(Prisma.sql`
      SELECT DISTINCT ON (repo_digest, repository) id, repository, repo_digest, kid, envelope
      FROM scan_artifacts
      WHERE tenant_id = ${tenantId}::uuid AND repo_digest = ANY(${digests}::text[])
      ORDER BY repo_digest, repository, scanned_at DESC, received_at DESC, id`);
  }

  private async tagHits(
    tx: TenantTx,
    tenantId: string,
    pairs: ReadonlyArray<{ repository: string; tag: string }>,
  ): Promise<Array<Hit & { tag: string }>> {
    if (pairs.length === 0) return [];
    return tx.$queryRaw<Array<Hit & { tag: string }>>(Prisma.sql`
      SELECT DISTINCT ON (q.repository, q.tag) q.tag, a.id, a.repository, a.repo_digest, a.kid, a.envelope
      FROM unnest(${pairs.map((p) => p.repository)}::text[], ${pairs.map((p) => p.tag)}::text[]) AS q(repository, tag)
      JOIN scan_artifacts a ON a.tenant_id = ${tenantId}::uuid AND a.repository = q.repository AND q.tag = ANY(a.tags)
      ORDER BY q.repository, q.tag, a.scanned_at DESC, a.received_at DESC, a.id`);
  }

  /**
   * An artifact signed by a key no longer published would fail every agent's check:
   * it is signed again with the active key (same document) and stored, once.
   */
  private async resignRetired(tx: TenantTx, hits: Array<{ -readonly [K in keyof Hit]: Hit[K] }>): Promise<void> {
    const done = new Map<string, SignedEnvelope>();
    for (const hit of hits) {
      if (this.keys.isPublished(hit.kid)) continue;
      let envelope = done.get(hit.id);
      if (!envelope) {
        envelope = this.keys.sign(storedDocumentOf(hit.envelope));
        await tx.scanArtifact.update({ where: { id: hit.id }, data: { envelope: { ...envelope }, kid: envelope.kid } });
        done.set(hit.id, envelope);
      }
      hit.envelope = envelope;
      hit.kid = envelope.kid;
    }
  }
}
