/**
 * Opaque paging cursors for Bundle `next` links. A cursor holds only a keyset position (times,
 * device ids, sequence numbers: no PHI), is bound to the resource type and the exact search it
 * continues, expires, and is authenticated with a keyed MAC so a client cannot forge positions.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { PulsegateError } from '../errors.js';

/** What signs cursors: the key service's blind index (HMAC-SHA256 under a per-purpose key). */
export interface CursorMac {
  blindIndex(purpose: string, value: string): string;
}

const PURPOSE = 'fhir-cursor';
const LIFETIME_MS = 3_600_000;
const CURSOR = /^[A-Za-z0-9_-]{1,1024}\.[A-Za-z0-9_-]{43}$/;

/** A fingerprint of the accepted parameters, so a cursor only continues the search it came from. */
export function searchFingerprint(resourceType: string, accepted: ReadonlyArray<[string, string]>): string {
  return createHash('sha256')
    .update(resourceType)
    .update(JSON.stringify(accepted))
    .digest('base64url')
    .slice(0, 16);
}

export function encodeCursor(mac: CursorMac, fingerprint: string, position: unknown, now: number): string {
  const body = Buffer.from(JSON.stringify({ f: fingerprint, p: position, t: now })).toString('base64url');
  return `${body}.${mac.blindIndex(PURPOSE, body)}`;
}

/** The position in a cursor; FHIR_CURSOR_INVALID when forged, expired or from another search. */
export function decodeCursor<T>(mac: CursorMac, cursor: string, fingerprint: string, now: number): T {
  if (!CURSOR.test(cursor)) throw new PulsegateError('FHIR_CURSOR_INVALID');
  const [body, tag] = cursor.split('.') as [string, string];
  const expected = Buffer.from(mac.blindIndex(PURPOSE, body));
  if (!timingSafeEqual(expected, Buffer.from(tag))) throw new PulsegateError('FHIR_CURSOR_INVALID');
  const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as {
    f: string;
    p: T;
    t: number;
  };
  if (parsed.f !== fingerprint || !(now - parsed.t < LIFETIME_MS))
    throw new PulsegateError('FHIR_CURSOR_INVALID');
  return parsed.p;
}
