import * as path from 'node:path';
import { repoRoot, type AppConfig } from '@portcullis/config';
import { readCaCertificate } from '@portcullis/dev-issuer';

export interface AuthOptions {
  /**
   * OpenID metadata of the token issuer: Entra ID's multi-tenant document
   * `https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration`,
   * or the dev issuer's `https://127.0.0.1:<port>/common/v2.0/.well-known/openid-configuration`.
   */
  readonly identityMetadataUrl: string;
  /** The only accepted `aud` (the API's application ID URI), e.g. `api://portcullis`. */
  readonly audience: string;
  /** Accepted `iss` with `{tenantid}` replaced by the token's own `tid`, e.g. `https://login.microsoftonline.com/{tenantid}/v2.0`. */
  readonly allowedIssuerTemplate: string;
  /** Tolerance on `exp` and `nbf`. */
  readonly clockSkewSeconds: number;
  /** The dev issuer's CA, trusted for the metadata and key fetches only (development and tests). */
  readonly extraTrustedCaPem?: string;
  /** When true, extraTrustedCaPem and non-https metadata are refused. */
  readonly production: boolean;
}

export class AuthOptionsError extends Error {
  constructor(field: keyof AuthOptions, detail: string) {
    super(`invalid auth options: ${field} ${detail}`);
  }
}

/** Refuses options that would weaken validation; called by AuthModule.register. */
export function checkAuthOptions(o: AuthOptions): void {
  let url: URL;
  try {
    url = new URL(o.identityMetadataUrl);
  } catch {
    throw new AuthOptionsError('identityMetadataUrl', `"${o.identityMetadataUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:')
    throw new AuthOptionsError(
      'identityMetadataUrl',
      'must be an https URL (passport-azure-ad and production both require it)',
    );
  if (!o.audience.trim()) throw new AuthOptionsError('audience', 'must not be empty');
  if (!/^https:\/\/[^{}]+\{tenantid\}[^{}]*$/.test(o.allowedIssuerTemplate)) {
    throw new AuthOptionsError('allowedIssuerTemplate', 'must be an https URL containing {tenantid} once');
  }
  if (!Number.isInteger(o.clockSkewSeconds) || o.clockSkewSeconds < 0 || o.clockSkewSeconds > 900) {
    throw new AuthOptionsError('clockSkewSeconds', 'must be a whole number of seconds from 0 to 900');
  }
  if (o.production && o.extraTrustedCaPem) {
    throw new AuthOptionsError(
      'extraTrustedCaPem',
      'is refused in production: the development issuer CA is never trusted there',
    );
  }
  if (o.extraTrustedCaPem !== undefined && !o.extraTrustedCaPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new AuthOptionsError('extraTrustedCaPem', 'is not a PEM certificate');
  }
}

/**
 * The API's auth options from its validated config. Outside production, when the dev
 * issuer is enabled, its CA is read from DEV_ISSUER_STATE_DIR (relative paths from the
 * repository root) so the metadata and key fetches can verify its TLS certificate.
 */
export function authOptionsFrom(config: AppConfig): AuthOptions {
  const production = config.env === 'production';
  const stateDir = config.devIssuer && !production ? path.resolve(repoRoot(), config.devIssuer.stateDir) : undefined;
  return {
    identityMetadataUrl: config.auth.metadataUrl,
    audience: config.auth.audience,
    allowedIssuerTemplate: config.auth.issuerTemplate,
    clockSkewSeconds: config.auth.clockSkewSeconds,
    extraTrustedCaPem: stateDir ? readCaCertificate(stateDir) : undefined,
    production,
  };
}
