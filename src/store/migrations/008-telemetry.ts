import { type Kysely, sql } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** Encrypted telemetry readings, per-device ingest state (replay protection) and patient bindings. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  // The primary key doubles as the device+time index. SQLite stores the table in that order
  // (WITHOUT ROWID), which saves a second b-tree on the hot insert path.
  let readings = db.schema
    .createTable('telemetry_readings')
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('observed_at', 'bigint', (c) => c.notNull())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .addColumn('patient_index', 'text')
    .addColumn('key_period', 'text', (c) => c.notNull())
    .addColumn('vitals', 'text', (c) => c.notNull())
    .addColumn('flagged', 'integer', (c) => c.notNull())
    .addColumn('sealed', blob, (c) => c.notNull())
    .addPrimaryKeyConstraint('telemetry_readings_pk', ['device_id', 'observed_at', 'seq']);
  if (dialect === 'sqlite') readings = readings.modifyEnd(sql`without rowid`);
  await readings.execute();
  // Patient queries; unbound readings (null) stay out of this index.
  await db.schema
    .createIndex('telemetry_readings_patient')
    .on('telemetry_readings')
    .columns(['patient_index', 'observed_at'])
    .where(sql.ref('patient_index'), 'is not', null)
    .execute();
  // Retention deletes by time across devices; times grow, so this index only appends.
  await db.schema
    .createIndex('telemetry_readings_time')
    .on('telemetry_readings')
    .column('observed_at')
    .execute();

  await db.schema
    .createTable('device_ingest_state')
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('last_seq', 'bigint', (c) => c.notNull())
    .addColumn('last_ts', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('patient_bindings')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('device_id', 'text', (c) => c.notNull())
    .addColumn('patient_index', 'text', (c) => c.notNull())
    .addColumn('patient_sealed', blob, (c) => c.notNull())
    .addColumn('bound_from', 'bigint', (c) => c.notNull())
    .addColumn('bound_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('patient_bindings_device')
    .on('patient_bindings')
    .columns(['device_id', 'bound_from'])
    .execute();
  await db.schema
    .createIndex('patient_bindings_patient')
    .on('patient_bindings')
    .columns(['patient_index', 'bound_from'])
    .execute();
}
