import { createHash } from 'node:crypto';

/**
 * A device's key in external identifiers that allow fewer characters than device ids do: FHIR
 * logical ids (`[A-Za-z0-9\-\.]{1,64}`) of Device, DeviceMetric and Observation resources.
 *
 * A device id without `_` and short enough to leave room for the longest suffix an Observation id
 * adds (`.<time>.<seq>.<index>`, 25 characters) is its own key, so most ids read the same
 * everywhere. Any other id is keyed by `--` and 26 base32 characters of its SHA-256: no device id
 * starts with `-`, so the two kinds never meet, and `devices.external_key` (migration 021) maps
 * the hashed key back to the device (`DeviceService.idOfExternalKey`).
 */
export function externalKeyOf(deviceId: string): string {
  if (NATURAL.test(deviceId)) return deviceId;
  // A search page names each reading's device twice (id prefix and reference): hash it once.
  let key = hashed.get(deviceId);
  if (key === undefined) {
    key = `--${base32(createHash('sha256').update(deviceId).digest()).slice(0, 26)}`;
    if (hashed.size >= HASHED_KEPT) hashed.clear();
    hashed.set(deviceId, key);
  }
  return key;
}

/** Hashed keys already computed (few devices need one), bounded. */
const hashed = new Map<string, string>();
const HASHED_KEPT = 10_000;

/** Whether `key` is a hashed key (resolved through `devices.external_key`) rather than the id itself. */
export const isHashedKey = (key: string): boolean => key.startsWith('--');

/** Device ids that are their own key: FHIR id characters, at most 39 of them. */
const NATURAL = /^[A-Za-z0-9][A-Za-z0-9.-]{2,38}$/;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** RFC 4648 base32, lower case, no padding (migration 021 computes its keys with it too). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
