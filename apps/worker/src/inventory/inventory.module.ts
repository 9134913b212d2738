import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { SqlPool } from '@portcullis/db';
import { InventoryStore } from '@portcullis/inventory';
import { APP_CONFIG } from '@portcullis/platform';
import { InventoryProcessor } from './inventory.processor';

/**
 * The worker's plain pg pool, for the inventory store: the every-second fold and the hourly
 * maintenance, each one statement at a time, so two connections.
 */
@Injectable()
class WorkerSqlPool extends SqlPool implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({ databaseUrl: config.databaseUrl, max: 2 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.end();
  }
}

@Module({
  providers: [
    WorkerSqlPool,
    { provide: InventoryStore, useFactory: (pool: SqlPool) => new InventoryStore(pool), inject: [WorkerSqlPool] },
    InventoryProcessor,
  ],
})
export class InventoryModule {}
