import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { EPOCH_ORIGIN, nextPeriod, openEpochKeys } from './epoch-keys.js';
import { codeOf } from './key-fixture.js';

/** A record shaped like a sealed record: 17-byte header, 12-byte nonce, body. */
const record = (body = 40) => randomBytes(17 + 12 + body);

describeEachDialect('keys: period (epoch) keys outside the database', (open) => {
  let t: TestStore | undefined;
  let dir = '';
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  const setup = async () => {
    t = await open();
    dir = mkdtempSync(join(tmpdir(), 'pulsegate-epoch-'));
    return openEpochKeys({ store: t.store, dir, purpose: 'telemetry' });
  };

  it('masks and unmasks in place, differently per period and per nonce, leaving header and nonce clear', async () => {
    const epochs = await setup();
    expect(epochs.oldestPeriod()).toBe(EPOCH_ORIGIN);
    expect((statSync(join(dir, 'telemetry.key')).mode & 0o777).toString(8)).toBe('600');
    const a = record();
    const b = Buffer.from(a);
    const original = Buffer.from(a);
    epochs.mask('2026-01', [a]);
    epochs.mask('2026-02', [b]);
    expect(a.subarray(0, 29)).toEqual(original.subarray(0, 29));
    expect(a.subarray(29)).not.toEqual(original.subarray(29));
    expect(a.subarray(29)).not.toEqual(b.subarray(29));
    epochs.mask('2026-01', [a]);
    expect(a).toEqual(original);
  });

  it('derives the same keys on another node with the same file, and refuses a foreign or missing file', async () => {
    const first = await setup();
    const second = await openEpochKeys({ store: t!.store, dir, purpose: 'telemetry' });
    const r = record(100);
    const copy = Buffer.from(r);
    first.mask('2027-12', [r]);
    second.mask('2027-12', [r]);
    expect(r).toEqual(copy);
    const elsewhere = mkdtempSync(join(tmpdir(), 'pulsegate-epoch-'));
    try {
      expect(await codeOf(openEpochKeys({ store: t!.store, dir: elsewhere, purpose: 'telemetry' }))).toBe(
        'KEY_EPOCH_MISSING',
      );
      const saved = readFileSync(join(dir, 'telemetry.key'));
      unlinkSync(join(dir, 'telemetry.key'));
      expect(await codeOf(openEpochKeys({ store: t!.store, dir, purpose: 'telemetry' }))).toBe(
        'KEY_EPOCH_MISSING',
      );
      // A file from another installation does not match the stored check value.
      const other = await open();
      try {
        const foreign = await openEpochKeys({ store: other.store, dir: elsewhere, purpose: 'telemetry' });
        expect(foreign.oldestPeriod()).toBe(EPOCH_ORIGIN);
        expect(await codeOf(openEpochKeys({ store: t!.store, dir: elsewhere, purpose: 'telemetry' }))).toBe(
          'KEY_EPOCH_WRONG',
        );
      } finally {
        await other.cleanup();
      }
      expect(saved.length).toBeGreaterThan(0);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('shredding ratchets the file: earlier periods are gone for every node, later ones unchanged', async () => {
    const first = await setup();
    const other = await openEpochKeys({ store: t!.store, dir, purpose: 'telemetry' });
    other.mask('2026-01', [record()]);
    const keep = record();
    const keepPlain = Buffer.from(keep);
    first.mask('2026-03', [keep]);
    const fileBefore = readFileSync(join(dir, 'telemetry.key'), 'utf8');
    expect(await first.shredBefore('2026-02')).toBe(true);
    expect(await first.shredBefore('2026-01')).toBe(false);
    expect(readFileSync(join(dir, 'telemetry.key'), 'utf8')).not.toBe(fileBefore);
    expect(first.oldestPeriod()).toBe('2026-02');
    expect(await codeOf(() => first.mask('2026-01', [record()]))).toBe('KEY_SHREDDED');
    // A node that was running learns of it from the shared check value.
    await other.refresh(true);
    expect(await codeOf(() => other.mask('2026-01', [record()]))).toBe('KEY_SHREDDED');
    // A node that opens the ratcheted file still reads later periods.
    const reopened = await openEpochKeys({ store: t!.store, dir, purpose: 'telemetry' });
    reopened.mask('2026-03', [keep]);
    expect(keep).toEqual(keepPlain);
    expect(nextPeriod('2026-12')).toBe('2027-01');
  });
});
