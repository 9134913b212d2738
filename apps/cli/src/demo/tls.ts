import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

/** PEM files of one demo agent's webhook: its own CA and the loopback serving certificate the CA signed. */
export interface AgentTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const generate = promisify(generateKeyPair);
// on the thread pool: the three agents' six keys are made in parallel, not one after another on the event loop
const rsaKeyPem = async (): Promise<string> =>
  (await generate('rsa', { modulusLength: 2048 })).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function sign(
  subjectKeyPem: string,
  issuerKeyPem: string,
  issuer: forge.pki.Certificate | null,
  commonName: string,
  days: number,
): forge.pki.Certificate {
  const key = forge.pki.privateKeyFromPem(subjectKeyPem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  // a positive 16-byte serial: the leading 0x01 keeps the DER integer positive
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Portcullis demo' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(issuer ? issuer.subject.attributes : subject);
  cert.setExtensions(
    issuer === null
      ? [
          { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
          { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
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
  cert.sign(forge.pki.privateKeyFromPem(issuerKeyPem) as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}

/**
 * A CA of the agent's own and a certificate for localhost / 127.0.0.1, as cert-manager or
 * the chart's self-signed option would give an in-cluster agent: `admit --ca` trusts that
 * CA the way kube-apiserver trusts the webhook's caBundle. The CA key is not kept.
 */
export async function createAgentTls(clusterName: string): Promise<AgentTls> {
  const [caKey, key] = await Promise.all([rsaKeyPem(), rsaKeyPem()]);
  const ca = sign(caKey, caKey, null, `Portcullis demo agent CA (${clusterName})`, 90);
  const cert = sign(key, caKey, ca, 'localhost', 90);
  return { caPem: forge.pki.certificateToPem(ca), certPem: forge.pki.certificateToPem(cert), keyPem: key };
}
