// Wire schemas shared by the API and the agent. Runtime-validated (zod); errors name the path.
export { AgentStatusSchema, validateAgentStatus } from './agent-status';
export type { AgentStatus } from './agent-status';
export type { ContractError, Validated } from './result';
