/**
 * Many sealed records at once through the compiled batch AES-GCM (`src/keys/native/seal-many.c`,
 * see src/native.ts): the same record format and the same refusals as sealed-record.ts, which
 * stays the reference and the fallback. Its data key goes to C as raw bytes for the call only
 * (exported from the KeyObject, zeroed afterwards), as the cipher workers already receive it.
 */
import { PulsegateError } from '../errors.js';
import { compiledAddon, type Implementation } from '../native.js';
import type { OpenDataKey } from './data-keys.js';

interface CipherAddon {
  sealMany(
    key: Uint8Array,
    header: Uint8Array,
    nonces: Uint8Array,
    plaintexts: Uint8Array[],
    aads: Uint8Array[],
  ): Buffer[];
  openMany(keys: Uint8Array[], keyOf: Uint32Array, sealed: Uint8Array[], aads: Uint8Array[]): Buffer[];
}

/** The record sealer and opener a key service uses. */
export interface BatchCipher {
  /** Seals `items` under `key`, record i with the 12 bytes of `nonces` at i * 12. */
  seal(
    key: OpenDataKey,
    nonces: Buffer,
    items: ReadonlyArray<{ plaintext: Uint8Array; aad: Uint8Array }>,
  ): Buffer[];
  /** Opens `items`, record i with `keys[i]`; KEY_DECRYPT_FAILED when any does not open. */
  open(keys: readonly OpenDataKey[], items: ReadonlyArray<{ sealed: Uint8Array; aad: Uint8Array }>): Buffer[];
}

/** The compiled batch cipher when asked for (or by default) and built, else undefined. */
export function compiledCipher(wanted?: Implementation): BatchCipher | undefined {
  if (wanted === 'javascript') return undefined;
  const addon = compiledAddon<CipherAddon>('pulsegate_keys', 'sealMany')?.module;
  if (!addon) return undefined;
  return {
    seal(key, nonces, items) {
      const raw = key.key.export();
      try {
        return addon.sealMany(
          raw,
          key.header,
          nonces,
          items.map((item) => item.plaintext),
          items.map((item) => item.aad),
        );
      } finally {
        raw.fill(0);
      }
    },
    open(keys, items) {
      const distinct = new Map<OpenDataKey, number>();
      const keyOf = new Uint32Array(keys.length);
      keys.forEach((key, i) => {
        let at = distinct.get(key);
        if (at === undefined) {
          at = distinct.size;
          distinct.set(key, at);
        }
        keyOf[i] = at;
      });
      const raws = [...distinct.keys()].map((key) => key.key.export());
      try {
        return addon.openMany(
          raws,
          keyOf,
          items.map((item) => item.sealed),
          items.map((item) => item.aad),
        );
      } catch (error) {
        if ((error as { code?: string }).code === 'PULSEGATE_DECRYPT_FAILED')
          throw new PulsegateError('KEY_DECRYPT_FAILED');
        throw error;
      } finally {
        for (const raw of raws) raw.fill(0);
      }
    },
  };
}
