import { createCipheriv, createHmac, type KeyObject, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PulsegateError } from '../errors.js';
import type { Store } from '../store/index.js';
import { secretKey } from './master-context.js';
import { HEADER_BYTES, NONCE_BYTES } from './sealed-record.js';

/**
 * Period ("epoch") keys that live outside the database, so crypto-shredding also defeats a
 * database copy taken before the shred.
 *
 * Why: a data key is wrapped by the master key and stored in `data_keys`. Shredding overwrites
 * the wrapped bytes, but a backup or copy of the database taken earlier still holds them, and the
 * master key has not changed, so that copy stays readable. Records sealed by the keys service are
 * therefore additionally masked with a key of their period that is never stored in the database.
 *
 * How: one secret chain key per purpose in `<dir>/<purpose>.key` (mode 0600), positioned at the
 * oldest period still readable. The key of period p+1 is derived from that of p by a one-way step
 * (HMAC-SHA256, a KDF chain as in Signal's symmetric ratchet), so every node that holds the same
 * file derives the same period keys without coordination, and `shredBefore(P)` overwrites the
 * file with the chain key of P: earlier periods can no longer be derived by anyone, from any copy
 * of the database. A check value (an HMAC of the chain key, not the key) in `settings` lets a node
 * refuse a file that does not belong to this installation, and tells nodes that another one
 * ratcheted, so they ratchet too.
 *
 * The mask is AES-256-CTR under the period key (NIST SP 800-38A), applied to the part of a sealed
 * record after its nonce, with the record's fresh random 96-bit GCM nonce as the counter block
 * prefix. All keystream blocks of a batch come from one AES-ECB call, which keeps the extra layer
 * at a few percent of the cost of the GCM seal. Integrity stays with the inner GCM tag.
 *
 * Limits: a copy of the secrets directory taken before the shred defeats it (treat it like the
 * master key file); filesystems may keep old blocks of the overwritten file.
 */
export interface EpochKeys {
  readonly purpose: string;
  /** The oldest period ('YYYY-MM') whose key can still be derived. */
  oldestPeriod(): string;
  /** XORs the period mask into each sealed record in place (the same call unmasks). KEY_SHREDDED for a shredded period. */
  mask(period: string, records: readonly Buffer[]): void;
  /** Re-reads the shared check value (at most every `recheckMs`) and ratchets when another node shredded. */
  refresh(force?: boolean): Promise<void>;
  /** Destroys the keys of every period before `period`; false when nothing was before it. */
  shredBefore(period: string): Promise<boolean>;
}

export interface EpochKeysOptions {
  store: Store;
  /** Directory of the chain key files, e.g. `<data>/secrets/epochs`. */
  dir: string;
  purpose: string;
  now?: () => number;
  recheckMs?: number;
}

/** The period the chain starts at for a new installation: any later period is derivable. */
export const EPOCH_ORIGIN = '2000-01';
const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;
const BLOCK = 16;
const FILE_VERSION = 1;

interface Chain {
  period: string;
  key: Buffer;
}

function checkPeriod(period: string): void {
  if (typeof period !== 'string' || !PERIOD.test(period)) {
    throw new PulsegateError('VALIDATION_FAILED', 'A period must be YYYY-MM');
  }
}

/** The period after `period`. */
export function nextPeriod(period: string): string {
  const [, y, m] = PERIOD.exec(period)!;
  const month = Number(m);
  return month === 12 ? `${Number(y) + 1}-01` : `${y}-${String(month + 1).padStart(2, '0')}`;
}

const step = (key: Buffer, label: string) => createHmac('sha256', key).update(label).digest();
const checkValue = (chain: Chain, purpose: string) =>
  step(chain.key, `pulsegate/epoch/check/${purpose}/${chain.period}`).toString('base64url');

function advance(chain: Chain, purpose: string, to: string): Chain {
  let { period, key } = chain;
  while (period < to) {
    const next = step(key, `pulsegate/epoch/next/${purpose}/${period}`);
    if (key !== chain.key) key.fill(0);
    key = next;
    period = nextPeriod(period);
  }
  return { period, key };
}

/** Writes `data` to `file` atomically and durably (temp file, fsync, rename, fsync of the directory). */
function writeSecretFile(dir: string, file: string, data: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function readChain(file: string, purpose: string): Chain | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as { v?: number; purpose?: string; period?: string; key?: string };
  const key = Buffer.from(String(parsed.key), 'base64url');
  if (
    parsed.v !== FILE_VERSION ||
    parsed.purpose !== purpose ||
    !PERIOD.test(String(parsed.period)) ||
    key.length !== 32
  ) {
    throw new PulsegateError('KEY_EPOCH_WRONG', 'The period key file is not in the expected format');
  }
  return { period: parsed.period!, key };
}

/** Opens (creating on first use) the period keys of `purpose`. */
export async function openEpochKeys(opts: EpochKeysOptions): Promise<EpochKeys> {
  const { store, dir, purpose } = opts;
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(purpose))
    throw new PulsegateError('VALIDATION_FAILED', 'bad epoch purpose');
  const now = opts.now ?? Date.now;
  const recheckMs = opts.recheckMs ?? 5000;
  const file = join(dir, `${purpose}.key`);
  const setting = `keys.epoch.${purpose}`;
  const periodKeys = new Map<string, KeyObject>();
  let checkedAt = 0;

  const readShared = async (): Promise<{ period: string; check: string } | undefined> => {
    const row = await store.db
      .selectFrom('settings')
      .select('value')
      .where('name', '=', setting)
      .executeTakeFirst();
    return row ? (JSON.parse(row.value) as { period: string; check: string }) : undefined;
  };
  const writeShared = async (chain: Chain) => {
    const value = JSON.stringify({ period: chain.period, check: checkValue(chain, purpose) });
    await store.db
      .insertInto('settings')
      .values({ name: setting, value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
  };
  const persist = (c: Chain) =>
    writeSecretFile(
      dir,
      file,
      JSON.stringify({ v: FILE_VERSION, purpose, period: c.period, key: c.key.toString('base64url') }),
    );

  let chain = readChain(file, purpose);
  const shared = await readShared();
  if (!chain) {
    if (shared) {
      throw new PulsegateError(
        'KEY_EPOCH_MISSING',
        `copy ${purpose}.key from another node's secrets directory`,
      );
    }
    chain = { period: EPOCH_ORIGIN, key: randomBytes(32) };
    persist(chain);
    await store.db
      .insertInto('settings')
      .values({
        name: setting,
        value: JSON.stringify({ period: chain.period, check: checkValue(chain, purpose) }),
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  /** Brings the local chain to the shared position and verifies it matches. */
  const reconcile = async (state: { period: string; check: string } | undefined) => {
    if (!state) return writeShared(chain!);
    if (state.period > chain!.period) {
      chain = advance(chain!, purpose, state.period);
      persist(chain);
      for (const p of periodKeys.keys()) if (p < chain.period) periodKeys.delete(p);
    }
    if (state.period === chain!.period) {
      if (checkValue(chain!, purpose) !== state.check) throw new PulsegateError('KEY_EPOCH_WRONG');
    } else {
      // The file is ahead (a shred wrote it and stopped before the setting): move the setting on.
      await writeShared(chain!);
    }
  };
  await reconcile(await readShared());
  checkedAt = now();

  const keyOf = (period: string): KeyObject => {
    checkPeriod(period);
    if (period < chain!.period) throw new PulsegateError('KEY_SHREDDED');
    let key = periodKeys.get(period);
    if (!key) {
      const at = advance(chain!, purpose, period);
      key = secretKey(step(at.key, `pulsegate/epoch/key/${purpose}/${period}`));
      if (at.key !== chain!.key) at.key.fill(0);
      periodKeys.set(period, key);
    }
    return key;
  };

  async function refresh(force = false): Promise<void> {
    if (!force && now() - checkedAt < recheckMs) return;
    await reconcile(await readShared());
    checkedAt = now();
  }

  return {
    purpose,
    oldestPeriod: () => chain!.period,
    mask(period, records) {
      if (records.length === 0) return;
      const key = keyOf(period);
      const prefix = HEADER_BYTES + NONCE_BYTES;
      let blocks = 0;
      for (const r of records) blocks += Math.ceil(Math.max(0, r.length - prefix) / BLOCK);
      const counters = Buffer.allocUnsafe(blocks * BLOCK);
      let at = 0;
      for (const r of records) {
        const n = Math.ceil(Math.max(0, r.length - prefix) / BLOCK);
        // Counter block i = the record's nonce | i (32-bit big-endian). Byte stores rather than a
        // copy() per block: a record has a dozen blocks and a search page unmasks dozens of records.
        for (let i = 0; i < n; i++) {
          for (let b = 0; b < NONCE_BYTES; b++) counters[at + b] = r[HEADER_BYTES + b]!;
          counters[at + NONCE_BYTES] = i >>> 24;
          counters[at + NONCE_BYTES + 1] = (i >>> 16) & 0xff;
          counters[at + NONCE_BYTES + 2] = (i >>> 8) & 0xff;
          counters[at + NONCE_BYTES + 3] = i & 0xff;
          at += BLOCK;
        }
      }
      const ecb = createCipheriv('aes-256-ecb', key, null);
      ecb.setAutoPadding(false);
      const stream = ecb.update(counters);
      at = 0;
      for (const r of records) {
        const n = r.length - prefix;
        for (let i = 0; i < n; i++) r[prefix + i]! ^= stream[at + i]!;
        at += Math.ceil(Math.max(0, n) / BLOCK) * BLOCK;
      }
    },
    refresh,
    async shredBefore(period) {
      checkPeriod(period);
      await refresh(true);
      if (period <= chain!.period) return false;
      const next = advance(chain!, purpose, period);
      persist(next);
      chain!.key.fill(0);
      chain = next;
      for (const p of periodKeys.keys()) if (p < period) periodKeys.delete(p);
      await writeShared(chain);
      return true;
    },
  };
}
