import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** Patients registered through the FHIR API (ADT-style create/update), sealed, keyed by blind index. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  await db.schema
    .createTable('patient_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('sealed', blob, (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('patient_records_updated')
    .on('patient_records')
    .columns(['updated_at', 'id'])
    .execute();
}
