import * as net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { AgentConfig } from '../config';

/** Where Kubernetes mounts a pod's service-account credentials. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The agent's Kubernetes credentials: the pod's service account, as client-node's
 * loadFromCluster reads it (CA file, and a token file that client-node re-reads every
 * minute, as client-go does, so projected tokens rotate without a restart), with host and port from the agent's validated
 * config rather than from process.env.
 */
export function inClusterKubeConfig(kubernetes: NonNullable<AgentConfig['kubernetes']>): KubeConfig {
  const dir = `${kubernetes.serviceAccountRoot}${SERVICE_ACCOUNT_DIR}`;
  const host = net.isIPv6(kubernetes.host) ? `[${kubernetes.host}]` : kubernetes.host;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'in-cluster',
        server: `https://${host}:${kubernetes.port}`,
        caFile: `${dir}/ca.crt`,
        skipTLSVerify: false,
      },
    ],
    users: [{ name: 'service-account', authProvider: { name: 'tokenFile', config: { tokenFile: `${dir}/token` } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'service-account' }],
    currentContext: 'in-cluster',
  });
  return kc;
}
