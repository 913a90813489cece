import { randomBytes } from 'node:crypto';
import { PulsegateError } from '../errors.js';
import type { Database, Kysely, Store, Transaction } from '../store/index.js';
import { deriveMasterContext, type MasterContext } from './master-context.js';

/** Rows of the `settings` table owned by the keys capability. */
export const SETTING = {
  kcv: 'keys.kcv',
  masterKeyId: 'keys.master_key_id',
  indexRoot: 'keys.index_root',
} as const;

/** Name of the lock taken by every change to key rows that depends on the current master key. */
export const KEYS_LOCK = 'keys';

/** The AAD binding the wrapped blind-index root to its purpose. */
export const INDEX_ROOT_AAD = 'settings/keys.index_root';

type Db = Kysely<Database> | Transaction<Database>;

/** The stored key settings, or undefined values where absent. */
export async function readKeySettings(db: Db): Promise<Partial<Record<keyof typeof SETTING, string>>> {
  const rows = await db
    .selectFrom('settings')
    .select(['name', 'value'])
    .where('name', 'in', Object.values(SETTING))
    .execute();
  const byName = new Map(rows.map((r) => [r.name, r.value]));
  return {
    kcv: byName.get(SETTING.kcv),
    masterKeyId: byName.get(SETTING.masterKeyId),
    indexRoot: byName.get(SETTING.indexRoot),
  };
}

/**
 * Checks a master key against an installation before anything changes it (`serve` runs pending
 * migrations only after this): KEY_MASTER_WRONG when the stored key check value does not match.
 * A database without keys yet (no settings table or no check value) is left to the later checks.
 */
export async function checkMasterKeyFirst(store: Store, masterKey: Buffer): Promise<void> {
  const tables = await store.db.introspection.getTables();
  if (!tables.some((t) => t.name === 'settings')) return;
  const { kcv } = await readKeySettings(store.db);
  if (kcv !== undefined && !deriveMasterContext(masterKey).matches(Buffer.from(kcv, 'base64url')))
    throw new PulsegateError('KEY_MASTER_WRONG');
}

/** Throws KEY_MASTER_MISSING (not initialised) or KEY_MASTER_WRONG unless `ctx` is the stored master key. */
export async function assertMasterCurrent(db: Db, ctx: MasterContext): Promise<void> {
  const { kcv } = await readKeySettings(db);
  if (kcv === undefined) throw new PulsegateError('KEY_MASTER_MISSING', 'The keys were never initialised');
  if (!ctx.matches(Buffer.from(kcv, 'base64url'))) throw new PulsegateError('KEY_MASTER_WRONG');
}

/**
 * Called once by `pulsegate init` after migrations: stores the key check value, the master key id
 * and the wrapped blind-index root. Repeating it with the same master key changes nothing; with a
 * different one it is `INSTALL_EXISTS`.
 */
export async function initializeKeys(store: Store, masterKey: Buffer): Promise<void> {
  const ctx = deriveMasterContext(masterKey);
  await store.db.transaction().execute(async (trx) => {
    await store.lock(trx, KEYS_LOCK);
    const existing = await readKeySettings(trx);
    if (existing.kcv !== undefined) {
      if (ctx.matches(Buffer.from(existing.kcv, 'base64url'))) return;
      throw new PulsegateError('INSTALL_EXISTS', 'The keys were already initialised with another master key');
    }
    const root = randomBytes(32);
    const wrappedRoot = ctx.wrap('index-root', root, INDEX_ROOT_AAD);
    root.fill(0);
    await trx
      .insertInto('settings')
      .values([
        { name: SETTING.kcv, value: ctx.kcv.toString('base64url') },
        { name: SETTING.masterKeyId, value: ctx.id },
        { name: SETTING.indexRoot, value: wrappedRoot.toString('base64url') },
      ])
      .execute();
  });
}

/**
 * Checks `ctx` against the stored KCV (constant time) and unwraps the blind-index root.
 * KEY_MASTER_MISSING when the installation has no KCV, KEY_MASTER_WRONG when it does not match.
 */
export async function openKeySettings(db: Db, ctx: MasterContext): Promise<{ indexRoot: Buffer }> {
  const settings = await readKeySettings(db);
  if (settings.kcv === undefined || settings.indexRoot === undefined) {
    throw new PulsegateError('KEY_MASTER_MISSING', 'The keys were never initialised');
  }
  if (!ctx.matches(Buffer.from(settings.kcv, 'base64url'))) throw new PulsegateError('KEY_MASTER_WRONG');
  return {
    indexRoot: ctx.unwrap('index-root', Buffer.from(settings.indexRoot, 'base64url'), INDEX_ROOT_AAD),
  };
}
