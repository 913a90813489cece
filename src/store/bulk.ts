/**
 * Fast paths for bulk writes and ordered scans, below Kysely. Building a Kysely operation tree
 * per value and parsing rows into objects dominated the audit log's profile (GC and the query
 * path); these functions run the same SQL shape straight on the driver. They are the only place
 * outside `store.ts` that knows the dialect.
 */
import { CompiledQuery } from 'kysely';
import type { Database } from './schema.js';
import type { Store } from './store.js';

/** A column of a bulk insert and its SQL type (PostgreSQL needs it to decode the array). */
export interface BulkColumn {
  readonly name: string;
  readonly type: 'bigint' | 'text' | 'bytea';
}

/** A row value as the drivers bind it. */
export type BulkValue = number | string | Uint8Array | null;

/** The transaction (or database) a bulk insert runs in; it must belong to `store`. */
export interface Executor {
  executeQuery: Store['db']['executeQuery'];
}

// PostgreSQL type OIDs of array elements (pg_type.h).
const OID = { bigint: 20, text: 25, bytea: 17 } as const;
const IDENT = /^[a-z_][a-z0-9_]*$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new TypeError(`not a plain SQL identifier: ${name}`);
  return name;
}

/**
 * One column as a PostgreSQL binary array (array_send format). pg sends a Buffer parameter in
 * binary, so the server decodes it with array_recv: no text escaping on either side, which was
 * most of the cost of the text-array form (pg's prepareValue is ~6 us per JSON string).
 */
function binaryArray(type: BulkColumn['type'], rows: readonly (readonly BulkValue[])[], col: number): Buffer {
  let size = 20;
  let hasNull = 0;
  for (const row of rows) {
    const v = row[col];
    if (v === null || v === undefined) hasNull = 1;
    else
      size += type === 'bigint' ? 8 : typeof v === 'string' ? Buffer.byteLength(v) : (v as Uint8Array).length;
    size += 4;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeInt32BE(1, 0); // dimensions
  out.writeInt32BE(hasNull, 4);
  out.writeInt32BE(OID[type], 8);
  out.writeInt32BE(rows.length, 12);
  out.writeInt32BE(1, 16); // lower bound
  let at = 20;
  for (const row of rows) {
    const v = row[col];
    if (v === null || v === undefined) {
      out.writeInt32BE(-1, at);
      at += 4;
    } else if (type === 'bigint') {
      out.writeInt32BE(8, at);
      out.writeBigInt64BE(BigInt(v as number), at + 4);
      at += 12;
    } else if (typeof v === 'string') {
      const n = out.write(v, at + 4, 'utf8');
      out.writeInt32BE(n, at);
      at += 4 + n;
    } else {
      const bytes = v as Uint8Array;
      out.writeInt32BE(bytes.length, at);
      out.set(bytes, at + 4);
      at += 4 + bytes.length;
    }
  }
  return out;
}

/** SQLite rows inserted between two event-loop turns (about 3 ms of work). */
const SQLITE_SLICE = 256;

const sqliteInserts = new WeakMap<object, Map<string, { run(...values: unknown[]): unknown }>>();

/**
 * Inserts `rows` (values in `columns` order) into `table` inside the open transaction `trx` of
 * `store`. SQLite: one cached prepared statement run per row on the same connection (the
 * transaction is the connection's). PostgreSQL: one `INSERT … SELECT FROM unnest(…)` with a
 * binary array per column, on the transaction's connection.
 */
export async function bulkInsert<T extends keyof Database & string>(
  store: Store,
  trx: Executor,
  table: T,
  columns: readonly BulkColumn[],
  rows: readonly (readonly BulkValue[])[],
): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map((c) => ident(c.name)).join(', ');
  const native = store.native;
  if (native.dialect === 'sqlite') {
    let cache = sqliteInserts.get(native.database);
    if (!cache) {
      cache = new Map();
      sqliteInserts.set(native.database, cache);
    }
    const key = `${ident(table)}(${names})`;
    let stmt = cache.get(key);
    if (!stmt) {
      stmt = native.database.prepare(`insert into ${key} values (${columns.map(() => '?').join(', ')})`);
      cache.set(key, stmt);
    }
    for (let i = 0; i < rows.length; i++) {
      // A group commit of thousands of rows would hold the event loop for tens of ms (SQLite
      // answers synchronously): every slice, other work (socket reads, alerts, PUBACKs) gets a
      // turn. The caller's transaction stays open across the turn, and no other SQL runs on the
      // connection meanwhile (its transaction holds the connection).
      if (i > 0 && i % SQLITE_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      stmt.run(...rows[i]!);
    }
    return;
  }
  const params = columns.map((c, i) => binaryArray(c.type, rows, i));
  const arrays = columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(', ');
  await trx.executeQuery(
    CompiledQuery.raw(`insert into ${ident(table)} (${names}) select * from unnest(${arrays})`, params),
  );
}

/** A column to scan: its name, or `{ hex: name }` for a binary column as a lower-case hex string. */
export type ScanColumn = string | { readonly hex: string };

/**
 * Rows of `table` with `key` >= `from`, in `key` order, as arrays of `columns`, in pages of
 * `batch` rows (keyset paging; each page is one query, so there is no snapshot across pages).
 * Only the requested columns are read. SQLite: a raw prepared statement; PostgreSQL: pg's
 * array row mode. Integers come back as numbers and binary columns as Buffers on both, or as
 * hex strings when asked (a short string is much cheaper for the drivers to make than a Buffer).
 */
export async function* scanOrdered<T extends keyof Database & string>(
  store: Store,
  table: T,
  key: string,
  columns: readonly ScanColumn[],
  from: number,
  batch: number,
): AsyncGenerator<unknown[][]> {
  const native = store.native;
  const list = columns
    .map((c) => {
      if (typeof c === 'string') return ident(c);
      return native.dialect === 'sqlite' ? `lower(hex(${ident(c.hex)}))` : `encode(${ident(c.hex)}, 'hex')`;
    })
    .join(', ');
  const text = `select ${list} from ${ident(table)} where ${ident(key)} >= ? order by ${key} limit ${Math.max(1, Math.floor(batch))}`;
  const keyAt = columns.indexOf(key);
  if (keyAt < 0) throw new TypeError('scanOrdered needs the key among the columns');
  let next = from;
  if (native.dialect === 'sqlite') {
    const stmt = native.database.prepare(text).raw();
    for (;;) {
      const rows = stmt.all(next) as unknown[][];
      if (rows.length === 0) return;
      next = Number(rows[rows.length - 1]![keyAt]) + 1;
      yield rows;
    }
  }
  const pgText = text.replace('?', '$1');
  for (;;) {
    const { rows } = await native.pool.query<unknown[]>({ text: pgText, values: [next], rowMode: 'array' });
    if (rows.length === 0) return;
    next = Number(rows[rows.length - 1]![keyAt]) + 1;
    yield rows;
  }
}
