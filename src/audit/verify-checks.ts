/**
 * What the single-threaded and the parallel verifier share: the result types and the check of
 * one signed checkpoint against the root recomputed from the entries. Keeping one copy keeps the
 * two paths' problem codes and wording identical (tests compare them).
 */
import { type CheckpointVerifierKey, parseCheckpointBody, verifyNote } from './checkpoint.js';

/** Stable codes for what verification found. */
export type VerifyProblem =
  | 'seq-gap'
  | 'seq-mismatch'
  | 'malformed-entry'
  | 'leaf-hash-mismatch'
  | 'root-mismatch'
  | 'bad-signature'
  | 'bad-checkpoint'
  | 'truncated'
  | 'unproven-entries';

export type VerifyResult =
  | {
      ok: true;
      size: number;
      checkpoints: number;
      /** Entries after the last checkpoint: intact as stored, but not yet under a signed root. */
      unproven?: number;
    }
  | { ok: false; firstBadSeq: number; problem: VerifyProblem; detail: string };

/** A stored checkpoint row as the verifier reads it. */
export interface CheckpointRow {
  tree_size: number | string;
  root_hash: Uint8Array;
  note: string;
}

/** How checkpoints are trusted. */
export interface CheckpointTrust {
  origin: string;
  keyName: string;
  keys: readonly CheckpointVerifierKey[];
}

export const fail = (firstBadSeq: number, problem: VerifyProblem, detail: string): VerifyResult => ({
  ok: false,
  firstBadSeq,
  problem,
  detail,
});

/**
 * Checks the checkpoint `cp` for tree size `size` whose recomputed root is `root()` (called only
 * once the signature and row are good); `lastGood` is the size of the last good checkpoint, the
 * first entry a failure can blame. Returns the failure, or undefined when the checkpoint holds.
 */
export function checkpointProblem(
  cp: CheckpointRow,
  size: number,
  root: () => Buffer,
  lastGood: number,
  trust: CheckpointTrust,
): VerifyResult | undefined {
  const span = `entries ${lastGood}..${size - 1}`;
  const text = verifyNote(cp.note, trust.keyName, trust.keys);
  if (text === undefined) {
    return fail(
      lastGood,
      'bad-signature',
      `checkpoint at size ${size} is not signed by a trusted key; ${span} are unproven`,
    );
  }
  const body = parseCheckpointBody(text);
  if (!body || body.origin !== trust.origin || body.size !== size || !body.root.equals(cp.root_hash)) {
    return fail(lastGood, 'bad-checkpoint', `checkpoint at size ${size} does not match its row or origin`);
  }
  if (!body.root.equals(root())) {
    return fail(
      lastGood,
      'root-mismatch',
      `tree root at size ${size} differs from the signed checkpoint: an entry in ${span} was altered, ` +
        'removed, inserted or reordered (reporting the first entry of that range)',
    );
  }
  return;
}

/** The failure for checkpoints beyond the entries read. */
export const truncated = (cpSize: number, read: number): VerifyResult =>
  fail(read, 'truncated', `a checkpoint covers ${cpSize} entries but the log holds ${read}`);
