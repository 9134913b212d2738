import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { createPrismaClient, type PrismaClient } from '@portcullis/db';
import { Redis } from 'ioredis';
import { createLogger, type Logger } from './logger';
import { APP_CONFIG, CLOCK, LOGGER, PRISMA, REDIS, systemClock, type Clock } from './tokens';

/** Process-wide providers: config, logger, clock, PostgreSQL (Prisma) and Redis connections. */
@Global()
@Module({})
export class PlatformModule implements OnApplicationShutdown {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  static forRoot(
    config: AppConfig,
    options: { readonly clock?: Clock; readonly logger?: Logger; readonly serviceName?: string } = {},
  ): DynamicModule {
    return {
      module: PlatformModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        {
          provide: LOGGER,
          useValue: options.logger ?? createLogger(config.logLevel, options.serviceName ?? 'portcullis-api'),
        },
        {
          provide: PRISMA,
          useFactory: () => createPrismaClient({ databaseUrl: config.databaseUrl, poolSize: config.database.poolSize }),
        },
        {
          provide: REDIS,
          useFactory: () =>
            new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2, enableOfflineQueue: true }),
        },
      ],
      exports: [APP_CONFIG, CLOCK, LOGGER, PRISMA, REDIS],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.prisma.$disconnect(), this.redis.quit()]);
  }
}
