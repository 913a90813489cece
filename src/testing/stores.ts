/**
 * Test helper: runs a suite on every real database dialect. SQLite always; PostgreSQL at
 * PULSEGATE_TEST_POSTGRES_URL (default: the local server), each test file in a fresh database
 * that is dropped afterwards. Outside CI a missing PostgreSQL skips with a clear message; in CI
 * (CI=true) it fails, so the PostgreSQL tests can never silently stop running.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../store/index.js';

export const TEST_POSTGRES_URL =
  process.env.PULSEGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let postgresUp: Promise<boolean> | undefined;

/** True when the test PostgreSQL answers; throws in CI when it does not. */
export function postgresAvailable(): Promise<boolean> {
  postgresUp ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch (error) {
      if (process.env.CI === 'true') {
        throw new Error(`PostgreSQL is required in CI but not reachable at ${TEST_POSTGRES_URL}: ${error}`);
      }
      console.warn(`[skip] PostgreSQL tests skipped: no server at ${TEST_POSTGRES_URL}`);
      return false;
    }
  })();
  return postgresUp;
}

/**
 * Creates an empty PostgreSQL database on the server of `serverUrl` (by default the test server)
 * and returns its URL and a function that drops it.
 */
export async function createTestPostgresDatabase(
  serverUrl = TEST_POSTGRES_URL,
  prefix = 'pulsegate_test',
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestStore {
  store: Store;
  /** For PostgreSQL the URL of the test database; for SQLite the file path. */
  location: string;
  cleanup(): Promise<void>;
}

/** Opens a fresh store; `migrateUpTo` stops after that migration (for a migration's own test). */
export type DialectFactory = (options?: { migrateUpTo?: string }) => Promise<TestStore>;

/** Factories for a migrated store on each available dialect, for `describe.each`. */
export const DIALECTS: Array<{ name: 'sqlite' | 'postgres'; open: DialectFactory }> = [
  {
    name: 'sqlite',
    async open(options) {
      const { mkdtempSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const dir = mkdtempSync(join(tmpdir(), 'pulsegate-test-'));
      const file = join(dir, 'test.db');
      const store = openStore({ sqliteFile: file });
      const { error } = await store.migrate(options?.migrateUpTo);
      if (error) throw error;
      return {
        store,
        location: file,
        async cleanup() {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open(options) {
      const { url, drop } = await createTestPostgresDatabase();
      const store = openStore({ postgresUrl: url });
      const { error } = await store.migrate(options?.migrateUpTo);
      if (error) throw error;
      return {
        store,
        location: url,
        async cleanup() {
          await store.close();
          await drop();
        },
      };
    },
  },
];
