import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { PulsegateError } from '../errors.js';
import { assertMasterKey } from './master-key.js';

/** What a master-derived wrapping key protects; each kind gets its own HKDF-derived key. */
export type WrapKind = 'data-key' | 'signing-key' | 'index-root';

const HKDF_SALT = Buffer.from('pulsegate/keys/v1');
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function derive(master: Buffer, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', master, HKDF_SALT, info, length));
}

/**
 * Everything derived from one master key. The master key itself never encrypts anything: each use
 * has its own HKDF subkey, so a key check value or id reveals nothing about the wrapping keys.
 *
 * Wrapping is AES-256-GCM (random 96-bit nonce, 128-bit tag) rather than AES-KW (RFC 3394): GCM
 * takes associated data, so each wrapped key is bound to its row (id and scope) and cannot be
 * moved to another row by someone who can write the database; its full 128-bit tag is also a
 * stronger integrity check than AES-KW's 64-bit one. The number of wraps under one master key
 * (one per data or signing key) stays many orders below GCM's 2^32 random-nonce bound.
 */
export interface MasterContext {
  /** A short public identifier of the master key, stored beside what it wraps. */
  readonly id: string;
  /** The key check value kept in `settings`; proves a key is the installation's own. */
  readonly kcv: Buffer;
  /** `nonce | ciphertext | tag` of `secret` under the `kind` wrapping key, bound to `aad`. */
  wrap(kind: WrapKind, secret: Uint8Array, aad: string): Buffer;
  /** The inverse of `wrap`; `KEY_DECRYPT_FAILED` when the bytes or `aad` were altered. */
  unwrap(kind: WrapKind, wrapped: Uint8Array, aad: string): Buffer;
  /** True when `kcv` (as stored) is this key's check value; constant time. */
  matches(kcv: Buffer): boolean;
}

/** Derives the context of `master`; the caller may wipe `master` afterwards. */
export function deriveMasterContext(master: Buffer): MasterContext {
  assertMasterKey(master);
  const kcv = derive(master, 'pulsegate/kcv', 32);
  const id = `mk-${derive(master, 'pulsegate/master-key-id', 9).toString('base64url')}`;
  const keys: Record<WrapKind, KeyObject> = {
    'data-key': secretKey(derive(master, 'pulsegate/wrap/data-key', 32)),
    'signing-key': secretKey(derive(master, 'pulsegate/wrap/signing-key', 32)),
    'index-root': secretKey(derive(master, 'pulsegate/wrap/index-root', 32)),
  };
  return {
    id,
    kcv,
    wrap(kind, secret, aad) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keys[kind], nonce);
      cipher.setAAD(Buffer.from(`${kind}\0${aad}`));
      const body = Buffer.concat([cipher.update(secret), cipher.final()]);
      return Buffer.concat([nonce, body, cipher.getAuthTag()]);
    },
    unwrap(kind, wrapped, aad) {
      const bytes = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
      if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new PulsegateError('KEY_DECRYPT_FAILED');
      try {
        const decipher = createDecipheriv('aes-256-gcm', keys[kind], bytes.subarray(0, NONCE_BYTES));
        decipher.setAAD(Buffer.from(`${kind}\0${aad}`));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new PulsegateError('KEY_DECRYPT_FAILED', 'A wrapped key failed its integrity check');
      }
    },
    matches(stored) {
      return stored.length === kcv.length && timingSafeEqual(stored, kcv);
    },
  };
}

/** A KeyObject from `bytes`, wiping the source buffer (the KeyObject keeps its own copy). */
export function secretKey(bytes: Buffer): KeyObject {
  const key = createSecretKey(bytes);
  bytes.fill(0);
  return key;
}
