import { Agent } from './agent';
import { AgentConfigError, loadAgentConfig } from './config';
import { createLogger } from './logger';

/** The agent process: config from the environment, then run until SIGTERM. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadAgentConfig(process.env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`portcullis-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const agent = new Agent(config, log);
  const running = await agent.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    running.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis-agent: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
