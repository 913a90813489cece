import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/**
 * A break-glass reason is free text that may name a patient: it moves into `reason_sealed`
 * (envelope encrypted by the access capability) and `reason` keeps an empty string. Rows written
 * before this migration are sealed by the access service when it starts (a migration holds no keys).
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema.alterTable('break_glass').addColumn('reason_sealed', columnTypes(dialect).blob).execute();
}
