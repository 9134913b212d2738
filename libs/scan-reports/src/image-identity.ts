import { normalizeImage } from '@portcullis/policy-engine';

/** How a report names its image, before choosing one repository. */
export interface ImageNames {
  /** `repo@sha256:...` entries (Trivy RepoDigests, Grype repoDigests). */
  readonly repoDigests: readonly string[];
  /** `repo:tag` entries (Trivy RepoTags, Grype tags). */
  readonly tags: readonly string[];
  /**
   * What the user asked to scan (Trivy ArtifactName, Grype userInput), used only when
   * the lists above are empty, and only when it names a tag or digest explicitly: a
   * bare name may be a tarball path or a directory, never proof of an image.
   */
  readonly fallback?: string;
}

export interface ImageIdentity {
  readonly repository: string;
  readonly tags: readonly string[];
  readonly repoDigest?: string;
  readonly warnings: readonly string[];
}

const MANIFEST_DIGEST = /^(?:sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

interface Ref {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

function parse(ref: string): Ref | undefined {
  const r = normalizeImage(ref);
  if (!r) return undefined;
  const digest = r.digest?.toLowerCase();
  if (digest !== undefined && !MANIFEST_DIGEST.test(digest)) return undefined;
  return {
    repository: `${r.registry}/${r.repository}`,
    ...(r.tag !== undefined ? { tag: r.tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** A tag or digest written out, not the `latest` a runtime would assume. */
const explicit = (ref: string): boolean => ref.includes('@') || ref.slice(ref.lastIndexOf('/') + 1).includes(':');

/**
 * Picks the image a report is about: the repository of its first repo digest, else of
 * its first tag, else the explicit reference the user scanned. One report is one
 * artifact, so tags of other repositories are left out, with a warning.
 */
export function identifyImage(names: ImageNames): ImageIdentity | undefined {
  const warnings: string[] = [];
  const digests: Ref[] = [];
  for (const d of names.repoDigests) {
    const r = parse(d);
    if (r?.digest) digests.push(r);
    else
      warnings.push(
        `repo digest ${JSON.stringify(d.slice(0, 300))} is not a repository@sha256:<hex> reference; ignored`,
      );
  }
  const tagged: Ref[] = [];
  for (const t of names.tags) {
    const r = parse(t);
    if (r?.tag && explicit(t)) tagged.push(r);
    else warnings.push(`tag ${JSON.stringify(t.slice(0, 300))} is not a repository:tag reference; ignored`);
  }
  if (digests.length === 0 && tagged.length === 0 && names.fallback !== undefined && explicit(names.fallback)) {
    const r = parse(names.fallback);
    if (r) (r.digest ? digests : tagged).push(r);
    if (r?.digest && r.tag) tagged.push(r);
  }
  const repository = digests[0]?.repository ?? tagged[0]?.repository;
  if (repository === undefined) return undefined;
  const tags = [...new Set(tagged.filter((t) => t.repository === repository).map((t) => t.tag!))];
  const others = [
    ...new Set([...tagged, ...digests].filter((r) => r.repository !== repository).map((r) => r.repository)),
  ];
  if (others.length)
    warnings.push(
      `the report also names ${others.join(', ')}; this artifact is for ${repository} only (upload one report per repository)`,
    );
  const repoDigest = digests.find((d) => d.repository === repository)?.digest;
  return { repository, tags, ...(repoDigest !== undefined ? { repoDigest } : {}), warnings };
}
