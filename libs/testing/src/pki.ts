import { generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

export interface TestTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const rsaKey = () =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function certificate(
  subjectKeyPem: string,
  issuerKeyPem: string,
  issuer: forge.pki.Certificate | null,
  cn: string,
  ca: boolean,
): forge.pki.Certificate {
  const key = forge.pki.privateKeyFromPem(subjectKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 7 * 86_400_000);
  const subject = [{ name: 'commonName', value: cn }];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  cert.setExtensions(
    ca
      ? [
          { name: 'basicConstraints', cA: true, critical: true },
          { name: 'keyUsage', keyCertSign: true, critical: true },
        ]
      : [
          { name: 'basicConstraints', cA: false },
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
  cert.sign(forge.pki.privateKeyFromPem(issuerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

/** A throwaway CA and a localhost certificate it signed: TLS for the webhook and the test API. */
export function testTls(): TestTls {
  const caKey = rsaKey();
  const ca = certificate(caKey, caKey, null, 'portcullis agent test CA', true);
  const key = rsaKey();
  const cert = certificate(key, caKey, ca, 'localhost', false);
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(cert), keyPem: key };
}
