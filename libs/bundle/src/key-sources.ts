import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SigningKey, generateSigningKey, jwkThumbprint, type PublicKeySet, type TrustedKey } from './signing-key';

/** The keys of a signing service: one signs, all are published so agents verify across a rotation. */
export interface Keyring {
  /** The key new bundles and artifacts are signed with. */
  readonly active: SigningKey;
  /** Every private key held (the active one included). */
  readonly all: readonly SigningKey[];
  /** Every key to publish at /.well-known/jwks.json: the private keys' public halves plus retired public-only keys. */
  readonly published: PublicKeySet;
}

/**
 * Where signing keys come from. Keys are Ed25519, PEM (PKCS#8 private or SPKI public);
 * a public-only key is a retired key, still published until bundles it signed expire.
 *
 * - `directory`: every `*.pem` file in it. The active key is `activeKid`, else the
 *   private key whose file name sorts last, so date-named files (`2025-06-01.pem`)
 *   rotate by adding a file. With `generateIfEmpty` (never in production) a missing
 *   or empty directory gets a fresh key, written 0600.
 * - `files`: those PEM files; the active key is `activeKid`, else the first private key.
 * - `env`: the value of an environment variable (`BUNDLE_SIGNING_KEYS` by convention), one of
 *   1. JSON `{"active"?: "<kid>", "keys": [{"kid"?: "...", "pem" | "pemBase64" | "file": "..."}]}`;
 *   2. PEM text, one or more blocks (newlines may be written as `\n`);
 *   3. base64 of that PEM text (one line, safe in any secret store);
 *   4. a path: a directory (as `directory`), or comma-separated PEM files (as `files`).
 *   Without an explicit active kid, the first private key listed signs.
 * Unless given, a key's kid is its RFC 7638 JWK thumbprint.
 */
export type SigningKeySource =
  | { readonly directory: string; readonly activeKid?: string; readonly generateIfEmpty?: boolean }
  | { readonly files: readonly string[]; readonly activeKid?: string }
  | { readonly env: string; readonly name?: string };

/** A key source that cannot be used; the message names the file or entry, never key material. */
export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningKeyError';
  }
}

interface LoadedKey {
  readonly origin: string;
  readonly key: SigningKey | TrustedKey;
}

const MAX_KEY_FILE_BYTES = 64 * 1024;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
const BASE64_PEM_PREFIX = 'LS0tLS1CRUdJTi'; // base64 of "-----BEGIN"

export function loadSigningKeys(source: SigningKeySource): Keyring {
  if ('directory' in source) return fromDirectory(source.directory, source.activeKid, source.generateIfEmpty ?? false);
  if ('files' in source) return assemble(source.files.flatMap((f) => readPemFile(f)), source.activeKid, `files ${source.files.join(', ')}`);
  return fromEnv(source.env, source.name ?? 'BUNDLE_SIGNING_KEYS');
}

/** The first version's entry point: a directory of PEM files. */
export function loadKeyring(dir: string, options: { generateIfEmpty: boolean }): Keyring {
  return loadSigningKeys({ directory: dir, generateIfEmpty: options.generateIfEmpty });
}

function fromDirectory(dir: string, activeKid: string | undefined, generateIfEmpty: boolean): Keyring {
  let files = pemFilesOf(dir);
  if (files.length === 0) {
    if (!generateIfEmpty) throw new SigningKeyError(`no signing key (*.pem, Ed25519) in ${dir}`);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.pem`);
    fs.writeFileSync(file, generateSigningKey().privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    files = pemFilesOf(dir);
  }
  // sorted newest name first, so "the first private key" below is the last name
  const loaded = files.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)).flatMap((f) => readPemFile(path.join(dir, f)));
  return assemble(loaded, activeKid, dir);
}

function pemFilesOf(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  if (!fs.statSync(dir).isDirectory()) throw new SigningKeyError(`${dir} is not a directory`);
  // statSync follows symlinks: Kubernetes mounts Secret keys as links into a hidden ..data directory
  return fs.readdirSync(dir).filter((f) => f.endsWith('.pem') && !f.startsWith('.') && fs.statSync(path.join(dir, f)).isFile());
}

function readPemFile(file: string, kid?: string): LoadedKey[] {
  let text: string;
  try {
    if (fs.statSync(file).size > MAX_KEY_FILE_BYTES) throw new SigningKeyError(`${file} is larger than ${MAX_KEY_FILE_BYTES} bytes: not a PEM key file`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    throw new SigningKeyError(`cannot read signing key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  return parsePem(text, file, kid);
}

function parsePem(text: string, origin: string, kid?: string): LoadedKey[] {
  const blocks = [...text.replace(/\\n/g, '\n').matchAll(PEM_BLOCK)];
  if (blocks.length === 0) throw new SigningKeyError(`${origin} holds no PEM block`);
  if (kid !== undefined && blocks.length > 1) throw new SigningKeyError(`${origin} has a kid but holds ${blocks.length} PEM blocks; give each key its own entry`);
  return blocks.map((m, i) => {
    const where = blocks.length > 1 ? `${origin} (PEM block ${i + 1})` : origin;
    return { origin: where, key: keyFromPem(m[0], m[1]!, where, kid) };
  });
}

function keyFromPem(pem: string, label: string, origin: string, kid: string | undefined): SigningKey | TrustedKey {
  const isPublic = label === 'PUBLIC KEY';
  let key: KeyObject;
  try {
    key = isPublic ? createPublicKey(pem) : createPrivateKey(pem);
  } catch {
    // Node's message is dropped on purpose: nothing derived from the key text reaches a log
    throw new SigningKeyError(`${origin} is not a readable ${isPublic ? 'public' : 'private'} key (${label})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new SigningKeyError(`${origin} is a ${key.asymmetricKeyType ?? 'unknown'} key; signing keys are Ed25519`);
  try {
    return isPublic ? { kid: kid ?? jwkThumbprint(key), publicKey: key } : new SigningKey(key, kid);
  } catch (e) {
    throw new SigningKeyError(`${origin}: ${(e as Error).message}`);
  }
}

function fromEnv(value: string, name: string): Keyring {
  const v = value.trim();
  if (v === '') throw new SigningKeyError(`${name} is empty`);
  if (v.startsWith('{')) return fromJsonSpec(v, name);
  if (v.includes('-----BEGIN')) return assemble(parsePem(v, name), undefined, name);
  if (v.startsWith(BASE64_PEM_PREFIX)) return assemble(parsePem(Buffer.from(v, 'base64').toString('utf8'), `${name} (base64)`), undefined, name);
  if (fs.existsSync(v) && fs.statSync(v).isDirectory()) return fromDirectory(v, undefined, false);
  const files = v.split(',').map((f) => f.trim()).filter(Boolean);
  const missing = files.find((f) => !fs.existsSync(f));
  if (missing !== undefined) {
    throw new SigningKeyError(`${name} is neither JSON, PEM, base64 of PEM, nor an existing directory or file (no ${missing.length > 200 ? 'such path' : missing})`);
  }
  return assemble(files.flatMap((f) => readPemFile(f)), undefined, name);
}

function fromJsonSpec(text: string, name: string): Keyring {
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch {
    throw new SigningKeyError(`${name} starts with "{" but is not valid JSON`);
  }
  const { active, keys } = (spec ?? {}) as { active?: unknown; keys?: unknown };
  if (active !== undefined && typeof active !== 'string') throw new SigningKeyError(`${name}.active is not a kid string`);
  if (!Array.isArray(keys) || keys.length === 0) throw new SigningKeyError(`${name}.keys is not a non-empty array`);
  const loaded = keys.flatMap((entry: unknown, i): LoadedKey[] => {
    const where = `${name}.keys[${i}]`;
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    if (e['kid'] !== undefined && typeof e['kid'] !== 'string') throw new SigningKeyError(`${where}.kid is not a string`);
    const kid = e['kid'] as string | undefined;
    const given = (['pem', 'pemBase64', 'file'] as const).filter((k) => e[k] !== undefined);
    if (given.length !== 1 || typeof e[given[0]!] !== 'string') throw new SigningKeyError(`${where} needs exactly one of "pem", "pemBase64", "file" (a string)`);
    const content = e[given[0]!] as string;
    switch (given[0]!) {
      case 'pem':
        return parsePem(content, where, kid);
      case 'pemBase64':
        return parsePem(Buffer.from(content, 'base64').toString('utf8'), `${where}.pemBase64`, kid);
      case 'file':
        return readPemFile(content, kid);
    }
  });
  return assemble(loaded, active, name);
}

function assemble(loaded: readonly LoadedKey[], activeKid: string | undefined, source: string): Keyring {
  const byKid = new Map<string, string>();
  const byThumbprint = new Map<string, string>();
  for (const { origin, key } of loaded) {
    const other = byKid.get(key.kid);
    if (other !== undefined) throw new SigningKeyError(`key id ${key.kid} is used by both ${other} and ${origin}`);
    byKid.set(key.kid, origin);
    const tp = jwkThumbprint(key.publicKey);
    const twin = byThumbprint.get(tp);
    if (twin !== undefined) throw new SigningKeyError(`${origin} is the same key as ${twin}`);
    byThumbprint.set(tp, origin);
  }
  const signing = loaded.map((l) => l.key).filter((k): k is SigningKey => k instanceof SigningKey);
  if (signing.length === 0) throw new SigningKeyError(`${source} holds no private key to sign with (only public keys)`);
  let active = signing[0]!;
  if (activeKid !== undefined) {
    const chosen = signing.find((k) => k.kid === activeKid);
    if (!chosen) {
      const why = byKid.has(activeKid) ? 'is a public key only' : 'is not among the loaded keys';
      throw new SigningKeyError(`the active key ${activeKid} ${why} (${source})`);
    }
    active = chosen;
  }
  const published = loaded.map((l): TrustedKey => ({ kid: l.key.kid, publicKey: l.key.publicKey }));
  return { active, all: signing, published };
}
