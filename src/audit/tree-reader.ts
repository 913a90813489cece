/**
 * Reads the Merkle tree back from the stored leaf hashes: the current size, the right frontier,
 * and subtree hashes for proofs. Complete, aligned subtrees never change in an append-only log,
 * so their hashes are memoised.
 */
import { sql } from 'kysely';
import type { Database, Kysely, Transaction } from '../store/index.js';
import { CompactRange, EMPTY_ROOT, nodeHash, splitPoint, subtreeRoot } from './merkle.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Leaf hashes per read: large enough to amortise round trips, small enough to bound memory. */
export const READ_BATCH = 32_768;
/** Complete subtrees at least this large are memoised. */
const MEMO_MIN = 256;

/** The number of entries in the log (max(seq) + 1; seq is contiguous). */
export async function readSize(db: Db): Promise<number> {
  const row = await db
    .selectFrom('audit_entries')
    .select(sql<number | null>`max(seq)`.as('m'))
    .executeTakeFirst();
  const m = row?.m;
  return m === null || m === undefined ? 0 : Number(m) + 1;
}

/** Leaf hashes of seq in [start, end), in order. */
export async function readLeafHashes(db: Db, start: number, end: number): Promise<Buffer[]> {
  const rows = await db
    .selectFrom('audit_entries')
    .select('leaf_hash')
    .where('seq', '>=', start)
    .where('seq', '<', end)
    .orderBy('seq')
    .execute();
  return rows.map((r) => Buffer.from(r.leaf_hash));
}

/** Extends `range` (or a new one) with the stored leaves up to `size`. */
export async function extendRange(
  db: Db,
  range: CompactRange | undefined,
  size: number,
): Promise<CompactRange> {
  const out = range && range.size <= size ? range.clone() : new CompactRange();
  while (out.size < size) {
    const end = Math.min(size, out.size + READ_BATCH);
    const leaves = await readLeafHashes(db, out.size, end);
    if (leaves.length !== end - out.size) throw new Error('audit log has a gap in seq');
    for (const leaf of leaves) out.append(leaf);
  }
  return out;
}

const isPowerOfTwo = (n: number): boolean => n > 0 && splitPoint(n * 2) === n;

/** MTH(D[start:end]) computed from the stored leaves, memoising complete aligned subtrees. */
export class SubtreeHasher {
  readonly #db: Kysely<Database>;
  readonly #memo = new Map<number, Map<number, Buffer>>();

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async hash(start: number, end: number): Promise<Buffer> {
    const n = end - start;
    if (n <= 0) return EMPTY_ROOT;
    const cached = this.#get(start, n);
    if (cached) return cached;
    if (n <= READ_BATCH) {
      const leaves = await readLeafHashes(this.#db, start, end);
      if (leaves.length !== n) throw new Error('audit log has a gap in seq');
      return this.#inMemory(leaves, start, 0, n);
    }
    const k = splitPoint(n);
    const h = nodeHash(await this.hash(start, start + k), await this.hash(start + k, end));
    this.#put(start, n, h);
    return h;
  }

  /** Hash of leaves[lo:hi) where leaves[0] is global leaf `offset`. */
  #inMemory(leaves: Buffer[], offset: number, lo: number, hi: number): Buffer {
    const n = hi - lo;
    const cached = this.#get(offset + lo, n);
    if (cached) return cached;
    if (n < MEMO_MIN) return subtreeRoot(leaves, lo, hi);
    const k = splitPoint(n);
    const h = nodeHash(
      this.#inMemory(leaves, offset, lo, lo + k),
      this.#inMemory(leaves, offset, lo + k, hi),
    );
    this.#put(offset + lo, n, h);
    return h;
  }

  #get(start: number, n: number): Buffer | undefined {
    if (n < MEMO_MIN || !isPowerOfTwo(n) || start % n !== 0) return;
    return this.#memo.get(n)?.get(start);
  }

  #put(start: number, n: number, h: Buffer): void {
    if (n < MEMO_MIN || !isPowerOfTwo(n) || start % n !== 0) return;
    let level = this.#memo.get(n);
    if (!level) {
      level = new Map();
      this.#memo.set(n, level);
    }
    level.set(start, h);
  }
}
