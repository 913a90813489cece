import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../dialect.js';

/** How long a token made before expiry was required stays valid after the upgrade. */
export const LEGACY_TOKEN_GRACE_MS = 30 * 86_400_000;

/**
 * API tokens made before every token had to expire (`expires_at` NULL) would stay valid forever.
 * They get the default lifetime, counted from the upgrade: their holders have 30 days to make
 * new ones (`pulsegate token create`), and no token is cut off by the upgrade itself. Revoked
 * tokens stay as they are.
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName, now = Date.now()): Promise<void> {
  await sql`update api_tokens set expires_at = ${now + LEGACY_TOKEN_GRACE_MS}
            where expires_at is null and revoked_at is null`.execute(db);
}
