import { PulsegateError } from '../errors.js';
import type { Store } from '../store/index.js';
import { dataKeyAad } from './data-keys.js';
import { INDEX_ROOT_AAD, KEYS_LOCK, readKeySettings, SETTING } from './key-settings.js';
import type { MasterContext } from './master-context.js';
import { signingKeyAad } from './signing-keys.js';

const PAGE = 500;

/**
 * Rewraps every unshredded data key, every signing key's private part and the blind-index root
 * from `from` to `to`, and replaces the key check value, all in one transaction under the keys
 * lock: either the whole installation moves to the new master key or nothing changes. Records are
 * not re-encrypted (their data keys do not change). Returns the number of keys rewrapped.
 */
export async function rewrapAll(store: Store, from: MasterContext, to: MasterContext): Promise<number> {
  return store.db.transaction().execute(async (trx) => {
    await store.lock(trx, KEYS_LOCK);
    const settings = await readKeySettings(trx);
    if (settings.kcv === undefined || settings.indexRoot === undefined)
      throw new PulsegateError('KEY_MASTER_MISSING');
    if (!from.matches(Buffer.from(settings.kcv, 'base64url'))) throw new PulsegateError('KEY_MASTER_WRONG');
    let rewrapped = 0;

    for (let after = ''; ; ) {
      const rows = await trx
        .selectFrom('data_keys')
        .select(['id', 'purpose', 'subject', 'period', 'wrapped', 'master_key_id'])
        .where('status', '!=', 'shredded')
        .where('id', '>', after)
        .orderBy('id')
        .limit(PAGE)
        .execute();
      for (const row of rows) {
        if (row.master_key_id !== from.id) throw new PulsegateError('KEY_MASTER_WRONG');
        const aad = dataKeyAad(row.id, row);
        const secret = from.unwrap('data-key', row.wrapped, aad);
        const wrapped = to.wrap('data-key', secret, aad);
        secret.fill(0);
        await trx
          .updateTable('data_keys')
          .set({ wrapped, master_key_id: to.id })
          .where('id', '=', row.id)
          .where('status', '!=', 'shredded')
          .execute();
        rewrapped++;
      }
      if (rows.length < PAGE) break;
      after = rows[rows.length - 1]!.id;
    }

    const signing = await trx
      .selectFrom('signing_keys')
      .select(['kid', 'use', 'alg', 'private_enc', 'master_key_id'])
      .execute();
    for (const row of signing) {
      if (row.master_key_id !== from.id) throw new PulsegateError('KEY_MASTER_WRONG');
      const der = from.unwrap('signing-key', row.private_enc, signingKeyAad(row));
      const privateEnc = to.wrap('signing-key', der, signingKeyAad(row));
      der.fill(0);
      await trx
        .updateTable('signing_keys')
        .set({ private_enc: privateEnc, master_key_id: to.id })
        .where('kid', '=', row.kid)
        .execute();
      rewrapped++;
    }

    const root = from.unwrap('index-root', Buffer.from(settings.indexRoot, 'base64url'), INDEX_ROOT_AAD);
    const newSettings = [
      [SETTING.indexRoot, to.wrap('index-root', root, INDEX_ROOT_AAD).toString('base64url')],
      [SETTING.kcv, to.kcv.toString('base64url')],
      [SETTING.masterKeyId, to.id],
    ] as const;
    root.fill(0);
    for (const [name, value] of newSettings) {
      await trx.updateTable('settings').set({ value }).where('name', '=', name).execute();
    }
    return rewrapped;
  });
}
