import { randomUUID } from 'node:crypto';
import {
  signBundle,
  type BundleDocument,
  type BundlePolicy,
  type SignedEnvelope,
  type SigningKey,
} from '@portcullis/bundle';
import { defaultRuleConfigs } from '@portcullis/policy-engine';

export const TENANT = '3f2b8c1e-7d4a-4e2b-9c1d-5a6b7c8d9e0f';
export const CLUSTER = '0b9e7c6d-5a4b-4c3d-8e2f-1a0b9c8d7e6f';

export function misconfigurationPolicy(action: 'AUDIT' | 'BLOCK', overrides: Partial<BundlePolicy> = {}): BundlePolicy {
  return {
    id: `misconfig-${action.toLowerCase()}`,
    name: 'Default K8s misconfiguration rule',
    type: 'MISCONFIGURATION',
    action,
    namespaces: { include: [], exclude: [] },
    rules: defaultRuleConfigs('MISCONFIGURATION').map((r) => ({ id: r.id, params: { ...r.params } })),
    exemptions: [],
    ...overrides,
  };
}

export function vulnerabilityPolicy(action: 'AUDIT' | 'BLOCK', overrides: Partial<BundlePolicy> = {}): BundlePolicy {
  return {
    id: `vulnerability-${action.toLowerCase()}`,
    name: 'Default vulnerability gating rule',
    type: 'VULNERABILITY',
    action,
    namespaces: { include: [], exclude: [] },
    rules: defaultRuleConfigs('VULNERABILITY').map((r) => ({ id: r.id, params: { ...r.params } })),
    exemptions: [],
    ...overrides,
  };
}

export function bundleDocument(
  revision: number,
  policies: readonly BundlePolicy[],
  overrides: Partial<BundleDocument> = {},
): BundleDocument {
  const now = Date.now();
  return {
    schemaVersion: 1,
    tenantId: TENANT,
    clusterId: CLUSTER,
    revision,
    issuedAt: new Date(now - 60_000).toISOString(),
    expiresAt: new Date(now + 7 * 86_400_000).toISOString(),
    policies,
    agentSettings: {},
    ...overrides,
  };
}

export function signedBundle(
  key: SigningKey,
  revision: number,
  policies: readonly BundlePolicy[],
  overrides: Partial<BundleDocument> = {},
): SignedEnvelope {
  return signBundle(bundleDocument(revision, policies, overrides), key);
}

export const newId = (): string => randomUUID();

/** One misconfiguration rule of the catalog with its default parameters, for a policy that holds only it. */
export const onlyRule = (id: string) =>
  defaultRuleConfigs('MISCONFIGURATION')
    .filter((r) => r.id === id)
    .map((r) => ({ id: r.id, params: { ...r.params } }));
