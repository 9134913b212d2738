import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@portcullis/config';
import { createTlsMaterial, rsaKeyPem, tlsMaterialProblem, type TlsMaterial } from './certificates';

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

const FILES = {
  ca: 'ca.cert.pem',
  tlsKey: 'tls.key.pem',
  tlsCert: 'tls.cert.pem',
  signing: 'signing.key.pem',
} as const;

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
  return createHash('sha256')
    .update(createPublicKey(key).export({ type: 'spki', format: 'der' }))
    .digest('base64url')
    .slice(0, 22);
}

function write(dir: string, name: string, content: string): void {
  // a temporary renamed into place, so a concurrent reader never sees half a file
  const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, path.join(dir, name));
}

function readTls(dir: string): TlsMaterial | undefined {
  try {
    const file = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    const material = { caCertPem: file(FILES.ca), tlsKeyPem: file(FILES.tlsKey), tlsCertPem: file(FILES.tlsCert) };
    return tlsMaterialProblem(material) ? undefined : material;
  } catch {
    return undefined; // missing or corrupt: regenerated
  }
}

function readSigningKey(dir: string): KeyObject | undefined {
  try {
    const key = createPrivateKey(fs.readFileSync(path.join(dir, FILES.signing), 'utf8'));
    return key.asymmetricKeyType === 'rsa' ? key : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Loads the state from `dir` (default {@link defaultStateDir}). Each part is regenerated
 * on its own when unusable, so a lost signing key does not change the CA the API trusts.
 */
export function loadOrCreateState(dir: string = defaultStateDir()): IssuerState {
  refuseInProduction();
  const resolved = path.resolve(dir);
  let tls = readTls(resolved);
  let signingKey = readSigningKey(resolved);
  if (!tls || !signingKey) {
    try {
      fs.mkdirSync(resolved, { recursive: true, mode: 0o700 });
      if (!signingKey) write(resolved, FILES.signing, rsaKeyPem());
      if (!tls) {
        const fresh = createTlsMaterial();
        write(resolved, FILES.tlsKey, fresh.tlsKeyPem);
        write(resolved, FILES.tlsCert, fresh.tlsCertPem);
        write(resolved, FILES.ca, fresh.caCertPem);
      }
    } catch (err) {
      throw new Error(`the dev issuer cannot write its state directory ${resolved}: ${(err as Error).message}`);
    }
    // read back what is on disk: with two processes racing, both end up with the same files
    tls = readTls(resolved);
    signingKey = readSigningKey(resolved);
    if (!tls || !signingKey)
      throw new Error(
        `the dev issuer state in ${resolved} is unusable right after generating it (is another process writing it?)`,
      );
  }
  return { dir: resolved, ...tls, signingKey, kid: keyId(signingKey) };
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
