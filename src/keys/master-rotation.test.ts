import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { bytes, codeOf, type KeyFixture, keyFixture } from './key-fixture.js';
import { openKeyService } from './key-service.js';
import { initializeKeys } from './key-settings.js';
import { generateMasterKey } from './master-key.js';

const scope = { purpose: 'telemetry', subject: 'bi:patient-1', period: '2026-11' };

describeEachDialect('keys: master key', (open) => {
  let f: KeyFixture | undefined;
  let bare: TestStore | undefined;
  afterEach(async () => {
    await f?.cleanup();
    await bare?.cleanup();
    f = bare = undefined;
  });

  it('refuses to open without a key check value: KEY_MASTER_MISSING', async () => {
    bare = await open();
    const opening = openKeyService({
      store: bare.store,
      masterKey: generateMasterKey(),
      dataKeyMaxUses: 100,
    });
    expect(await codeOf(opening)).toBe('KEY_MASTER_MISSING');
  });

  it('refuses to open with another master key: KEY_MASTER_WRONG', async () => {
    f = await keyFixture(open);
    const opening = openKeyService({ store: f.t.store, masterKey: generateMasterKey(), dataKeyMaxUses: 100 });
    expect(await codeOf(opening)).toBe('KEY_MASTER_WRONG');
  });

  it('refuses bad options before touching the database', async () => {
    f = await keyFixture(open);
    const { store } = f.t;
    expect(await codeOf(openKeyService({ store, masterKey: Buffer.alloc(31), dataKeyMaxUses: 100 }))).toBe(
      'KEY_MASTER_MISSING',
    );
    expect(await codeOf(openKeyService({ store, masterKey: f.masterKey, dataKeyMaxUses: 2 ** 32 }))).toBe(
      'CONFIG_INVALID',
    );
  });

  it('initialises once: again with the same key is a no-op, with another key INSTALL_EXISTS', async () => {
    f = await keyFixture(open);
    const before = await f.t.store.db.selectFrom('settings').selectAll().orderBy('name').execute();
    await initializeKeys(f.t.store, f.masterKey);
    expect(await codeOf(initializeKeys(f.t.store, generateMasterKey()))).toBe('INSTALL_EXISTS');
    expect(await f.t.store.db.selectFrom('settings').selectAll().orderBy('name').execute()).toEqual(before);
  });

  it('rotates: old records still decrypt, blind indexes stay, the old key is refused afterwards', async () => {
    f = await keyFixture(open);
    const { keys, t } = f;
    const sealed = await keys.encrypt(scope, bytes('bp 120/80'), bytes('obs:1'));
    const other = await keys.encrypt(
      { ...scope, subject: 'bi:patient-2' },
      bytes('bp 110/70'),
      bytes('obs:2'),
    );
    await keys.shred({ purpose: 'telemetry', subject: 'bi:patient-2' });
    const jwt = await keys.signingKey('jwt');
    const audit = await keys.signingKey('audit');
    const index = keys.blindIndex('mrn', 'MRN-1');
    const oldId = keys.masterKeyId;

    const newKey = generateMasterKey();
    // Two data keys exist but one is shredded; plus two signing keys.
    expect(await keys.rotateMasterKey(newKey)).toEqual({ rewrapped: 3 });
    expect(keys.masterKeyId).not.toBe(oldId);
    expect((await keys.decrypt(sealed, bytes('obs:1'))).toString()).toBe('bp 120/80');
    expect(await codeOf(keys.decrypt(other, bytes('obs:2')))).toBe('KEY_SHREDDED');
    expect(keys.blindIndex('mrn', 'MRN-1')).toBe(index);

    expect(
      await codeOf(openKeyService({ store: t.store, masterKey: f.masterKey, dataKeyMaxUses: 100 })),
    ).toBe('KEY_MASTER_WRONG');
    const reopened = await openKeyService({ store: t.store, masterKey: newKey, dataKeyMaxUses: 100 });
    try {
      expect((await reopened.decrypt(sealed, bytes('obs:1'))).toString()).toBe('bp 120/80');
      expect(reopened.blindIndex('mrn', 'MRN-1')).toBe(index);
      expect((await reopened.signingKey('jwt')).kid).toBe(jwt.kid);
      const reopenedAudit = await reopened.signingKey('audit');
      expect(reopenedAudit.kid).toBe(audit.kid);
      const { sign, verify } = await import('node:crypto');
      const sig = sign(null, bytes('checkpoint'), reopenedAudit.privateKey);
      expect(verify(null, bytes('checkpoint'), audit.publicKey, sig)).toBe(true);
      // New keys are wrapped with the new master key.
      const fresh = await reopened.encrypt({ ...scope, period: '2026-12' }, bytes('new'), bytes('obs:3'));
      expect((await keys.decrypt(fresh, bytes('obs:3'))).toString()).toBe('new');
    } finally {
      await reopened.close();
    }
    const ids = await t.store.db
      .selectFrom('data_keys')
      .select('master_key_id')
      .where('status', '!=', 'shredded')
      .execute();
    expect(ids.every((r) => r.master_key_id === keys.masterKeyId)).toBe(true);
  });

  it('a node still holding the old master key cannot create keys after another node rotated', async () => {
    f = await keyFixture(open);
    const stale = await f.open();
    await f.keys.rotateMasterKey(generateMasterKey());
    expect(await codeOf(stale.encrypt(scope, bytes('x'), bytes('y')))).toBe('KEY_MASTER_WRONG');
    expect(await codeOf(stale.rotateMasterKey(generateMasterKey()))).toBe('KEY_MASTER_WRONG');
  });
});
