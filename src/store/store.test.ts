import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';

describeEachDialect('store', (open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it('applies every migration once and reports them as already applied the second time', async () => {
    t = await open();
    const again = await t.store.migrate();
    expect(again.error).toBeUndefined();
    expect(again.reports.length).toBeGreaterThanOrEqual(4);
    expect(again.reports.every((r) => r.status === 'already-applied')).toBe(true);
  });

  it('round-trips blobs and bigints with the same JS types on both dialects', async () => {
    t = await open();
    const big = 2 ** 50 + 3;
    await t.store.db
      .insertInto('audit_checkpoints')
      .values({ tree_size: big, root_hash: Buffer.from([0, 1, 254, 255]), note: 'n', created_at: Date.now() })
      .execute();
    const row = await t.store.db.selectFrom('audit_checkpoints').selectAll().executeTakeFirstOrThrow();
    expect(row.tree_size).toBe(big);
    expect(Buffer.from(row.root_hash)).toEqual(Buffer.from([0, 1, 254, 255]));
  });

  it('serialises holders of the same named lock', async () => {
    t = await open();
    const { store } = t;
    const order: string[] = [];
    const holder = (label: string, delayMs: number) =>
      store.db.transaction().execute(async (trx) => {
        await store.lock(trx, 'test-lock');
        order.push(`${label}:start`);
        await new Promise((r) => setTimeout(r, delayMs));
        await sql`select 1`.execute(trx);
        order.push(`${label}:end`);
      });
    await Promise.all([holder('a', 50), holder('b', 0)]);
    // Whichever went first, the other never started inside it.
    expect([order.slice(0, 2), order.slice(2)].every(([s, e]) => s?.split(':')[0] === e?.split(':')[0])).toBe(
      true,
    );
  });
});
