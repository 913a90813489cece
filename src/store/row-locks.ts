import type { Store } from './store.js';

/**
 * Row locks for a read-then-write inside a transaction. PostgreSQL: `FOR UPDATE`, so the rows
 * stay locked (without writing them) until the transaction ends, on every node. SQLite has no
 * row locks and needs none: a write transaction excludes every other writer of the file, and an
 * installation's SQLite file has one process.
 */
export function forUpdate<Q extends { forUpdate(): Q }>(store: Store, query: Q): Q {
  return store.dialect === 'postgres' ? query.forUpdate() : query;
}
