export type { Kysely, Transaction } from 'kysely';
export {
  type BulkColumn,
  type BulkValue,
  bulkInsert,
  type Executor,
  type ScanColumn,
  scanOrdered,
} from './bulk.js';
export { columnTypes, type DialectName } from './dialect.js';
export { type RangeScan, type RangeWorker, rangeWorkersSupported, startRangeWorker } from './range-worker.js';
export { forUpdate } from './row-locks.js';
export type { Database } from './schema.js';
export type { NativeHandle } from './store.js';
export {
  type MigrationReport,
  openStore,
  redactDatabaseUrl,
  type Store,
  type StoreLocation,
} from './store.js';
