import { loadConfigOrExit } from '@portcullis/config';
import { LOGGER, type Logger } from '@portcullis/platform';
import { createApiApp } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await createApiApp(config);
  await app.listen(config.port, '0.0.0.0');
  app.get<Logger>(LOGGER).info({ port: config.port, env: config.env }, 'api listening');
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis api: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
