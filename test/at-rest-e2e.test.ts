/**
 * The at-rest promise through the whole composed application, on SQLite and PostgreSQL: a device
 * bound to a sentinel patient identifier publishes sentinel vitals with mosquitto_pub over mutual
 * TLS; the values are stored (read back through the API) and one is abnormal enough to raise a
 * clinical alert, whose evidence holds it too. Then neither sentinel value nor the identifier
 * appears in any byte form in the SQLite file and its WAL, or in a pg_dump of the database.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachDialect } from '../src/testing/dialects.js';
import { createTestPostgresDatabase } from '../src/testing/stores.js';
import { type E2e, enrolledDevice, publishQos1, startE2e } from './support/e2e.js';

const HEART_RATE = 73.123456;
const SPO2 = 81.654321;
const PATIENT = 'MRN-ATREST-5521';

/** Every byte form of a sentinel a careless implementation could plausibly write. */
function needles(): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  for (const [name, value] of [
    ['heart rate', HEART_RATE],
    ['SpO2', SPO2],
  ] as const) {
    const f64le = Buffer.alloc(8);
    f64le.writeDoubleLE(value);
    const f64be = Buffer.alloc(8);
    f64be.writeDoubleBE(value);
    out.push(
      [`${name} as text`, Buffer.from(String(value))],
      [`${name} as float64 LE`, f64le],
      [`${name} as float64 BE`, f64be],
    );
  }
  out.push(
    ['patient id', Buffer.from(PATIENT)],
    ['patient id UTF-16', Buffer.from(PATIENT, 'utf16le')],
    ['patient id lower case', Buffer.from(PATIENT.toLowerCase())],
  );
  return out;
}

function expectAbsent(label: string, bytes: Buffer): void {
  expect(bytes.length, label).toBeGreaterThan(0);
  for (const [what, needle] of needles())
    expect(bytes.includes(needle), `${what} found in ${label}`).toBe(false);
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeEachDialect('at rest, through the whole application', (_open, dialect) => {
  let e2e: E2e;
  let pg: { url: string; drop: () => Promise<void> } | undefined;

  beforeAll(async () => {
    pg = dialect === 'postgres' ? await createTestPostgresDatabase() : undefined;
    e2e = await startE2e(pg ? { database: { url: pg.url } } : {});
  }, 120_000);
  afterAll(async () => {
    await e2e?.close();
    await pg?.drop();
  });

  it('keeps sentinel vitals and the patient identifier out of the database bytes', async () => {
    const device = await enrolledDevice(e2e.admin, 'mon-atrest-1', { patientId: PATIENT });
    const payload = JSON.stringify({
      seq: 1,
      ts: new Date().toISOString(),
      observations: [
        { code: { system: 'LOINC', code: '8867-4' }, value: HEART_RATE, unit: '/min' },
        { code: { system: 'LOINC', code: '59408-5' }, value: SPO2, unit: '%' },
      ],
    });
    const r = await publishQos1(e2e, device, 'devices/mon-atrest-1/telemetry', payload);
    expect(r.code, r.stderr).toBe(0);
    // Stored and readable: the sentinels are really in the database, sealed.
    const back = await e2e.admin.patientTelemetry(PATIENT);
    expect(back.status).toBe(200);
    const values = (back.json.observations as Array<{ value: number }>).map((o) => o.value).sort();
    expect(values).toEqual([HEART_RATE, SPO2].sort());
    // The low SpO2 raised a clinical alert that carries the patient and the value as evidence.
    await until(
      async () =>
        ((await e2e.admin.api('GET', '/api/v1/alerts?category=clinical')).json.items as unknown[])?.length >
        0,
      10_000,
      'a clinical alert',
    );
    const alerts = (await e2e.admin.api('GET', '/api/v1/alerts?category=clinical')).json.items as Array<{
      patientId?: string;
    }>;
    expect(alerts.some((a) => a.patientId === PATIENT)).toBe(true);
    await e2e.app.telemetry.flush();

    if (dialect === 'sqlite') {
      const file = join(e2e.dataDir, 'pulsegate.db');
      expectAbsent('the SQLite file', readFileSync(file));
      if (existsSync(`${file}-wal`)) expectAbsent('the SQLite WAL', readFileSync(`${file}-wal`));
    } else {
      expectAbsent(
        'pg_dump',
        execFileSync('pg_dump', ['--dbname', pg!.url], { maxBuffer: 256 * 1024 * 1024 }),
      );
    }
  });
});
