import type { INestApplicationContext } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import type { Clock } from '@portcullis/platform';

/** The worker exactly as production boots it (application context, no HTTP). */
export async function startWorker(
  config: AppConfig,
  options: { readonly clock?: Clock } = {},
): Promise<INestApplicationContext> {
  // loaded on first use, like the API in api-harness.ts
  const [{ NestFactory }, { WorkerModule }] = await Promise.all([
    import('@nestjs/core'),
    import('../../../apps/worker/src/worker.module'),
  ]);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, options), { logger: false });
  await app.init();
  return app;
}
