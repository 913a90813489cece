/**
 * Opaque API tokens (`pgt_` + 256 random bits, base64url). Only their SHA-256 is stored: a
 * database leak yields no usable token, and a high-entropy secret needs no slow hash.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Every API token starts with this, so scanners and the auth hook can tell it from a JWT. */
export const API_TOKEN_PREFIX = 'pgt_';

const TOKEN_FORMAT = /^pgt_[A-Za-z0-9_-]{43}$/;

/** A fresh token and the hash to store for it. */
export function newApiToken(): { token: string; hash: string } {
  const token = API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, hash: hashApiToken(token) };
}

/** The stored form of a token: SHA-256, hex. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** True when the string has the exact shape of one of our API tokens. */
export function looksLikeApiToken(token: string): boolean {
  return TOKEN_FORMAT.test(token);
}

/** Constant-time comparison of two hex hashes of equal length. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
