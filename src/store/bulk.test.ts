import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { type BulkColumn, bulkInsert, scanOrdered } from './bulk.js';

const COLUMNS: readonly BulkColumn[] = [
  { name: 'seq', type: 'bigint' },
  { name: 'entry', type: 'text' },
  { name: 'leaf_hash', type: 'bytea' },
  { name: 'created_at', type: 'bigint' },
  { name: 'action', type: 'text' },
  { name: 'actor_id', type: 'text' },
  { name: 'outcome', type: 'text' },
];

// Text that needs escaping in a text array literal, multi-byte UTF-8 and a large bigint.
const row = (seq: number) => [
  seq,
  `{"q":"\\"x\\" ${seq} {a,b} é 🙂"}`,
  Buffer.from([seq & 0xff, 0, 255, 92]),
  2 ** 50 + seq,
  'a.b',
  seq % 2 === 0 ? null : `u "${seq}", \\ {}`,
  'success',
];

describeEachDialect('store bulk paths', (open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('bulkInsert writes rows inside the transaction with the same values Kysely reads back', async () => {
    t = await open();
    const { store } = t;
    const rows = Array.from({ length: 25 }, (_, i) => row(i));
    await store.db.transaction().execute((trx) => bulkInsert(store, trx, 'audit_entries', COLUMNS, rows));
    const back = await store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
    expect(
      back.map((r) => [
        r.seq,
        r.entry,
        Buffer.from(r.leaf_hash),
        r.created_at,
        r.action,
        r.actor_id,
        r.outcome,
      ]),
    ).toEqual(rows);
  });

  it('bulkInsert rolls back with its transaction', async () => {
    t = await open();
    const { store } = t;
    await expect(
      store.db.transaction().execute(async (trx) => {
        await bulkInsert(store, trx, 'audit_entries', COLUMNS, [row(1), row(2)]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await store.db.selectFrom('audit_entries').selectAll().execute()).toEqual([]);
  });

  it('scanOrdered pages in key order from a key, with only the asked columns, binary as hex on request', async () => {
    t = await open();
    const { store } = t;
    const rows = Array.from({ length: 10 }, (_, i) => row(9 - i));
    await store.db.transaction().execute((trx) => bulkInsert(store, trx, 'audit_entries', COLUMNS, rows));
    const pages: unknown[][][] = [];
    for await (const page of scanOrdered(
      store,
      'audit_entries',
      'seq',
      ['seq', { hex: 'leaf_hash' }, 'entry'],
      3,
      4,
    ))
      pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([4, 3]);
    expect(pages.flat()).toEqual(
      [3, 4, 5, 6, 7, 8, 9].map((s) => [s, (row(s)[2] as Buffer).toString('hex'), row(s)[1]]),
    );
  });

  it('rejects identifiers that are not plain names', async () => {
    t = await open();
    const { store } = t;
    const scan = scanOrdered(store, 'audit_entries', 'seq', ['seq', 'entry; drop table x'], 0, 10);
    await expect(scan.next()).rejects.toThrow(TypeError);
  });
});
