import { loadConfigOrExit } from '@portcullis/config';
import { LOGGER, type Logger } from '@portcullis/platform';
import { createApiApp } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await createApiApp(config);
  await app.listen(config.port, '0.0.0.0');
  // the bound port, not the configured one: PORT=0 asks the system for a free port
  const address = app.getHttpServer().address() as { port: number } | null;
  app.get<Logger>(LOGGER).info({ port: address?.port ?? config.port, env: config.env }, 'api listening');
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
