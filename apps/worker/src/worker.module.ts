import { Module, type DynamicModule } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { PlatformModule, type Clock } from '@portcullis/platform';
import { AlertRulesModule } from './alert-rules/alert-rules.module';
import { AlertsModule } from './alerts/alerts.module';
import { DistributionModule } from './distribution/distribution.module';
import { InventoryModule } from './inventory/inventory.module';

/**
 * The worker process: BullMQ processors, no HTTP. It shares the platform providers
 * (config, logger, PostgreSQL, Redis) with the API and composes its own processors.
 */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, options: { readonly clock?: Clock } = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        PlatformModule.forRoot(config, { serviceName: 'portcullis-worker', clock: options.clock }),
        DistributionModule,
        InventoryModule,
        AlertRulesModule,
        AlertsModule,
      ],
    };
  }
}
