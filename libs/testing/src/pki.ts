import { createTlsMaterial } from '@portcullis/dev-issuer';

export interface TestTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A throwaway CA and a localhost certificate it signed: TLS for the webhook and the test API. */
export function testTls(): TestTls {
  const m = createTlsMaterial({ caCommonName: 'portcullis agent test CA', caDays: 7, tlsDays: 7 });
  return { caPem: m.caCertPem, certPem: m.tlsCertPem, keyPem: m.tlsKeyPem };
}
