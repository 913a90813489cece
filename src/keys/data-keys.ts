import { type KeyObject, randomBytes } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Database, Kysely, Store, Transaction } from '../store/index.js';
import { assertMasterCurrent, KEYS_LOCK } from './key-settings.js';
import { LruCache } from './lru-cache.js';
import { type MasterContext, secretKey } from './master-context.js';
import { KEY_ID_BYTES, sealedHeader } from './sealed-record.js';

/** Which data key encrypts a record. `subject` is never PHI: callers pass a blind index or an internal id. */
export interface DataKeyScope {
  purpose: string;
  subject: string;
  period: string;
}

/** The last month asked for, as [start, end) in epoch ms: ingest asks for the same one all day. */
let lastMonth = { start: 0, end: 0, period: '' };

/**
 * The month period ('YYYY-MM', UTC) of a time: the period of data keys scoped by month. Called
 * for every stored reading, so the answer for the month last asked for is kept (a Date and an ISO
 * string per call were 2.5 % of ingest's CPU). Times outside years 0–9999 take the plain path.
 */
export function periodOf(ms: number): string {
  if (ms >= lastMonth.start && ms < lastMonth.end) return lastMonth.period;
  const period = new Date(ms).toISOString().slice(0, 7);
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (year >= 0 && year <= 9999) {
    const month = d.getUTCMonth();
    const start = new Date(0);
    start.setUTCFullYear(year, month, 1);
    const end = new Date(0);
    end.setUTCFullYear(year, month + 1, 1);
    lastMonth = { start: start.getTime(), end: end.getTime(), period };
  }
  return period;
}

/** An unwrapped data key and the sealed-record header that names it. */
export interface OpenDataKey {
  readonly id: string;
  readonly key: KeyObject;
  readonly header: Buffer;
}

/** Uses of a scope's active key reserved in the database and not spent yet. */
interface Lease extends OpenDataKey {
  remaining: number;
  checkedAt: number;
}

/** Tuning and collaborators of `DataKeys`; see `openKeyService` for the defaults. */
export interface DataKeysOptions {
  store: Store;
  master: () => MasterContext;
  maxUses: number;
  reserveBlock: number;
  cacheSize: number;
  /** How long a cached key or lease is trusted before its row is re-read (another node may shred it). */
  recheckMs: number;
  now: () => number;
  /** Resolves once no master key rotation is running in this process. */
  idle: () => Promise<void>;
}

type Db = Kysely<Database> | Transaction<Database>;

/** The associated data binding a wrapped data key to its row. */
export function dataKeyAad(id: string, scope: DataKeyScope): string {
  return JSON.stringify([id, scope.purpose, scope.subject, scope.period]);
}

/**
 * The data keys of envelope encryption: one active key per scope, wrapped by the master key.
 * Uses are reserved from the database in blocks (an atomic `uses = uses + block … returning`), so
 * several processes sharing one database never exceed `maxUses` together; a key whose counter
 * reaches the limit is retired and the next reservation creates a new one. Unwrapped keys are
 * kept in a bounded LRU cache.
 */
export class DataKeys {
  readonly #o: DataKeysOptions;
  readonly #leases = new Map<string, Lease>();
  readonly #pending = new Map<string, Promise<void>>();
  readonly #cache: LruCache<string, { key: OpenDataKey; checkedAt: number }>;

  constructor(options: DataKeysOptions) {
    this.#o = options;
    this.#cache = new LruCache(options.cacheSize);
  }

  /** Reserves up to `want` (>= 1) uses of the scope's active key; `granted` is at least 1. */
  async reserve(scope: DataKeyScope, want: number): Promise<{ key: OpenDataKey; granted: number }> {
    const sk = JSON.stringify([scope.purpose, scope.subject, scope.period]);
    for (;;) {
      const lease = this.#leases.get(sk);
      if (lease && lease.remaining > 0 && this.#o.now() - lease.checkedAt < this.#o.recheckMs) {
        const granted = Math.min(want, lease.remaining);
        lease.remaining -= granted;
        return { key: lease, granted };
      }
      let pending = this.#pending.get(sk);
      if (!pending) {
        pending = this.#refresh(sk, scope, want).finally(() => this.#pending.delete(sk));
        this.#pending.set(sk, pending);
      }
      await pending;
    }
  }

  async #refresh(sk: string, scope: DataKeyScope, want: number): Promise<void> {
    const stale = this.#leases.get(sk);
    if (stale && stale.remaining > 0) {
      const row = await this.#o.store.db
        .selectFrom('data_keys')
        .select('status')
        .where('id', '=', stale.id)
        .executeTakeFirst();
      if (row?.status === 'active') {
        stale.checkedAt = this.#o.now();
        return;
      }
      this.#leases.delete(sk);
    }
    // A new key always grants at least one use, so this ends within a few rounds.
    for (let round = 0; round < 4; round++) {
      const lease = this.#leases.get(sk) ?? (await this.#openActive(scope));
      const granted = await this.#reserveUses(lease.id, Math.max(want, this.#o.reserveBlock));
      if (granted > 0) {
        lease.remaining = granted;
        lease.checkedAt = this.#o.now();
        this.#leases.set(sk, lease);
        return;
      }
      this.#leases.delete(sk);
    }
    throw new PulsegateError('INTERNAL', 'Could not reserve uses of a data key');
  }

  /** Atomically adds `block` to the key's counter; returns how many of those uses are within the limit. */
  async #reserveUses(id: string, block: number): Promise<number> {
    const { store, maxUses } = this.#o;
    const row = await store.db
      .updateTable('data_keys')
      .set((eb) => ({ uses: eb('uses', '+', block) }))
      .where('id', '=', id)
      .where('status', '=', 'active')
      .returning('uses')
      .executeTakeFirst();
    if (!row) return 0;
    const uses = Number(row.uses);
    if (uses >= maxUses) await this.#retire(store.db, id);
    return Math.max(0, Math.min(block, maxUses - (uses - block)));
  }

  async #retire(db: Db, id: string): Promise<void> {
    await db
      .updateTable('data_keys')
      .set({ status: 'retired', retired_at: this.#o.now() })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .execute();
  }

  /** The scope's usable active key, created (under the keys lock) when there is none. */
  async #openActive(scope: DataKeyScope): Promise<Lease> {
    const { store, maxUses } = this.#o;
    const active = (db: Db) =>
      db
        .selectFrom('data_keys')
        .select(['id', 'wrapped', 'uses', 'master_key_id'])
        .where('purpose', '=', scope.purpose)
        .where('subject', '=', scope.subject)
        .where('period', '=', scope.period)
        .where('status', '=', 'active')
        .executeTakeFirst();
    const found = await active(store.db);
    if (found && Number(found.uses) < maxUses) return this.#lease(found.id, this.#unwrap(found, scope));
    await this.#o.idle();
    const master = this.#o.master();
    const created = await store.db.transaction().execute(async (trx) => {
      await store.lock(trx, KEYS_LOCK);
      const again = await active(trx);
      if (again && Number(again.uses) < maxUses) return { id: again.id, secret: this.#unwrap(again, scope) };
      await assertMasterCurrent(trx, master);
      if (again) await this.#retire(trx, again.id);
      const id = randomBytes(KEY_ID_BYTES).toString('base64url');
      const secret = randomBytes(32);
      await trx
        .insertInto('data_keys')
        .values({
          id,
          ...scope,
          wrapped: master.wrap('data-key', secret, dataKeyAad(id, scope)),
          master_key_id: master.id,
          uses: 0,
          status: 'active',
          created_at: this.#o.now(),
          retired_at: null,
          shredded_at: null,
        })
        .execute();
      return { id, secret };
    });
    return this.#lease(created.id, created.secret);
  }

  #unwrap(row: { id: string; wrapped: Uint8Array; master_key_id: string }, scope: DataKeyScope): Buffer {
    const master = this.#o.master();
    // Rewrapped by another process's master key rotation: this process holds a stale key.
    if (row.master_key_id !== master.id) throw new PulsegateError('KEY_MASTER_WRONG');
    return master.unwrap('data-key', row.wrapped, dataKeyAad(row.id, scope));
  }

  #lease(id: string, secret: Buffer): Lease {
    const lease: Lease = {
      id,
      key: secretKey(secret),
      header: sealedHeader(Buffer.from(id, 'base64url')),
      remaining: 0,
      checkedAt: 0,
    };
    this.#cache.set(id, { key: lease, checkedAt: this.#o.now() });
    return lease;
  }

  /**
   * The keys named by `ids` for decryption: an open key, `'shredded'`, or no entry when the
   * database has no such key.
   */
  async openForDecrypt(ids: Iterable<string>): Promise<Map<string, OpenDataKey | 'shredded'>> {
    const now = this.#o.now();
    const found = new Map<string, OpenDataKey | 'shredded'>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const cached = this.#cache.get(id);
      if (cached && now - cached.checkedAt < this.#o.recheckMs) found.set(id, cached.key);
      else missing.push(id);
    }
    for (let at = 0; at < missing.length; at += 500) {
      const rows = await this.#o.store.db
        .selectFrom('data_keys')
        .select(['id', 'purpose', 'subject', 'period', 'wrapped', 'status', 'master_key_id'])
        .where('id', 'in', missing.slice(at, at + 500))
        .execute();
      for (const row of rows) {
        if (row.status === 'shredded') {
          this.#cache.delete(row.id);
          found.set(row.id, 'shredded');
          continue;
        }
        const cached = this.#cache.get(row.id);
        const key = cached?.key ?? this.#lease(row.id, this.#unwrap(row, row));
        this.#cache.set(row.id, { key, checkedAt: now });
        found.set(row.id, key);
      }
    }
    return found;
  }

  /** Crypto-shredding: overwrites the wrapped bytes, marks the keys shredded, evicts them here. */
  async shred(filter: { purpose: string; subject?: string; periodBefore?: string }): Promise<number> {
    const { store } = this.#o;
    const rows = await store.db.transaction().execute(async (trx) => {
      // Serialised with master key rotation, which must never write a shredded key back.
      await store.lock(trx, KEYS_LOCK);
      return trx
        .updateTable('data_keys')
        .set({ wrapped: Buffer.alloc(0), status: 'shredded', shredded_at: this.#o.now() })
        .where('purpose', '=', filter.purpose)
        .$if(filter.subject !== undefined, (q) => q.where('subject', '=', filter.subject!))
        .$if(filter.periodBefore !== undefined, (q) => q.where('period', '<', filter.periodBefore!))
        .where('status', '!=', 'shredded')
        .returning('id')
        .execute();
    });
    const ids = new Set(rows.map((r) => r.id));
    for (const id of ids) this.#cache.delete(id);
    for (const [sk, lease] of this.#leases) if (ids.has(lease.id)) this.#leases.delete(sk);
    return ids.size;
  }

  /** Hands unspent reservations back (the counter stays an upper bound) and forgets every key. */
  async close(): Promise<void> {
    for (const lease of this.#leases.values()) {
      if (lease.remaining <= 0) continue;
      const unused = lease.remaining;
      lease.remaining = 0;
      await this.#o.store.db
        .updateTable('data_keys')
        .set((eb) => ({ uses: eb('uses', '-', unused) }))
        .where('id', '=', lease.id)
        .where('status', '=', 'active')
        .execute();
    }
    this.#leases.clear();
    this.#cache.clear();
  }
}
