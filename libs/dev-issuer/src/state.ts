import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@portcullis/config';
import { createTlsMaterial, rsaKeyPem, tlsMaterialProblem } from './certificates';

/**
 * The dev issuer's persistent state: its own CA, a TLS certificate for 127.0.0.1 /
 * localhost signed by that CA, and the RS256 key tokens are signed with. Kept across
 * restarts so minted tokens and the API's trust survive; regenerated when missing,
 * unreadable, inconsistent or expiring. Files are 0600: keys, even if development ones.
 */
export interface IssuerState {
  readonly dir: string;
  readonly caCertPem: string;
  readonly tlsKeyPem: string;
  readonly tlsCertPem: string;
  readonly signingKey: KeyObject;
  readonly kid: string;
}

const FILES = { ca: 'ca.cert.pem', tlsKey: 'tls.key.pem', tlsCert: 'tls.cert.pem', signing: 'signing.key.pem' } as const;

export class DevIssuerRefusedError extends Error {}

/** Production never runs, nor trusts, the development issuer. */
export function refuseInProduction(what = 'the development OpenID issuer', env: NodeJS.ProcessEnv = process.env): void {
  if (env['NODE_ENV'] === 'production') {
    throw new DevIssuerRefusedError(`${what} is a development tool and is refused when NODE_ENV=production`);
  }
}

/** `<repoRoot>/.portcullis/dev-issuer`: where the launcher, the CLI and the API look by default. */
export function defaultStateDir(): string {
  return path.join(repoRoot(), '.portcullis', 'dev-issuer');
}

/** Key id: a digest of the public key, so a regenerated key gets a new kid. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 22);
}

function generate(dir: string): void {
  const tls = createTlsMaterial();
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // temporaries renamed into place, so a concurrent reader never sees half a file
  const write = (name: string, content: string) => {
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    fs.renameSync(tmp, path.join(dir, name));
  };
  write(FILES.signing, rsaKeyPem());
  write(FILES.tlsKey, tls.tlsKeyPem);
  write(FILES.tlsCert, tls.tlsCertPem);
  write(FILES.ca, tls.caCertPem);
}

function read(dir: string): IssuerState | undefined {
  try {
    const file = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    const material = { caCertPem: file(FILES.ca), tlsKeyPem: file(FILES.tlsKey), tlsCertPem: file(FILES.tlsCert) };
    const signingKey = createPrivateKey(file(FILES.signing));
    if (signingKey.asymmetricKeyType !== 'rsa') return undefined;
    if (tlsMaterialProblem(material)) return undefined;
    return { dir, ...material, signingKey, kid: keyId(signingKey) };
  } catch {
    // missing or corrupt: the caller regenerates
    return undefined;
  }
}

/** Loads the state from `dir` (default {@link defaultStateDir}), generating it when unusable. */
export function loadOrCreateState(dir: string = defaultStateDir()): IssuerState {
  refuseInProduction();
  const resolved = path.resolve(dir);
  const existing = read(resolved);
  if (existing) return existing;
  try {
    generate(resolved);
  } catch (err) {
    throw new Error(`the dev issuer cannot write its state directory ${resolved}: ${(err as Error).message}`);
  }
  const created = read(resolved);
  if (!created) throw new Error(`the dev issuer state in ${resolved} is unusable right after generating it (is another process writing it?)`);
  return created;
}

/**
 * The CA certificate alone, for a development API process to trust for its metadata and
 * key fetches; undefined when the issuer has not generated its state yet.
 */
export function readCaCertificate(dir: string = defaultStateDir()): string | undefined {
  refuseInProduction('trusting the development issuer CA');
  try {
    return fs.readFileSync(path.join(path.resolve(dir), FILES.ca), 'utf8');
  } catch {
    return undefined;
  }
}
