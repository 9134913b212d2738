import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@portcullis/config';
import { LOGGER, type Logger, NestJsonLogger } from '@portcullis/platform';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestJsonLogger(logger));
  app.enableShutdownHooks();
  await app.init();
  logger.info({ redisPrefix: config.redisPrefix }, 'worker started');
}

main().catch((err: unknown) => {
  process.stderr.write(`portcullis worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
