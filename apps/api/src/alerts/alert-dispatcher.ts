import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import {
  SecretBox,
  alertsQueue,
  dispatchAlert,
  enqueueDeliveries,
  persistAlert,
  type Alert,
  type AlertsQueue,
  type DispatchDeps,
} from '@portcullis/alerts';
import type { AppConfig } from '@portcullis/config';
import { APP_CONFIG, REDIS } from '@portcullis/platform';
import type { Redis } from 'ioredis';
import { SqlPool } from '../platform/sql-pool';

/**
 * The API's handle on the `alerts` queue: dispatch an alert now (its own transaction), or
 * persist it inside a caller's transaction and enqueue after the commit. Also holds the
 * secret box that seals destination secrets.
 */
@Injectable()
export class AlertDispatcher implements OnModuleDestroy {
  readonly queue: AlertsQueue;
  readonly box: SecretBox;

  constructor(
    private readonly pool: SqlPool,
    @Inject(REDIS) redis: Redis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.queue = alertsQueue(redis, config.redisPrefix);
    this.box = new SecretBox(config.secretsEncryptionKeys);
  }

  dispatch(alert: Alert, destinationIds: readonly string[]): Promise<void> {
    return dispatchAlert(
      { db: { pool: this.pool }, queue: this.queue, retry: this.config.alerts.delivery },
      alert,
      destinationIds,
    );
  }

  /** In the caller's transaction: the rows; call `enqueue` with the answer once it committed. */
  persist(db: DispatchDeps['db'], alert: Alert, destinationIds: readonly string[]): Promise<string[]> {
    return persistAlert(db, alert, destinationIds);
  }

  enqueue(alert: Pick<Alert, 'id' | 'tenantId'>, destinationIds: readonly string[]): Promise<void> {
    return enqueueDeliveries(this.queue, this.config.alerts.delivery, alert, destinationIds);
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }
}
