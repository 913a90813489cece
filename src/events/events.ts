import type { AlertEvent } from '../monitor/contracts.js';

/**
 * Every event that crosses capability boundaries, by name. Payloads carry identifiers and
 * facts, never PHI values: a telemetry event says how many observations a device stored, not what
 * they were (subscribers that need values read them through the telemetry API, authorised).
 */
export interface PulsegateEvents {
  /** A batch of observations from one device was durably stored. */
  'telemetry.stored': {
    deviceId: string;
    seq: number | null;
    count: number;
    bytes: number;
    receivedAt: number;
    source: IngestSource;
    flagged: number;
    /** The device's own message time (its `ts`), ms: clock-skew detection compares it with `receivedAt`. */
    deviceTs?: number;
  };
  /**
   * A device's message passed validation and was handed to storage (replay check and durable commit
   * follow within milliseconds). Behaviour detection counts what devices send from here, so an
   * alert does not wait for the group commit; `telemetry.stored` confirms storage.
   */
  'telemetry.received': PulsegateEvents['telemetry.stored'];
  /** A device's message was refused (schema, bounds, rate, size, replay). */
  'telemetry.rejected': {
    deviceId: string;
    code: string;
    source: IngestSource;
    receivedAt: number;
    bytes: number;
    /** The message's sequence number, when it was parsed (replays name the seq replayed). */
    seq?: number | null;
  };
  /** A device connected over MQTT (or an external broker reported it). */
  'device.connected': {
    deviceId: string;
    clientId: string;
    address: string | null;
    at: number;
    /** Serial of the certificate the session authenticated with (embedded broker). */
    serial?: string;
  };
  'device.disconnected': { deviceId: string; clientId: string; reason: string; at: number };
  /** A connection, publish or subscribe was refused at the broker or an ingest endpoint. */
  'ingest.refused': {
    kind: 'connect' | 'publish' | 'subscribe';
    code: string;
    deviceId: string | null;
    address: string | null;
    topic: string | null;
    at: number;
  };
  'certificate.issued': { deviceId: string; serial: string; notAfter: number; at: number };
  'certificate.revoked': { deviceId: string; serial: string; reason: string; at: number };
  'device.changed': { deviceId: string; change: string; at: number };
  'config.changed': { key: string; actor: string; at: number };
  /** An alert was created or a duplicate report merged into an open one (monitor/contracts.ts). */
  'alert.raised': AlertEvent;
  /** An alert changed state (acknowledged, resolved, false positive, escalated, grouped into an incident). */
  'alert.updated': AlertEvent;
  /** A response action took a device out of service, or put it back (actor and reason are in the audit log). */
  'device.quarantined': { deviceId: string; actor: string; at: number };
  'device.released': { deviceId: string; actor: string; at: number };
}

export type IngestSource = 'mqtt' | 'https' | 'hl7' | 'external-broker' | 'fhir';
export type EventName = keyof PulsegateEvents;
