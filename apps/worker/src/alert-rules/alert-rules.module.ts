import { Module } from '@nestjs/common';
import { InventoryStore } from '@portcullis/inventory';
import { AlertRulesProcessor, AlertRulesSqlPool } from './alert-rules.processor';

/** Alert rules in the worker (issue #27): evaluation, digests and periodic checks; delivery is the alerts module's. */
@Module({
  providers: [
    AlertRulesSqlPool,
    // the readiness check reads the audit-to-deny rollups through the inventory store, on this pool
    {
      provide: InventoryStore,
      useFactory: (pool: AlertRulesSqlPool) => new InventoryStore(pool),
      inject: [AlertRulesSqlPool],
    },
    AlertRulesProcessor,
  ],
  exports: [AlertRulesProcessor],
})
export class AlertRulesModule {}
