import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { PulsegateError } from '../errors.js';

/** scrypt cost parameters (RFC 7914). They are stored in each hash so they can change later. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** Production cost: N=2^14, r=8, p=1 (RFC 7914 §2's interactive-login figure). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };

/** Shortest accepted password (NIST SP 800-63B allows 8; we ask for more for a clinical system). */
export const MIN_PASSWORD_LENGTH = 12;
/** Longest accepted password: bounds the hashing work a single request can cause. */
export const MAX_PASSWORD_LENGTH = 1024;

const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const maxmem = 256 * params.N * params.r + 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, { ...params, maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Throws USER_PASSWORD_WEAK unless the password meets the policy. */
export function checkPasswordPolicy(password: string, username?: string): void {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new PulsegateError(
      'USER_PASSWORD_WEAK',
      `Passwords must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long`,
    );
  }
  if (username && password.toLowerCase() === username.toLowerCase()) {
    throw new PulsegateError('USER_PASSWORD_WEAK', 'Passwords must not be the username');
  }
  if (new Set(password).size < 4) {
    throw new PulsegateError('USER_PASSWORD_WEAK', 'Passwords must not repeat a few characters');
  }
}

/** Hashes a password as `scrypt$N$r$p$salt$hash` (salt and hash base64url). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, params);
  return [
    'scrypt',
    params.N,
    params.r,
    params.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join('$');
}

/** Parses a stored hash; undefined for anything malformed or with unreasonable parameters. */
function parseHash(stored: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^\d{1,8}$/.test(v ?? '') ? Number(v) : Number.NaN));
  if (N === undefined || r === undefined || p === undefined) return undefined;
  // Bounds stop a planted hash from turning one login into a memory or CPU exhaustion.
  const sane = N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16;
  if (!sane) return undefined;
  const salt = Buffer.from(parts[4] ?? '', 'base64url');
  const hash = Buffer.from(parts[5] ?? '', 'base64url');
  if (salt.length < 8 || hash.length !== KEY_LENGTH) return undefined;
  return { params: { N, r, p }, salt, hash };
}

/** Constant-time check of a password against a stored hash. Malformed hashes never match. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed || password.length > MAX_PASSWORD_LENGTH * 4) return false;
  const candidate = await derive(password, parsed.salt, parsed.params);
  return timingSafeEqual(candidate, parsed.hash);
}
