import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import { bytes, codeOf, type KeyFixture, keyFixture } from './key-fixture.js';
import { HEADER_BYTES } from './sealed-record.js';

const scope = (subject: string, period = '2026-11') => ({ purpose: 'telemetry', subject, period });
const keyIdOf = (sealed: Buffer) => sealed.subarray(1, HEADER_BYTES).toString('base64url');

describeEachDialect('keys: crypto-shredding', (open) => {
  let f: KeyFixture | undefined;
  afterEach(async () => {
    await f?.cleanup();
    f = undefined;
  });

  it('makes a subject unreadable, even from a copy, and leaves other subjects alone', async () => {
    f = await keyFixture(open);
    const { keys, t } = f;
    const gone = await keys.encrypt(scope('bi:p1'), bytes('temp 38.2'), bytes('obs:1'));
    const copy = Buffer.from(gone);
    const kept = await keys.encrypt(scope('bi:p2'), bytes('temp 36.9'), bytes('obs:2'));
    const row = () =>
      t.store.db
        .selectFrom('data_keys')
        .selectAll()
        .where('id', '=', keyIdOf(gone))
        .executeTakeFirstOrThrow();
    const wrappedBefore = Buffer.from((await row()).wrapped);
    expect(wrappedBefore.length).toBeGreaterThan(32);

    expect(await keys.shred({ purpose: 'telemetry', subject: 'bi:p1' })).toBe(1);
    expect(await codeOf(keys.decrypt(gone, bytes('obs:1')))).toBe('KEY_SHREDDED');
    expect(await codeOf(keys.decryptMany([{ sealed: copy, aad: bytes('obs:1') }]))).toBe('KEY_SHREDDED');
    // Another node that never cached the key cannot read it either.
    expect(await codeOf((await f.open()).decrypt(copy, bytes('obs:1')))).toBe('KEY_SHREDDED');
    expect((await keys.decrypt(kept, bytes('obs:2'))).toString()).toBe('temp 36.9');

    const after = await row();
    expect(after.status).toBe('shredded');
    expect(after.shredded_at).toBeGreaterThan(0);
    expect(Buffer.from(after.wrapped).length).toBe(0);
    const dump = (await t.store.db.selectFrom('data_keys').select('wrapped').execute()).map((r) =>
      Buffer.from(r.wrapped),
    );
    expect(dump.some((w) => w.includes(wrappedBefore))).toBe(false);
    // Shredding again finds nothing left to shred.
    expect(await keys.shred({ purpose: 'telemetry', subject: 'bi:p1' })).toBe(0);
  });

  it('new records for a shredded subject get a new key', async () => {
    f = await keyFixture(open);
    const before = await f.keys.encrypt(scope('bi:p1'), bytes('a'), bytes('1'));
    await f.keys.shred({ purpose: 'telemetry', subject: 'bi:p1' });
    const after = await f.keys.encrypt(scope('bi:p1'), bytes('b'), bytes('2'));
    expect(keyIdOf(after)).not.toBe(keyIdOf(before));
    expect((await f.keys.decrypt(after, bytes('2'))).toString()).toBe('b');
  });

  it('shreds by retention period across subjects and only within the purpose', async () => {
    f = await keyFixture(open);
    const { keys } = f;
    const old1 = await keys.encrypt(scope('bi:p1', '2026-09'), bytes('a'), bytes('1'));
    const old2 = await keys.encrypt(scope('bi:p2', '2026-10'), bytes('b'), bytes('2'));
    const current = await keys.encrypt(scope('bi:p1', '2026-11'), bytes('c'), bytes('3'));
    const otherPurpose = await keys.encrypt(
      { purpose: 'notes', subject: 'bi:p1', period: '2026-09' },
      bytes('d'),
      bytes('4'),
    );
    expect(await keys.shred({ purpose: 'telemetry', periodBefore: '2026-11' })).toBe(2);
    expect(await codeOf(keys.decrypt(old1, bytes('1')))).toBe('KEY_SHREDDED');
    expect(await codeOf(keys.decrypt(old2, bytes('2')))).toBe('KEY_SHREDDED');
    expect((await keys.decrypt(current, bytes('3'))).toString()).toBe('c');
    expect((await keys.decrypt(otherPurpose, bytes('4'))).toString()).toBe('d');
  });

  it('a node that cached the key stops decrypting once its recheck interval passes', async () => {
    let clock = 1_000_000;
    f = await keyFixture(open, { now: () => clock, recheckMs: 1000 });
    const sealed = await f.keys.encrypt(scope('bi:p1'), bytes('a'), bytes('1'));
    const other = await f.open();
    expect((await other.decrypt(sealed, bytes('1'))).toString()).toBe('a');
    await f.keys.shred({ purpose: 'telemetry', subject: 'bi:p1' });
    clock += 1001;
    expect(await codeOf(other.decrypt(sealed, bytes('1')))).toBe('KEY_SHREDDED');
  });
});
