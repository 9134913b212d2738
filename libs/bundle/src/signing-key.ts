import { createHash, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

/** A public key that verifies bundles and scan artifacts, by key id. */
export interface TrustedKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
}

/** The keys an agent (or a test) trusts: several at once during a rotation. */
export type PublicKeySet = readonly TrustedKey[];

/** Printable ASCII without spaces: a kid ends up in headers, logs and error messages. */
const KID = /^[\x21-\x7e]{1,128}$/;

export function isValidKid(kid: string): boolean {
  return KID.test(kid);
}

/**
 * An Ed25519 signing key. The private half never serialises: it lives in a private
 * field behind a getter, and JSON, util.inspect, String() and object spread show only
 * the key id, so a key that reaches a log line or a GraphQL answer by mistake leaks nothing.
 */
export class SigningKey implements TrustedKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject, kid?: string) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new Error(
        `a signing key must be an Ed25519 private key, not ${privateKey.type} ${privateKey.asymmetricKeyType ?? ''}`.trim(),
      );
    }
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    const id = kid ?? jwkThumbprint(this.publicKey);
    if (!isValidKid(id)) throw new Error('a key id must be 1-128 printable ASCII characters without spaces');
    this.kid = id;
  }

  get privateKey(): KeyObject {
    return this.#privateKey;
  }

  toJSON(): { kid: string; privateKey: '[redacted]' } {
    return { kid: this.kid, privateKey: '[redacted]' };
  }

  toString(): string {
    return `SigningKey(${this.kid})`;
  }

  [inspect.custom](): string {
    return `SigningKey { kid: '${this.kid}', privateKey: [redacted] }`;
  }
}

/** A fresh key for development and tests; production keys are provisioned (see loadSigningKeys). */
export function generateSigningKey(kid?: string): SigningKey {
  return new SigningKey(generateKeyPairSync('ed25519').privateKey, kid);
}

/** The base64url `x` of an Ed25519 public key (its 32 raw bytes). */
export function publicKeyX(publicKey: KeyObject): string {
  return (publicKey.export({ format: 'jwk' }) as { x: string }).x;
}

/** RFC 7638 thumbprint of an Ed25519 public key: a stable kid derived from the key itself. */
export function jwkThumbprint(publicKey: KeyObject): string {
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new Error('a JWK thumbprint is computed here for Ed25519 keys only');
  // the required members of an OKP key, in lexicographic order, no whitespace (RFC 7638 §3.2)
  return createHash('sha256')
    .update(`{"crv":"Ed25519","kty":"OKP","x":"${publicKeyX(publicKey)}"}`)
    .digest('base64url');
}
