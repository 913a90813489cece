import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { externalKeyOf as deviceKeyOf } from '../device-key.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { up as careUnitMigration } from './migrations/019-telemetry-care-unit.js';
import { openStore } from './store.js';

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

  it('019 gives each stored reading the care unit its device has at migration, null without one', async () => {
    t = await open({ migrateUpTo: '018-api-token-expiry' });
    const db = t.store.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const device = (id: string, care_unit: string | null) => ({
      id,
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      care_unit,
      lifecycle: 'active',
      certificate_status: 'none',
      created_at: 1,
      updated_at: 1,
      version: 1,
    });
    await db
      .insertInto('devices')
      .values([device('dev-icu', 'ICU'), device('dev-none', null)])
      .execute();
    const reading = (device_id: string, seq: number) => ({
      device_id,
      observed_at: 1_000 + seq,
      seq,
      received_at: 2_000,
      patient_index: null,
      key_period: '1970-01',
      vitals: ' heart-rate ',
      flagged: 0,
      sealed: Buffer.from([seq]),
    });
    await db
      .insertInto('telemetry_readings')
      .values([reading('dev-icu', 1), reading('dev-icu', 2), reading('dev-none', 1), reading('dev-gone', 1)])
      .execute();

    const { error, reports } = await t.store.migrate('019-telemetry-care-unit');
    expect(error).toBeUndefined();
    expect(reports.filter((r) => r.status === 'applied').map((r) => r.name)).toEqual([
      '019-telemetry-care-unit',
    ]);
    const rows = await t.store.db
      .selectFrom('telemetry_readings')
      .select(['device_id', 'seq', 'care_unit'])
      .orderBy('device_id')
      .orderBy('seq')
      .execute();
    expect(rows).toEqual([
      { device_id: 'dev-gone', seq: 1, care_unit: null },
      { device_id: 'dev-icu', seq: 1, care_unit: 'ICU' },
      { device_id: 'dev-icu', seq: 2, care_unit: 'ICU' },
      { device_id: 'dev-none', seq: 1, care_unit: null },
    ]);
    // Run again, as after a start-up stopped during the backfill (column added, not recorded):
    // it completes without touching what is filled.
    await db.updateTable('telemetry_readings').set({ care_unit: null }).where('seq', '=', 2).execute();
    await careUnitMigration(db as never, t.store.dialect);
    expect(
      (
        await t.store.db
          .selectFrom('telemetry_readings')
          .select('care_unit')
          .orderBy('device_id')
          .orderBy('seq')
          .execute()
      ).map((r) => r.care_unit),
    ).toEqual([null, 'ICU', 'ICU', null]);
  });

  it('021 gives devices whose ids FHIR cannot hold the key devices get when created, and only those', async () => {
    t = await open({ migrateUpTo: '020-device-care-unit-since' });
    const db = t.store.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
    const ids = ['mon-icu-1', 'mon_icu_9', `m${'x'.repeat(45)}`];
    await db
      .insertInto('devices')
      .values(
        ids.map((id) => ({
          id,
          type: 'patient-monitor',
          vendor: 'Acme',
          model: 'M1',
          lifecycle: 'active',
          certificate_status: 'none',
          created_at: 1,
          updated_at: 1,
          version: 1,
        })),
      )
      .execute();
    const { error } = await t.store.migrate();
    expect(error).toBeUndefined();
    const rows = await t.store.db
      .selectFrom('devices')
      .select(['id', 'external_key'])
      .orderBy('id')
      .execute();
    const expected = (id: string) => (deviceKeyOf(id) === id ? null : deviceKeyOf(id));
    expect(rows).toEqual([...ids].sort().map((id) => ({ id, external_key: expected(id) })));
    expect(rows.filter((r) => r.external_key !== null)).toHaveLength(2);
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

describe('the SQLite file', () => {
  it('is readable by its owner only: created 0600 in a 0755 directory, and narrowed when it was wider', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulsegate-mode-'));
    try {
      chmodSync(dir, 0o755);
      const fresh = join(dir, 'fresh.db');
      const store = openStore({ sqliteFile: fresh });
      await store.db
        .selectFrom('settings')
        .select('name')
        .execute()
        .catch(() => undefined);
      await sql`create table t (x integer)`.execute(store.db);
      for (const path of [fresh, `${fresh}-wal`, `${fresh}-shm`])
        if (existsSync(path)) expect((statSync(path).mode & 0o777).toString(8), path).toBe('600');
      await store.close();
      // A file an earlier version left world-readable.
      const old = join(dir, 'old.db');
      writeFileSync(old, '');
      chmodSync(old, 0o644);
      const again = openStore({ sqliteFile: old });
      expect((statSync(old).mode & 0o777).toString(8)).toBe('600');
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
