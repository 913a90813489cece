import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/** Monitoring: alerts with their history, incidents, suppression windows and learned device baselines. */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  const { blob } = columnTypes(dialect);
  await db.schema
    .createTable('alerts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('device_id', 'text')
    .addColumn('care_unit', 'text')
    .addColumn('patient_index', 'text')
    .addColumn('evidence', 'text')
    .addColumn('sealed', blob)
    .addColumn('key_period', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('first_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
    .addColumn('incident_id', 'text')
    .addColumn('escalation_level', 'integer', (c) => c.notNull())
    .addColumn('escalated_at', 'bigint')
    .addColumn('dedup_key', 'text', (c) => c.notNull())
    .addColumn('open_key', 'text', (c) => c.unique())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('alerts_first_seen').on('alerts').columns(['first_seen_at', 'id']).execute();
  await db.schema.createIndex('alerts_state').on('alerts').columns(['state', 'severity']).execute();
  await db.schema.createIndex('alerts_device').on('alerts').columns(['device_id', 'last_seen_at']).execute();
  await db.schema.createIndex('alerts_incident').on('alerts').column('incident_id').execute();
  await db.schema.createIndex('alerts_patient').on('alerts').column('patient_index').execute();
  await db.schema
    .createTable('alert_history')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('alert_id', 'text', (c) => c.notNull())
    .addColumn('change', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('alert_history_alert')
    .on('alert_history')
    .columns(['alert_id', 'at'])
    .execute();
  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('group_key', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('alert_count', 'integer', (c) => c.notNull())
    .addColumn('device_ids', 'text', (c) => c.notNull())
    .addColumn('opened_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incidents_group').on('incidents').columns(['group_key', 'state']).execute();
  await db.schema.createIndex('incidents_opened').on('incidents').columns(['opened_at', 'id']).execute();
  await db.schema
    .createTable('alert_suppressions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('rule', 'text')
    .addColumn('device_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('alert_suppressions_expiry')
    .on('alert_suppressions')
    .column('expires_at')
    .execute();
  await db.schema
    .createTable('device_baselines')
    .addColumn('device_id', 'text', (c) => c.primaryKey())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}
