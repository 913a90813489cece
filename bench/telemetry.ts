/**
 * `npm run bench -- telemetry [--messages 200000] [--devices 1000] [--batch 256] [--inflight 64] [--only sqlite|postgres]`
 *
 * Messages per second through `TelemetrySink.ingest` on its own (no TLS, no MQTT): parse and
 * validate, bind to patients (half the devices are bound), seal each message under the patient's
 * or device's data key plus the period mask, group-commit durably (SQLite WAL synchronous=FULL;
 * PostgreSQL). Each message holds 4 observations, from 1,000 devices. Target: well over 100,000
 * messages/s, so that the end-to-end ingest target (30,000 messages/s over TLS/MQTT on 2 cores)
 * is not limited by storage.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createDeviceService } from '../src/devices/index.js';
import { EventBus } from '../src/events/index.js';
import type { IngestMessage } from '../src/ingest/index.js';
import { generateMasterKey, initializeKeys, openKeyService } from '../src/keys/index.js';
import { createPatientBindings } from '../src/patients/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { createTelemetryService } from '../src/telemetry/index.js';
import { printResult, printTable, rate } from './_report.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    devices: { type: 'string', default: '1000' },
    batch: { type: 'string', default: '256' },
    inflight: { type: 'string', default: '64' },
    only: { type: 'string' },
  },
});
const N = Number(values.messages);
const DEVICES = Number(values.devices);
const BATCH = Number(values.batch);
const INFLIGHT = Number(values.inflight);
const PG_URL = process.env.PULSEGATE_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET = 100_000;
const audit = { append: async () => ({}) };
const dev = (i: number) => `bench-${String(i).padStart(5, '0')}`;

function messages(start: number): IngestMessage[] {
  const out: IngestMessage[] = new Array(N);
  for (let i = 0; i < N; i++) {
    const at = start + Math.floor(i / DEVICES);
    const body = {
      seq: Math.floor(i / DEVICES) + 1,
      ts: new Date(at).toISOString(),
      observations: [
        { code: { system: 'MDC', code: '147842' }, value: 60 + (i % 40), unit: '/min' },
        { code: { system: 'MDC', code: '150456' }, value: 90 + (i % 10), unit: '%' },
        { code: { system: 'MDC', code: '151562' }, value: 12 + (i % 8), unit: '/min' },
        { code: { system: 'MDC', code: '150364' }, value: 36.5 + (i % 10) / 10, unit: 'Cel' },
      ],
    };
    out[i] = {
      deviceId: dev(i % DEVICES),
      payload: Buffer.from(JSON.stringify(body)),
      receivedAt: at,
      source: 'mqtt',
      kind: 'telemetry',
    };
  }
  return out;
}

async function scratch(
  dialect: 'sqlite' | 'postgres',
): Promise<{ store: Store; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pulsegate-bench-telemetry-'));
  if (dialect === 'sqlite') {
    const store = openStore({ sqliteFile: join(dir, 'bench.db') });
    return {
      store,
      dir,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const name = `pulsegate_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const store = openStore({ postgresUrl: url.toString() });
  return {
    store,
    dir,
    async cleanup() {
      await store.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function run(dialect: 'sqlite' | 'postgres') {
  const { store, dir, cleanup } = await scratch(dialect);
  try {
    const { error } = await store.migrate();
    if (error) throw error;
    const masterKey = generateMasterKey();
    await initializeKeys(store, masterKey);
    const keys = await openKeyService({ store, masterKey, dataKeyMaxUses: 2 ** 24 });
    const devices = createDeviceService({ store, audit });
    for (let i = 0; i < DEVICES; i++)
      await devices.create({
        id: dev(i),
        type: 'patient-monitor',
        vendor: 'Acme',
        model: 'M',
        careUnit: 'icu',
      });
    const patients = createPatientBindings({ store, keys, audit });
    const start = Date.now();
    for (let i = 0; i < DEVICES; i += 2)
      await patients.bind(dev(i), { patientId: `MRN-${100000 + i}`, from: start - 60_000 });
    const telemetry = await createTelemetryService({
      store,
      keys,
      audit,
      bus: new EventBus(),
      devices,
      patients,
      config: {
        dataDir: dir,
        telemetry: { retentionDays: 30, retentionIntervalSeconds: 3600, maxClockSkewSeconds: 86_400 },
      },
    });
    const all = messages(start);
    // Warm-up: each device's first message creates its scope's data key for the month (a
    // transaction each, once per patient or device per month); timed separately.
    const w0 = performance.now();
    const warm = await telemetry.ingest(all.slice(0, DEVICES));
    const warmSeconds = (performance.now() - w0) / 1000;
    let ok = warm.filter((o) => o.ok).length;
    const t0 = performance.now();
    let next = DEVICES;
    const worker = async () => {
      while (next < N) {
        const from = next;
        next += BATCH;
        const outcomes = await telemetry.ingest(all.slice(from, Math.min(N, from + BATCH)));
        for (const o of outcomes) if (o.ok) ok++;
      }
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const seconds = (performance.now() - t0) / 1000;
    if (ok !== N) throw new Error(`only ${ok} of ${N} messages were stored`);
    const r0 = performance.now();
    const page = await telemetry.readDevice(dev(0), { limit: 5000 });
    const readSeconds = (performance.now() - r0) / 1000;
    await telemetry.close();
    await keys.close();
    return {
      dialect,
      messages: N,
      seconds,
      perSecond: (N - DEVICES) / seconds,
      warmPerSecond: DEVICES / warmSeconds,
      readObservationsPerSecond: page.observations.length / readSeconds,
    };
  } finally {
    await cleanup();
  }
}

const dialects = (['sqlite', 'postgres'] as const).filter((d) => !values.only || values.only === d);
const results = [];
for (const d of dialects) {
  process.stderr.write(
    `  ${d}: ${N.toLocaleString('en-US')} messages x 4 observations from ${DEVICES} devices...\n`,
  );
  results.push(await run(d));
}
printTable(
  results.map((r) => ({
    dialect: r.dialect,
    messages: r.messages.toLocaleString('en-US'),
    seconds: r.seconds.toFixed(2),
    'messages/s': rate(r.perSecond),
    'observations/s': rate(r.perSecond * 4),
    'first-message/s (key creation)': rate(r.warmPerSecond),
    'target messages/s': rate(TARGET),
    'read obs/s (decrypt)': rate(r.readObservationsPerSecond),
  })),
);
printResult({
  name: 'telemetry-ingest',
  unit: 'messages/s',
  value: Math.round(Math.min(...results.map((r) => r.perSecond))),
  target: TARGET,
  ...Object.fromEntries(results.map((r) => [r.dialect, Math.round(r.perSecond)])),
});
