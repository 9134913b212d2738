import { Controller, Get, Header, Inject } from '@nestjs/common';
import * as path from 'node:path';
import { loadKeyring, toJwks, type Jwks } from '@portcullis/bundle';
import { repoRoot, type AppConfig } from '@portcullis/config';
import { APP_CONFIG } from '@portcullis/platform';
import { Public } from '../auth';

const RELOAD_MS = 30_000;

/**
 * GET /.well-known/jwks.json: the public keys that verify bundles and scan artifacts.
 * Every key in the signing-key directory is published, so agents keep verifying
 * bundles signed before a rotation; the directory is re-read every 30 s.
 */
@Controller('.well-known')
export class JwksController {
  private cached: { at: number; jwks: Jwks } | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=60')
  jwks(): Jwks {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > RELOAD_MS) {
      const ring = loadKeyring(path.resolve(repoRoot(), this.config.bundles.signingKeysDir), { generateIfEmpty: this.config.bundles.generateMissingKeys });
      this.cached = { at: now, jwks: toJwks(ring.published) };
    }
    return this.cached.jwks;
  }
}
