import { createHash } from 'node:crypto';
import { z } from 'zod';
import { MAX_NAMESPACE_PATTERN_LENGTH, MAX_PATTERNS_PER_LIST } from '@portcullis/policy-engine';
import { canonicalJson, type CanonicalFragment } from './canonical-json';
import { firstIssue } from './schema-issues';

export type PolicyType = 'MISCONFIGURATION' | 'VULNERABILITY';
export type PolicyAction = 'AUDIT' | 'BLOCK';

/** JSON object in engine vocabulary (rule parameters, exemptions): the bundle only checks it is an object. */
export type JsonObject = Readonly<Record<string, unknown>>;

/** One policy as an agent enforces it. Rules and exemptions are engine vocabulary, carried as JSON. */
export interface BundlePolicy {
  readonly id: string;
  readonly name: string;
  readonly type: PolicyType;
  readonly action: PolicyAction;
  /** Glob patterns; an empty include means every namespace. */
  readonly namespaces: { readonly include: readonly string[]; readonly exclude: readonly string[] };
  readonly rules: ReadonlyArray<{ readonly id: string; readonly params: JsonObject }>;
  readonly exemptions: readonly JsonObject[];
}

/** Settings the API sends the agent with its policies; an absent setting keeps the agent's own default. */
export interface AgentSettings {
  /** Namespaces (glob patterns) the agent never evaluates, beyond its own namespace and kube-system. */
  readonly excludedNamespaces?: readonly string[];
  /** Hard budget for a scan-artifact lookup during an admission, after which `onLookupFailure` applies. */
  readonly vulnerabilityLookupTimeoutMs?: number;
  /** Admission events per upload. */
  readonly eventBatchSize?: number;
  /** Longest an event waits in the spool before a (partial) batch is uploaded. */
  readonly eventFlushIntervalMs?: number;
  /**
   * `native`: the agent also keeps the misconfiguration policies compiled to ValidatingAdmissionPolicy
   * objects in its cluster. Absent means `webhook`, so webhook clusters' bundles and hashes never change.
   */
  readonly enforcementMode?: EnforcementModeSetting;
}

export const ENFORCEMENT_MODES = ['webhook', 'native'] as const;
export type EnforcementModeSetting = (typeof ENFORCEMENT_MODES)[number];

export interface BundleDocument {
  readonly schemaVersion: 1;
  readonly tenantId: string;
  readonly clusterId: string;
  /** Grows with every change for this cluster; agents refuse to go back. */
  readonly revision: number;
  readonly issuedAt: string;
  readonly expiresAt: string;
  readonly policies: readonly BundlePolicy[];
  readonly agentSettings: AgentSettings;
}

/** What decides whether a new revision is needed: everything but revision and validity. */
export type BundleContent = Pick<BundleDocument, 'tenantId' | 'clusterId' | 'agentSettings'> & {
  /** The policies, or their canonical JSON made once for many clusters (same hash, same signed bytes). */
  readonly policies: BundleDocument['policies'] | CanonicalFragment;
};

/** sha256 (hex) of the canonical JSON of the content; equal hashes mean the agent would enforce the same thing. */
export function contentHash(content: BundleContent): string {
  const { tenantId, clusterId, policies, agentSettings } = content;
  return createHash('sha256').update(canonicalJson({ tenantId, clusterId, policies, agentSettings })).digest('hex');
}

const name = (max: number) => z.string().min(1).max(max);
const pattern = z.string().min(1).max(MAX_NAMESPACE_PATTERN_LENGTH);
// as many as the API accepts: each admission matches every one of them
const patterns = z.array(pattern).max(MAX_PATTERNS_PER_LIST);
const jsonObject = z.record(z.unknown());
const timestamp = z.string().datetime({ offset: true });

const BundlePolicySchema = z.object({
  id: name(128),
  name: name(200),
  type: z.enum(['MISCONFIGURATION', 'VULNERABILITY']),
  action: z.enum(['AUDIT', 'BLOCK']),
  namespaces: z.object({ include: patterns, exclude: patterns }),
  rules: z
    .array(z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'is not a rule id'), params: jsonObject }))
    .max(200),
  exemptions: z.array(jsonObject).max(10_000),
});

const AgentSettingsSchema = z.object({
  excludedNamespaces: patterns.optional(),
  vulnerabilityLookupTimeoutMs: z.number().int().min(10).max(30_000).optional(),
  eventBatchSize: z.number().int().min(1).max(1000).optional(),
  eventFlushIntervalMs: z.number().int().min(100).max(3_600_000).optional(),
  enforcementMode: z.enum(ENFORCEMENT_MODES).optional(),
});

/**
 * Unknown properties are dropped rather than refused, so an agent older than the API
 * still enforces what it understands; a change an old agent must not ignore needs a
 * new schemaVersion.
 */
export const BundleDocumentSchema: z.ZodType<BundleDocument, z.ZodTypeDef, unknown> = z
  .object({
    schemaVersion: z.literal(1),
    tenantId: z.string().uuid(),
    clusterId: z.string().uuid(),
    revision: z.number().int().positive(),
    issuedAt: timestamp,
    expiresAt: timestamp,
    policies: z.array(BundlePolicySchema).max(1000),
    agentSettings: AgentSettingsSchema,
  })
  .superRefine((doc, ctx) => {
    if (Date.parse(doc.expiresAt) <= Date.parse(doc.issuedAt)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['expiresAt'],
        message: `is not after issuedAt (${doc.issuedAt})`,
      });
    }
    const seen = new Map<string, number>();
    doc.policies.forEach((p, i) => {
      const earlier = seen.get(p.id);
      if (earlier !== undefined)
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['policies', i, 'id'],
          message: `duplicates policies[${earlier}].id`,
        });
      seen.set(p.id, i);
    });
  });

export type BundleDocumentCheck =
  { readonly ok: true; readonly bundle: BundleDocument } | { readonly ok: false; readonly message: string };

/** Structural check of a bundle document (built by the worker, or decoded by the agent). */
export function checkBundleDocument(doc: unknown): BundleDocumentCheck {
  const r = BundleDocumentSchema.safeParse(doc);
  return r.success ? { ok: true, bundle: r.data } : { ok: false, message: firstIssue(r.error) };
}

/** The first structural problem of a bundle document, or null (kept for callers of the first version). */
export function bundleShapeError(doc: unknown): string | null {
  const r = checkBundleDocument(doc);
  return r.ok ? null : r.message;
}
