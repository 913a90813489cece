import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/** The device inventory. */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('vendor', 'text', (c) => c.notNull())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('serial', 'text')
    .addColumn('firmware_version', 'text')
    .addColumn('care_unit', 'text')
    .addColumn('bed', 'text')
    .addColumn('ip_address', 'text')
    .addColumn('mac_address', 'text')
    .addColumn('owner', 'text')
    .addColumn('lifecycle', 'text', (c) => c.notNull())
    .addColumn('certificate_status', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('devices_care_unit').on('devices').columns(['care_unit', 'id']).execute();
  await db.schema.createIndex('devices_type').on('devices').columns(['type', 'lifecycle']).execute();
}
