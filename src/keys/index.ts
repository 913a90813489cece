/**
 * The keys capability: the master key, envelope encryption with per-scope data keys
 * (AES-256-GCM), crypto-shredding, blind indexes and signing keys.
 */
export { type DataKeyScope, periodOf } from './data-keys.js';
export {
  EPOCH_ORIGIN,
  type EpochKeys,
  type EpochKeysOptions,
  nextPeriod,
  openEpochKeys,
} from './epoch-keys.js';
export {
  DEFAULT_DATA_KEY_MAX_USES,
  type KeyService,
  type KeyServiceOptions,
  openKeyService,
} from './key-service.js';
export { checkMasterKeyFirst, initializeKeys } from './key-settings.js';
export {
  generateMasterKey,
  MASTER_KEY_BYTES,
  MASTER_KEY_ENV,
  readMasterKey,
  writeMasterKeyFile,
} from './master-key.js';
export { SEALED_OVERHEAD } from './sealed-record.js';
export type { SigningKey, SigningUse } from './signing-keys.js';
