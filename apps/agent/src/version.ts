/** Reported in status and User-Agent; bumped with the agent's releases. */
export const AGENT_VERSION = '0.1.0';
