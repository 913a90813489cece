import { type Kysely, sql } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/**
 * Patients registered through the FHIR API (ADT-style create/update), sealed, keyed by blind index;
 * and, on PostgreSQL, the patient index of telemetry widened to the FHIR search's keyset order.
 */
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
  // FHIR searches page a patient's readings by (observed_at, device_id, seq). SQLite's index on a
  // WITHOUT ROWID table already ends with the primary key columns, so it serves that order as is;
  // PostgreSQL's does not and would sort every matching row, so there the index is replaced by
  // one that holds the whole key (same number of indexes on the ingest path).
  if (dialect === 'postgres') {
    await db.schema
      .createIndex('telemetry_readings_patient_keyset')
      .on('telemetry_readings')
      .columns(['patient_index', 'observed_at', 'device_id', 'seq'])
      .where(sql.ref('patient_index'), 'is not', null)
      .execute();
    await db.schema.dropIndex('telemetry_readings_patient').execute();
  }
}
