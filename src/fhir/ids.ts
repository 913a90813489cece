/**
 * FHIR logical ids (R4 datatypes "id": `[A-Za-z0-9\-\.]{1,64}`) for our records. None carries
 * PHI: a Patient id is the hex form of the patient's blind index (an HMAC, not the MRN), an
 * Observation id names the reading (device, message time, sequence) and the observation's place in
 * it, a DeviceMetric id names a device and a vital kind. Devices appear by their key
 * (`device-key.ts`): most ids as they are, ids with `_` or over 39 characters as a hash.
 */
import { externalKeyOf } from '../device-key.js';
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A Device is named by its device key: the device id itself, or a hash for ids FHIR cannot hold. */
export { externalKeyOf as deviceKeyOf } from '../device-key.js';

/** A Patient id is the patients capability's patient reference (hex of the blind index). */
export { blindIndexOf, patientIdOf } from '../patients/index.js';

/** Where one observation sits: its reading's identity and its index in the reading. */
export interface ObservationKey {
  deviceId: string;
  observedAt: number;
  seq: number;
  index: number;
}

/** What an Observation id names: the device by its key (resolve with `idOfExternalKey`), the rest as is. */
export interface ObservationIdParts extends Omit<ObservationKey, 'deviceId'> {
  deviceKey: string;
}

export function observationIdOf(k: ObservationKey): string {
  return `${readingIdPrefixOf(k)}${k.index}`;
}

/** What the ids of one reading's observations start with (the index follows). */
export function readingIdPrefixOf(k: Omit<ObservationKey, 'index'>): string {
  return `${externalKeyOf(k.deviceId)}.${k.observedAt.toString(36)}.${k.seq.toString(36)}.`;
}

/** The parts of an Observation id, or undefined when it is not one of ours. */
export function observationKeyOf(id: string): ObservationIdParts | undefined {
  if (!FHIR_ID.test(id)) return undefined;
  const parts = id.split('.');
  if (parts.length < 4) return undefined;
  const [t, s, n] = parts.slice(-3) as [string, string, string];
  const deviceKey = parts.slice(0, -3).join('.');
  if (!/^[0-9a-z]{1,11}$/.test(t) || !/^[0-9a-z]{1,11}$/.test(s) || !/^\d{1,2}$/.test(n)) return undefined;
  const observedAt = Number.parseInt(t, 36);
  const seq = Number.parseInt(s, 36);
  if (!Number.isSafeInteger(observedAt) || !Number.isSafeInteger(seq) || deviceKey.length < 3)
    return undefined;
  return { deviceKey, observedAt, seq, index: Number(n) };
}

/** DeviceMetric id: `<device key>.<vital kind>`. */
export function metricIdOf(deviceId: string, kind: string): string {
  return `${externalKeyOf(deviceId)}.${kind}`;
}

/** The parts of a DeviceMetric id: the device by its key (resolve with `idOfExternalKey`) and the kind. */
export function metricKeyOf(id: string): { deviceKey: string; kind: string } | undefined {
  if (!FHIR_ID.test(id)) return undefined;
  const at = id.lastIndexOf('.');
  if (at < 3) return undefined;
  return { deviceKey: id.slice(0, at), kind: id.slice(at + 1) };
}
