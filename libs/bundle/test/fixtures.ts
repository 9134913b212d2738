import type { BundleDocument, ScanArtifactDocument, SigningKey } from '@portcullis/bundle';

export const TENANT = '3f2b8c1e-7d4a-4e2b-9c1d-5a6b7c8d9e0f';
export const CLUSTER = '0b9e7c6d-5a4b-4c3d-8e2f-1a0b9c8d7e6f';
export const OTHER_CLUSTER = 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f';
export const NOW = new Date('2025-06-01T12:00:00.000Z');

export function sampleBundle(overrides: Partial<BundleDocument> = {}): BundleDocument {
  return {
    schemaVersion: 1,
    tenantId: TENANT,
    clusterId: CLUSTER,
    revision: 7,
    issuedAt: '2025-06-01T11:00:00.000Z',
    expiresAt: '2025-06-08T11:00:00.000Z',
    policies: [
      {
        id: 'a7c1e0f2-1111-4a2b-8c3d-000000000001',
        name: 'Default K8s misconfiguration rule',
        type: 'MISCONFIGURATION',
        action: 'BLOCK',
        namespaces: { include: ['*'], exclude: ['kube-system'] },
        rules: [
          { id: 'resource-limits', params: { maxMemoryLimit: '2Gi', requireCpuLimit: true } },
          { id: 'privileged-container', params: {} },
        ],
        exemptions: [
          { id: 'ex-1', namespace: { match: 'equals', value: 'legacy' }, reason: 'migration', expiresAt: null },
        ],
      },
    ],
    agentSettings: {
      excludedNamespaces: ['portcullis-system'],
      vulnerabilityLookupTimeoutMs: 1500,
      eventBatchSize: 500,
    },
    ...overrides,
  };
}

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

export function sampleArtifact(overrides: Partial<ScanArtifactDocument> = {}): ScanArtifactDocument {
  return {
    schemaVersion: 1,
    tenantId: TENANT,
    repository: 'docker.io/library/nginx',
    tags: ['1.27', 'latest'],
    repoDigest: DIGEST,
    imageId: `sha256:${'cd'.repeat(32)}`,
    tagBound: false,
    scanner: { name: 'trivy', version: '0.58.1' },
    scannedAt: '2025-05-30T08:00:00Z',
    findings: [
      {
        id: 'CVE-2024-6119',
        severity: 'HIGH',
        cvss: 7.5,
        packageName: 'openssl',
        installedVersion: '3.0.13-1',
        fixedVersion: '3.0.14-1',
      },
      { id: 'CVE-2023-45853', severity: 'CRITICAL', packageName: 'zlib1g', installedVersion: '1:1.2.13.dfsg-1' },
    ],
    ...overrides,
  };
}

export const pemOf = (k: SigningKey): string => k.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** Every textual form the private half could leak in: JWK d, hex, base64, PKCS#8 DER and PEM body. */
export function secretOf(k: SigningKey): string[] {
  const d = (k.privateKey.export({ format: 'jwk' }) as { d: string }).d;
  const der = (k.privateKey.export({ type: 'pkcs8', format: 'der' }) as Buffer).toString('base64');
  return [
    d,
    Buffer.from(d, 'base64url').toString('hex'),
    Buffer.from(d, 'base64url').toString('base64'),
    der,
    pemOf(k).split('\n')[1]!,
  ];
}
