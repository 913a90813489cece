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
  await db.schema.alterTable('telemetry_readings').addColumn('care_unit', 'text').execute();
  await sql`update telemetry_readings
    set care_unit = (select d.care_unit from devices d where d.id = telemetry_readings.device_id)`.execute(
    db,
  );
}
