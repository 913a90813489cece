/**
 * Parallel full verification: [0, size) is split into one contiguous range per thread; each
 * worker reads its range on its own connection (`startRangeWorker`), checks every entry and
 * returns the compact range of its leaves plus one snapshot per checkpoint inside it. RFC 6962
 * subtree hashes compose (root(0..n) = merge(range(0..a), range(a..n))), so this thread merges
 * the prefix up to each checkpoint and checks its root and signature. The first problem is the
 * one the single-threaded walk would report: checkpoints at size 0, then for each entry its own
 * checks followed by the checkpoints at size seq + 1.
 */
import type { Worker } from 'node:worker_threads';
import { type Store, startRangeWorker } from '../store/index.js';
import { EMPTY_ROOT, nodeHash } from './merkle.js';
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

/** Runs one worker to completion, reporting its progress. */
function runWorker(worker: Worker, onProgress: (done: number) => void): Promise<RangeResult> {
  return new Promise((resolve, reject) => {
    worker.on('message', (m: { type: string; done?: number; result?: RangeResult; message?: string }) => {
      if (m.type === 'progress') onProgress(m.done!);
      else if (m.type === 'done') resolve(m.result!);
      else reject(new Error(`audit verification worker failed: ${m.message}`));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`audit verification worker exited (${code})`)));
  });
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
  onProgress?: ((checked: number, total: number) => void) | undefined;
}

/** Verifies the log with `threads` workers; same result as the single-threaded walk. */
export async function verifyInWorkers(o: ParallelVerifyOptions): Promise<VerifyResult> {
  const n = Math.max(1, Math.min(o.threads, o.total));
  const per = Math.ceil(o.total / n);
  const sizes = o.checkpoints.map((cp) => Number(cp.tree_size));
  const ranges = Array.from({ length: n }, (_, w) => ({
    start: w * per,
    // The last range reads on: entries appended meanwhile are verified too, as by the walk.
    end: w === n - 1 ? Number.POSITIVE_INFINITY : (w + 1) * per,
  }));
  const done = new Array<number>(n).fill(0);
  const workers = ranges.map(({ start, end }) =>
    startRangeWorker(
      o.store,
      {
        table: 'audit_entries',
        key: 'seq',
        bytes: 'entry',
        fixed: { column: 'leaf_hash', width: 32 },
        start,
        end,
        batch: o.batch,
      },
      VERIFY_CONSUMER,
      { start, checkpointSizes: sizes.filter((s) => s > start && s <= end) },
    ),
  );
  let results: RangeResult[];
  try {
    results = await Promise.all(
      workers.map((worker, w) =>
        runWorker(worker, (d) => {
          done[w] = d;
          o.onProgress?.(
            done.reduce((a, b) => a + b, 0),
            o.total,
          );
        }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }

  // Entries [0, read) were read contiguously; the walk stops at the first problem.
  let read = 0;
  let problem: RangeResult['problem'];
  for (let w = 0; w < n; w++) {
    read = ranges[w]!.start + results[w]!.count;
    problem = results[w]!.problem;
    if (problem || read < ranges[w]!.end) break;
  }

  const prefix = new PrefixRange();
  let merged = 0;
  const rootAt = (size: number): Buffer => {
    if (size === 0) return EMPTY_ROOT;
    const w = ranges.findIndex((r) => size > r.start && size <= r.end);
    while (merged < w) prefix.append(results[merged++]!);
    const snapshot = results[w]!.snapshots.find((s) => s.size === size);
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
