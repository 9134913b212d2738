import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** PEM material of the issuer's own test CA and of the TLS certificate it signs. */
export interface TlsMaterial {
  readonly caCertPem: string;
  readonly tlsKeyPem: string;
  readonly tlsCertPem: string;
}

export function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
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
  // positive 16-byte serial (a leading 0x01 keeps the DER integer positive)
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + opts.days * 86_400_000);
  const subject = [
    { name: 'commonName', value: opts.commonName },
    { name: 'organizationName', value: 'Portcullis development' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(opts.issuerCert ? opts.issuerCert.subject.attributes : subject);
  cert.setExtensions(
    opts.ca
      ? [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
          { name: 'subjectKeyIdentifier' },
        ]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          {
            name: 'subjectAltName',
            altNames: [
              { type: 2, value: 'localhost' },
              { type: 7, ip: '127.0.0.1' },
            ],
          },
        ],
  );
  cert.sign(forge.pki.privateKeyFromPem(opts.issuerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

/** Who the CA says it is and how long each certificate lasts. */
export interface TlsMaterialOptions {
  readonly caCommonName?: string;
  readonly caDays?: number;
  /** At most 825 days: what TLS clients accept for a leaf certificate. */
  readonly tlsDays?: number;
}

/**
 * A fresh CA and a TLS certificate for localhost / 127.0.0.1 signed by it: the development
 * issuer's HTTPS (CA 10 years, certificate 825 days), the demo's agents and the tests' webhooks
 * and APIs. The CA key is dropped: nothing else is ever signed with it, so it need not exist anywhere.
 */
export function createTlsMaterial(options: TlsMaterialOptions = {}): TlsMaterial {
  const caKey = rsaKeyPem();
  const ca = certificate({
    subjectKeyPem: caKey,
    issuerKeyPem: caKey,
    commonName: options.caCommonName ?? 'Portcullis dev issuer CA',
    ca: true,
    days: options.caDays ?? 3650,
  });
  const tlsKey = rsaKeyPem();
  const tls = certificate({
    subjectKeyPem: tlsKey,
    issuerKeyPem: caKey,
    issuerCert: ca,
    commonName: 'localhost',
    ca: false,
    days: Math.min(options.tlsDays ?? 825, 825),
  });
  return { caCertPem: forge.pki.certificateToPem(ca), tlsKeyPem: tlsKey, tlsCertPem: forge.pki.certificateToPem(tls) };
}

/**
 * Why stored material cannot be used (undefined when it can): the TLS certificate must
 * be signed by the CA, match the TLS key and be inside its validity with a day to spare.
 */
export function tlsMaterialProblem(m: TlsMaterial, now = new Date()): string | undefined {
  const ca = forge.pki.certificateFromPem(m.caCertPem);
  const tls = forge.pki.certificateFromPem(m.tlsCertPem);
  const key = forge.pki.privateKeyFromPem(m.tlsKeyPem) as forge.pki.rsa.PrivateKey;
  if (!ca.verify(tls)) return 'the TLS certificate is not signed by the CA';
  if ((tls.publicKey as forge.pki.rsa.PublicKey).n.compareTo(key.n) !== 0)
    return 'the TLS certificate does not match the TLS key';
  const soon = new Date(now.getTime() + 86_400_000);
  for (const [what, cert] of [
    ['CA', ca],
    ['TLS', tls],
  ] as const) {
    if (cert.validity.notBefore > now || cert.validity.notAfter < soon)
      return `the ${what} certificate is outside its validity period`;
  }
  return undefined;
}
