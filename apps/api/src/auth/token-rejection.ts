import { verify } from 'node:crypto';
import type { AadMetadata } from './issuer-metadata';

/** A JWT's parts, decoded but NOT verified: only for shape checks and for explaining a rejection. */
export interface UnverifiedJwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decodes a compact JWS, or says why it is not one. Done before passport-azure-ad sees
 * the token: the library logs its own decode failures, which would put token text in logs.
 */
export function decodeUnverified(token: string): UnverifiedJwt | string {
  const parts = token.split('.');
  if (parts.length !== 3) return 'the bearer token is malformed: a JWT has three dot-separated parts';
  const [h, p, s] = parts as [string, string, string];
  if (![h, p, s].every((part) => SEGMENT.test(part)))
    return 'the bearer token is malformed: its parts are not base64url';
  const header = jsonObject(h);
  const payload = jsonObject(p);
  if (!header) return 'the bearer token is malformed: its header is not a JSON object';
  if (!payload) return 'the bearer token is malformed: its payload is not a JSON object';
  if (typeof header['alg'] !== 'string') return 'the bearer token is malformed: its header names no algorithm (alg)';
  // RFC 7515 §4.1.11: a token naming extensions the recipient does not understand is refused;
  // this API understands none, and passport-azure-ad never looks at crit
  if (Object.hasOwn(header, 'crit'))
    return 'the bearer token header lists critical extensions (crit), which this API does not support';
  return { header, payload, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * Why passport-azure-ad refused a token it had keys for. With loggingNoPII on (so it
 * never logs tokens) the library only says "cannot verify token"; this re-walks its
 * checks in its order (lib/jsonWebToken.js: algorithm, signature, iss, aud, exp, nbf)
 * to name the one that failed. The decision itself stays the library's.
 */
export function explainVerificationFailure(
  jwt: UnverifiedJwt,
  metadata: AadMetadata | undefined,
  expected: { audience: string; clockSkewSeconds: number; issuer?: { tenantId: string; iss: string } },
  nowSeconds = Math.floor(Date.now() / 1000),
): string {
  const alg = jwt.header['alg'] as string;
  if (metadata && !metadata.oidc.algorithms.includes(alg))
    return `the bearer token is signed with ${alg}, which the issuer does not use`;
  const kid = jwt.header['x5t'] ?? jwt.header['kid'];
  if (metadata && typeof kid === 'string' && alg === 'RS256') {
    let pem: string | undefined;
    try {
      pem = metadata.generateOidcPEM(kid);
    } catch {
      pem = undefined;
    }
    if (pem && !verify('RSA-SHA256', Buffer.from(jwt.signingInput), pem, jwt.signature))
      return 'the bearer token signature does not verify';
  }
  const c = jwt.payload;
  if (typeof c['iss'] !== 'string' || c['iss'] === '') return 'the bearer token names no issuer (iss)';
  if (expected.issuer && c['iss'] !== expected.issuer.iss) {
    return `the bearer token issuer "${c['iss'].slice(0, 200)}" is not accepted for tenant ${expected.issuer.tenantId}`;
  }
  const aud = c['aud'];
  if (Array.isArray(aud) && aud.length > 1)
    return 'the bearer token names several audiences; this API accepts tokens issued for it alone';
  const audience = Array.isArray(aud) ? aud[0] : aud;
  if (audience !== expected.audience) {
    return typeof audience === 'string'
      ? `the bearer token audience "${audience.slice(0, 200)}" is not accepted by this API`
      : 'the bearer token names no audience (aud)';
  }
  const skew = expected.clockSkewSeconds;
  if (typeof c['exp'] !== 'number') return 'the bearer token has no expiry (exp)';
  if (nowSeconds >= c['exp'] + skew) return `the bearer token expired at ${iso(c['exp'])}`;
  if (c['nbf']) {
    if (typeof c['nbf'] !== 'number') return 'the bearer token is malformed: nbf is not a number';
    if (c['nbf'] >= c['exp']) return 'the bearer token is malformed: nbf is not before exp';
    if (c['nbf'] >= nowSeconds + skew) return `the bearer token is not valid yet (not before ${iso(c['nbf'])})`;
  }
  return 'the bearer token could not be verified';
}

/** Why the library found no key: no key id at all, or one the issuer does not publish. */
export function explainMissingKey(jwt: UnverifiedJwt): string {
  const kid = jwt.header['x5t'] ?? jwt.header['kid'];
  return typeof kid === 'string' && kid !== ''
    ? 'the bearer token is signed with a key the issuer does not publish (unknown kid)'
    : 'the bearer token names no signing key (kid)';
}
