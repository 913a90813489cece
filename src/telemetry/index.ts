/** The telemetry capability: validated, encrypted, group-committed observations; queries; retention. */
export { ENTERED_SEQ_BASE, type EnteredReading, type EnteredResult } from './attributed-write.js';
export { restartSequenceIn } from './ingest-writer.js';
export type { ParsedAlarm, ParsedObservation } from './parse-message.js';
export { type ParsedMessage, type ParseResult, parseMessage } from './parse-message.js';
export { checkPayload, DeviceEventPayload, TelemetryPayload } from './payload-schema.js';
export { periodOf, TELEMETRY_PURPOSE } from './reading-codec.js';
export type { ReadingPosition, ReadingSearch, StoredReading } from './reading-search.js';
export type { RetentionFollower, RetentionFollowerReport, RetentionReport } from './retention.js';
export { type TelemetryRoutesDeps, telemetryRoutes } from './routes.js';
export type { AlarmView, ObservationView, TelemetryPage, TelemetryQuery } from './telemetry-reader.js';
export {
  createTelemetryService,
  type StoredTelemetry,
  type StoredTelemetryListener,
  type TelemetryConfig,
  type TelemetryDeps,
  type TelemetryService,
} from './telemetry-service.js';
export { normaliseCode, VITAL_CODES, type VitalCode, vitalFor, vitalForQuery } from './vital-codes.js';
