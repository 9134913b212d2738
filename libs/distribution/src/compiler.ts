import {
  CanonicalFragment,
  contentHash,
  signEnvelope,
  type AgentSettings,
  type BundleContent,
  type BundlePolicy,
  type SigningKey,
} from '@portcullis/bundle';
import { withTenant, type EnforcementMode, type Prisma, type PrismaClient } from '@portcullis/db';
import { liveExemptions, policyScopeOf, scopeMatch } from './applicability';

export interface CompilerOptions {
  /** How long a signed bundle is valid. */
  readonly ttlMs: number;
  /** Re-sign when less than this remains (reconcile job). */
  readonly renewBeforeMs: number;
  /** Clusters stored per transaction: progress survives a crash between chunks. */
  readonly chunkSize: number;
}

export interface CompileResult {
  readonly examined: number;
  readonly stored: number;
  readonly unchanged: number;
}

/** Announces stored revisions so long-polling agents wake (Redis pub/sub). */
export type RevisionPublisher = (
  revisions: ReadonlyArray<readonly [clusterId: string, revision: number]>,
) => Promise<void>;

const policySelect = {
  id: true,
  name: true,
  type: true,
  action: true,
  namespaceInclude: true,
  namespaceExclude: true,
  rules: { where: { enabled: true }, select: { ruleId: true, params: true }, orderBy: { ruleId: 'asc' } },
  cloudScopes: { select: { cloudScopeId: true } },
  clusters: { select: { clusterId: true } },
  exemptions: {
    select: { id: true, criteria: true, reason: true, grantedBy: true, expiresAt: true },
    orderBy: { id: 'asc' },
  },
} as const satisfies Prisma.PolicySelect;

type PolicyRow = Prisma.PolicyGetPayload<{ select: typeof policySelect }>;

/**
 * Compiles, signs and stores each cluster's bundle: every policy whose scope reaches
 * the cluster, with its enabled rules and live exemptions. A cluster whose content
 * hash is unchanged (and whose bundle is not near expiry) is skipped; otherwise it
 * gets revision + 1, decided under a row lock, so a revision is never signed twice
 * with different content, however many workers run or crash half-way.
 */
export class BundleCompiler {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly signingKey: () => SigningKey,
    private readonly publish: RevisionPublisher,
    private readonly options: CompilerOptions,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Recompiles the given clusters of a tenant (all of them when `clusterIds` is undefined). */
  async compileTenant(tenantId: string, clusterIds?: readonly string[]): Promise<CompileResult> {
    const now = this.now();
    const { policies, clusters } = await withTenant(this.prisma, tenantId, async (tx) => ({
      policies: await tx.policy.findMany({ select: policySelect, orderBy: { id: 'asc' } }),
      clusters: await tx.cluster.findMany({
        where: clusterIds ? { id: { in: [...clusterIds] } } : {},
        select: { id: true, cloudScopeId: true, enforcementMode: true },
        orderBy: { id: 'asc' },
      }),
    }));
    const compiled = policies.map((p) => ({
      id: p.id,
      scope: policyScopeOf(p),
      bundle: toBundlePolicy(p, now),
    }));
    // clusters mostly share the same applicable policies: serialise each distinct set once
    const fragments = new Map<string, CanonicalFragment>();
    let stored = 0;
    let unchanged = 0;
    for (let i = 0; i < clusters.length; i += this.options.chunkSize) {
      const chunk = clusters.slice(i, i + this.options.chunkSize);
      const contents = chunk.map((cluster) => {
        const applicable = compiled.filter((p) => scopeMatch(p.scope, cluster));
        const setKey = applicable.map((p) => p.id).join(',');
        let policySet = fragments.get(setKey);
        if (!policySet) fragments.set(setKey, (policySet = CanonicalFragment.of(applicable.map((p) => p.bundle))));
        const content: BundleContent = {
          tenantId,
          clusterId: cluster.id,
          policies: policySet,
          agentSettings: agentSettingsOf(cluster),
        };
        return { clusterId: cluster.id, content, hash: contentHash(content) };
      });
      const published = await this.storeChunk(tenantId, contents, now);
      stored += published.length;
      unchanged += chunk.length - published.length;
      if (published.length) await this.publish(published);
    }
    return { examined: clusters.length, stored, unchanged };
  }

  private async storeChunk(
    tenantId: string,
    contents: ReadonlyArray<{ clusterId: string; content: BundleContent; hash: string }>,
    now: Date,
  ): Promise<Array<readonly [string, number]>> {
    const renewBefore = new Date(now.getTime() + this.options.renewBeforeMs);
    const expiresAt = new Date(now.getTime() + this.options.ttlMs);
    // Platform work: bypasses tenant RLS by design, but every statement names the tenant.
    return this.prisma.$transaction(
      async (tx) => {
        const current = await tx.$queryRaw<
          Array<{
            id: string;
            bundle_revision: number | null;
            bundle_content_hash: string | null;
            bundle_expires_at: Date | null;
          }>
        >`
        SELECT id, bundle_revision, bundle_content_hash, bundle_expires_at FROM clusters
        WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${contents.map((c) => c.clusterId)}::uuid[])
        ORDER BY id FOR UPDATE`;
        const byId = new Map(current.map((c) => [c.id, c]));
        const rows: Array<{ clusterId: string; revision: number; hash: string; envelope: string }> = [];
        const key = this.signingKey();
        for (const c of contents) {
          const cur = byId.get(c.clusterId);
          if (!cur) continue; // deleted meanwhile
          if (cur.bundle_content_hash === c.hash && cur.bundle_expires_at && cur.bundle_expires_at > renewBefore)
            continue;
          const revision = (cur.bundle_revision ?? 0) + 1;
          const doc = {
            schemaVersion: 1,
            ...c.content,
            revision,
            issuedAt: now.toISOString(),
            expiresAt: expiresAt.toISOString(),
          };
          rows.push({
            clusterId: c.clusterId,
            revision,
            hash: c.hash,
            envelope: JSON.stringify(signEnvelope(doc, key)),
          });
        }
        if (rows.length === 0) return [];
        // set-based: one INSERT and one UPDATE per chunk, whatever its size
        await tx.$executeRaw`
        INSERT INTO bundles (cluster_id, revision, tenant_id, content_hash, envelope, issued_at, expires_at)
        SELECT v.id, v.revision, ${tenantId}::uuid, v.hash, v.envelope::jsonb, ${now}, ${expiresAt}
        FROM unnest(${rows.map((r) => r.clusterId)}::uuid[], ${rows.map((r) => r.revision)}::int[], ${rows.map((r) => r.hash)}::text[], ${rows.map((r) => r.envelope)}::text[])
          AS v(id, revision, hash, envelope)`;
        await tx.$executeRaw`
        UPDATE clusters AS c SET bundle_revision = v.revision, bundle_content_hash = v.hash, bundle_expires_at = ${expiresAt}
        FROM unnest(${rows.map((r) => r.clusterId)}::uuid[], ${rows.map((r) => r.revision)}::int[], ${rows.map((r) => r.hash)}::text[]) AS v(id, revision, hash)
        WHERE c.id = v.id`;
        return rows.map((r) => [r.clusterId, r.revision] as const);
      },
      { timeout: 60_000, maxWait: 15_000 },
    );
  }
}

/** Only what differs from the agent's defaults: a webhook cluster's bundle (and its hash) stays as before. */
function agentSettingsOf(cluster: { readonly enforcementMode: EnforcementMode }): AgentSettings {
  return cluster.enforcementMode === 'NATIVE' ? { enforcementMode: 'native' } : {};
}

function toBundlePolicy(p: PolicyRow, now: Date): BundlePolicy {
  return {
    id: p.id,
    name: p.name,
    type: p.type,
    action: p.action,
    namespaces: { include: p.namespaceInclude, exclude: p.namespaceExclude },
    rules: p.rules.map((r) => ({ id: r.ruleId, params: r.params as Record<string, unknown> })),
    exemptions: liveExemptions(p.exemptions, now),
  } as BundlePolicy;
}
