import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';

/**
 * The dev issuer's persistent state: its own CA, a TLS certificate for 127.0.0.1 /
 * localhost signed by that CA, and the RS256 key tokens are signed with. Kept across
 * restarts so minted tokens and the API's trust survive; regenerated when missing or
 * unreadable. Files are 0600: these are keys, even if only development ones.
 */
export interface IssuerState {
  readonly caCertPem: string;
  readonly tlsKeyPem: string;
  readonly tlsCertPem: string;
  readonly signingKey: KeyObject;
  readonly kid: string;
}

const FILES = ['ca.cert.pem', 'tls.key.pem', 'tls.cert.pem', 'signing.key.pem'] as const;

export function refuseInProduction(what: string): void {
  if (process.env['NODE_ENV'] === 'production') {
    throw new Error(`${what} is a development tool and is refused when NODE_ENV=production`);
  }
}

/** Key id: a digest of the public key, so a rotated key gets a new kid. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(createPublicKey(key).export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 22);
}

function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

function certificate(opts: {
  subjectKeyPem: string;
  issuerKeyPem: string;
  issuerCert?: forge.pki.Certificate;
  commonName: string;
  ca: boolean;
  days: number;
}): forge.pki.Certificate {
  const subjectKey = forge.pki.privateKeyFromPem(opts.subjectKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(subjectKey.n, subjectKey.e);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + opts.days * 86_400_000);
  const subject = [{ name: 'commonName', value: opts.commonName }, { name: 'organizationName', value: 'Portcullis development' }];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuerCert ? opts.issuerCert.subject.attributes : subject);
  cert.setExtensions(
    opts.ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
        ],
  );
  cert.sign(forge.pki.privateKeyFromPem(opts.issuerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

function generate(dir: string): void {
  const caKey = rsaKeyPem();
  const ca = certificate({ subjectKeyPem: caKey, issuerKeyPem: caKey, commonName: 'Portcullis dev issuer CA', ca: true, days: 3650 });
  const tlsKey = rsaKeyPem();
  const tls = certificate({ subjectKeyPem: tlsKey, issuerKeyPem: caKey, issuerCert: ca, commonName: 'localhost', ca: false, days: 825 });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // write to temporaries and rename, so a concurrent reader never sees half a state
  const write = (name: string, content: string) => {
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, content, { mode: 0o600 });
    fs.renameSync(tmp, path.join(dir, name));
  };
  write('tls.key.pem', tlsKey);
  write('tls.cert.pem', forge.pki.certificateToPem(tls));
  write('signing.key.pem', rsaKeyPem());
  write('ca.cert.pem', forge.pki.certificateToPem(ca)); // last: its presence means the state is complete
}

function read(dir: string): IssuerState | undefined {
  try {
    const [caCertPem, tlsKeyPem, tlsCertPem, signingPem] = FILES.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    const signingKey = createPrivateKey(signingPem!);
    forge.pki.certificateFromPem(caCertPem!);
    return { caCertPem: caCertPem!, tlsKeyPem: tlsKeyPem!, tlsCertPem: tlsCertPem!, signingKey, kid: keyId(signingKey) };
  } catch {
    return undefined;
  }
}

/** Loads the state, generating it when missing or unreadable. */
export function loadOrCreateState(dir: string): IssuerState {
  refuseInProduction('the development OpenID issuer');
  const existing = read(dir);
  if (existing) return existing;
  generate(dir);
  const created = read(dir);
  if (!created) throw new Error(`the dev issuer could not create its state in ${dir}`);
  return created;
}

/** The CA certificate only, for the API process to trust (undefined when not generated yet). */
export function readCaCertificate(dir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, 'ca.cert.pem'), 'utf8');
  } catch {
    return undefined;
  }
}
