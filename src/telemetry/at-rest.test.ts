import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openKeyService } from '../keys/index.js';
import { codeOf } from '../keys/key-fixture.js';
import { createPatientBindings } from '../patients/index.js';
import { openStore, type Store } from '../store/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import { createTestPostgresDatabase } from '../testing/stores.js';
import { readingAad } from './reading-codec.js';
import { createTelemetryService } from './telemetry-service.js';
import {
  deviceId,
  message,
  obs,
  payload,
  T0,
  type TelemetryFixture,
  telemetryFixture,
} from './test-fixture.js';

const SENTINEL_VALUE = 73.123456;
const SENTINEL_PATIENT = 'MRN-SENTINEL-8842';

/** Every byte form of the sentinels a careless implementation could plausibly write. */
function needles(): Array<[string, Buffer]> {
  const f64le = Buffer.alloc(8);
  f64le.writeDoubleLE(SENTINEL_VALUE);
  const f64be = Buffer.alloc(8);
  f64be.writeDoubleBE(SENTINEL_VALUE);
  const f32le = Buffer.alloc(4);
  f32le.writeFloatLE(SENTINEL_VALUE);
  const f32be = Buffer.alloc(4);
  f32be.writeFloatBE(SENTINEL_VALUE);
  const fixed = Buffer.alloc(4);
  fixed.writeInt32LE(73_123_456);
  return [
    ['value as text', Buffer.from('73.123456')],
    ['value as fixed-point text', Buffer.from('73123456')],
    ['value as float64 LE', f64le],
    ['value as float64 BE', f64be],
    ['value as float32 LE', f32le],
    ['value as float32 BE', f32be],
    ['value as int32 micro-units', fixed],
    ['patient id', Buffer.from(SENTINEL_PATIENT)],
    ['patient id UTF-16', Buffer.from(SENTINEL_PATIENT, 'utf16le')],
    ['patient id lower case', Buffer.from(SENTINEL_PATIENT.toLowerCase())],
  ];
}

function expectAbsent(label: string, bytes: Buffer): void {
  expect(bytes.length).toBeGreaterThan(0);
  for (const [what, needle] of needles())
    expect(bytes.includes(needle), `${what} found in ${label}`).toBe(false);
}

function pgDump(url: string, args: string[] = []): Buffer {
  return execFileSync('pg_dump', ['--dbname', url, ...args], { maxBuffer: 256 * 1024 * 1024 });
}

/** Ingests the sentinels through a bound device (so the reading carries the patient id too). */
async function ingestSentinels(fx: TelemetryFixture): Promise<void> {
  await fx.patients.bind(deviceId(0), { patientId: SENTINEL_PATIENT, from: T0 - 60_000 });
  const outcomes = await fx.telemetry.ingest([
    message(deviceId(0), payload(1, [obs('MDC', '147842', SENTINEL_VALUE, '/min')])),
    message(deviceId(1), payload(1, [obs('MDC', '147842', SENTINEL_VALUE, '/min')])),
  ]);
  expect(outcomes.every((o) => o.ok)).toBe(true);
  // Sanity: the sentinel is really stored and readable through the service.
  const page = await fx.telemetry.readDevice(deviceId(0), {});
  expect(page.observations[0]!.value).toBe(SENTINEL_VALUE);
}

describeEachDialect('telemetry: at rest', (open, dialect) => {
  let fx: TelemetryFixture | undefined;
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });

  it('keeps sentinel values and patient ids out of the database bytes', async () => {
    fx = await telemetryFixture(open);
    await ingestSentinels(fx);
    if (dialect === 'sqlite') {
      const file = fx.t.location;
      expectAbsent('the SQLite file', readFileSync(file));
      expect(existsSync(`${file}-wal`)).toBe(true);
      expectAbsent('the SQLite WAL', readFileSync(`${file}-wal`));
    } else {
      expectAbsent('pg_dump (plain)', pgDump(fx.t.location));
      expectAbsent(
        'pg_dump (custom, uncompressed)',
        pgDump(fx.t.location, ['--format', 'custom', '--compress', '0']),
      );
    }
    // Nor in the audit trail: it holds the blind index as the reference.
    expect(JSON.stringify(fx.audit.events)).not.toContain(SENTINEL_PATIENT);
    expect(fx.audit.of('patient.bind')[0]!.resource).toEqual({
      type: 'patient',
      id: fx.patients.patientIndex(SENTINEL_PATIENT),
    });
  });
});

describeEachDialect('telemetry: retention and crypto-shredding', (open, dialect) => {
  let fx: TelemetryFixture | undefined;
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await fx?.cleanup();
    fx = undefined;
  });

  /** A copy of the database as it is now: file copy (SQLite) or pg_dump + pg_restore (PostgreSQL). */
  async function copyDatabase(t: TelemetryFixture): Promise<Store> {
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'pulsegate-copy-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      copyFileSync(t.t.location, join(dir, 'copy.db'));
      copyFileSync(`${t.t.location}-wal`, join(dir, 'copy.db-wal'));
      const store = openStore({ sqliteFile: join(dir, 'copy.db') });
      cleanups.push(() => store.close());
      return store;
    }
    const dump = pgDump(t.t.location, ['--format', 'custom']);
    const target = await createTestPostgresDatabase();
    cleanups.push(() => target.drop());
    execFileSync('pg_restore', ['--dbname', target.url, '--no-owner'], { input: dump });
    const store = openStore({ postgresUrl: target.url });
    cleanups.push(() => store.close());
    return store;
  }

  it('deletes old readings, shreds their keys, and a copy taken before cannot be decrypted', async () => {
    fx = await telemetryFixture(open, { retentionDays: 30 });
    await ingestSentinels(fx);
    const copy = await copyDatabase(fx);
    const openCopy = async () => {
      const keys = await openKeyService({ store: copy, masterKey: fx!.f.masterKey, dataKeyMaxUses: 2 ** 24 });
      cleanups.push(() => keys.close());
      const patients = createPatientBindings({
        store: copy,
        keys,
        audit: fx!.audit,
        now: () => fx!.clock.ms,
      });
      const telemetry = await createTelemetryService({
        store: copy,
        keys,
        audit: fx!.audit,
        bus: fx!.bus,
        devices: fx!.devices,
        patients,
        config: {
          dataDir: fx!.epochDir,
          telemetry: { retentionDays: 30, retentionIntervalSeconds: 3600, maxClockSkewSeconds: 300 },
        },
        now: () => fx!.clock.ms,
        epochKeyDir: fx!.epochDir,
      });
      cleanups.push(() => telemetry.close());
      return { keys, telemetry };
    };
    // Before the shred, the copy is a working database.
    const before = await openCopy();
    expect((await before.telemetry.readDevice(deviceId(0), {})).observations[0]!.value).toBe(SENTINEL_VALUE);
    await before.telemetry.close();
    await before.keys.close();

    // Seven weeks later: January's data is past the 30-day retention and its period has ended.
    fx.clock.ms = Date.UTC(2026, 2, 5, 12);
    const newer = await fx.telemetry.ingest([
      message(deviceId(0), payload(2, undefined, fx.clock.ms), fx.clock.ms),
    ]);
    expect(newer[0]!.ok).toBe(true);
    const report = await fx.telemetry.runRetention();
    expect(report).toMatchObject({
      shreddedBefore: '2026-02',
      deletedReadings: 2,
      shreddedKeys: 2,
      periodKeysDestroyed: true,
    });
    expect(fx.audit.of('telemetry.retention')).toHaveLength(1);
    expect(await fx.telemetry.readDevice(deviceId(0), {})).toMatchObject({
      observations: [expect.anything(), expect.anything(), expect.anything(), expect.anything()],
    });

    // The copy still holds January's rows and its wrapped, un-shredded data keys...
    const old = await copy.db
      .selectFrom('telemetry_readings')
      .selectAll()
      .where('key_period', '=', '2026-01')
      .execute();
    expect(old).toHaveLength(2);
    const copyKeys = await copy.db
      .selectFrom('data_keys')
      .select('status')
      .where('period', '=', '2026-01')
      .where('purpose', '=', 'telemetry')
      .execute();
    expect(copyKeys.every((k) => k.status === 'active')).toBe(true);
    // ...and the master key is unchanged, yet nothing of January can be decrypted from it.
    const after = await openCopy();
    expect(await codeOf(after.telemetry.readDevice(deviceId(0), { to: Date.UTC(2026, 1, 1) }))).toBe(
      'KEY_SHREDDED',
    );
    expect(await codeOf(after.telemetry.readDevice(deviceId(1), {}))).toBe('KEY_SHREDDED');
    // The envelope alone (what the copy's data key opens) no longer yields the plaintext.
    // (the data key still unwraps: the failure is the GCM tag over the period-masked bytes).
    const aad = readingAad({
      ...old[0]!,
      observed_at: Number(old[0]!.observed_at),
      seq: Number(old[0]!.seq),
    });
    expect(await codeOf(after.keys.decrypt(Buffer.from(old[0]!.sealed), aad))).toBe('KEY_DECRYPT_FAILED');
  });
});
