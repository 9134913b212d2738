import 'reflect-metadata';
import { ValidationPipe, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '@portcullis/config';
import { LOGGER, NestJsonLogger, type Logger } from '@portcullis/platform';
import { ApiModule, type ApiModuleOptions } from './api.module';
import { DomainErrorFilter } from './platform/domain-error.filter';
import { validationPipeOptions } from './graphql/errors';

/** Builds the API application exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: ApiModuleOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, options), {
    bufferLogs: true,
    bodyParser: false,
  });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestJsonLogger(logger));
  app.useBodyParser('json', { limit: config.requestBodyLimitBytes });
  app.set('trust proxy', false);
  app.disable('x-powered-by');
  app.useGlobalPipes(new ValidationPipe(validationPipeOptions));
  app.useGlobalFilters(new DomainErrorFilter(logger));
  app.enableShutdownHooks();
  return app;
}
