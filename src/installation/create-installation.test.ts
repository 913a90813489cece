/**
 * `createInstallation` on PostgreSQL when a step after the database fails: the tables it created
 * are dropped again (and only those), so the corrected run does not find a half-made installation
 * whose keys are wrapped under a master key that was removed with the data directory.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { createTestPostgresDatabase, postgresAvailable } from '../testing/stores.js';
import { createInstallation } from './create-installation.js';

const pgUp = await postgresAvailable();

describe.skipIf(!pgUp)('createInstallation on PostgreSQL', () => {
  let dir: string;
  let pg: Awaited<ReturnType<typeof createTestPostgresDatabase>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulsegate-create-'));
    pg = await createTestPostgresDatabase();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pg.drop();
  });

  it('drops the tables it created when a later step fails, keeps the others, and the next run succeeds', async () => {
    const store = openStore({ postgresUrl: pg.url });
    const tables = () => store.tableNames().then((t) => t.sort());
    try {
      await sql`create table operators_notes (id int primary key)`.execute(store.db);
      const data = join(dir, 'd');
      const settings = { server: { port: 18443 }, database: { url: pg.url } };
      await expect(
        createInstallation({
          dataDir: data,
          settings,
          env: {},
          onStep: (step) => {
            if (step === 'administrator') throw new Error('disk full');
          },
        }),
      ).rejects.toThrow('disk full');
      expect(existsSync(data)).toBe(false);
      expect(await tables()).toEqual(['operators_notes']);

      const made = await createInstallation({ dataDir: data, settings, env: {} });
      expect(existsSync(made.adminTokenFile)).toBe(true);
      expect(await tables()).toEqual(
        expect.arrayContaining(['operators_notes', 'settings', 'audit_entries']),
      );
    } finally {
      await store.close();
    }
  });

  it('when two inits race on one database, the one that fails leaves the other its tables', async () => {
    const other = await createTestPostgresDatabase();
    const store = openStore({ postgresUrl: other.url });
    try {
      const settings = { server: { port: 18443 }, database: { url: other.url } };
      const runs = await Promise.allSettled(
        ['a', 'b'].map((d) => createInstallation({ dataDir: join(dir, `race-${d}`), settings, env: {} })),
      );
      const won = runs.filter((r) => r.status === 'fulfilled');
      expect(won.length, JSON.stringify(runs.map((r) => r.status))).toBeGreaterThanOrEqual(1);
      // The winner's installation is whole: its tables are there and its admin token works.
      expect(await store.tableNames()).toEqual(
        expect.arrayContaining(['settings', 'audit_entries', 'users']),
      );
      const users = await store.db.selectFrom('users').select('username').execute();
      expect(users.map((u) => u.username)).toEqual(['admin']);
    } finally {
      await store.close();
      await other.drop();
    }
  });
});
