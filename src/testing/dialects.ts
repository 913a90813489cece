import { describe } from 'vitest';
import { DIALECTS, type DialectFactory, postgresAvailable } from './stores.js';

const pgUp = await postgresAvailable();

/**
 * `describeEachDialect('audit log', (open) => { ... })` declares the suite once per real
 * database. PostgreSQL is skipped (with a printed reason) only outside CI.
 */
export function describeEachDialect(
  title: string,
  body: (open: DialectFactory, dialect: string) => void,
): void {
  for (const d of DIALECTS) {
    const run = d.name === 'postgres' && !pgUp ? describe.skip : describe;
    run(`${title} [${d.name}]`, () => body(d.open, d.name));
  }
}
