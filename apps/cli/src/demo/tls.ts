import { createTlsMaterial } from '@portcullis/dev-issuer';

/** PEM files of one demo agent's webhook: its own CA and the loopback serving certificate the CA signed. */
export interface AgentTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * A CA of the agent's own and a certificate for localhost / 127.0.0.1, as cert-manager or
 * the chart's self-signed option would give an in-cluster agent: `admit --ca` trusts that
 * CA the way kube-apiserver trusts the webhook's caBundle. The CA key is not kept.
 */
export function createAgentTls(clusterName: string): AgentTls {
  const m = createTlsMaterial({ caCommonName: `Portcullis demo agent CA (${clusterName})`, caDays: 90, tlsDays: 90 });
  return { caPem: m.caCertPem, certPem: m.tlsCertPem, keyPem: m.tlsKeyPem };
}
