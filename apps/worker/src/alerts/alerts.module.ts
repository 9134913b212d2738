import { Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@portcullis/config';
import { SqlPool } from '@portcullis/db';
import { APP_CONFIG } from '@portcullis/platform';
import { AlertDeliveryProcessor, ALERTS_SQL } from './alert-delivery.processor';

/** The worker's pool for the delivery log: each attempt reads its row and writes its outcome (two short transactions). */
@Injectable()
class AlertsSqlPool extends SqlPool implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super({ databaseUrl: config.databaseUrl, max: 8 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.end();
  }
}

@Module({
  providers: [AlertsSqlPool, { provide: ALERTS_SQL, useExisting: AlertsSqlPool }, AlertDeliveryProcessor],
})
export class AlertsModule {}
