export { issueAgentCredential, parseAgentCredential, secretMatches, hashSecret } from './agent-credential';
export type { IssuedCredential } from './agent-credential';
