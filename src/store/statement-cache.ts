import type SqliteDatabase from 'better-sqlite3';

/** What Kysely's SQLite dialect drives: `prepare` and `close`. */
export interface CachingDatabase {
  prepare(sql: string): SqliteDatabase.Statement;
  close(): void;
}

/** Statements kept per connection; the hot queries of a server are a few dozen SQL texts. */
export const STATEMENT_CACHE_SIZE = 256;
/** Longer SQL (bulk inserts with one placeholder group per row) varies by batch size: not kept. */
const MAX_CACHED_SQL = 4096;

/**
 * An SQLite connection for Kysely that reuses prepared statements by their SQL text (least
 * recently used first out). Kysely prepares every query afresh, and compiling the SQL cost more
 * than running it for the small indexed reads of a request (a FHIR search, the token's client
 * row). A statement still iterating (a streamed query) is never handed out twice: that caller
 * gets a fresh one. Parameters are bound on each run, so reuse shares no data between queries.
 */
export function withStatementCache(
  database: SqliteDatabase.Database,
  capacity = STATEMENT_CACHE_SIZE,
): CachingDatabase {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare(sql: string) {
      if (sql.length > MAX_CACHED_SQL) return database.prepare(sql);
      const hit = cache.get(sql);
      if (hit) {
        if (hit.busy) return database.prepare(sql);
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const statement = database.prepare(sql);
      cache.set(sql, statement);
      if (cache.size > capacity) cache.delete(cache.keys().next().value!);
      return statement;
    },
  };
}
