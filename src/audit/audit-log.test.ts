import { createHash, generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { type AuditLog, createAuditLog } from './audit-log.js';
import { checkpointBody, ed25519Signer, signNote } from './checkpoint.js';
import { type AuditEventInput, encodeEntry } from './entry.js';
import { leafHash } from './merkle.js';
import { verifyAuditLog } from './verify.js';

const ORIGIN = 'pulsegate.test/audit';
const keys = generateKeyPairSync('ed25519');
const signer = ed25519Signer(ORIGIN, keys.privateKey, keys.publicKey);

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const NODE = Buffer.from([1]);

/**
 * RFC 9162 §2.1.3.2, transcribed step by step, independent of merkle.ts (BigInt arithmetic).
 */
function rfcVerifyInclusion(
  index: number,
  size: number,
  hash: Buffer,
  path: Buffer[],
  root: Buffer,
): boolean {
  // 1. Compare leaf_index against tree_size. If leaf_index is greater than or equal to tree_size, fail.
  if (index >= size) return false;
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  // 3. Set r to hash.
  let r = hash;
  // 4. For each value p in the inclusion_path array:
  for (const p of path) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0n) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1n) === 1n || fn === sn) {
      // i. Set r to HASH(0x01 || p || r).
      r = sha256(NODE, p, r);
      // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or fn is 0.
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      // Otherwise: i. Set r to HASH(0x01 || r || p).
      r = sha256(NODE, r, p);
    }
    // c. Finally, right-shift both fn and sn one time.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. Compare sn to 0. Compare r against the root_hash.
  return sn === 0n && r.equals(root);
}

/** RFC 9162 §2.1.4.2, transcribed step by step (for 0 < first < second). */
function rfcVerifyConsistency(
  first: number,
  second: number,
  firstHash: Buffer,
  secondHash: Buffer,
  proof: Buffer[],
) {
  // 1. If consistency_path is an empty array, stop and fail the proof verification.
  if (proof.length === 0) return false;
  const path = [...proof];
  // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
  if ((BigInt(first) & (BigInt(first) - 1n)) === 0n) path.unshift(firstHash);
  // 3. Set fn to first - 1 and sn to second - 1.
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5. Set both fr and sr to the first value in the consistency_path array.
  let fr = path[0]!;
  let sr = path[0]!;
  // 6. For each subsequent value c in the consistency_path array:
  for (const c of path.slice(1)) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0n) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1n) === 1n || fn === sn) {
      fr = sha256(NODE, c, fr); // i.
      sr = sha256(NODE, c, sr); // ii.
      // iii. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set or fn is 0.
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = sha256(NODE, sr, c); // Otherwise: i. Set sr to HASH(0x01 || sr || c).
    }
    // c. Finally, right-shift both fn and sn one time.
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7. Verify fr equals first_hash, sr equals second_hash, and sn is 0.
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0n;
}

const event = (i: number, overrides: Partial<AuditEventInput> = {}): AuditEventInput => ({
  actor: { type: 'user', id: `u${i % 3}`, name: `user${i % 3}`, role: 'admin' },
  action: i % 2 === 0 ? 'patient.read' : 'user.create',
  resource: { type: 'patient', id: `p${i}` },
  outcome: i % 5 === 0 ? 'denied' : 'success',
  source: '10.0.0.1',
  requestId: `req-${i}`,
  ...overrides,
});

function makeLog(store: Store, extra: Partial<Parameters<typeof createAuditLog>[0]> = {}): AuditLog {
  return createAuditLog({
    store,
    signer,
    origin: ORIGIN,
    checkpointEveryEntries: 1_000_000,
    checkpointIntervalSeconds: 3600,
    ...extra,
  });
}

const verify = (store: Store) => verifyAuditLog({ store, origin: ORIGIN, publicKey: keys.publicKey });

describeEachDialect('audit log', (open) => {
  let t: TestStore | undefined;
  const extra: Store[] = [];
  afterEach(async () => {
    for (const s of extra.splice(0)) await s.close();
    await t?.cleanup();
    t = undefined;
  });

  /** A log of `n` entries with checkpoints at each of `at` (and at n). */
  async function seeded(n: number, at: number[] = []): Promise<{ store: Store; log: AuditLog }> {
    t = await open();
    const log = makeLog(t.store);
    let done = 0;
    for (const size of [...at, n]) {
      await log.appendMany(Array.from({ length: size - done }, (_, i) => event(done + i)));
      done = size;
      await log.checkpoint();
    }
    return { store: t.store, log };
  }

  it('appends with contiguous seq, returns the stored entry and lists with filters', async () => {
    const { log } = await seeded(0);
    const first = await log.append(event(0));
    expect(first).toMatchObject({ seq: 0, action: 'patient.read', outcome: 'denied' });
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const more = await log.appendMany([event(1), event(2), event(3)]);
    expect(more.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(await log.size()).toBe(4);
    expect((await log.list()).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect((await log.list({ after: 1, limit: 1 })).map((e) => e.seq)).toEqual([2]);
    expect((await log.list({ actor: 'u1' })).map((e) => e.seq)).toEqual([1]);
    expect((await log.list({ action: 'user.create' })).map((e) => e.seq)).toEqual([1, 3]);
    expect((await log.list({ outcome: 'denied' })).map((e) => e.seq)).toEqual([0]);
    expect(await log.list({ since: '2999-01-01T00:00:00Z' })).toEqual([]);
    expect((await log.list({ until: '2999-01-01T00:00:00Z' })).length).toBe(4);
    expect((await log.list())[2]).toEqual(more[1]);
  });

  it('appendMany without entries resolves to the seq range, contiguous across concurrent callers', async () => {
    const { store, log } = await seeded(0);
    const ranges = await Promise.all(
      Array.from({ length: 8 }, (_, b) =>
        log.appendMany(
          Array.from({ length: 25 }, (_, i) => event(b * 25 + i)),
          { returnEntries: false },
        ),
      ),
    );
    expect(ranges.every((r) => r.count === 25)).toBe(true);
    expect(ranges.map((r) => r.firstSeq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 8 }, (_, b) => b * 25),
    );
    await log.close();
    expect(await verify(store)).toEqual({ ok: true, size: 200, checkpoints: 1, unproven: 0 });
  });

  it('refuses an invalid event with VALIDATION_FAILED and stores nothing', async () => {
    const { log } = await seeded(0);
    for (const bad of [
      { ...event(0), action: 'Not An Action' },
      { ...event(0), outcome: 'maybe' },
      { ...event(0), actor: { type: 'robot' } },
      { ...event(0), source: 'not-an-ip' },
      { ...event(0), requestId: 'has space' },
    ]) {
      await expect(log.append(bad as AuditEventInput)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    expect(await log.size()).toBe(0);
  });

  it('group-commits many concurrent appends into a contiguous, verifiable tree', async () => {
    const { store, log } = await seeded(0);
    const entries = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(event(i))));
    expect(new Set(entries.map((e) => e.seq)).size).toBe(500);
    expect([...entries.map((e) => e.seq)].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 500 }, (_, i) => i),
    );
    await log.close();
    expect(await verify(store)).toEqual({ ok: true, size: 500, checkpoints: 1, unproven: 0 });
  });

  it('two AuditLog instances on separate connections never assign the same seq', async () => {
    t = await open();
    const other = t.location.startsWith('postgres')
      ? openStore({ postgresUrl: t.location })
      : openStore({ sqliteFile: t.location });
    extra.push(other);
    const a = makeLog(t.store);
    const b = makeLog(other);
    const results = await Promise.all([
      ...Array.from({ length: 150 }, (_, i) => a.append(event(i))),
      ...Array.from({ length: 150 }, (_, i) => b.append(event(i + 1000))),
      a.appendMany(Array.from({ length: 50 }, (_, i) => event(i))),
      b.appendMany(Array.from({ length: 50 }, (_, i) => event(i))),
    ]);
    const seqs = results.flat().map((e) => e.seq);
    expect(seqs.length).toBe(400);
    expect(new Set(seqs).size).toBe(400);
    expect(Math.max(...seqs)).toBe(399);
    // Each instance catches up with the other's appends before signing.
    const ca = await a.checkpoint();
    await b.append(event(7));
    const cb = await b.checkpoint();
    expect([ca?.treeSize, cb?.treeSize]).toEqual([400, 401]);
    await a.append(event(8)); // a re-reads b's entry before sequencing
    await a.close();
    await b.close();
    expect(await verify(t.store)).toEqual({ ok: true, size: 402, checkpoints: 3, unproven: 0 });
  });

  it('recovers its frontier from the database after a restart', async () => {
    const { store, log } = await seeded(37, [20]);
    await log.close();
    const again = makeLog(store);
    expect((await again.append(event(99))).seq).toBe(37);
    const cp = await again.checkpoint();
    expect(cp?.treeSize).toBe(38);
    expect(await verify(store)).toEqual({ ok: true, size: 38, checkpoints: 3, unproven: 0 });
  });

  it('checkpoints every N entries on its own and once more on close', async () => {
    t = await open();
    const log = makeLog(t.store, { checkpointEveryEntries: 10 });
    for (let i = 0; i < 25; i++) await log.append(event(i));
    await new Promise((r) => setTimeout(r, 50));
    const sizes = (await t.store.db.selectFrom('audit_checkpoints').select('tree_size').execute()).map((r) =>
      Number(r.tree_size),
    );
    expect(sizes).toContain(10);
    expect(sizes).toContain(20);
    await log.close();
    expect((await log.latestCheckpoint())?.treeSize).toBe(25);
    await expect(log.append(event(1))).rejects.toMatchObject({ code: 'NOT_READY' });
  });

  it('serves proofs between stored checkpoints that an independent RFC 9162 verifier accepts', async () => {
    const { log } = await seeded(300, [1, 64, 100, 257]);
    const sizes = [1, 64, 100, 257, 300];
    for (const first of sizes) {
      for (const second of sizes.filter((s) => s > first)) {
        const a = (await log.checkpointAt(first))!;
        const b = (await log.checkpointAt(second))!;
        const p = await log.consistencyProof(first, second);
        expect(p.firstRoot).toEqual(a.rootHash);
        expect(p.secondRoot).toEqual(b.rootHash);
        expect(rfcVerifyConsistency(first, second, a.rootHash, b.rootHash, p.proof)).toBe(true);
        expect(rfcVerifyConsistency(first, second, b.rootHash, a.rootHash, p.proof)).toBe(false);
      }
    }
    const cp = (await log.checkpointAt(257))!;
    for (const seq of [0, 1, 63, 64, 128, 255, 256]) {
      const p = await log.inclusionProof(seq, 257);
      const [entry] = await log.list({ after: seq - 1, limit: 1 });
      expect(p.leafHash).toEqual(leafHash(encodeEntry(entry!)));
      expect(rfcVerifyInclusion(seq, 257, p.leafHash, p.proof, cp.rootHash)).toBe(true);
      expect(rfcVerifyInclusion(seq, 257, leafHash('forged'), p.proof, cp.rootHash)).toBe(false);
    }
    await expect(log.inclusionProof(300, 300)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE' });
    await expect(log.inclusionProof(0, 301)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE' });
    await expect(log.consistencyProof(10, 5)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE' });
    await expect(log.consistencyProof(1, 301)).rejects.toMatchObject({ code: 'AUDIT_PROOF_RANGE' });
  });

  it('signs a checkpoint every checkpointIntervalSeconds while entries arrive (the T in "N entries or T seconds")', async () => {
    t = await open();
    const log = makeLog(t.store, { checkpointIntervalSeconds: 1 });
    await log.appendMany(Array.from({ length: 5 }, (_, i) => event(i)));
    expect(await log.latestCheckpoint()).toBeUndefined();
    log.start();
    try {
      const until = async (size: number) => {
        for (let i = 0; i < 50 && (await log.latestCheckpoint())?.treeSize !== size; i++)
          await new Promise((r) => setTimeout(r, 100));
        return (await log.latestCheckpoint())?.treeSize;
      };
      expect(await until(5)).toBe(5);
      await log.append(event(5));
      expect(await until(6)).toBe(6);
    } finally {
      await log.close();
    }
    expect(await verify(t.store)).toMatchObject({ ok: true, size: 6, unproven: 0 });
  });

  describe('verification', () => {
    it('accepts an intact log and reports progress', async () => {
      const { store } = await seeded(60, [20, 40]);
      const progress: number[] = [];
      const result = await verifyAuditLog({
        store,
        origin: ORIGIN,
        verifierKeys: [keys.publicKey.export({ format: 'jwk' })],
        batchSize: 16,
        onProgress: (checked) => progress.push(checked),
      });
      expect(result).toEqual({ ok: true, size: 60, checkpoints: 3, unproven: 0 });
      expect(progress.at(-1)).toBe(60);
      expect(progress.length).toBeGreaterThan(2);
    });

    it('counts the entries after the last checkpoint, and fails a tail older than the checkpoint interval', async () => {
      t = await open();
      let clock = Date.parse('2026-11-01T00:00:00Z');
      const log = makeLog(t.store, { now: () => clock });
      await log.appendMany(Array.from({ length: 20 }, (_, i) => event(i)));
      await log.checkpoint();
      // Ten more entries over 50 s, as if the checkpoints over them had been deleted.
      for (let i = 0; i < 10; i++, clock += 5_000) await log.append(event(20 + i));
      const check = (maxUnprovenSeconds?: number) =>
        verifyAuditLog({ store: t!.store, origin: ORIGIN, publicKey: keys.publicKey, maxUnprovenSeconds });
      expect(await check()).toEqual({ ok: true, size: 30, checkpoints: 1, unproven: 10 });
      expect(await check(60)).toEqual({ ok: true, size: 30, checkpoints: 1, unproven: 10 });
      expect(await check(40)).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'unproven-entries' });
      // With every checkpoint gone the whole log is the unproven tail.
      await t.store.db.deleteFrom('audit_checkpoints').execute();
      expect(await check(40)).toMatchObject({ ok: false, firstBadSeq: 0, problem: 'unproven-entries' });
    });

    it('checks the log against a witnessed checkpoint even when the stored ones are gone', async () => {
      const { store, log } = await seeded(40, [20]);
      const witnessed = (await log.latestCheckpoint())!.note;
      const check = () =>
        verifyAuditLog({ store, origin: ORIGIN, publicKey: keys.publicKey, witnessed: [witnessed] });
      expect(await check()).toEqual({ ok: true, size: 40, checkpoints: 2, unproven: 0 });
      // Rewritten behind the witness: entry 31 and its leaf hash changed, stored checkpoints removed.
      const row = await store.db
        .selectFrom('audit_entries')
        .select('entry')
        .where('seq', '=', 31)
        .executeTakeFirstOrThrow();
      expect(row.entry).toContain('"success"');
      const forged = row.entry.replace('"success"', '"failure"');
      await store.db
        .updateTable('audit_entries')
        .set({ entry: forged, leaf_hash: Buffer.from(leafHash(Buffer.from(forged))) })
        .where('seq', '=', 31)
        .execute();
      await store.db.deleteFrom('audit_checkpoints').execute();
      expect(await check()).toMatchObject({ ok: false, problem: 'root-mismatch', firstBadSeq: 0 });
      // Truncated behind the witness.
      await store.db.deleteFrom('audit_entries').where('seq', '>=', 35).execute();
      expect(await check()).toMatchObject({ ok: false, problem: 'truncated', firstBadSeq: 35 });
      await expect(
        verifyAuditLog({ store, origin: ORIGIN, publicKey: keys.publicKey, witnessed: ['not a note'] }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });

    it('names the entry whose bytes changed', async () => {
      const { store } = await seeded(60, [20, 40]);
      const row = await store.db
        .selectFrom('audit_entries')
        .select('entry')
        .where('seq', '=', 26)
        .executeTakeFirstOrThrow();
      expect(row.entry).toContain('"success"');
      await store.db
        .updateTable('audit_entries')
        .set({ entry: row.entry.replace('"success"', '"failure"') })
        .where('seq', '=', 26)
        .execute();
      expect(await verify(store)).toMatchObject({
        ok: false,
        firstBadSeq: 26,
        problem: 'leaf-hash-mismatch',
      });
    });

    it('falls back to the checkpoint range when the leaf hash was rewritten too', async () => {
      const { store } = await seeded(60, [20, 40]);
      const row = await store.db
        .selectFrom('audit_entries')
        .select('entry')
        .where('seq', '=', 26)
        .executeTakeFirstOrThrow();
      const forged = row.entry.replace('"success"', '"failure"');
      await store.db
        .updateTable('audit_entries')
        .set({ entry: forged, leaf_hash: leafHash(forged) })
        .where('seq', '=', 26)
        .execute();
      const result = await verify(store);
      expect(result).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'root-mismatch' });
      expect(!result.ok && result.detail).toContain('first entry of that range');
    });

    it('names a deleted entry', async () => {
      const { store } = await seeded(60, [20, 40]);
      await store.db.deleteFrom('audit_entries').where('seq', '=', 30).execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 30, problem: 'seq-gap' });
    });

    it('names an inserted entry, even a well-formed one with later rows renumbered', async () => {
      const { store } = await seeded(60, [20, 40]);
      // Shift seq >= 30 up by one in two steps (a unique key is checked row by row).
      await store.db
        .updateTable('audit_entries')
        .set((eb) => ({ seq: eb(eb.neg('seq'), '-', 2) }))
        .where('seq', '>=', 30)
        .execute();
      await store.db
        .updateTable('audit_entries')
        .set((eb) => ({ seq: eb(eb.neg('seq'), '-', 1) }))
        .where('seq', '<', 0)
        .execute();
      const bytes = encodeEntry({ ...event(1), seq: 30, time: new Date().toISOString() });
      await store.db
        .insertInto('audit_entries')
        .values({
          seq: 30,
          entry: bytes,
          leaf_hash: leafHash(bytes),
          created_at: 0,
          action: 'x.y',
          actor_id: null,
          outcome: 'success',
        })
        .execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 30, problem: 'seq-mismatch' });
    });

    it('names the first of two swapped entries', async () => {
      const { store } = await seeded(60, [20, 40]);
      const rows = await store.db
        .selectFrom('audit_entries')
        .selectAll()
        .where('seq', 'in', [12, 17])
        .orderBy('seq')
        .execute();
      const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
      await store.db
        .updateTable('audit_entries')
        .set({ entry: b.entry, leaf_hash: b.leaf_hash })
        .where('seq', '=', 12)
        .execute();
      await store.db
        .updateTable('audit_entries')
        .set({ entry: a.entry, leaf_hash: a.leaf_hash })
        .where('seq', '=', 17)
        .execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 12, problem: 'seq-mismatch' });
    });

    it('detects a forged checkpoint signature', async () => {
      const { store } = await seeded(60, [20, 40]);
      const cp = await store.db
        .selectFrom('audit_checkpoints')
        .selectAll()
        .where('tree_size', '=', 40)
        .executeTakeFirstOrThrow();
      const mallory = generateKeyPairSync('ed25519');
      const forgedNote = await signNote(
        checkpointBody(ORIGIN, 40, cp.root_hash),
        ed25519Signer(ORIGIN, mallory.privateKey, mallory.publicKey),
      );
      await store.db
        .updateTable('audit_checkpoints')
        .set({ note: forgedNote })
        .where('tree_size', '=', 40)
        .execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'bad-signature' });
    });

    it('detects a validly signed checkpoint whose root does not match the entries', async () => {
      const { store } = await seeded(60, [20, 40]);
      const wrongRoot = Buffer.alloc(32, 9);
      const note = await signNote(checkpointBody(ORIGIN, 40, wrongRoot), signer);
      await store.db
        .updateTable('audit_checkpoints')
        .set({ note, root_hash: wrongRoot })
        .where('tree_size', '=', 40)
        .execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 20, problem: 'root-mismatch' });
    });

    it('detects entries removed from the end below a checkpoint', async () => {
      const { store } = await seeded(60, [20, 40]);
      await store.db.deleteFrom('audit_entries').where('seq', '>=', 55).execute();
      expect(await verify(store)).toMatchObject({ ok: false, firstBadSeq: 55, problem: 'truncated' });
    });
  });
});
