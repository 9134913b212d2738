import 'reflect-metadata';
import type { IncomingMessage } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from '@portcullis/config';
import { LOGGER, NestJsonLogger, type Logger } from '@portcullis/platform';
import { ApiModule, type ApiModuleOptions } from './api.module';
import { BundleNotifications } from './agent/bundle-notifications';
import { RollupFlusher } from './inventory/rollup-flusher';
import { DomainErrorFilter } from './platform/domain-error.filter';
import { applyServerTimeouts, securityHeaders } from './platform/http-edge';
import { InputValidationPipe } from './graphql/input-validation.pipe';
import { SCAN_REPORTS_PATH } from './scans/scan-reports.controller';
import { ADMISSION_EVENTS_PATH } from './inventory/batch-body';
import { WORKLOAD_REPORTS_PATH } from './running/workload-reports.controller';

/** Builds the API application exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: ApiModuleOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, options), {
    bufferLogs: true,
    bodyParser: false,
  });
  const logger = app.get<Logger>(LOGGER);
  app.useLogger(new NestJsonLogger(logger));
  applyServerTimeouts(app.getHttpServer(), config.http);
  // first of all middleware: a body refused by a parser below still carries the headers
  app.use(securityHeaders(config));
  // scan reports are read raw (any content type, gzip inflated) under their own, larger limit;
  // registered first, so the JSON parser below finds the body already read
  app.useBodyParser('raw', {
    type: (req) => req.method === 'POST' && (req.url ?? '').split('?')[0] === SCAN_REPORTS_PATH,
    limit: config.scans.maxReportBytes,
  });
  // admission-event batches and workload reports read their own body (gzip, larger limits, zip-bomb bounds)
  app.useBodyParser('json', {
    limit: config.requestBodyLimitBytes,
    type: (req: IncomingMessage) =>
      isJson(req) &&
      !(req.url ?? '').startsWith(ADMISSION_EVENTS_PATH) &&
      !(req.url ?? '').startsWith(WORKLOAD_REPORTS_PATH),
  });
  app.set('trust proxy', false);
  app.disable('x-powered-by');
  app.useGlobalPipes(new InputValidationPipe());
  app.useGlobalFilters(new DomainErrorFilter(logger));
  app.enableShutdownHooks();
  return app;
}

function isJson(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json';
}

/**
 * Agent long polls parked on this replica: what a test or bench that starts the API through
 * this entry point waits for before it changes a policy (they may not reach the API's internals).
 */
export function parkedAgentPolls(app: INestApplication): number {
  return app.get(BundleNotifications).waiting;
}

/**
 * Folds what a tenant has staged into the inventory's rollups now, as a report does before it
 * reads: for a test or bench that measures ingest up to the fold without waiting for the timer.
 */
export function flushInventoryRollups(app: INestApplication, tenantId: string): Promise<number> {
  return app.get(RollupFlusher).flushTenant(tenantId);
}
