import { Controller, Get, Header } from '@nestjs/common';
import type { Jwks } from '@portcullis/bundle';
import { Public } from '../auth';
import { ArtifactSigningKeys } from '../scans/artifact-signing-keys';

/**
 * GET /.well-known/jwks.json: the public keys that verify bundles and scan artifacts.
 * Every key in the signing-key directory is published, so agents keep verifying
 * bundles signed before a rotation; the directory is re-read every 30 s.
 */
@Controller('.well-known')
export class JwksController {
  constructor(private readonly keys: ArtifactSigningKeys) {}

  @Public()
  @Get('jwks.json')
  @Header('Cache-Control', 'public, max-age=60')
  jwks(): Jwks {
    return this.keys.jwks();
  }
}
