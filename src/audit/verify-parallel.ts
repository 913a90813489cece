/**
 * Parallel full verification: [0, size) is split into contiguous ranges (`planRanges`) that a
 * few workers take in order as they free up; each worker reads its ranges on its own connection
 * (`startRangeWorker`), checks every entry and returns, per range, the compact range of its
 * leaves plus one snapshot per checkpoint inside it. RFC 6962
 * subtree hashes compose (root(0..n) = merge(range(0..a), range(a..n))), so this thread merges
 * the prefix up to each checkpoint and checks its root and signature. The first problem is the
 * one the single-threaded walk would report: checkpoints at size 0, then for each entry its own
 * checks followed by the checkpoints at size seq + 1.
 */
import { type RangeWorker, type Store, startRangeWorker } from '../store/index.js';
import { EMPTY_ROOT, nodeHash } from './merkle.js';
import { type RowChecker, rowCheckerPath } from './native-rows.js';
import {
  type CheckpointRow,
  type CheckpointTrust,
  checkpointProblem,
  fail,
  truncated,
  type VerifyProblem,
  type VerifyResult,
} from './verify-checks.js';
import { VERIFY_CONSUMER } from './verify-worker.js';

/** Complete subtrees left to right: the level (log2 of its leaf count) and latin1 hash of each. */
interface Nodes {
  levels: number[];
  hashes: string[];
}

/** What one worker returns (see verify-worker.ts). */
interface RangeResult extends Nodes {
  count: number;
  snapshots: Array<Nodes & { size: number }>;
  problem?: { at: number; firstBadSeq: number; problem: VerifyProblem; detail: string };
}

/** The compact range [0, end), grown by appending the compact ranges of the ranges that follow. */
class PrefixRange {
  #levels: number[] = [];
  #hashes: Buffer[] = [];
  #end = 0;

  clone(): PrefixRange {
    const copy = new PrefixRange();
    copy.#levels = [...this.#levels];
    copy.#hashes = [...this.#hashes];
    copy.#end = this.#end;
    return copy;
  }

  /** Appends the subtrees of the range starting at `end`, merging siblings as they meet. */
  append(nodes: Nodes): void {
    for (let i = 0; i < nodes.levels.length; i++) {
      let level = nodes.levels[i]!;
      let h: Buffer = Buffer.from(nodes.hashes[i]!, 'latin1');
      const width = 2 ** level;
      let index = this.#end / width;
      this.#end += width;
      while (index % 2 === 1 && this.#levels.at(-1) === level) {
        this.#levels.pop();
        h = nodeHash(this.#hashes.pop()!, h);
        level++;
        index = (index - 1) / 2;
      }
      this.#levels.push(level);
      this.#hashes.push(h);
    }
  }

  root(): Buffer {
    const hs = this.#hashes;
    if (hs.length === 0) return EMPTY_ROOT;
    let r = hs[hs.length - 1]!;
    for (let i = hs.length - 2; i >= 0; i--) r = nodeHash(hs[i]!, r);
    return r;
  }
}

/** Fewest entries in a range of the default plan: a range costs its worker one query. */
export const MIN_RANGE_ENTRIES = 16_384;

/**
 * Splits [0, total) into contiguous ranges for `threads` workers that take the next range as
 * they free up. By default the ranges shrink (guided scheduling): each is 1/(2 * threads) of
 * what is left but at least `MIN_RANGE_ENTRIES`, so the first ones amortise the per-range query
 * and the last ones are small, and a thread that ran slower (the cores are shared with the
 * database) leaves little for the others to wait for. With `rangeEntries` every range has that
 * many entries (the last may have fewer). The last range reads on to the end of the log (`end`
 * Infinity): entries
 * appended meanwhile are verified too, as by the walk.
 */
export function planRanges(
  total: number,
  threads: number,
  rangeEntries?: number,
): Array<{ start: number; end: number }> {
  if (rangeEntries !== undefined && !(Number.isSafeInteger(rangeEntries) && rangeEntries > 0))
    throw new TypeError('rangeEntries must be a positive integer');
  const ranges: Array<{ start: number; end: number }> = [];
  for (let start = 0; start < total; ) {
    const left = total - start;
    let size = rangeEntries ?? Math.max(MIN_RANGE_ENTRIES, Math.ceil(left / (2 * threads)));
    // No small runt at the end of shrinking ranges.
    if (rangeEntries === undefined && left - size < MIN_RANGE_ENTRIES) size = left;
    ranges.push({ start, end: start + size });
    start += size;
  }
  if (ranges.length === 0) ranges.push({ start: 0, end: 0 });
  ranges[ranges.length - 1]!.end = Number.POSITIVE_INFINITY;
  return ranges;
}

export interface ParallelVerifyOptions {
  store: Store;
  /** Entries in the log when verification started (the last range reads on to the end). */
  total: number;
  /** Every stored checkpoint, by tree size. */
  checkpoints: readonly CheckpointRow[];
  trust: CheckpointTrust;
  threads: number;
  /** Rows per page read by each worker; by default the reader's. */
  batch?: number | undefined;
  /** Entries per range (see planRanges); by default shrinking ranges. */
  rangeEntries?: number | undefined;
  onProgress?: ((checked: number, total: number) => void) | undefined;
  /** The workers' per-row loop: the compiled one where it is built (the default), or JavaScript. */
  checker?: RowChecker | undefined;
}

/** Verifies the log with `threads` workers; same result as the single-threaded walk. */
export async function verifyInWorkers(o: ParallelVerifyOptions): Promise<VerifyResult> {
  const ranges = planRanges(o.total, o.threads, o.rangeEntries);
  const n = Math.max(1, Math.min(o.threads, ranges.length));
  const sizes = o.checkpoints.map((cp) => Number(cp.tree_size));
  const native = rowCheckerPath(o.checker);
  const workers = Array.from({ length: n }, () =>
    startRangeWorker(
      o.store,
      {
        table: 'audit_entries',
        key: 'seq',
        bytes: 'entry',
        fixed: { column: 'leaf_hash', width: 32 },
        batch: o.batch,
      },
      VERIFY_CONSUMER,
    ),
  );
  const results: RangeResult[] = [];
  const done = new Array<number>(ranges.length).fill(0);
  let checked = 0;
  let next = 0;
  // The first range that found a problem or ended early: no range after it is handed out.
  let stop = ranges.length;
  const work = async (worker: RangeWorker) => {
    while (next < stop) {
      const i = next++;
      const { start, end } = ranges[i]!;
      const result = (await worker.run(
        start,
        end,
        { start, checkpointSizes: sizes.filter((s) => s > start && s <= end), native },
        (m) => {
          const { type, done: d } = m as { type: string; done: number };
          if (type !== 'progress') return;
          checked += d - done[i]!;
          done[i] = d;
          o.onProgress?.(checked, o.total);
        },
      )) as RangeResult;
      results[i] = result;
      if (result.problem || start + result.count < end) stop = Math.min(stop, i + 1);
    }
  };
  try {
    await Promise.all(workers.map(work));
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }

  // Entries [0, read) were read contiguously; the walk stops at the first problem.
  let read = 0;
  let problem: RangeResult['problem'];
  for (let i = 0; i < stop; i++) {
    read = ranges[i]!.start + results[i]!.count;
    problem = results[i]!.problem;
    if (problem || read < ranges[i]!.end) break;
  }

  const prefix = new PrefixRange();
  let merged = 0;
  const rootAt = (size: number): Buffer => {
    if (size === 0) return EMPTY_ROOT;
    const r = ranges.findIndex((range) => size > range.start && size <= range.end);
    while (merged < r) prefix.append(results[merged++]!);
    const snapshot = results[r]!.snapshots.find((s) => s.size === size);
    if (!snapshot) throw new Error(`no subtree snapshot for checkpoint size ${size}`);
    const range = prefix.clone();
    range.append(snapshot);
    return range.root();
  };

  let lastGood = 0;
  for (const cp of o.checkpoints) {
    const size = Number(cp.tree_size);
    // Entry `at` is checked before the checkpoint at size at + 1.
    if (problem && size > problem.at) break;
    if (size > read) return truncated(size, read);
    const bad = checkpointProblem(cp, size, () => rootAt(size), lastGood, o.trust);
    if (bad) return bad;
    lastGood = size;
  }
  if (problem) return fail(problem.firstBadSeq, problem.problem, problem.detail);
  return { ok: true, size: read, checkpoints: o.checkpoints.length };
}
