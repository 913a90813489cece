/**
 * Tables of the telemetry and patients capabilities. Times are Unix milliseconds.
 *
 * One row of `telemetry_readings` is one accepted device message (a set of up to 64 observations
 * taken together, like an IEEE 11073 scan report or an HL7 ORU OBX group). Values, units, codes,
 * alarms and the patient identifier are inside `sealed`; only what queries filter on stays clear.
 */
export interface TelemetryReadingsTable {
  device_id: string;
  /** Message time (its `ts`), ms. */
  observed_at: number;
  /** The device's message sequence number (uint32), unique per device. */
  seq: number;
  received_at: number;
  /** Blind index (purpose 'patient-id') of the patient the device was bound to, or null. */
  patient_index: string | null;
  /** 'YYYY-MM' of `observed_at` (UTC): the data key period and the retention unit. */
  key_period: string;
  /** The vital kinds present, space-delimited with a leading and trailing space (" heart-rate spo2 "). */
  vitals: string;
  /** How many observations carry an implausibility flag. */
  flagged: number;
  /** Sealed record (keys envelope, then the period mask): observations, alarms, patient id. */
  sealed: Uint8Array;
  /**
   * The device's care unit when the reading was stored (migration 019), or null: care-unit limited
   * readers see a reading only if it was taken in one of their units. Not part of the AAD.
   */
  care_unit: string | null;
}

/** Replay protection: the last accepted message of each device, updated with the readings. */
export interface DeviceIngestStateTable {
  device_id: string;
  last_seq: number;
  last_ts: number;
  updated_at: number;
}

/** Which patient a device measured, and when. */
export interface PatientBindingsTable {
  id: string;
  device_id: string;
  /** Blind index (purpose 'patient-id') of the patient identifier. */
  patient_index: string;
  /** The patient identifier (e.g. an MRN from PID-3), sealed by the keys capability. */
  patient_sealed: Uint8Array;
  bound_from: number;
  bound_until: number | null;
  created_at: number;
  created_by: string;
}

/**
 * Messages stored under a sender's own message id (HL7 MSH-10), by authenticated sender (the
 * gateway device id, never the self-declared MSH-3). Written in the transaction that stores the
 * readings; a resent message finds its receipt and is acknowledged without being stored again.
 * Pruned with the readings by retention.
 */
export interface IngestReceiptsTable {
  sender_id: string;
  message_id: string;
  received_at: number;
  /** Readings (rows) the message produced. */
  readings: number;
}
