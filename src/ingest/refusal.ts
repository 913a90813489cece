import type { ErrorCode } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';

/** What was refused, by whom (when known) and why. */
export interface Refusal {
  kind: 'connect' | 'publish' | 'subscribe';
  code: ErrorCode;
  deviceId: string | null;
  address: string | null;
  topic: string | null;
}

/**
 * Records a refusal: one `ingest.refused` event (detectors count them: a device probing other
 * topics is a finding) and one log line with the code, never the payload.
 */
export function recordRefusal(deps: { bus: EventBus; logger: Logger }, refusal: Refusal): void {
  deps.bus.emit('ingest.refused', { ...refusal, at: Date.now() });
  deps.logger.info({ ingest: refusal }, 'ingest refused');
}
