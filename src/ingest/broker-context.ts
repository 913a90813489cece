import type { Client } from 'aedes';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import type { IngestBatcher } from './ingest-batcher.js';
import type { DeviceIdentityVerifier } from './ports.js';
import type { DeviceSession, SessionRegistry } from './sessions.js';
import type { TokenBuckets } from './token-bucket.js';

/** What the embedded broker's protocol handlers share. */
export interface BrokerContext {
  readonly identity: DeviceIdentityVerifier;
  readonly batcher: IngestBatcher;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly sessions: SessionRegistry;
  readonly rate: TokenBuckets;
  readonly maxPayloadBytes: number;
  /** The session each authenticated Aedes client belongs to. */
  readonly sessionOf: WeakMap<Client, DeviceSession>;
}

/** The remote address of a client's connection, for refusal records. */
export function addressOf(client: Client | null): string | null {
  return (client?.conn as { remoteAddress?: string } | undefined)?.remoteAddress ?? null;
}
