import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix that makes an enrollment token recognisable (secret scanners, support) without revealing it. */
export const ENROLLMENT_TOKEN_PREFIX = 'pge_';

// 32 random bytes in base64url (no padding) are 43 characters.
const TOKEN_PATTERN = /^pge_[A-Za-z0-9_-]{43}$/;

/** A new one-time enrollment token: `pge_` + 32 random bytes (256 bits) in base64url. */
export function newEnrollmentToken(): string {
  return ENROLLMENT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** True when the text has the shape of an enrollment token (checked before any database work). */
export function looksLikeEnrollmentToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** SHA-256 of a token: what is stored and looked up. The token itself is never stored. */
export function hashEnrollmentToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Constant-time comparison of two token hashes. */
export function tokenHashesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** The token from an `Authorization: Bearer …` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i.exec(header ?? '');
  return match?.[1];
}
