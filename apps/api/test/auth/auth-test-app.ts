/**
 * A minimal Nest app around AuthModule for the token tests: one REST route, one public
 * route and one GraphQL query, with the API's own error mapping, pointed at a real dev
 * issuer on an ephemeral HTTPS port. No database: identity stops at the validated token.
 */
import 'reflect-metadata';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Controller, Get, Global, Module, Req, type INestApplication } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Context, Field, GraphQLModule, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import pino from 'pino';
import { DevIssuer } from '@portcullis/dev-issuer';
import { LOGGER, type Logger } from '@portcullis/platform';
import { AuthModule, BearerAuthGuard, Public, type AuthOptions, type TokenIdentity } from '../../src/auth';
import { formatGraphqlError } from '../../src/graphql/errors';
import { DomainErrorFilter } from '../../src/platform/domain-error.filter';

@Controller()
class WhoAmIController {
  @Get('whoami')
  whoami(@Req() req: { identity?: TokenIdentity }): TokenIdentity | undefined {
    return req.identity;
  }

  @Public()
  @Get('healthz')
  health(): { status: string } {
    return { status: 'ok' };
  }
}

@ObjectType()
class Caller {
  @Field() tenantId!: string;
  @Field() objectId!: string;
  @Field({ nullable: true }) name?: string;
}

@Resolver(() => Caller)
class CallerResolver {
  @Query(() => Caller)
  caller(@Context('req') req: { identity?: TokenIdentity }): Caller {
    const identity = req.identity!;
    return { tenantId: identity.tenantId, objectId: identity.objectId, name: identity.name };
  }
}

export interface AuthTestApp {
  readonly app: INestApplication;
  readonly issuer: DevIssuer;
  readonly options: AuthOptions;
  /** Everything logged by the app (pino) during the test. */
  readonly logs: string[];
  close(): Promise<void>;
}

/** One temporary state directory per test file: keys are generated once and reused. */
export function tempStateDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `portcullis-${name}-`));
}

export async function startAuthTestApp(issuer: DevIssuer, overrides: Partial<AuthOptions> = {}): Promise<AuthTestApp> {
  const logs: string[] = [];
  const logger: Logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString());
        done();
      },
    }),
  );
  const options: AuthOptions = {
    identityMetadataUrl: issuer.metadataUrl,
    audience: 'api://portcullis-test',
    allowedIssuerTemplate: `${issuer.url}/{tenantid}/v2.0`,
    clockSkewSeconds: 120,
    extraTrustedCaPem: issuer.caCertPem,
    production: false,
    ...overrides,
  };

  @Global()
  @Module({ providers: [{ provide: LOGGER, useValue: logger }], exports: [LOGGER] })
  class TestLoggerModule {}

  @Module({
    imports: [
      TestLoggerModule,
      AuthModule.register(options),
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        autoSchemaFile: true,
        context: ({ req }: { req: unknown }) => ({ req }),
        formatError: formatGraphqlError(logger),
      }),
    ],
    controllers: [WhoAmIController],
    providers: [{ provide: APP_GUARD, useClass: BearerAuthGuard }, CallerResolver],
  })
  class AuthTestModule {}

  const moduleRef = await Test.createTestingModule({ imports: [AuthTestModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.useGlobalFilters(new DomainErrorFilter(logger));
  await app.init();
  return { app, issuer, options, logs, close: () => app.close() };
}
