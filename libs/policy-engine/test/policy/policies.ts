import type { Policy } from '@portcullis/policy-engine';

/** A misconfiguration policy in Block mode holding only privileged-container, with what a test changes. */
export const blockPrivileged = (over: Partial<Policy>): Policy => ({
  id: over.name ?? 'p',
  name: 'p',
  type: 'MISCONFIGURATION',
  action: 'BLOCK',
  namespaces: { include: [], exclude: [] },
  rules: [{ id: 'privileged-container', params: {} }],
  exemptions: [],
  ...over,
});
