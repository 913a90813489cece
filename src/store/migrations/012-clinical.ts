import type { Kysely } from 'kysely';

/** Clinical monitoring: per-patient NEWS2 settings (SpO2 scale), keyed by blind index. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('clinical_patient_settings')
    .addColumn('patient_index', 'text', (c) => c.primaryKey())
    .addColumn('spo2_scale', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .execute();
}
