import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';

/** A public key agents trust, by key id. */
export interface TrustedKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
}

/**
 * An Ed25519 signing key. The private half never serialises: JSON and util.inspect
 * show only the key id, so a key that reaches a log line or a GraphQL answer by
 * mistake leaks nothing.
 */
export class SigningKey implements TrustedKey {
  readonly publicKey: KeyObject;
  readonly kid: string;

  constructor(readonly privateKey: KeyObject, kid?: string) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new Error('a signing key must be an Ed25519 private key');
    this.publicKey = createPublicKey(privateKey);
    this.kid = kid ?? jwkThumbprint(this.publicKey);
  }

  toJSON(): { kid: string } {
    return { kid: this.kid };
  }

  [inspect.custom](): string {
    return `SigningKey { kid: '${this.kid}', privateKey: [redacted] }`;
  }
}

export function generateSigningKey(): SigningKey {
  return new SigningKey(generateKeyPairSync('ed25519').privateKey);
}

/** RFC 7638 thumbprint of an Ed25519 public key: a stable kid derived from the key itself. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
}

export interface Jwks {
  readonly keys: ReadonlyArray<{ kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; use: 'sig'; alg: 'EdDSA' }>;
}

/** The public halves, as published at /.well-known/jwks.json. */
export function toJwks(keys: readonly TrustedKey[]): Jwks {
  return {
    keys: keys.map((k) => ({ kty: 'OKP', crv: 'Ed25519', x: (k.publicKey.export({ format: 'jwk' }) as { x: string }).x, kid: k.kid, use: 'sig', alg: 'EdDSA' })),
  };
}

/** Trusted keys from a JWKS document (the agent's configuration); malformed entries are refused by name. */
export function fromJwks(jwks: unknown): TrustedKey[] {
  const keys = (jwks as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('the JWKS has no "keys" array');
  return keys.map((k: unknown, i) => {
    const key = k as { kty?: unknown; crv?: unknown; x?: unknown; kid?: unknown };
    if (key.kty !== 'OKP' || key.crv !== 'Ed25519' || typeof key.x !== 'string' || typeof key.kid !== 'string') {
      throw new Error(`keys[${i}] is not an Ed25519 public key with a kid`);
    }
    return { kid: key.kid, publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.x }, format: 'jwk' }) };
  });
}

/** Keys of a directory: the signing key (newest file) and every key to publish. */
export interface Keyring {
  readonly active: SigningKey;
  readonly all: readonly SigningKey[];
}

/**
 * Loads `*.pem` Ed25519 private keys from a directory. The most recently modified
 * file signs; all are published, so agents keep verifying bundles signed before a
 * rotation. With `generateIfEmpty` (never in production) a missing directory or an
 * empty one gets a fresh key, written 0600.
 */
export function loadKeyring(dir: string, options: { generateIfEmpty: boolean }): Keyring {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.pem')) : [];
  if (files.length === 0) {
    if (!options.generateIfEmpty) throw new Error(`no bundle signing key (*.pem, Ed25519) in ${dir}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = generateSigningKey();
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.pem`);
    fs.writeFileSync(file, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    return loadKeyring(dir, { generateIfEmpty: false });
  }
  const keys = files
    .map((f) => {
      const file = path.join(dir, f);
      let key: KeyObject;
      try {
        key = createPrivateKey(fs.readFileSync(file));
      } catch {
        throw new Error(`${file} is not a PEM private key`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType} key; bundle signing keys are Ed25519`);
      return { key: new SigningKey(key), mtime: fs.statSync(file).mtimeMs, f };
    })
    .sort((a, b) => b.mtime - a.mtime || b.f.localeCompare(a.f));
  return { active: keys[0]!.key, all: keys.map((k) => k.key) };
}
