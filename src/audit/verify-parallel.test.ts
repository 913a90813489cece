/**
 * The parallel verifier against the single-threaded walk on every dialect: the same result for
 * an intact log and for tampering inside the second range, on both sides of a range seam, and
 * with a checkpoint whose size falls exactly on a seam. 101 entries in ranges of 51 over 2
 * workers (ranges [0,51) and [51,101)); in ranges of 34 over 3 (seams at 34 and 68); and in 8
 * ranges of 13 over 2 workers, so that each worker reads several ranges on its connection. The
 * workers use the compiled row checker by default; two of the plans also run the JavaScript loop.
 */
import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import type { Store } from '../store/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { createAuditLog } from './audit-log.js';
import { checkpointBody, ed25519Signer, signNote } from './checkpoint.js';
import type { AuditEventInput } from './entry.js';
import { leafHash } from './merkle.js';
import { type VerifyResult, verifyAuditLog } from './verify.js';
import { MIN_RANGE_ENTRIES, planRanges } from './verify-parallel.js';

const ORIGIN = 'pulsegate.test/audit';
const keys = generateKeyPairSync('ed25519');
const signer = ed25519Signer(ORIGIN, keys.privateKey, keys.publicKey);
const SIZE = 101;
const SEAM = 51;
const CHECKPOINTS = [20, SEAM, 77, SIZE];

const event = (i: number): AuditEventInput => ({
  actor: { type: 'user', id: `u${i % 3}` },
  action: 'patient.read',
  resource: { type: 'patient', id: `p${i}` },
  outcome: 'success',
  requestId: `req-${i}`,
});

const run = (
  store: Store,
  threads: number,
  rangeEntries?: number,
  options: { onProgress?: (done: number) => void; batchSize?: number; checker?: 'javascript' } = {},
) =>
  verifyAuditLog({
    store,
    origin: ORIGIN,
    publicKey: keys.publicKey,
    threads,
    parallelMinEntries: 1,
    ...(rangeEntries ? { rangeEntries } : {}),
    ...options,
  });

/**
 * Verifies on 1 thread; on 2 and 3 threads with one range each; on 2 threads in 8 ranges; and on
 * 2 threads in pages of 7 rows (so that problems fall on and beside page seams), the first and
 * last of these with each row checker; all must agree. Returns the common result.
 */
async function verifyAll(store: Store): Promise<VerifyResult> {
  const single = await run(store, 1);
  expect(await run(store, 2, SEAM)).toEqual(single);
  expect(await run(store, 2, SEAM, { checker: 'javascript' })).toEqual(single);
  expect(await run(store, 3, 34)).toEqual(single);
  expect(await run(store, 2, 13)).toEqual(single);
  expect(await run(store, 2, SEAM, { batchSize: 7 })).toEqual(single);
  expect(await run(store, 2, SEAM, { batchSize: 7, checker: 'javascript' })).toEqual(single);
  return single;
}

it('plans shrinking ranges that cover the log, the last reading on', () => {
  const plan = planRanges(1_000_000, 2);
  expect(plan[0]).toEqual({ start: 0, end: 250_000 });
  for (let i = 1; i < plan.length; i++) {
    expect(plan[i]!.start).toBe(plan[i - 1]!.end);
    if (i < plan.length - 1) {
      const size = plan[i]!.end - plan[i]!.start;
      expect(size).toBeGreaterThanOrEqual(MIN_RANGE_ENTRIES);
      expect(size).toBeLessThanOrEqual(plan[i - 1]!.end - plan[i - 1]!.start);
    }
  }
  expect(plan.at(-1)!.end).toBe(Number.POSITIVE_INFINITY);
  expect(plan.at(-1)!.start).toBeGreaterThan(1_000_000 - 2 * MIN_RANGE_ENTRIES);
  // A small log is one range.
  expect(planRanges(20_000, 2)).toEqual([{ start: 0, end: Number.POSITIVE_INFINITY }]);
  expect(planRanges(101, 2, 51)).toEqual([
    { start: 0, end: 51 },
    { start: 51, end: Number.POSITIVE_INFINITY },
  ]);
  expect(planRanges(101, 2, 13).map((r) => r.start)).toEqual([0, 13, 26, 39, 52, 65, 78, 91]);
  for (const bad of [0, -5, 1.5, Number.NaN]) expect(() => planRanges(101, 2, bad)).toThrow(TypeError);
});

describeEachDialect('parallel audit verification', (open, dialect) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  /** A fresh store and a log on it that checkpoints only when asked. */
  async function openLog() {
    t = await open();
    const store = t.store;
    const log = createAuditLog({
      store,
      signer,
      origin: ORIGIN,
      checkpointEveryEntries: 1_000_000,
      checkpointIntervalSeconds: 3600,
    });
    return { log, store };
  }

  async function seeded(): Promise<Store> {
    const { log, store } = await openLog();
    let done = 0;
    for (const size of CHECKPOINTS) {
      await log.appendMany(Array.from({ length: size - done }, (_, i) => event(done + i)));
      done = size;
      await log.checkpoint();
    }
    await log.close();
    return store;
  }

  const entryAt = async (store: Store, seq: number) =>
    (
      await store.db
        .selectFrom('audit_entries')
        .select('entry')
        .where('seq', '=', seq)
        .executeTakeFirstOrThrow()
    ).entry;

  async function alter(store: Store, seq: number, rehash: boolean): Promise<void> {
    const forged = (await entryAt(store, seq)).replace('"success"', '"failure"');
    await store.db
      .updateTable('audit_entries')
      .set(rehash ? { entry: forged, leaf_hash: leafHash(forged) } : { entry: forged })
      .where('seq', '=', seq)
      .execute();
  }

  it('accepts the intact log, with a checkpoint on the seam, and aggregates progress', async () => {
    const store = await seeded();
    expect(await verifyAll(store)).toEqual({
      ok: true,
      size: SIZE,
      checkpoints: CHECKPOINTS.length,
      unproven: 0,
    });
    for (const rangeEntries of [SEAM, 13]) {
      const progress: number[] = [];
      await run(store, 2, rangeEntries, { onProgress: (done) => progress.push(done) });
      expect(progress.at(-1)).toBe(SIZE);
    }
  });

  it('names changed bytes in the second range and on either side of the seam', async () => {
    for (const seq of [70, SEAM - 1, SEAM]) {
      const store = await seeded();
      await alter(store, seq, false);
      expect(await verifyAll(store)).toMatchObject({ firstBadSeq: seq, problem: 'leaf-hash-mismatch' });
      await t?.cleanup();
      t = undefined;
    }
  });

  it('reports the lowest problem when both ranges are tampered', async () => {
    const store = await seeded();
    await alter(store, 70, false);
    await alter(store, 30, false);
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 30, problem: 'leaf-hash-mismatch' });
  });

  it('names an entry deleted on either side of the seam', async () => {
    for (const seq of [SEAM - 1, SEAM]) {
      const store = await seeded();
      await store.db.deleteFrom('audit_entries').where('seq', '=', seq).execute();
      expect(await verifyAll(store)).toMatchObject({
        firstBadSeq: seq,
        problem: 'seq-gap',
        detail: `entry ${seq} is missing (next stored is ${seq + 1})`,
      });
      await t?.cleanup();
      t = undefined;
    }
  });

  it('names the first of two entries swapped across the seam', async () => {
    const store = await seeded();
    const [a, b] = [await entryAt(store, 45), await entryAt(store, 55)];
    await store.db.updateTable('audit_entries').set({ entry: b }).where('seq', '=', 45).execute();
    await store.db.updateTable('audit_entries').set({ entry: a }).where('seq', '=', 55).execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 45, problem: 'seq-mismatch' });
  });

  it('blames the range after the seam checkpoint when an entry and its leaf hash were rewritten', async () => {
    const store = await seeded();
    await alter(store, 60, true);
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: SEAM, problem: 'root-mismatch' });
  });

  it('catches a rewrite just below the seam with the checkpoint on the seam', async () => {
    const store = await seeded();
    await alter(store, SEAM - 1, true);
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 20, problem: 'root-mismatch' });
  });

  it('orders checkpoint and entry problems as the walk does', async () => {
    const store = await seeded();
    await alter(store, 60, false);
    const mallory = generateKeyPairSync('ed25519');
    const forge = async (size: number) => {
      const cp = await store.db
        .selectFrom('audit_checkpoints')
        .select('root_hash')
        .where('tree_size', '=', size)
        .executeTakeFirstOrThrow();
      const note = await signNote(
        checkpointBody(ORIGIN, size, cp.root_hash),
        ed25519Signer(ORIGIN, mallory.privateKey, mallory.publicKey),
      );
      await store.db.updateTable('audit_checkpoints').set({ note }).where('tree_size', '=', size).execute();
    };
    // A bad checkpoint after the bad entry: the entry comes first.
    await forge(77);
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 60, problem: 'leaf-hash-mismatch' });
    // A bad checkpoint on the seam, before the bad entry: the checkpoint comes first.
    await forge(SEAM);
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 20, problem: 'bad-signature' });
  });

  it('detects a validly signed wrong root on the seam', async () => {
    const store = await seeded();
    const wrong = Buffer.alloc(32, 7);
    const note = await signNote(checkpointBody(ORIGIN, SEAM, wrong), signer);
    await store.db
      .updateTable('audit_checkpoints')
      .set({ note, root_hash: wrong })
      .where('tree_size', '=', SEAM)
      .execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 20, problem: 'root-mismatch' });
  });

  it('names a stored leaf hash of the wrong length and an empty entry as the walk does', async () => {
    const store = await seeded();
    await store.db
      .updateTable('audit_entries')
      .set({ leaf_hash: leafHash(await entryAt(store, 64)).subarray(0, 31) })
      .where('seq', '=', 64)
      .execute();
    await store.db.updateTable('audit_entries').set({ entry: '' }).where('seq', '=', 80).execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 64, problem: 'leaf-hash-mismatch' });
    await store.db
      .updateTable('audit_entries')
      .set({ leaf_hash: leafHash(await entryAt(store, 64)) })
      .where('seq', '=', 64)
      .execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 80, problem: 'malformed-entry' });
  });

  // SQLite keeps a value its column affinity cannot convert: a seq that is no longer an integer.
  it.skipIf(dialect !== 'sqlite')('names a seq rewritten to text as a gap', async () => {
    const store = await seeded();
    await store.db
      .updateTable('audit_entries')
      .set({ seq: sql<number>`'100x'` })
      .where('seq', '=', 100)
      .execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 100, problem: 'seq-gap' });
  });

  it('hashes the stored UTF-8 bytes of multi-byte entries across page seams', async () => {
    const { log, store } = await openLog();
    const reasons = ['é', '🙂 ✓', 'ü'.repeat(300), '日本語', 'a"\\b\n'];
    await log.appendMany(
      Array.from({ length: 60 }, (_, i) => ({ ...event(i), reason: `${reasons[i % reasons.length]} ${i}` })),
    );
    await log.checkpoint();
    await log.close();
    expect(await verifyAll(store)).toEqual({ ok: true, size: 60, checkpoints: 1, unproven: 0 });
    const original = await entryAt(store, 43);
    const forged = original.replace('日本語', '日本誤');
    expect(forged).not.toBe(original);
    await store.db.updateTable('audit_entries').set({ entry: forged }).where('seq', '=', 43).execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 43, problem: 'leaf-hash-mismatch' });
  });

  // The worker reads a page as latin1 texts of 128 rows: 300 entries in 2 ranges of 150 put text
  // seams at seq 128 (first range) and 278 (second range, from 150), in 4,096-row pages.
  it('names problems on either side of a 128-row text seam as the walk does', async () => {
    const { log, store } = await openLog();
    await log.appendMany(Array.from({ length: 300 }, (_, i) => event(i)));
    await log.checkpoint();
    await log.close();
    const atSeams = async () => {
      const single = await run(store, 1);
      expect(await run(store, 2, 150)).toEqual(single);
      return single;
    };
    expect(await atSeams()).toEqual({ ok: true, size: 300, checkpoints: 1, unproven: 0 });
    for (const seq of [127, 128, 277, 278]) {
      const original = await entryAt(store, seq);
      await alter(store, seq, false);
      expect(await atSeams()).toMatchObject({ firstBadSeq: seq, problem: 'leaf-hash-mismatch' });
      await store.db.updateTable('audit_entries').set({ entry: original }).where('seq', '=', seq).execute();
    }
    const [a, b] = [await entryAt(store, 128), await entryAt(store, 129)];
    await store.db.updateTable('audit_entries').set({ entry: b }).where('seq', '=', 128).execute();
    await store.db.updateTable('audit_entries').set({ entry: a }).where('seq', '=', 129).execute();
    expect(await atSeams()).toMatchObject({ firstBadSeq: 128, problem: 'seq-mismatch' });
  });

  it('detects entries removed from the end below a checkpoint', async () => {
    const store = await seeded();
    await store.db.deleteFrom('audit_entries').where('seq', '>=', 90).execute();
    expect(await verifyAll(store)).toMatchObject({ firstBadSeq: 90, problem: 'truncated' });
  });
});
