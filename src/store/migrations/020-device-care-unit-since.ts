import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * When a device's care unit last changed (`care_unit_since`, Unix ms). A reading keeps its
 * device's care unit only if it was observed after that: a monitor that buffered readings in the
 * ICU and uploads them after it was moved to a ward must not hand the ward those ICU readings,
 * so such a reading keeps no unit (visible only to callers who see every unit). Devices stored
 * before this migration get null: the time of their last move is unknown, and their readings are
 * judged as before.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable('devices').addColumn('care_unit_since', 'bigint').execute();
}
