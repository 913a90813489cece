/**
 * The compiled batch cipher's own refusals: misuse is a stable PULSEGATE_NATIVE_ARGS error, a
 * record that does not open is PULSEGATE_DECRYPT_FAILED (KEY_DECRYPT_FAILED to callers), and its
 * records are byte for byte those of sealed-record.ts.
 */
import { createSecretKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { compiledAddon } from '../native.js';
import { openRecord, sealedHeader, sealRecord } from './sealed-record.js';

interface Addon {
  sealMany(...args: unknown[]): Buffer[];
  openMany(...args: unknown[]): Buffer[];
}
const addon = compiledAddon<Addon>('pulsegate_keys', 'sealMany')?.module;
const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

it('seals the bytes sealed-record.ts seals, and opens what it seals (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 80 })), {
        minLength: 1,
        maxLength: 20,
      }),
      (records) => {
        const raw = randomBytes(32);
        const key = createSecretKey(raw);
        const header = sealedHeader(randomBytes(16));
        const nonces = randomBytes(12 * records.length);
        const sealed = addon!.sealMany(
          raw,
          header,
          nonces,
          records.map((r) => r[0]),
          records.map((r) => r[1]),
        );
        records.forEach(([plaintext, aad], i) => {
          expect(sealed[i]).toEqual(sealRecord(key, header, nonces, i * 12, plaintext, aad));
          expect(openRecord(key, sealed[i]!, aad)).toEqual(Buffer.from(plaintext));
        });
        const opened = addon!.openMany(
          [raw],
          new Uint32Array(records.length),
          sealed,
          records.map((r) => r[1]),
        );
        expect(opened).toEqual(records.map((r) => Buffer.from(r[0])));
      },
    ),
    { numRuns: 100 },
  );
});

it('refuses misuse with PULSEGATE_NATIVE_ARGS and records that do not open with PULSEGATE_DECRYPT_FAILED', () => {
  const raw = randomBytes(32);
  const header = sealedHeader(randomBytes(16));
  const nonces = randomBytes(24);
  const plain = [Buffer.from('a'), Buffer.from('b')];
  const aads = [Buffer.from('x'), Buffer.from('y')];
  const sealed = addon!.sealMany(raw, header, nonces, plain, aads);
  for (const args of [
    [raw.subarray(0, 31), header, nonces, plain, aads],
    [raw, header.subarray(1), nonces, plain, aads],
    [raw, header, nonces.subarray(0, 12), plain, aads],
    [raw, header, nonces, plain, aads.slice(1)],
    [raw, header, nonces, ['a', 'b'], aads],
    [raw, header, nonces, plain],
  ])
    expect(code(() => addon!.sealMany(...args))).toBe('PULSEGATE_NATIVE_ARGS');
  for (const args of [
    [[raw], Uint32Array.of(0, 1), sealed, aads],
    [[raw], [0, 0], sealed, aads],
    [[raw.subarray(1)], new Uint32Array(2), sealed, aads],
    [[raw], new Uint32Array(1), sealed, aads],
  ])
    expect(code(() => addon!.openMany(...args))).toBe('PULSEGATE_NATIVE_ARGS');
  expect(code(() => addon!.openMany([raw], new Uint32Array(2), sealed, aads))).toBe('ok');
  for (const bad of [
    [sealed[0]!, sealed[0]!.subarray(0, 44)],
    [sealed[0]!, Buffer.concat([Buffer.from([2]), sealed[1]!.subarray(1)])],
    [sealed[1]!, sealed[0]!],
  ])
    expect(code(() => addon!.openMany([raw], new Uint32Array(2), bad, aads))).toBe(
      'PULSEGATE_DECRYPT_FAILED',
    );
  expect(code(() => addon!.openMany([randomBytes(32)], new Uint32Array(2), sealed, aads))).toBe(
    'PULSEGATE_DECRYPT_FAILED',
  );
});

it('takes no bytes before every element was read: a getter that detaches a buffer meets a refusal, not freed memory', () => {
  const raw = randomBytes(32);
  const header = sealedHeader(randomBytes(16));
  const nonces = new Uint8Array(new ArrayBuffer(24));
  const plain: Uint8Array[] = [Buffer.from('a')];
  Object.defineProperty(plain, 1, {
    enumerable: true,
    get() {
      structuredClone(nonces.buffer, { transfer: [nonces.buffer] });
      return Buffer.from('b');
    },
  });
  expect(code(() => addon!.sealMany(raw, header, nonces, plain, [Buffer.from('x'), Buffer.from('y')]))).toBe(
    'PULSEGATE_NATIVE_ARGS',
  );
  const keyOf = new Uint32Array(2);
  const sealed = addon!.sealMany(
    raw,
    header,
    randomBytes(24),
    [Buffer.from('a'), Buffer.from('b')],
    [Buffer.from('x'), Buffer.from('y')],
  );
  const aads: Uint8Array[] = [Buffer.from('x')];
  Object.defineProperty(aads, 1, {
    enumerable: true,
    get() {
      structuredClone(keyOf.buffer, { transfer: [keyOf.buffer] });
      return Buffer.from('y');
    },
  });
  expect(code(() => addon!.openMany([raw], keyOf, sealed, aads))).toBe('PULSEGATE_NATIVE_ARGS');
});
