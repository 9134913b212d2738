import * as https from 'node:https';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AppConfig } from '@portcullis/config';
import { readCaCertificate } from '@portcullis/dev-issuer';

export interface AuthOptions {
  /** OpenID metadata of the issuer (Entra ID `common` v2.0, or the dev issuer's). */
  readonly identityMetadataUrl: string;
  readonly audience: string;
  /** Accepted `iss`, with `{tenantid}` replaced by the token's own `tid`. */
  readonly issuerTemplate: string;
  readonly clockSkewSeconds: number;
  /** The dev issuer's CA (development and tests only). */
  readonly extraTrustedCaPem?: string;
  readonly production: boolean;
}

export function authOptionsFrom(config: AppConfig): AuthOptions {
  const production = config.env === 'production';
  return {
    identityMetadataUrl: config.auth.metadataUrl,
    audience: config.auth.audience,
    issuerTemplate: config.auth.issuerTemplate,
    clockSkewSeconds: config.auth.clockSkewSeconds,
    extraTrustedCaPem: config.devIssuer ? readCaCertificate(path.resolve(config.devIssuer.stateDir)) : undefined,
    production,
  };
}

const trusted = new Set<string>();

/**
 * Trusts the dev issuer's CA for this process's outgoing HTTPS (passport-azure-ad
 * fetches metadata and keys with node's global agent). Never in production: there,
 * only the system's roots are trusted and the option is refused outright.
 */
export function trustDevIssuerCa(options: AuthOptions): void {
  if (!options.extraTrustedCaPem) return;
  if (options.production) throw new Error('refusing to trust the dev issuer CA when NODE_ENV=production');
  if (trusted.has(options.extraTrustedCaPem)) return;
  trusted.add(options.extraTrustedCaPem);
  https.globalAgent.options.ca = [...tls.rootCertificates, ...trusted];
}
