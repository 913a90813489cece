import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { PulsegateError } from '../errors.js';

/**
 * The sealed record format, version 1 (all lengths in bytes):
 *
 *   version (1) = 0x01 | data-key id (16) | nonce (12) | ciphertext (n) | GCM tag (16)
 *
 * It is self-describing: decryption reads the data-key id from the header. The header is part of
 * the GCM associated data (before the caller's AAD), so it cannot be edited without failing the tag.
 */
export const SEALED_VERSION = 1;
export const KEY_ID_BYTES = 16;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const HEADER_BYTES = 1 + KEY_ID_BYTES;
const PREFIX_BYTES = HEADER_BYTES + NONCE_BYTES;

/** Bytes a sealed record adds to its plaintext. */
export const SEALED_OVERHEAD = PREFIX_BYTES + TAG_BYTES;

/** The 17-byte header naming `keyId` (16 raw bytes). */
export function sealedHeader(keyId: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = SEALED_VERSION;
  keyId.copy(header, 1);
  return header;
}

/** The data-key id (base64url) a sealed record names; `KEY_DECRYPT_FAILED` if it is not a v1 record. */
export function sealedKeyId(sealed: Uint8Array): string {
  if (!(sealed instanceof Uint8Array) || sealed.length < SEALED_OVERHEAD || sealed[0] !== SEALED_VERSION) {
    throw new PulsegateError('KEY_DECRYPT_FAILED', 'Not a sealed record of a supported version');
  }
  return Buffer.from(sealed.buffer, sealed.byteOffset + 1, KEY_ID_BYTES).toString('base64url');
}

/**
 * Seals one record with AES-256-GCM. `nonces` holds fresh random bytes, of which the 12 at
 * `nonceAt` are used, so a batch draws its randomness in one call.
 */
export function sealRecord(
  key: KeyObject,
  header: Buffer,
  nonces: Buffer,
  nonceAt: number,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_BYTES + plaintext.length + TAG_BYTES);
  header.copy(out, 0);
  nonces.copy(out, HEADER_BYTES, nonceAt, nonceAt + NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, out.subarray(HEADER_BYTES, PREFIX_BYTES));
  cipher.setAAD(header);
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  body.copy(out, PREFIX_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, PREFIX_BYTES + body.length);
  return out;
}

/** Opens a record sealed by `sealRecord`; `KEY_DECRYPT_FAILED` if the tag does not verify. */
export function openRecord(key: KeyObject, sealed: Uint8Array, aad: Uint8Array): Buffer {
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const tagAt = bytes.length - TAG_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(HEADER_BYTES, PREFIX_BYTES));
    decipher.setAAD(bytes.subarray(0, HEADER_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(bytes.subarray(tagAt));
    const plain = decipher.update(bytes.subarray(PREFIX_BYTES, tagAt));
    decipher.final();
    return plain;
  } catch {
    throw new PulsegateError('KEY_DECRYPT_FAILED');
  }
}
