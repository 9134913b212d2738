import { createPublicKey } from 'node:crypto';
import { isValidKid, publicKeyX, type PublicKeySet, type TrustedKey } from './signing-key';

export interface Jwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: 'EdDSA';
}

export interface Jwks {
  readonly keys: readonly Jwk[];
}

export class JwksError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksError';
  }
}

/**
 * The public halves, as published at /.well-known/jwks.json. Built field by field
 * from the public key, so a SigningKey passed here cannot leak its private half.
 */
export function toJwks(keys: readonly TrustedKey[]): Jwks {
  return {
    keys: keys.map((k) => ({
      kty: 'OKP',
      crv: 'Ed25519',
      x: publicKeyX(k.publicKey),
      kid: k.kid,
      use: 'sig',
      alg: 'EdDSA',
    })),
  };
}

const X = /^[A-Za-z0-9_-]{43}$/; // 32 bytes, base64url without padding

/**
 * Trusted keys from a JWKS document (what an agent fetches or is configured with).
 * Keys for other algorithms or uses are ignored, as JWKS consumers do; a malformed
 * Ed25519 entry, a duplicate kid, or no usable key at all is an error naming the entry.
 */
export function fromJwks(jwks: unknown): PublicKeySet {
  const keys = typeof jwks === 'object' && jwks !== null ? (jwks as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new JwksError('the JWKS is not an object with a "keys" array');
  const trusted: TrustedKey[] = [];
  keys.forEach((entry: unknown, i) => {
    if (typeof entry !== 'object' || entry === null) throw new JwksError(`keys[${i}] is not an object`);
    const k = entry as Record<string, unknown>;
    if (k['kty'] !== 'OKP' || k['crv'] !== 'Ed25519') return;
    if ((k['use'] !== undefined && k['use'] !== 'sig') || (k['alg'] !== undefined && k['alg'] !== 'EdDSA')) return;
    if ('d' in k)
      throw new JwksError(`keys[${i}] holds private key material ("d"); a JWKS must publish public keys only`);
    if (typeof k['x'] !== 'string' || !X.test(k['x']))
      throw new JwksError(`keys[${i}].x is not a base64url Ed25519 public key`);
    if (typeof k['kid'] !== 'string' || !isValidKid(k['kid']))
      throw new JwksError(`keys[${i}].kid is missing or not a key id`);
    const kid = k['kid'];
    if (trusted.some((t) => t.kid === kid)) throw new JwksError(`keys[${i}].kid ${kid} appears twice`);
    trusted.push({
      kid,
      publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: k['x'] }, format: 'jwk' }),
    });
  });
  if (trusted.length === 0) throw new JwksError('the JWKS holds no Ed25519 signing key');
  return trusted;
}
