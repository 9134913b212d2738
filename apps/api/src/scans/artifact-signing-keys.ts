import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import * as path from 'node:path';
import {
  loadKeyring,
  signScanArtifact,
  toJwks,
  type Jwks,
  type Keyring,
  type ScanArtifactDocument,
  type SignedEnvelope,
} from '@portcullis/bundle';
import { repoRoot, type AppConfig } from '@portcullis/config';
import { APP_CONFIG, CLOCK, type Clock } from '@portcullis/platform';

const RELOAD_MS = 30_000;

/**
 * The bundle signing keys, as the API signs scan artifacts with them and publishes them at
 * /.well-known/jwks.json: the same directory the worker signs bundles from, re-read every
 * 30 s so a rotation reaches the API without a restart. One reading serves both, so an
 * artifact is never signed with a key the JWKS does not publish yet. Read once at start
 * too: a missing key, or in production one a development start generated, stops the
 * start with a message naming the file, not the first request that needs it.
 */
@Injectable()
export class ArtifactSigningKeys implements OnModuleInit {
  private cached: { at: number; ring: Keyring } | undefined;
  private published: { ring: Keyring; jwks: Jwks } | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.keyring();
  }

  private keyring(): Keyring {
    const now = this.clock.now().getTime();
    if (!this.cached || now - this.cached.at > RELOAD_MS) {
      const ring = loadKeyring(path.resolve(repoRoot(), this.config.bundles.signingKeysDir), {
        generateIfEmpty: this.config.bundles.generateMissingKeys,
      });
      this.cached = { at: now, ring };
    }
    return this.cached.ring;
  }

  sign(artifact: ScanArtifactDocument): SignedEnvelope {
    return signScanArtifact(artifact, this.keyring().active);
  }

  /** Every key in the directory, so agents keep verifying what was signed before a rotation. */
  jwks(): Jwks {
    const ring = this.keyring();
    if (this.published?.ring !== ring) this.published = { ring, jwks: toJwks(ring.published) };
    return this.published.jwks;
  }

  /** Whether agents can still verify a signature by this key (it is published at the JWKS endpoint). */
  isPublished(kid: string): boolean {
    return this.keyring().published.some((k) => k.kid === kid);
  }
}
