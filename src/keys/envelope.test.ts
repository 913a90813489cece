/**
 * Envelope encryption on both dialects, with each record cipher: the compiled batch AES-GCM
 * (native/seal-many.c, the default where it is built) and the JavaScript one; records sealed by
 * one open with the other, byte for byte the same format.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Implementation } from '../native.js';
import { describeEachDialect } from '../testing/dialects.js';
import { compiledCipher } from './batch-cipher.js';
import { bytes, codeOf, type KeyFixture, keyFixture } from './key-fixture.js';
import { HEADER_BYTES, NONCE_BYTES, SEALED_OVERHEAD } from './sealed-record.js';

const scope = { purpose: 'telemetry', subject: 'bi:patient-1', period: '2026-11' };

it('has the compiled batch cipher built (npm ci compiles binding.gyp)', () => {
  expect(
    compiledCipher(),
    'build/Release/pulsegate_keys.node is missing: run `npm ci` with python3, make and cc',
  ).toBeDefined();
});

const CIPHERS: Implementation[] = ['compiled', 'javascript'];

describeEachDialect('keys: envelope encryption', (openStore) => {
  for (const cipher of CIPHERS) describe(`with the ${cipher} cipher`, () => envelope(openStore, cipher));

  it('opens with either cipher what the other sealed, and refuses the same tampering', async () => {
    const f = await keyFixture(openStore, { cipher: 'compiled' });
    try {
      const script = await f.open({ cipher: 'javascript' });
      const items = Array.from({ length: 300 }, (_, i) => ({
        plaintext: bytes(`reading ${i} `.repeat(i % 5)),
        aad: bytes(`row:${i}`),
      }));
      for (const [sealer, opener] of [
        [f.keys, script],
        [script, f.keys],
      ] as const) {
        const sealed = await sealer.encryptMany(scope, items);
        const opened = await opener.decryptMany(sealed.map((s, i) => ({ sealed: s, aad: items[i]!.aad })));
        expect(opened.map((b) => b.toString())).toEqual(
          items.map((x) => Buffer.from(x.plaintext).toString()),
        );
        for (const at of [0, 5, HEADER_BYTES + 2, sealed[7]!.length - 1]) {
          const bad = sealed.map((s) => Buffer.from(s));
          bad[7]![at]! ^= 1;
          for (const service of [f.keys, script]) {
            expect(
              await codeOf(service.decryptMany(bad.map((s, i) => ({ sealed: s, aad: items[i]!.aad })))),
              `byte ${at}`,
            ).toBe('KEY_DECRYPT_FAILED');
          }
        }
      }
    } finally {
      await f.cleanup();
    }
  });
});

function envelope(open: Parameters<typeof keyFixture>[0], cipher: Implementation) {
  const keyFixtureWith = (o: typeof open, extra: Parameters<typeof keyFixture>[1] = {}) =>
    keyFixture(o, { cipher, ...extra });
  let f: KeyFixture | undefined;
  afterEach(async () => {
    await f?.cleanup();
    f = undefined;
  });

  it('round-trips a record, and the sealed bytes are versioned and self-describing', async () => {
    f = await keyFixtureWith(open);
    const sealed = await f.keys.encrypt(scope, bytes('heart rate 72'), bytes('obs:1'));
    expect(sealed[0]).toBe(1);
    expect(sealed.length).toBe(bytes('heart rate 72').length + SEALED_OVERHEAD);
    expect(sealed.includes(bytes('heart rate 72'))).toBe(false);
    expect((await f.keys.decrypt(sealed, bytes('obs:1'))).toString()).toBe('heart rate 72');
    // A second service on the same database (another node) finds the key from the header alone.
    const other = await f.open();
    expect((await other.decrypt(sealed, bytes('obs:1'))).toString()).toBe('heart rate 72');
  });

  it('round-trips batches across scopes, including empty plaintexts', async () => {
    f = await keyFixtureWith(open);
    const a = await f.keys.encryptMany(scope, [
      { plaintext: bytes('a'), aad: bytes('1') },
      { plaintext: new Uint8Array(0), aad: new Uint8Array(0) },
    ]);
    const b = await f.keys.encryptMany({ ...scope, subject: 'bi:patient-2' }, [
      { plaintext: bytes('b'), aad: bytes('2') },
    ]);
    expect(a[0]!.subarray(1, HEADER_BYTES).equals(b[0]!.subarray(1, HEADER_BYTES))).toBe(false);
    const out = await f.keys.decryptMany([
      { sealed: a[0]!, aad: bytes('1') },
      { sealed: b[0]!, aad: bytes('2') },
      { sealed: a[1]!, aad: new Uint8Array(0) },
    ]);
    expect(out.map((x) => x.toString())).toEqual(['a', 'b', '']);
    expect(await f.keys.encryptMany(scope, [])).toEqual([]);
  });

  it('refuses a record read with another record identity: KEY_DECRYPT_FAILED', async () => {
    f = await keyFixtureWith(open);
    const sealed = await f.keys.encrypt(scope, bytes('spo2 97'), bytes('obs:1'));
    expect(await codeOf(f.keys.decrypt(sealed, bytes('obs:2')))).toBe('KEY_DECRYPT_FAILED');
  });

  it('detects tampering anywhere in the sealed bytes: KEY_DECRYPT_FAILED', async () => {
    f = await keyFixtureWith(open);
    const sealed = await f.keys.encrypt(scope, bytes('spo2 97'), bytes('obs:1'));
    for (let at = 0; at < sealed.length; at++) {
      const copy = Buffer.from(sealed);
      copy[at]! ^= 0x01;
      expect(await codeOf(f.keys.decrypt(copy, bytes('obs:1')))).toBe('KEY_DECRYPT_FAILED');
    }
    expect(await codeOf(f.keys.decrypt(sealed.subarray(0, 20), bytes('obs:1')))).toBe('KEY_DECRYPT_FAILED');
    expect(await codeOf(f.keys.decrypt(new Uint8Array(0), bytes('obs:1')))).toBe('KEY_DECRYPT_FAILED');
    expect((await f.keys.decrypt(sealed, bytes('obs:1'))).toString()).toBe('spo2 97');
  });

  it('uses a fresh nonce for every record', async () => {
    f = await keyFixtureWith(open);
    const items = Array.from({ length: 5000 }, () => ({ plaintext: bytes('same'), aad: bytes('same') }));
    const sealed = [
      ...(await f.keys.encryptMany(scope, items)),
      await f.keys.encrypt(scope, bytes('same'), bytes('same')),
    ];
    const nonces = new Set(
      sealed.map((s) => s.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES).toString('hex')),
    );
    expect(nonces.size).toBe(sealed.length);
    expect(new Set(sealed.map((s) => s.toString('hex'))).size).toBe(sealed.length);
  });

  it('round-trips arbitrary plaintext and associated data (property)', async () => {
    f = await keyFixtureWith(open);
    const keys = f.keys;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        fc.uint8Array({ maxLength: 256 }),
        async (plaintext, aad) => {
          const sealed = await keys.encrypt(scope, plaintext, aad);
          expect(Buffer.from(await keys.decrypt(sealed, aad)).equals(Buffer.from(plaintext))).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects invalid scopes and inputs with VALIDATION_FAILED and stores no key', async () => {
    f = await keyFixtureWith(open);
    expect(await codeOf(f.keys.encrypt({ ...scope, subject: '' }, bytes('x'), bytes('y')))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await codeOf(f.keys.encrypt({ ...scope, period: 'x'.repeat(201) }, bytes('x'), bytes('y')))).toBe(
      'VALIDATION_FAILED',
    );
    expect(await codeOf(f.keys.encrypt(scope, 'text' as unknown as Uint8Array, bytes('y')))).toBe(
      'VALIDATION_FAILED',
    );
    const rows = await f.t.store.db.selectFrom('data_keys').select('id').execute();
    expect(rows).toEqual([]);
  });

  it('computes blind indexes that are deterministic per purpose and differ across purposes', async () => {
    f = await keyFixtureWith(open);
    const a = f.keys.blindIndex('patient-mrn', 'MRN-0001');
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(f.keys.blindIndex('patient-mrn', 'MRN-0001')).toBe(a);
    expect(f.keys.blindIndex('patient-mrn', 'MRN-0002')).not.toBe(a);
    expect(f.keys.blindIndex('device-serial', 'MRN-0001')).not.toBe(a);
    // Another node of the same installation computes the same index.
    expect((await f.open()).blindIndex('patient-mrn', 'MRN-0001')).toBe(a);
    expect(await codeOf(() => f!.keys.blindIndex('', 'x'))).toBe('VALIDATION_FAILED');
  });
}
