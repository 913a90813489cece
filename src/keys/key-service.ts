import { createHmac, hkdfSync, type KeyObject } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Implementation } from '../native.js';
import type { Store } from '../store/index.js';
import { compiledCipher } from './batch-cipher.js';
import { CipherPool, POOL_THRESHOLD } from './cipher-pool.js';
import { type DataKeyScope, DataKeys, type OpenDataKey } from './data-keys.js';
import { openKeySettings } from './key-settings.js';
import { deriveMasterContext, type MasterContext, secretKey } from './master-context.js';
import { rewrapAll } from './master-rotation.js';
import { RandomPool } from './random-pool.js';
import { NONCE_BYTES, openRecord, sealedKeyId, sealRecord } from './sealed-record.js';
import { type SigningKey, SigningKeys, type SigningUse } from './signing-keys.js';

/** The default data-key usage limit: far below GCM's 2^32 random-nonce bound (NIST SP 800-38D §8.3). */
export const DEFAULT_DATA_KEY_MAX_USES = 2 ** 24;

/** Envelope encryption, blind indexes and signing keys, over one store and one master key. */
export interface KeyService {
  /** The public id of the master key in use (changes on rotation). */
  readonly masterKeyId: string;
  /** Seals `plaintext` under the scope's data key; `aad` is the caller's record identity. */
  encrypt(scope: DataKeyScope, plaintext: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  /** `encrypt` for many records of one scope, with one reservation of key uses. */
  encryptMany(
    scope: DataKeyScope,
    items: ReadonlyArray<{ plaintext: Uint8Array; aad: Uint8Array }>,
  ): Promise<Buffer[]>;
  /** KEY_SHREDDED if the record's data key was destroyed, KEY_DECRYPT_FAILED if bytes or aad do not match. */
  decrypt(sealed: Uint8Array, aad: Uint8Array): Promise<Buffer>;
  /** `decrypt` for many records (any scopes); fails as a whole on the first bad record. */
  decryptMany(items: ReadonlyArray<{ sealed: Uint8Array; aad: Uint8Array }>): Promise<Buffer[]>;
  /**
   * Deterministic keyed HMAC-SHA256 (base64url) of `value` for searching; one HKDF key per purpose.
   * The HKDF input is a random index root wrapped by the master key (not the master key itself),
   * so indexes stay valid across master key rotation. Callers normalise `value` first.
   */
  blindIndex(purpose: string, value: string): string;
  /**
   * Crypto-shredding: overwrites the wrapped bytes of the matching data keys (status 'shredded')
   * and evicts them here; returns how many. Other processes stop using a shredded key within
   * `recheckMs`. Physical erasure of old row versions is the database's job (SQLite
   * `secure_delete` and checkpoints, PostgreSQL VACUUM).
   */
  shred(filter: { purpose: string; subject?: string; periodBefore?: string }): Promise<number>;
  /** Rewraps every key under `newMasterKey` in one transaction; the service then uses it. */
  rotateMasterKey(newMasterKey: Buffer): Promise<{ rewrapped: number }>;
  /** The current signing key for `use`, created on first use: jwt → ES256, audit → Ed25519. */
  signingKey(use: 'jwt' | 'audit'): Promise<SigningKey>;
  /** All public keys for `use`, retired ones included. */
  verificationKeys(use: 'jwt' | 'audit'): Promise<SigningKey['publicJwk'][]>;
  /** Public keys for `use` whose private half unwraps under the master key (see SigningKeys). */
  provenPublicKeys(use: 'jwt' | 'audit'): Promise<{ keys: KeyObject[]; rejected: number }>;
  /** Retires the current signing key for `use` and returns its successor. */
  rotateSigningKey(use: 'jwt' | 'audit'): Promise<SigningKey>;
  /** Returns unspent usage reservations to the database and forgets cached keys. */
  close(): Promise<void>;
}

/** Options of `openKeyService`; the optional ones are tuning knobs with safe defaults. */
export interface KeyServiceOptions {
  store: Store;
  masterKey: Buffer;
  /** Uses after which a data key is retired; at most 2^32 - 1. */
  dataKeyMaxUses: number;
  now?: () => number;
  /** Cipher worker threads for large batches (default: one fewer than the cores; 0 = inline only). */
  cipherWorkers?: number;
  /** Uses reserved from the database at a time (default: maxUses / 256, between 1 and 65,536). */
  reserveBlock?: number;
  /** Unwrapped data keys kept in memory (default 10,000). */
  cacheSize?: number;
  /** How long a cached key is trusted before its row is re-read, in ms (default 5,000). */
  recheckMs?: number;
  /**
   * Record sealing and opening: the compiled batch AES-GCM where it is built (the default; one
   * call per batch on this thread), or the JavaScript one (per record, large batches split across
   * the cipher workers). Same bytes either way.
   */
  cipher?: Implementation;
}

const LIMIT = 200;

function checkName(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMIT) {
    throw new PulsegateError(
      'VALIDATION_FAILED',
      `${field} must be a non-empty string of at most ${LIMIT} characters`,
    );
  }
}

function checkScope(scope: DataKeyScope): void {
  checkName('scope.purpose', scope?.purpose);
  checkName('scope.subject', scope?.subject);
  checkName('scope.period', scope?.period);
}

function checkBytes(field: string, value: unknown): void {
  if (!(value instanceof Uint8Array)) throw new PulsegateError('VALIDATION_FAILED', `${field} must be bytes`);
}

/**
 * Opens the key service. Refuses when the installation has no key check value
 * (KEY_MASTER_MISSING) or `masterKey` does not match it (KEY_MASTER_WRONG, compared in constant time).
 */
export async function openKeyService(opts: KeyServiceOptions): Promise<KeyService> {
  const { store } = opts;
  const maxUses = opts.dataKeyMaxUses;
  if (!Number.isSafeInteger(maxUses) || maxUses < 1 || maxUses >= 2 ** 32) {
    throw new PulsegateError('CONFIG_INVALID', 'dataKeyMaxUses must be an integer from 1 to 2^32 - 1');
  }
  const now = opts.now ?? Date.now;
  let master: MasterContext = deriveMasterContext(opts.masterKey);
  const { indexRoot } = await openKeySettings(store.db, master);
  const indexKeys = new Map<string, KeyObject>();
  let rotation: Promise<unknown> | undefined;
  const idle = async () => {
    while (rotation) await rotation.catch(() => {});
  };
  const recheckMs = opts.recheckMs ?? 5000;
  const dataKeys = new DataKeys({
    store,
    master: () => master,
    maxUses,
    reserveBlock: opts.reserveBlock ?? Math.min(65_536, Math.max(1, Math.floor(maxUses / 256))),
    cacheSize: opts.cacheSize ?? 10_000,
    recheckMs,
    now,
    idle,
  });
  const signing = new SigningKeys({ store, master: () => master, now, recheckMs, idle });

  const pool = new CipherPool(opts.cipherWorkers);
  const randomPool = new RandomPool();
  const compiled = compiledCipher(opts.cipher);

  /** Seals `items` under one key: inline for small runs, split across the pool for large ones. */
  async function sealRun(
    key: OpenDataKey,
    nonces: Buffer,
    items: ReadonlyArray<{ plaintext: Uint8Array; aad: Uint8Array }>,
  ): Promise<Buffer[]> {
    if (compiled) return compiled.seal(key, nonces, items);
    const parts = pool.workers + 1;
    if (items.length < POOL_THRESHOLD || parts === 1) {
      return items.map((item, i) =>
        sealRecord(key.key, key.header, nonces, i * NONCE_BYTES, item.plaintext, item.aad),
      );
    }
    const size = Math.ceil(items.length / parts);
    const raw = key.key.export();
    const offloaded = [];
    for (let p = 1; p < parts; p++) {
      const from = p * size;
      const to = Math.min(items.length, from + size);
      if (from < to) {
        offloaded.push(
          pool.seal(
            raw,
            key.header,
            nonces.subarray(from * NONCE_BYTES, to * NONCE_BYTES),
            items.slice(from, to),
          ),
        );
      }
    }
    const mine = items
      .slice(0, size)
      .map((item, i) => sealRecord(key.key, key.header, nonces, i * NONCE_BYTES, item.plaintext, item.aad));
    return mine.concat(...(await Promise.all(offloaded)));
  }

  const encryptMany: KeyService['encryptMany'] = async (scope, items) => {
    checkScope(scope);
    for (const item of items) {
      checkBytes('plaintext', item?.plaintext);
      checkBytes('aad', item?.aad);
    }
    const out = new Array<Buffer>(items.length);
    let done = 0;
    while (done < items.length) {
      const { key, granted } = await dataKeys.reserve(scope, items.length - done);
      const nonces = randomPool.take(NONCE_BYTES * granted);
      const sealed = await sealRun(key, nonces, items.slice(done, done + granted));
      for (let i = 0; i < granted; i++) out[done + i] = sealed[i]!;
      done += granted;
    }
    return out;
  };

  const decryptMany: KeyService['decryptMany'] = async (items) => {
    const ids = items.map((item) => {
      checkBytes('aad', item?.aad);
      return sealedKeyId(item?.sealed);
    });
    const keys = await dataKeys.openForDecrypt(ids);
    const resolved = ids.map((id) => {
      const key: OpenDataKey | 'shredded' | undefined = keys.get(id);
      if (key === 'shredded') throw new PulsegateError('KEY_SHREDDED');
      if (key === undefined)
        throw new PulsegateError('KEY_DECRYPT_FAILED', 'The record names an unknown data key');
      return key;
    });
    if (compiled) return compiled.open(resolved, items);
    const parts = pool.workers + 1;
    if (items.length < POOL_THRESHOLD || parts === 1) {
      return items.map((item, i) => openRecord(resolved[i]!.key, item.sealed, item.aad));
    }
    // Large batch: index the distinct keys once, then split the records across the pool.
    const distinct = [...new Set(resolved)];
    const raw = distinct.map((k) => k.key.export());
    const indexOf = new Map(distinct.map((k, i) => [k, i]));
    const size = Math.ceil(items.length / parts);
    const offloaded = [];
    for (let p = 1; p < parts; p++) {
      const from = p * size;
      const to = Math.min(items.length, from + size);
      if (from < to) {
        const keyOf = Uint32Array.from(resolved.slice(from, to), (k) => indexOf.get(k)!);
        offloaded.push(pool.open(raw, keyOf, items.slice(from, to)));
      }
    }
    const mine = items.slice(0, size).map((item, i) => openRecord(resolved[i]!.key, item.sealed, item.aad));
    return mine.concat(...(await Promise.all(offloaded)));
  };

  return {
    get masterKeyId() {
      return master.id;
    },
    encryptMany,
    async encrypt(scope, plaintext, aad) {
      return (await encryptMany(scope, [{ plaintext, aad }]))[0]!;
    },
    decryptMany,
    async decrypt(sealed, aad) {
      return (await decryptMany([{ sealed, aad }]))[0]!;
    },
    blindIndex(purpose, value) {
      checkName('purpose', purpose);
      if (typeof value !== 'string') throw new PulsegateError('VALIDATION_FAILED', 'value must be a string');
      let key = indexKeys.get(purpose);
      if (!key) {
        // The root (random, wrapped by the master key) survives master key rotation, so indexes stay valid.
        key = secretKey(Buffer.from(hkdfSync('sha256', indexRoot, 'pulsegate/blind-index', purpose, 32)));
        indexKeys.set(purpose, key);
      }
      return createHmac('sha256', key).update(value, 'utf8').digest('base64url');
    },
    async shred(filter) {
      checkName('purpose', filter?.purpose);
      if (filter.subject !== undefined) checkName('subject', filter.subject);
      if (filter.periodBefore !== undefined) checkName('periodBefore', filter.periodBefore);
      return dataKeys.shred(filter);
    },
    async rotateMasterKey(newMasterKey) {
      await idle();
      const next = deriveMasterContext(newMasterKey);
      const running = rewrapAll(store, master, next);
      rotation = running;
      try {
        const rewrapped = await running;
        master = next;
        return { rewrapped };
      } finally {
        rotation = undefined;
      }
    },
    signingKey: (use: SigningUse) => signing.current(use),
    verificationKeys: (use: SigningUse) => signing.verificationKeys(use),
    provenPublicKeys: (use: SigningUse) => signing.provenPublicKeys(use),
    rotateSigningKey: (use: SigningUse) => signing.rotate(use),
    async close() {
      await idle();
      await dataKeys.close();
      await pool.close();
      signing.clear();
      indexKeys.clear();
    },
  };
}
