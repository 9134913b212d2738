import { z } from 'zod';
import { firstIssue } from './schema-issues';

export type Severity = 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'UNKNOWN';

export interface ScanFinding {
  /** Vulnerability id as the scanner names it: CVE-2024-1234, GHSA-..., ... */
  readonly id: string;
  readonly severity: Severity;
  /** CVSS base score (0-10), when the scanner reports one. */
  readonly cvss?: number;
  readonly packageName: string;
  readonly installedVersion: string;
  /** Absent when no fixed version exists (what `onlyFixable` looks at). */
  readonly fixedVersion?: string;
}

/**
 * The normalised vulnerability summary of one image, signed with the bundle keys so an
 * agent can trust it as much as its bundle.
 */
export interface ScanArtifactDocument {
  readonly schemaVersion: 1;
  readonly tenantId: string;
  /** Normalised repository: registry host and path, e.g. `docker.io/library/nginx`. */
  readonly repository: string;
  readonly tags: readonly string[];
  /** `sha256:<64 hex>`: the manifest digest the image is pulled by. */
  readonly repoDigest?: string;
  /** Digest of the image configuration (what `docker images --digests` calls the image id). */
  readonly imageId?: string;
  /**
   * True when the report carried no repo digest, so the artifact names the image only by
   * repository and tag, which can move; always equals `repoDigest === undefined`.
   */
  readonly tagBound: boolean;
  readonly scanner: { readonly name: string; readonly version: string };
  readonly scannedAt: string;
  readonly findings: readonly ScanFinding[];
}

const DIGEST = /^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
// registry host (with port) optional, then lowercase path components as the distribution spec allows
const REPOSITORY =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^\w[\w.-]{0,127}$/;

const text = (max: number) => z.string().min(1).max(max);

const ScanFindingSchema = z.object({
  id: text(128),
  severity: z.enum(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN']),
  cvss: z.number().min(0).max(10).optional(),
  packageName: text(512),
  installedVersion: text(256),
  fixedVersion: text(256).optional(),
});

export const ScanArtifactDocumentSchema: z.ZodType<ScanArtifactDocument, z.ZodTypeDef, unknown> = z
  .object({
    schemaVersion: z.literal(1),
    tenantId: z.string().uuid(),
    repository: z.string().max(255).regex(REPOSITORY, 'is not a repository name (registry/path, lowercase)'),
    tags: z.array(z.string().regex(TAG, 'is not an image tag')).max(100),
    repoDigest: z.string().regex(DIGEST, 'is not a digest (sha256:<64 hex>)').optional(),
    imageId: z.string().regex(DIGEST, 'is not a digest (sha256:<64 hex>)').optional(),
    tagBound: z.boolean(),
    scanner: z.object({ name: text(64), version: text(64) }),
    scannedAt: z.string().datetime({ offset: true }),
    findings: z.array(ScanFindingSchema).max(50_000),
  })
  .superRefine((doc, ctx) => {
    if (doc.tagBound !== (doc.repoDigest === undefined)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['tagBound'],
        message: doc.tagBound ? 'is true but repoDigest is set' : 'is false but there is no repoDigest',
      });
    }
    if (doc.tagBound && doc.tags.length === 0) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['tags'],
        message: 'is empty, and without a repo digest or a tag nothing identifies the image',
      });
    }
  });

export type ScanArtifactDocumentCheck =
  { readonly ok: true; readonly artifact: ScanArtifactDocument } | { readonly ok: false; readonly message: string };

export function checkScanArtifactDocument(doc: unknown): ScanArtifactDocumentCheck {
  const r = ScanArtifactDocumentSchema.safeParse(doc);
  return r.success ? { ok: true, artifact: r.data } : { ok: false, message: firstIssue(r.error) };
}
