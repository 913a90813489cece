/**
 * Test helper: a comparable picture of everything stored, for "bad input leaves stored data
 * unchanged" assertions. Each table maps to its row count and a digest of its rows, so a test
 * that compares two pictures names the table that changed (a data key created, a key use
 * reserved, a row written). Works on every dialect through Kysely's introspection.
 */
import { createHash } from 'node:crypto';
import type { Store } from '../store/index.js';

/** The audit log grows on refusals by design (denials are audited): left out unless asked for. */
const AUDIT_TABLES = ['audit_entries', 'audit_checkpoints'];

/** JSON of a row with bytes as hex (the replacer sees the raw value: Buffer#toJSON has run by then). */
function text(row: Record<string, unknown>): string {
  return JSON.stringify(row, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = key === '' ? v : this[key];
    if (typeof raw === 'bigint') return raw.toString();
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('hex');
    return v;
  });
}

/** `{ table: "<rows>:<digest>" }` for every table but `skip` (by default the audit tables). */
export async function storedRows(
  store: Store,
  options: { skip?: readonly string[] } = {},
): Promise<Record<string, string>> {
  const skip = new Set(options.skip ?? AUDIT_TABLES);
  const tables = (await store.db.introspection.getTables()).map((t) => t.name).filter((n) => !skip.has(n));
  const out: Record<string, string> = {};
  for (const name of tables.sort()) {
    // Table names come from the database itself, never from input.
    const rows = await store.db
      .selectFrom(name as never)
      .selectAll()
      .execute();
    // Row order is not defined without ORDER BY: sort the serialised rows instead.
    const lines = rows.map((r) => text(r as Record<string, unknown>)).sort();
    out[name] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}
