import type { Provider } from '@nestjs/common';
import { InventoryStore } from '@portcullis/inventory';
import { SqlPool } from '../platform/sql-pool';
import { AdmissionEventIngestor } from './admission-event-ingestor';
import { AdmissionEventsController } from './admission-events.controller';
import { AdmissionInventoryService } from './admission-inventory.service';
import { AuditToDenyService } from './audit-to-deny.service';
import { InventoryResolver } from './inventory.resolver';
import { PolicySimulatorService } from './policy-simulator.service';
import { AdmissionRetentionResolver } from './retention';
import { RollupFlusher } from './rollup-flusher';

/** The admission inventory's part of the API, composed by ApiModule. */
export const INVENTORY_CONTROLLERS = [AdmissionEventsController];
export const INVENTORY_PROVIDERS: Provider[] = [
  // the inventory's SQL, on the API's pool (tenant work passes its tenant gate)
  { provide: InventoryStore, useFactory: (pool: SqlPool) => new InventoryStore(pool), inject: [SqlPool] },
  RollupFlusher,
  AdmissionEventIngestor,
  AdmissionInventoryService,
  AuditToDenyService,
  PolicySimulatorService,
  InventoryResolver,
  AdmissionRetentionResolver,
];
