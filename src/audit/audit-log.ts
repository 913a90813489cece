/**
 * The append-only audit log. Appends are group-committed: every event queued while a transaction
 * runs goes into the next one. Sequencing happens under the `audit-sequencer` database lock, from
 * the size read inside that transaction, so several processes sharing one PostgreSQL never assign
 * the same seq. Only the right frontier of the tree is kept in memory.
 */
import { PulsegateError } from '../errors.js';
import {
  type BulkColumn,
  type BulkValue,
  bulkInsert,
  type Database,
  type Kysely,
  type Store,
  type Transaction,
} from '../store/index.js';
import { type CheckpointSigner, checkpointBody, signNote } from './checkpoint.js';
import {
  type AuditEntry,
  type AuditEventInput,
  type AuditOutcome,
  type EncodedEvent,
  encodeEvent,
  joinEncoded,
  validateEvent,
} from './entry.js';
import { type CompactRange, consistencyProofRanges, inclusionProofRanges, leafHashLatin1 } from './merkle.js';
import { extendRange, readLeafHashes, readSize, SubtreeHasher } from './tree-reader.js';

export interface AuditLogOptions {
  store: Store;
  signer: CheckpointSigner;
  /** The checkpoint origin line, e.g. `pulsegate.example.org/audit`. */
  origin: string;
  /** Make a checkpoint once this many entries were appended since the last one. */
  checkpointEveryEntries: number;
  /** ...or once this many seconds passed with new entries (needs `start()`). */
  checkpointIntervalSeconds: number;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
  /** Largest number of events per transaction. */
  maxBatch?: number;
  /** Receives failures of background checkpoints (the next attempt retries). */
  onError?: (error: unknown) => void;
}

export interface AuditQuery {
  /** Return entries with seq greater than this (keyset paging). */
  after?: number;
  /** Same as `after`. */
  afterSeq?: number;
  /** Return entries with seq less than this. */
  before?: number;
  /** Newest first (descending seq) instead of oldest first. */
  newestFirst?: boolean;
  limit?: number;
  /** Actor id. */
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** ISO 8601 time, inclusive. */
  since?: string;
  /** ISO 8601 time, exclusive. */
  until?: string;
}

/** A stored signed checkpoint. */
export interface AuditCheckpoint {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  /** The whole signed note, as published. */
  note: string;
  createdAt: number;
}

export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  leafHash: Buffer;
  rootHash: Buffer;
  proof: Buffer[];
}

export interface ConsistencyProof {
  first: number;
  second: number;
  firstRoot: Buffer;
  secondRoot: Buffer;
  proof: Buffer[];
}

/** Where a batch appended with `returnEntries: false` landed: seq firstSeq .. firstSeq + count - 1. */
export interface AppendedRange {
  firstSeq: number;
  count: number;
}

export interface AuditLog {
  /** Appends one event; resolves once it is durably stored. */
  append(event: AuditEventInput): Promise<AuditEntry>;
  /** Appends events in order, in one transaction. */
  appendMany(events: readonly AuditEventInput[]): Promise<AuditEntry[]>;
  /**
   * The same, resolving only to where the events landed: for bulk producers that do not need the
   * stored entries back (no result object per event to build and collect).
   */
  appendMany(events: readonly AuditEventInput[], options: { returnEntries: false }): Promise<AppendedRange>;
  /** Entries in seq order (or newest first) matching every filter; at most `limit` (default 100, max 1000). */
  list(query?: AuditQuery): Promise<AuditEntry[]>;
  /** Entries in the log, as stored (including other processes' appends). */
  size(): Promise<number>;
  /** Signs and stores a checkpoint now if the log grew since the latest one; returns the latest. */
  checkpoint(): Promise<AuditCheckpoint | undefined>;
  latestCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** The stored checkpoint for exactly `treeSize`, if any. */
  checkpointAt(treeSize: number): Promise<AuditCheckpoint | undefined>;
  inclusionProof(seq: number, treeSize: number): Promise<InclusionProof>;
  consistencyProof(first: number, second: number): Promise<ConsistencyProof>;
  /** Starts the checkpoint timer. */
  start(): void;
  /** Stops the timer, waits for queued appends and makes a final checkpoint. */
  close(): Promise<void>;
}

interface Pending {
  events: AuditEventInput[];
  /** The canonical JSON of each event around seq and time, prepared before the lock. */
  encoded: EncodedEvent[];
  /** False when the caller wants only the seq range back. */
  wantEntries: boolean;
  /** Filled in by the commit when `wantEntries`. */
  entries: AuditEntry[];
  firstSeq: number;
  resolve(result: AuditEntry[] | AppendedRange): void;
  reject(error: unknown): void;
}

/** Rows per bulk insert statement (bounds the size of one PostgreSQL message). */
const INSERT_CHUNK = 10_000;
const ENTRY_COLUMNS: readonly BulkColumn[] = [
  { name: 'seq', type: 'bigint' },
  { name: 'entry', type: 'text' },
  { name: 'leaf_hash', type: 'bytea' },
  { name: 'created_at', type: 'bigint' },
  { name: 'action', type: 'text' },
  { name: 'actor_id', type: 'text' },
  { name: 'outcome', type: 'text' },
];
const SEQUENCER_LOCK = 'audit-sequencer';

export function createAuditLog(options: AuditLogOptions): AuditLog {
  const { store, signer, origin } = options;
  const db = store.db;
  const now = options.now ?? Date.now;
  const maxBatch = options.maxBatch ?? 20_000;
  const onError = options.onError ?? (() => {});
  checkpointBody(origin, 0, Buffer.alloc(32)); // validates the origin now rather than at the first checkpoint
  const hasher = new SubtreeHasher(db);

  let range: CompactRange | undefined;
  let lastCheckpointSize: number | undefined;
  const queue: Pending[] = [];
  let draining = false;
  let idle: Promise<void> = Promise.resolve();
  let markIdle: () => void = () => {};
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let checkpointRunning: Promise<AuditCheckpoint | undefined> | undefined;

  // One instance-level critical section for everything that moves `range`.
  let chain: Promise<unknown> = Promise.resolve();
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = chain.then(fn, fn);
    chain = run.catch(() => {});
    return run;
  }

  /** Brings the cached frontier up to the stored size (other processes may have appended). */
  async function sync(trx: Kysely<Database> | Transaction<Database>): Promise<CompactRange> {
    const size = await readSize(trx);
    if (!range || range.size !== size) range = await extendRange(trx, range, size);
    return range;
  }

  function enqueue(
    events: readonly AuditEventInput[],
    wantEntries: boolean,
  ): Promise<AuditEntry[] | AppendedRange> {
    if (closed) return Promise.reject(new PulsegateError('NOT_READY', 'The audit log is closed'));
    const validated = events.map(validateEvent);
    if (validated.length === 0) return Promise.resolve(wantEntries ? [] : { firstSeq: -1, count: 0 });
    const encoded = validated.map(encodeEvent);
    return new Promise((resolve, reject) => {
      queue.push({ events: validated, encoded, wantEntries, entries: [], firstSeq: -1, resolve, reject });
      if (!draining) {
        draining = true;
        idle = new Promise((r) => {
          markIdle = r;
        });
        setImmediate(drain);
      }
    });
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      // Take as many queued appends as fit in one transaction (one splice: the queue can be long).
      let take = 0;
      let count = 0;
      while (take < queue.length && (take === 0 || count + queue[take]!.events.length <= maxBatch)) {
        count += queue[take]!.events.length;
        take++;
      }
      const batch = queue.splice(0, take);
      try {
        await exclusive(() => commit(batch));
        for (const p of batch) {
          p.resolve(p.wantEntries ? p.entries : { firstSeq: p.firstSeq, count: p.events.length });
        }
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
      maybeCheckpoint();
    }
    draining = false;
    markIdle();
  }

  /** Stores `batch` in one transaction; fills in each pending's seq (and entries if wanted). */
  async function commit(batch: Pending[]): Promise<void> {
    // Catch up outside the lock first, so that a start-up replay does not hold up other nodes.
    await sync(db);
    let grown: CompactRange | undefined;
    await db.transaction().execute(async (trx) => {
      await store.lock(trx, SEQUENCER_LOCK);
      const next = (await sync(trx)).clone();
      const timeMs = now();
      const time = new Date(timeMs).toISOString();
      let rows: BulkValue[][] = [];
      for (const p of batch) {
        // Reset: a retried transaction must not keep the first attempt's entries.
        p.entries = [];
        p.firstSeq = next.size;
        for (let i = 0; i < p.events.length; i++) {
          const event = p.events[i]!;
          const seq = next.size;
          const bytes = joinEncoded(p.encoded[i]!, seq, time);
          const leaf = leafHashLatin1(bytes);
          next.appendLatin1(leaf);
          if (p.wantEntries) p.entries.push({ ...event, seq, time });
          rows.push([
            seq,
            bytes,
            Buffer.from(leaf, 'latin1'),
            timeMs,
            event.action,
            event.actor.id ?? null,
            event.outcome,
          ]);
          if (rows.length === INSERT_CHUNK) {
            await bulkInsert(store, trx, 'audit_entries', ENTRY_COLUMNS, rows);
            rows = [];
          }
        }
      }
      await bulkInsert(store, trx, 'audit_entries', ENTRY_COLUMNS, rows);
      grown = next;
    });
    range = grown;
  }

  function maybeCheckpoint(): void {
    void (async () => {
      lastCheckpointSize ??= (await latest())?.treeSize ?? 0;
      if (range && range.size - lastCheckpointSize >= options.checkpointEveryEntries) await checkpoint();
    })().catch(onError);
  }

  function toCheckpoint(row: Database['audit_checkpoints']): AuditCheckpoint {
    return {
      origin,
      treeSize: Number(row.tree_size),
      rootHash: Buffer.from(row.root_hash),
      note: row.note,
      createdAt: Number(row.created_at),
    };
  }

  async function latest(): Promise<AuditCheckpoint | undefined> {
    const row = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('tree_size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? toCheckpoint(row) : undefined;
  }

  function checkpoint(): Promise<AuditCheckpoint | undefined> {
    checkpointRunning ??= exclusive(async () => {
      const current = await sync(db);
      const stored = await latest();
      if (current.size === 0 || (stored && stored.treeSize >= current.size)) {
        lastCheckpointSize = stored?.treeSize ?? 0;
        return stored;
      }
      const root = current.root();
      const note = await signNote(checkpointBody(origin, current.size, root), signer);
      await db
        .insertInto('audit_checkpoints')
        .values({ tree_size: current.size, root_hash: root, note, created_at: now() })
        .onConflict((oc) => oc.column('tree_size').doNothing())
        .execute();
      lastCheckpointSize = current.size;
      const row = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('tree_size', '=', current.size)
        .executeTakeFirstOrThrow();
      return toCheckpoint(row);
    }).finally(() => {
      checkpointRunning = undefined;
    });
    return checkpointRunning;
  }

  async function requireSize(max: number, ok: boolean): Promise<void> {
    const size = await readSize(db);
    if (!ok || max > size) {
      throw new PulsegateError('AUDIT_PROOF_RANGE', `The log holds ${size} entries`);
    }
  }

  const isIndex = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

  return {
    async append(event) {
      const [entry] = (await enqueue([event], true)) as AuditEntry[];
      return entry!;
    },

    appendMany: ((events: readonly AuditEventInput[], options?: { returnEntries?: boolean }) =>
      enqueue(events, options?.returnEntries !== false)) as AuditLog['appendMany'],

    async list(query = {}) {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      let q = db
        .selectFrom('audit_entries')
        .select('entry')
        .orderBy('seq', query.newestFirst ? 'desc' : 'asc')
        .limit(limit);
      const after = query.after ?? query.afterSeq;
      if (after !== undefined) q = q.where('seq', '>', after);
      if (query.before !== undefined) q = q.where('seq', '<', query.before);
      if (query.actor !== undefined) q = q.where('actor_id', '=', query.actor);
      if (query.action !== undefined) q = q.where('action', '=', query.action);
      if (query.outcome !== undefined) q = q.where('outcome', '=', query.outcome);
      if (query.since !== undefined) q = q.where('created_at', '>=', Date.parse(query.since));
      if (query.until !== undefined) q = q.where('created_at', '<', Date.parse(query.until));
      const rows = await q.execute();
      return rows.map((r) => JSON.parse(r.entry) as AuditEntry);
    },

    size: () => readSize(db),

    checkpoint,

    latestCheckpoint: latest,

    async checkpointAt(treeSize) {
      const row = await db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('tree_size', '=', treeSize)
        .executeTakeFirst();
      return row ? toCheckpoint(row) : undefined;
    },

    async inclusionProof(seq, treeSize) {
      await requireSize(treeSize, isIndex(seq) && isIndex(treeSize) && seq < treeSize);
      const [leaf] = await readLeafHashes(db, seq, seq + 1);
      const proof: Buffer[] = [];
      for (const [s, e] of inclusionProofRanges(seq, treeSize)) proof.push(await hasher.hash(s, e));
      return { leafIndex: seq, treeSize, leafHash: leaf!, rootHash: await hasher.hash(0, treeSize), proof };
    },

    async consistencyProof(first, second) {
      await requireSize(second, isIndex(first) && isIndex(second) && first <= second);
      const proof: Buffer[] = [];
      for (const [s, e] of consistencyProofRanges(first, second)) proof.push(await hasher.hash(s, e));
      return {
        first,
        second,
        firstRoot: await hasher.hash(0, first),
        secondRoot: await hasher.hash(0, second),
        proof,
      };
    },

    start() {
      if (timer || closed) return;
      const tick = () => {
        void (async () => {
          const size = await readSize(db);
          const stored = await latest();
          if (size > (stored?.treeSize ?? 0)) await checkpoint();
        })().catch(onError);
      };
      timer = setInterval(tick, options.checkpointIntervalSeconds * 1000);
      timer.unref();
      // At once too: entries a crashed process left without a checkpoint are covered now, so
      // they never share an unproven tail with entries written long after (see verify).
      tick();
    },

    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      closed = true;
      await idle;
      await checkpoint();
    },
  };
}
