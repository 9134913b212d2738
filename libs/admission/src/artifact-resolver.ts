import type { PublicKeySet } from '@portcullis/bundle';
import {
  DIGEST,
  IMAGE_REFERENCE,
  MAX_LOOKUP_IMAGES,
  artifactLookupOf,
  validateScanArtifactLookupResponse,
  type ScanArtifactLookupResult,
} from '@portcullis/contracts';
import type { ArtifactLookup } from '@portcullis/policy-engine';
import { describeAnswer, type ApiClient } from './api-client';
import type { ScanArtifactSource } from './decide';

export interface ResolverOptions {
  readonly cacheTtlMs: number;
  readonly notFoundTtlMs: number;
  /** A failed lookup is not repeated for this long, so an API outage does not cost every admission its whole budget. */
  readonly failureTtlMs: number;
  /** How long a lookup may go on in the background after an admission stopped waiting for it (it fills the cache). */
  readonly requestTimeoutMs: number;
}

interface Entry {
  readonly lookup: ArtifactLookup;
  readonly expiresAt: number;
}

/**
 * Scan artifacts for the images of an admission: from an in-memory cache, else one
 * POST /agent/v1/scan-artifacts/lookup for every missing image, within a hard time
 * budget. Every artifact is verified (trusted key, tenant, the image asked) before it
 * counts; anything else is a failed lookup, which the rule's onLookupFailure decides.
 * Cached artifacts are the same objects across admissions, so the engine's
 * per-artifact verdict cache keeps working.
 */
export class ArtifactResolver implements ScanArtifactSource {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<void>>();
  lookups = 0;
  failures = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly trustedKeys: PublicKeySet,
    private readonly options: ResolverOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Cached answers for every image, when all of them are cached and fresh (the fast path: no promise). */
  cached(images: readonly string[]): Map<string, ArtifactLookup> | null {
    const now = this.now();
    const out = new Map<string, ArtifactLookup>();
    for (const image of images) {
      const e = this.cache.get(image);
      if (!e || e.expiresAt <= now) return null;
      out.set(image, e.lookup);
    }
    return out;
  }

  async resolve(images: readonly string[], tenantId: string, budgetMs: number): Promise<Map<string, ArtifactLookup>> {
    const now = this.now();
    const missing: string[] = [];
    const waits: Promise<void>[] = [];
    for (const image of new Set(images)) {
      const e = this.cache.get(image);
      if (e && e.expiresAt > now) continue;
      const pending = this.inFlight.get(image);
      if (pending) waits.push(pending);
      else if (!IMAGE_REFERENCE.test(image) && !DIGEST.test(image))
        this.store(
          image,
          { status: 'lookup-failed', error: `${image.slice(0, 100)} is not an image reference` },
          this.options.cacheTtlMs,
        );
      else missing.push(image);
    }
    for (let i = 0; i < missing.length; i += MAX_LOOKUP_IMAGES)
      waits.push(this.fetch(missing.slice(i, i + MAX_LOOKUP_IMAGES), tenantId));
    if (waits.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(waits), new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)))]);
      clearTimeout(timer);
    }
    const out = new Map<string, ArtifactLookup>();
    for (const image of images) {
      const e = this.cache.get(image);
      out.set(
        image,
        e ? e.lookup : { status: 'lookup-failed', error: `no scan-artifact answer within ${budgetMs} ms` },
      );
    }
    return out;
  }

  private fetch(images: string[], tenantId: string): Promise<void> {
    const request = { images };
    const done = this.api
      .request({
        method: 'POST',
        path: '/agent/v1/scan-artifacts/lookup',
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify(request)),
        timeoutMs: this.options.requestTimeoutMs,
      })
      .then((res) => {
        if (res.status !== 200) return this.fail(images, `scan-artifact lookup: ${describeAnswer(res)}`);
        let body: unknown;
        try {
          body = JSON.parse(res.body.toString('utf8'));
        } catch {
          return this.fail(images, 'scan-artifact lookup: the answer is not JSON');
        }
        const v = validateScanArtifactLookupResponse(body, request);
        if (!v.ok)
          return this.fail(
            images,
            `scan-artifact lookup: the answer breaks the contract at ${v.errors[0]!.path}: ${v.errors[0]!.message}`,
          );
        this.lookups += images.length;
        v.value.results.forEach((r) => this.accept(r, tenantId));
      })
      .catch((err: unknown) => this.fail(images, `scan-artifact lookup: ${(err as Error).message}`))
      .finally(() => {
        for (const image of images) this.inFlight.delete(image);
      });
    for (const image of images) this.inFlight.set(image, done);
    return done;
  }

  private accept(r: ScanArtifactLookupResult, tenantId: string): void {
    // the same mapping the API's tests use: verified (key, tenant, the image asked) or a failed lookup
    const lookup = artifactLookupOf(r, { trustedKeys: this.trustedKeys, tenantId });
    if (lookup.status === 'lookup-failed') this.failures++;
    this.store(
      r.image,
      lookup,
      lookup.status === 'found'
        ? this.options.cacheTtlMs
        : lookup.status === 'not-found'
          ? this.options.notFoundTtlMs
          : this.options.failureTtlMs,
    );
  }

  private fail(images: readonly string[], error: string): void {
    this.failures += images.length;
    for (const image of images) this.store(image, { status: 'lookup-failed', error }, this.options.failureTtlMs);
  }

  private store(image: string, lookup: ArtifactLookup, ttlMs: number): void {
    // bounded: a cluster runs far fewer distinct images than this
    if (this.cache.size >= 50_000 && !this.cache.has(image)) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(image, { lookup, expiresAt: this.now() + ttlMs });
  }
}
