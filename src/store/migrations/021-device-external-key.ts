import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { base32 } from '../../device-key.js';
import type { DialectName } from '../dialect.js';

/**
 * `devices.external_key`: the key of devices whose id cannot stand in a FHIR logical id (it holds
 * `_` or is longer than 39 characters), null for the others (see devices/external-key.ts, whose
 * rule this migration repeats: a migration must not change when that module does; only the
 * base32 encoding, which cannot change, is shared). Unique.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  // Re-runnable (SQLite runs a migration outside a transaction): the column may exist already.
  const tables = await db.introspection.getTables();
  const devices = tables.find((t) => t.name === 'devices');
  if (!devices?.columns.some((c) => c.name === 'external_key'))
    await db.schema.alterTable('devices').addColumn('external_key', 'text').execute();
  const rows = await sql<{ id: string }>`select id from devices where external_key is null`.execute(db);
  for (const { id } of rows.rows) {
    if (/^[A-Za-z0-9][A-Za-z0-9.-]{2,38}$/.test(id)) continue;
    const key = `--${base32(createHash('sha256').update(id).digest()).slice(0, 26)}`;
    await sql`update devices set external_key = ${key} where id = ${id}`.execute(db);
  }
  await sql`create unique index if not exists devices_external_key on devices (external_key)`.execute(db);
}
