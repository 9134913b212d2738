export { loadConfig, loadConfigOrExit, ConfigError } from './config';
export type { AppConfig, Environment } from './config';
export { repoRoot, repoPath } from './repo-root';
