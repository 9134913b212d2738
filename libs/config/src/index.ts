export { loadConfig, loadConfigOrExit, ConfigError, DB_RESERVED_CONNECTIONS } from './config';
export type { AppConfig, Environment } from './config';
export { repoRoot, repoPath } from './repo-root';
export { API_NODE_FLAGS, AGENT_NODE_FLAGS } from './node-flags';
