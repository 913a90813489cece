import type { Kysely } from 'kysely';
import { columnTypes, type DialectName } from '../dialect.js';

/**
 * A person's reason for acknowledging, resolving or dismissing an alert is free text that may name
 * a patient: it moves into `reason_sealed` (envelope encrypted under the alert data key of
 * `reason_period`, shredded by retention with the alert's other patient data). `reason` keeps
 * only system text (escalation levels). Rows written before this migration are sealed by the
 * monitoring service when it starts (a migration holds no keys).
 */
export async function up(db: Kysely<unknown>, dialect: DialectName): Promise<void> {
  await db.schema.alterTable('alert_history').addColumn('reason_sealed', columnTypes(dialect).blob).execute();
  await db.schema.alterTable('alert_history').addColumn('reason_period', 'text').execute();
}
