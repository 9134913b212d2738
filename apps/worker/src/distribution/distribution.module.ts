import { Module } from '@nestjs/common';
import * as path from 'node:path';
import { loadKeyring } from '@portcullis/bundle';
import { repoRoot, type AppConfig } from '@portcullis/config';
import type { PrismaClient } from '@portcullis/db';
import { BundleCompiler, bundleChannel } from '@portcullis/distribution';
import { APP_CONFIG, PRISMA, REDIS } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { DistributionProcessor } from './distribution.processor';
import { BUNDLE_COMPILER } from './tokens';

@Module({
  providers: [
    {
      provide: BUNDLE_COMPILER,
      inject: [PRISMA, REDIS, APP_CONFIG],
      useFactory: (prisma: PrismaClient, redis: Redis, config: AppConfig) => {
        const keyring = loadKeyring(path.resolve(repoRoot(), config.bundles.signingKeysDir), {
          generateIfEmpty: config.bundles.generateMissingKeys,
        });
        const channel = bundleChannel(config.redisPrefix);
        return new BundleCompiler(
          prisma,
          () => keyring.active,
          async (revisions) => {
            // one message per stored chunk: every API replica wakes the agents it holds
            await redis.publish(channel, JSON.stringify({ c: revisions }));
          },
          {
            ttlMs: config.bundles.ttlMs,
            renewBeforeMs: Math.floor(config.bundles.ttlMs / 2),
            chunkSize: config.bundles.compileChunkSize,
          },
        );
      },
    },
    DistributionProcessor,
  ],
})
export class DistributionModule {}
