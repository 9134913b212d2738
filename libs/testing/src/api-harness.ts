/**
 * Boots the real API (same module, same guards, same passport-azure-ad path as
 * production) against the test database and Redis, with a real dev issuer on an
 * ephemeral HTTPS port minting the tokens.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import type request from 'supertest';
import { loadConfig, repoPath, type AppConfig } from '@portcullis/config';
import type { DevIssuer } from '@portcullis/dev-issuer';
import type { PrismaClient } from '@portcullis/db';
import type { Clock } from '@portcullis/platform';

export interface GqlResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: { code?: string; field?: string } }>;
}

export interface ApiHarness {
  readonly app: INestApplication;
  readonly config: AppConfig;
  readonly issuer: DevIssuer;
  readonly prisma: PrismaClient;
  http(): ReturnType<typeof request>;
  token(tenantId: string, objectId: string, name?: string): Promise<string>;
  gql<T = Record<string, unknown>>(
    token: string | undefined,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GqlResult<T>>;
  onboard(name?: string): Promise<{ tenantId: string; ownerId: string; ownerToken: string }>;
  /** Agent long polls parked on this API (in this process), e.g. to act once a fleet's polls all wait. */
  parkedPolls(): number;
  /** Folds the tenant's staged inventory rollups now, as a report does before reading. */
  flushRollups(tenantId: string): Promise<number>;
  close(): Promise<void>;
}

export const testDatabaseConfigured = Boolean(process.env['TEST_DATABASE_URL']);
export const NO_DB_REASON = 'TEST_DATABASE_URL is not set: run through `npm test`';

export async function startApi(
  env: Record<string, string> = {},
  options: { schemaFile?: string; clock?: Clock } = {},
): Promise<ApiHarness> {
  // loaded on first use: @portcullis/testing is imported by pure unit specs and by benches
  // whose process must not carry a whole API (~3 s and ~130 MB to load) it never starts
  const [
    { DevIssuer },
    { createPrismaClient },
    { TenantOnboarding },
    { default: request },
    { createApiApp, flushInventoryRollups, parkedAgentPolls },
  ] = await Promise.all([
    import('@portcullis/dev-issuer'),
    import('@portcullis/db'),
    import('@portcullis/tenants'),
    import('supertest'),
    import('../../../apps/api/src/bootstrap'),
  ]);
  const stateDir = process.env['DEV_ISSUER_STATE_DIR'] ?? path.join(repoPath('dist'), '.test-dev-issuer');
  const issuer = new DevIssuer({ stateDir });
  await issuer.start({ port: 0 });
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    DEV_ISSUER_STATE_DIR: stateDir,
    DEV_ISSUER_PORT: String(issuer.port),
    AUTH_METADATA_URL: `${issuer.url}/common/v2.0/.well-known/openid-configuration`,
    AUTH_ISSUER_TEMPLATE: `${issuer.url}/{tenantid}/v2.0`,
    ...env,
  });
  const app = await createApiApp(config, { schemaFile: options.schemaFile ?? false, clock: options.clock });
  await app.init();
  const prisma = createPrismaClient({ databaseUrl: config.databaseUrl, poolSize: 2 });
  const server = app.getHttpServer();

  const harness: ApiHarness = {
    app,
    config,
    issuer,
    prisma,
    http: () => request(server),
    token: async (tenantId, objectId, name) =>
      issuer.mintToken({ tenantId, oid: objectId, name, audience: config.auth.audience }),
    async gql(token, query, variables) {
      const req = request(server).post('/graphql').set('Content-Type', 'application/json');
      if (token) req.set('Authorization', `Bearer ${token}`);
      const res = await req.send({ query, variables });
      return res.body as GqlResult<never>;
    },
    async onboard(name) {
      const tenantId = randomUUID();
      const ownerId = randomUUID();
      await new TenantOnboarding(prisma).create({
        tenantId,
        ownerObjectId: ownerId,
        name: name ?? `test ${tenantId.slice(0, 8)}`,
        operator: 'platform-operator:test',
      });
      return { tenantId, ownerId, ownerToken: await harness.token(tenantId, ownerId, 'Owner') };
    },
    parkedPolls: () => parkedAgentPolls(app),
    flushRollups: (tenantId) => flushInventoryRollups(app, tenantId),
    async close() {
      await app.close();
      await prisma.$disconnect();
      await issuer.stop();
    },
  };
  return harness;
}

/** The single error of a GraphQL answer, for assertions. */
export function onlyError(result: GqlResult): { code?: string; field?: string; message: string } {
  if (!result.errors || result.errors.length !== 1)
    throw new Error(`expected exactly one error, got ${JSON.stringify(result)}`);
  const e = result.errors[0]!;
  return { code: e.extensions?.code, field: e.extensions?.field, message: e.message };
}
