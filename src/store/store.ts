import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import {
  Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResult,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  sql,
  type Transaction,
} from 'kysely';
import pg from 'pg';
import { PulsegateError } from '../errors.js';
import type { DialectName } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';
import { withStatementCache } from './statement-cache.js';

/** Where the database is: a PostgreSQL URL, or an SQLite file (`:memory:` for tests). */
export type StoreLocation = { postgresUrl: string; poolSize?: number } | { sqliteFile: string };

/** One migration's outcome, as `pulsegate migrate` prints it. */
export interface MigrationReport {
  readonly name: string;
  readonly status: 'applied' | 'failed' | 'not-run' | 'already-applied';
}

/**
 * The driver-level handle under `db`, for the documented fast paths in `src/store/bulk.ts` only
 * (outside `src/store/` nothing may depend on the dialect).
 */
export type NativeHandle =
  | { readonly dialect: 'sqlite'; readonly database: SqliteDatabase.Database }
  | { readonly dialect: 'postgres'; readonly pool: pg.Pool };

/** The database handle every capability receives from the composition root. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Internal: the raw driver handle; use the functions of `bulk.ts` rather than this. */
  readonly native: NativeHandle;
  /**
   * Applies pending migrations (all, or up to and including `upTo`: a migration's own test starts
   * from the schema before it); never throws for a failed migration, reports it instead.
   */
  migrate(upTo?: string): Promise<{ reports: MigrationReport[]; error?: Error }>;
  /**
   * Takes an exclusive, transaction-scoped lock named `name`; held until the transaction ends.
   * PostgreSQL: an advisory lock, so several nodes can share one database. SQLite: the
   * database write lock, taken at once so that a reader cannot be upgraded into a deadlock.
   */
  lock(trx: Transaction<Database>, name: string): Promise<void>;
  /** The names of the tables in the database, Kysely's migration tables included. */
  tableNames(): Promise<string[]>;
  /**
   * Drops these tables (those a failed `pulsegate init` created, say), with what depends on them.
   * Names must be plain identifiers.
   */
  dropTables(names: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * WAL pages after which a committing connection checkpoints by itself. Normally the checkpoint
 * worker below keeps the WAL short; this is the backstop if it falls behind or is gone.
 */
const WAL_AUTOCHECKPOINT_PAGES = 16_384;
/** How often the checkpoint worker copies committed WAL pages into the database file. */
const CHECKPOINT_EVERY_MS = 200;

/**
 * SQLite checkpoints on a worker thread with its own connection. SQLite's automatic checkpoint
 * runs inside the COMMIT that crosses `wal_autocheckpoint` (1,000 pages by default), on the
 * event loop thread (better-sqlite3 is synchronous): under ingest load nearly every group commit
 * dirtied that many pages, so each one also copied the WAL into the database file and fsynced
 * it, with every connection waiting. A PASSIVE checkpoint never blocks writers or readers, so
 * the worker can run it next to them on another core. Plain JS (an eval worker), builtins from
 * `process.getBuiltinModule` and the driver from its resolved path, as in range-worker.ts.
 */
const CHECKPOINTER = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const Database = process.getBuiltinModule('node:module').createRequire(workerData.driver)(workerData.driver);
const db = new Database(workerData.file);
db.pragma('synchronous = FULL');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const timer = setInterval(checkpoint, workerData.everyMs);
parentPort.once('message', () => { clearInterval(timer); checkpoint(); db.close(); parentPort.close(); });
`;

/** Starts the checkpoint worker; `stop` runs a last checkpoint and waits for it to exit. */
function startCheckpointer(file: string): { stop(): Promise<void> } {
  const worker = new Worker(CHECKPOINTER, {
    eval: true,
    workerData: { file, driver: require.resolve('better-sqlite3'), everyMs: CHECKPOINT_EVERY_MS },
  });
  worker.unref();
  // A failed checkpointer only means the connection checkpoints by itself again (backstop).
  worker.on('error', () => {});
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      // Referenced again so the process waits for the last checkpoint and close.
      worker.ref();
      worker.postMessage('close');
      await exited;
    },
  };
}

/** PostgreSQL type OIDs whose default text form we parse to JS numbers (bigint, numeric counts). */
const PG_INT8 = 20;

function postgresTypes(): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: string) => {
      if (oid === PG_INT8) return (value: string) => Number(value);
      return pg.types.getTypeParser(oid, format as 'text');
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

/** A 31-bit key for pg_advisory_xact_lock derived from the lock name (FNV-1a). */
function advisoryKey(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash & 0x7fffffff;
}

function migrationProvider(dialect: DialectName): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return Object.fromEntries(
        Object.entries(MIGRATIONS).map(([name, m]) => [
          name,
          { up: (db: Kysely<unknown>) => m.up(db, dialect) } satisfies Migration,
        ]),
      );
    },
  };
}

function toReport(result: MigrationResult): MigrationReport {
  return {
    name: result.migrationName,
    status: result.status === 'Success' ? 'applied' : result.status === 'Error' ? 'failed' : 'not-run',
  };
}

/** Opens the database. SQLite runs in WAL mode with full fsync on commit (durable appends). */
export function openStore(location: StoreLocation): Store {
  let dialect: DialectName;
  let db: Kysely<Database>;
  let native: NativeHandle;
  let checkpointer: { stop(): Promise<void> } | undefined;
  if ('postgresUrl' in location) {
    dialect = 'postgres';
    const pool = new pg.Pool({
      connectionString: location.postgresUrl,
      max: location.poolSize ?? 10,
      types: postgresTypes(),
    });
    // A pool error on an idle client must not crash the process; the next query reports it.
    pool.on('error', () => {});
    native = { dialect: 'postgres', pool };
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    if (location.sqliteFile !== ':memory:') {
      mkdirSync(dirname(location.sqliteFile), { recursive: true });
      ownerOnly(location.sqliteFile);
    }
    const sqlite = new SqliteDatabase(location.sqliteFile);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    // Zero freed pages, so shredded key material does not linger in the file.
    sqlite.pragma('secure_delete = ON');
    if (location.sqliteFile !== ':memory:') {
      sqlite.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      checkpointer = startCheckpointer(location.sqliteFile);
    }
    native = { dialect: 'sqlite', database: sqlite };
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  }

  return {
    db,
    dialect,
    native,
    async migrate(upTo) {
      const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
      const before = new Set((await migrator.getMigrations()).filter((m) => m.executedAt).map((m) => m.name));
      const { error, results } =
        upTo === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(upTo);
      const reports: MigrationReport[] = [...before].map((name) => ({ name, status: 'already-applied' }));
      for (const r of results ?? []) reports.push(toReport(r));
      if (error) {
        return {
          reports,
          error: new PulsegateError('STORE_MIGRATION_FAILED', undefined, { cause: error }),
        };
      }
      return { reports };
    },
    async lock(trx, name) {
      if (dialect === 'postgres') {
        await sql`select pg_advisory_xact_lock(${advisoryKey(name)})`.execute(trx);
      } else {
        // Any write takes SQLite's RESERVED lock for the rest of the transaction.
        await sql`insert into settings (name, value) values (${`lock:${name}`}, '1')
                  on conflict (name) do update set value = excluded.value`.execute(trx);
      }
    },
    async tableNames() {
      if (dialect === 'postgres') {
        // This connection's schema only: a table of the same name elsewhere is not ours.
        const { rows } = await sql<{ name: string }>`select table_name as name from information_schema.tables
          where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(db);
        return rows.map((r) => r.name);
      }
      const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
      return tables.map((t) => t.name);
    },
    async dropTables(names) {
      if (names.length === 0) return;
      const idents = names.map((n) => {
        if (!/^[a-z_][a-z0-9_]*$/.test(n)) throw new TypeError(`not a plain table name: ${n}`);
        return sql.id(n);
      });
      if (dialect === 'postgres') {
        await sql`drop table if exists ${sql.join(idents)} cascade`.execute(db);
        return;
      }
      // SQLite has no cascade: with foreign keys off, the order does not matter.
      await sql`pragma foreign_keys = off`.execute(db);
      try {
        for (const id of idents) await sql`drop table if exists ${id}`.execute(db);
      } finally {
        await sql`pragma foreign_keys = on`.execute(db);
      }
    },
    async close() {
      const stopping = checkpointer;
      checkpointer = undefined;
      await stopping?.stop();
      await db.destroy();
    },
  };
}

/** A URL safe to print: the password is replaced. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable database url)';
  }
}

/**
 * The SQLite file (password hashes, the audit log, sealed data) readable by its owner only,
 * whatever the umask or the data directory's mode: created 0600 before SQLite opens it (its
 * `-wal` and `-shm` files take the database's mode), and a file left wider by an earlier
 * version is narrowed, with its companions.
 */
function ownerOnly(file: string): void {
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const path of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(path) && (statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
}
