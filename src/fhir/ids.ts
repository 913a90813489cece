/**
 * FHIR logical ids (R4 datatypes "id": `[A-Za-z0-9\-\.]{1,64}`) for our records. None carries
 * PHI: a Patient id is the hex form of the patient's blind index (an HMAC, not the MRN), an
 * Observation id names the reading (device, message time, sequence) and the observation's place in
 * it, a DeviceMetric id names a device and a vital kind.
 */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A Patient id is the patients capability's patient reference (hex of the blind index). */
export { blindIndexOf, patientIdOf } from '../patients/index.js';

/** Where one observation sits: its reading's identity and its index in the reading. */
export interface ObservationKey {
  deviceId: string;
  observedAt: number;
  seq: number;
  index: number;
}

export function observationIdOf(k: ObservationKey): string {
  return `${readingIdPrefixOf(k)}${k.index}`;
}

/** What the ids of one reading's observations start with (the index follows). */
export function readingIdPrefixOf(k: Omit<ObservationKey, 'index'>): string {
  return `${k.deviceId}.${k.observedAt.toString(36)}.${k.seq.toString(36)}.`;
}

export function observationKeyOf(id: string): ObservationKey | undefined {
  if (!FHIR_ID.test(id)) return undefined;
  const parts = id.split('.');
  if (parts.length < 4) return undefined;
  const [t, s, n] = parts.slice(-3) as [string, string, string];
  const deviceId = parts.slice(0, -3).join('.');
  if (!/^[0-9a-z]{1,11}$/.test(t) || !/^[0-9a-z]{1,11}$/.test(s) || !/^\d{1,2}$/.test(n)) return undefined;
  const observedAt = Number.parseInt(t, 36);
  const seq = Number.parseInt(s, 36);
  if (!Number.isSafeInteger(observedAt) || !Number.isSafeInteger(seq) || deviceId.length < 3)
    return undefined;
  return { deviceId, observedAt, seq, index: Number(n) };
}

/** DeviceMetric id: `<device id>.<vital kind>`. */
export function metricIdOf(deviceId: string, kind: string): string {
  return `${deviceId}.${kind}`;
}

export function metricKeyOf(id: string): { deviceId: string; kind: string } | undefined {
  if (!FHIR_ID.test(id)) return undefined;
  const at = id.lastIndexOf('.');
  if (at < 3) return undefined;
  return { deviceId: id.slice(0, at), kind: id.slice(at + 1) };
}
