import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Each reading keeps the care unit its device was in when the reading was stored, so that a
 * care-unit limited reader sees only readings taken in its units: a device moved from ICU to a
 * ward must not show the ward its ICU history (other patients, another unit).
 *
 * Rows stored before this migration get the care unit their device has now: the inventory keeps
 * no history of moves, so that is the best knowledge there is. A device moved before the upgrade
 * therefore carries its older readings into its present unit; rows of a deleted device, or of a
 * device without a care unit, stay null and are visible only to callers who see every unit.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  // Re-runnable: SQLite runs a migration outside a transaction, so a start-up stopped during the
  // backfill leaves the column added but the migration unrecorded; the next start finishes it.
  const tables = await db.introspection.getTables();
  const readings = tables.find((t) => t.name === 'telemetry_readings');
  if (!readings?.columns.some((c) => c.name === 'care_unit'))
    await db.schema.alterTable('telemetry_readings').addColumn('care_unit', 'text').execute();
  await sql`update telemetry_readings
    set care_unit = (select d.care_unit from devices d where d.id = telemetry_readings.device_id)
    where care_unit is null`.execute(db);
}
