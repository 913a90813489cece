import { afterEach, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import { bytes, type KeyFixture, keyFixture } from './key-fixture.js';
import { openKeyService } from './key-service.js';
import { HEADER_BYTES } from './sealed-record.js';

const scope = { purpose: 'telemetry', subject: 'bi:patient-1', period: '2026-11' };
const keyIdOf = (sealed: Buffer) => sealed.subarray(1, HEADER_BYTES).toString('base64url');

function countByKey(sealed: Buffer[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sealed) counts.set(keyIdOf(s), (counts.get(keyIdOf(s)) ?? 0) + 1);
  return counts;
}

describeEachDialect('keys: data key usage limit', (open, dialect) => {
  let f: KeyFixture | undefined;
  let second: Store | undefined;
  afterEach(async () => {
    await second?.close();
    await f?.cleanup();
    f = second = undefined;
  });

  it('retires a key at dataKeyMaxUses and continues with a new one; old records still decrypt', async () => {
    f = await keyFixture(open, { dataKeyMaxUses: 10 });
    const sealed: Buffer[] = [];
    for (let i = 0; i < 15; i++) sealed.push(await f.keys.encrypt(scope, bytes(`v${i}`), bytes(`r${i}`)));
    // A batch may span keys too.
    sealed.push(
      ...(await f.keys.encryptMany(
        scope,
        Array.from({ length: 10 }, (_, i) => ({ plaintext: bytes(`b${i}`), aad: bytes(`b${i}`) })),
      )),
    );
    expect([...countByKey(sealed).values()]).toEqual([10, 10, 5]);
    const rows = await f.t.store.db.selectFrom('data_keys').selectAll().orderBy('created_at').execute();
    expect(rows.map((r) => r.status).sort()).toEqual(['active', 'retired', 'retired']);
    for (const r of rows.filter((r) => r.status === 'retired')) {
      expect(r.uses).toBeGreaterThanOrEqual(10);
      expect(r.retired_at).toBeGreaterThan(0);
    }
    const plain = await f.keys.decryptMany(
      sealed.map((s, i) => ({ sealed: s, aad: bytes(i < 15 ? `r${i}` : `b${i - 15}`) })),
    );
    expect(plain[0]!.toString()).toBe('v0');
    expect(plain[24]!.toString()).toBe('b9');
  });

  it('two services on one database never exceed the limit together', async () => {
    f = await keyFixture(open, { dataKeyMaxUses: 50, reserveBlock: 7 });
    // SQLite: one connection per process (better-sqlite3 blocks the event loop while it waits for
    // a lock), so the second service shares the store. PostgreSQL: a second pool, as another node has.
    second = dialect === 'postgres' ? openStore({ postgresUrl: f.t.location }) : undefined;
    const a = f.keys;
    const b = await openKeyService({
      store: second ?? f.t.store,
      masterKey: f.masterKey,
      dataKeyMaxUses: 50,
      reserveBlock: 7,
    });
    const run = async (service: typeof a, tag: string) => {
      const out: Buffer[] = [];
      for (let i = 0; i < 40; i++) {
        const batch = Array.from({ length: 1 + (i % 4) }, (_, j) => ({
          plaintext: bytes(`${tag}${i}.${j}`),
          aad: bytes('x'),
        }));
        out.push(...(await service.encryptMany(scope, batch)));
      }
      return out;
    };
    const all = (await Promise.all([run(a, 'a'), run(b, 'b'), run(a, 'c'), run(b, 'd')])).flat();
    expect(all.length).toBe(400);
    const counts = countByKey(all);
    expect(counts.size).toBeGreaterThan(1);
    for (const n of counts.values()) expect(n).toBeLessThanOrEqual(50);
    const rows = await f.t.store.db.selectFrom('data_keys').select(['id', 'status']).execute();
    // At most one active key per scope (none when the last one was used up exactly).
    expect(rows.filter((r) => r.status === 'active').length).toBeLessThanOrEqual(1);
    const decrypted = await b.decryptMany(all.map((sealed) => ({ sealed, aad: bytes('x') })));
    expect(decrypted.length).toBe(all.length);
    await b.close();
  });

  it('reserves uses in blocks and hands unspent ones back on close', async () => {
    f = await keyFixture(open, { dataKeyMaxUses: 1000, reserveBlock: 100 });
    const sealed = await f.keys.encrypt(scope, bytes('a'), bytes('1'));
    const uses = async () =>
      (
        await f!.t.store.db
          .selectFrom('data_keys')
          .select('uses')
          .where('id', '=', keyIdOf(sealed))
          .executeTakeFirstOrThrow()
      ).uses;
    expect(await uses()).toBe(100);
    await f.keys.encrypt(scope, bytes('b'), bytes('2'));
    expect(await uses()).toBe(100);
    await f.keys.close();
    expect(await uses()).toBe(2);
  });
});
