import type { ErrorCode } from '../errors.js';
import type { IngestSource } from '../events/index.js';

/**
 * What ingest needs from the PKI: turn a TLS peer certificate (already chain-verified against our
 * issuing CA by the TLS layer) into a device identity, refusing revoked, expired, unknown,
 * quarantined or retired ones. Implemented by `pki` (certificate status) with `devices` (lifecycle).
 */
export interface DeviceIdentityVerifier {
  /** Throws PulsegateError INGEST_CERT_INVALID | INGEST_CERT_EXPIRED | INGEST_CERT_REVOKED | INGEST_DEVICE_NOT_ACTIVE. */
  identify(peer: PeerCertificate): Promise<DeviceIdentity>;
}

/** The parts of a TLS peer certificate ingest passes on (from `tlsSocket.getPeerCertificate()`). */
export interface PeerCertificate {
  /** DER of the leaf certificate. */
  raw: Buffer;
  /** Hex serial number as Node reports it (upper case, no separators). */
  serialNumber: string;
  /** SHA-256 fingerprint as Node reports it ("AB:CD:…"). */
  fingerprint256: string;
}

export interface DeviceIdentity {
  deviceId: string;
  /** Certificate serial (lower-case hex), used to drop sessions on revocation. */
  serial: string;
  /** Certificate expiry, Unix ms. */
  notAfter: number;
}

/** One message as it arrived from a device, before parsing. */
export interface IngestMessage {
  deviceId: string;
  /** Raw payload bytes (JSON per the telemetry schema). */
  payload: Buffer;
  receivedAt: number;
  source: IngestSource;
  /** Device events (alarms, status) come on `devices/{id}/events`; telemetry on `/telemetry`. */
  kind: 'telemetry' | 'events';
  /**
   * For sources that name their messages (HL7 MSH-10): the sender and message id. The sink stores
   * every message carrying the same receipt in one transaction together with the receipt, and
   * answers TELEMETRY_DUPLICATE for a receipt it already holds: stored once, even across a crash
   * between storing and acknowledging. Messages of one receipt must be passed in one `ingest` call.
   */
  receipt?: { sender: string; id: string };
}

export type IngestOutcome =
  | { ok: true; stored: number; flagged: number }
  | { ok: false; code: ErrorCode; detail?: string };

/**
 * Where validated telemetry goes. `ingest` resolves only when every accepted message in the call
 * is durably stored (so an MQTT QoS 1 PUBACK can follow), one outcome per message, in order.
 * A refused message stores nothing. Implemented by `telemetry`.
 */
export interface TelemetrySink {
  ingest(messages: readonly IngestMessage[]): Promise<IngestOutcome[]>;
}
