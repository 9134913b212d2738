// The admission inventory's store: its SQL, the ingest statement and the binary encoder of its
// events parameter. Used by the API (ingest, queries, reports, rollup folds) and the worker
// (partitions, retention, folds); the services around it keep the domain.
export { InventoryStore, isMissingPartition, isResentBatch, streamCursor } from './inventory-store';
export type {
  AuditToDenyRow,
  ChunkConsumer,
  EventQuery,
  SimulationQuery,
  SimulationRecord,
  SimulationRow,
  StoredBatch,
  StoredEvent,
  SummaryDimension,
  SummaryGroup,
} from './inventory-store';
export { EVENT_ROW_ATTRIBUTES, EVENT_ROW_TYPE, EventRowsEncoder } from './event-rows';
export type { EventRow } from './event-rows';
export { INGEST_NEW, INGEST_RESENT } from './ingest-sql';
export { stagedKeys } from './rollup-keys';
export type { IngestStatement } from './ingest-sql';
