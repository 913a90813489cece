/**
 * Full verification of the stored log: every entry's bytes against its leaf hash, seq
 * contiguity, each entry's own `seq`, and the tree root and signature of every checkpoint.
 */
import { availableParallelism } from 'node:os';
import { PulsegateError } from '../errors.js';
import { rangeWorkersSupported, type Store, scanOrdered } from '../store/index.js';
import { type CheckpointVerifierKey, checkpointFields } from './checkpoint.js';
import { CompactRange, leafHashLatin1 } from './merkle.js';
import type { RowChecker } from './native-rows.js';
import { readSize } from './tree-reader.js';
import {
  type CheckpointRow,
  type CheckpointTrust,
  checkpointProblem,
  fail,
  truncated,
  type VerifyResult,
} from './verify-checks.js';
import { verifyInWorkers } from './verify-parallel.js';

export interface VerifyAuditLogOptions {
  store: Store;
  /** The origin every checkpoint must carry. */
  origin: string;
  /** Trusted checkpoint keys (e.g. `keys.verificationKeys('audit')`)... */
  verifierKeys?: readonly CheckpointVerifierKey[];
  /** Same as `verifierKeys`. */
  publicKeys?: readonly CheckpointVerifierKey[];
  /** ...or a single one. */
  publicKey?: CheckpointVerifierKey;
  /** The signature line name; defaults to the origin. */
  keyName?: string;
  /** Rows per read (per page in each worker when verifying in parallel). */
  batchSize?: number;
  /** Called after each batch, e.g. for a progress bar. */
  onProgress?: (checked: number, total: number) => void;
  /** Worker threads for large logs; default: the available cores. 1 verifies on this thread. */
  threads?: number;
  /** Logs smaller than this are verified on this thread (starting workers costs more). */
  parallelMinEntries?: number;
  /** Entries per range handed to a worker; by default shrinking ranges (see planRanges). */
  rangeEntries?: number;
  /** The workers' per-row loop: the compiled one where it is built (the default), or JavaScript. */
  checker?: RowChecker;
  /**
   * Checkpoints held outside the database (signed notes a witness or auditor saved earlier): each
   * must verify against the trusted keys and match the log's root at its size, so a log that was
   * truncated or rewritten behind it fails even where the stored checkpoints were replaced.
   */
  witnessed?: readonly string[];
  /**
   * The longest time, in seconds, the entries after the last checkpoint may span. The writer
   * signs a checkpoint every `checkpointIntervalSeconds` while entries arrive, so a longer
   * unproven tail means checkpoints were removed ('unproven-entries', naming its first entry).
   */
  maxUnprovenSeconds?: number;
}

/** Below this many entries, starting workers (~tens of ms) costs more than it saves. */
const PARALLEL_MIN_ENTRIES = 50_000;

export type { VerifyProblem, VerifyResult } from './verify-checks.js';

const SEQ_KEY = ',"seq":';

/** The entry's own `seq` field without a full JSON.parse (a raw `,"seq":` cannot occur inside a string). */
function entrySeq(entry: string): number | undefined {
  const at = entry.indexOf(SEQ_KEY);
  if (at < 0) return;
  let i = at + SEQ_KEY.length;
  let n = 0;
  let digits = 0;
  for (; i < entry.length; i++, digits++) {
    const c = entry.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return digits > 0 ? n : undefined;
}

/**
 * Streams the whole log in seq order and reports the first problem, or ok. Large logs are split
 * into contiguous ranges verified by worker threads (see verify-parallel.ts), with the same result.
 */
export async function verifyAuditLog(options: VerifyAuditLogOptions): Promise<VerifyResult> {
  const { store, origin } = options;
  const db = store.db;
  const keys = options.verifierKeys ?? options.publicKeys ?? (options.publicKey ? [options.publicKey] : []);
  if (keys.length === 0) throw new TypeError('verifyAuditLog needs verifierKeys or publicKey');
  const keyName = options.keyName ?? origin;
  // Modest pages: a 32k-row page of arrays outlives a scavenge and is promoted (measured slower).
  const batchSize = options.batchSize ?? 4_096;

  const total = await readSize(db);
  let checkpoints: CheckpointRow[] = await db
    .selectFrom('audit_checkpoints')
    .select(['tree_size', 'root_hash', 'note'])
    .orderBy('tree_size')
    .execute();

  for (const note of options.witnessed ?? []) {
    const cp = witnessRow(note);
    checkpoints = checkpoints.filter((c) => Number(c.tree_size) !== Number(cp.tree_size));
    checkpoints.push(cp);
    checkpoints.sort((a, b) => Number(a.tree_size) - Number(b.tree_size));
  }

  const trust: CheckpointTrust = { origin, keyName, keys };
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  if (
    threads > 1 &&
    total >= (options.parallelMinEntries ?? PARALLEL_MIN_ENTRIES) &&
    rangeWorkersSupported(store)
  ) {
    const result = await verifyInWorkers({
      store,
      total,
      checkpoints,
      trust,
      threads,
      batch: options.batchSize,
      rangeEntries: options.rangeEntries,
      checker: options.checker,
      onProgress: options.onProgress,
    });
    return unprovenTail(store, result, checkpoints, options.maxUnprovenSeconds);
  }
  const result = await walk(store, checkpoints, trust, batchSize, total, options.onProgress);
  return unprovenTail(store, result, checkpoints, options.maxUnprovenSeconds);
}

/** A witnessed checkpoint note as a row to check like the stored ones (VALIDATION_FAILED if it is none). */
function witnessRow(note: string): CheckpointRow {
  const body = checkpointFields(note);
  if (!body)
    throw new PulsegateError('VALIDATION_FAILED', 'a witnessed checkpoint is not a signed checkpoint note');
  return { tree_size: body.size, root_hash: body.root, note };
}

/** Adds the size of the unproven tail to a good result, or fails when the tail is too old (see options). */
async function unprovenTail(
  store: Store,
  result: VerifyResult,
  checkpoints: readonly CheckpointRow[],
  maxSeconds: number | undefined,
): Promise<VerifyResult> {
  if (!result.ok) return result;
  const proven = checkpoints.reduce((m, c) => Math.max(m, Number(c.tree_size)), 0);
  const unproven = result.size - proven;
  if (unproven > 0 && maxSeconds !== undefined) {
    const timeOf = async (seq: number) => {
      const row = await store.db
        .selectFrom('audit_entries')
        .select('entry')
        .where('seq', '=', seq)
        .executeTakeFirst();
      const time = row ? (JSON.parse(row.entry) as { time?: unknown }).time : undefined;
      return typeof time === 'string' ? Date.parse(time) : Number.NaN;
    };
    const span = ((await timeOf(result.size - 1)) - (await timeOf(proven))) / 1000;
    if (!(span <= maxSeconds)) {
      return fail(
        proven,
        'unproven-entries',
        `entries ${proven}..${result.size - 1} span ${Number.isNaN(span) ? 'an unknown time' : `${Math.round(span)} s`} ` +
          `with no signed checkpoint over them (the writer signs one at least every ${maxSeconds} s): ` +
          'checkpoints were removed or entries added behind the log writer',
      );
    }
  }
  return { ...result, unproven };
}

/** The single-threaded walk over every entry in seq order. */
async function walk(
  store: Store,
  checkpoints: readonly CheckpointRow[],
  trust: CheckpointTrust,
  batchSize: number,
  total: number,
  onProgress: VerifyAuditLogOptions['onProgress'],
): Promise<VerifyResult> {
  const range = new CompactRange();
  let expected = 0;
  let lastGood = 0;
  let cpIndex = 0;

  /** Checks every checkpoint for the current size; returns a failure if one is bad. */
  const checkCheckpoints = (): VerifyResult | undefined => {
    while (cpIndex < checkpoints.length && Number(checkpoints[cpIndex]!.tree_size) === expected) {
      const bad = checkpointProblem(checkpoints[cpIndex++]!, expected, () => range.root(), lastGood, trust);
      if (bad) return bad;
      lastGood = expected;
    }
    return;
  };

  const early = checkCheckpoints();
  if (early) return early;
  const stored = Buffer.allocUnsafe(32);
  const computed = Buffer.allocUnsafe(32);
  for await (const rows of scanOrdered(
    store,
    'audit_entries',
    'seq',
    ['seq', 'entry', { hex: 'leaf_hash' }],
    0,
    batchSize,
  )) {
    for (const row of rows) {
      const seq = Number(row[0]);
      const entry = row[1] as string;
      if (seq !== expected)
        return fail(expected, 'seq-gap', `entry ${expected} is missing (next stored is ${seq})`);
      const own = entrySeq(entry);
      if (own === undefined) return fail(seq, 'malformed-entry', `entry ${seq} has no seq field`);
      if (own !== seq) {
        return fail(
          Math.min(own, seq),
          'seq-mismatch',
          `row ${seq} holds the entry for seq ${own}: entries were ${own < seq ? 'inserted' : 'removed'} or reordered`,
        );
      }
      // Compared as bytes without allocating a Buffer per entry (see leafHashLatin1).
      const leaf = leafHashLatin1(entry);
      // The stored hash arrives as hex: cheaper than a Buffer per row; compared as bytes.
      const storedHex = row[2] as string;
      computed.write(leaf, 0, 'latin1');
      if (storedHex.length !== 64 || stored.write(storedHex, 0, 'hex') !== 32 || !stored.equals(computed))
        return fail(seq, 'leaf-hash-mismatch', `entry ${seq} does not match its leaf hash`);
      range.appendLatin1(leaf);
      expected++;
      const bad = checkCheckpoints();
      if (bad) return bad;
    }
    onProgress?.(expected, total);
  }
  if (cpIndex < checkpoints.length) return truncated(Number(checkpoints[cpIndex]!.tree_size), expected);
  return { ok: true, size: expected, checkpoints: checkpoints.length };
}
