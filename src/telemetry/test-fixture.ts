/** Test fixture: a migrated store with keys, inventory, bindings and telemetry, on a settable clock. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDeviceService, type DeviceService } from '../devices/index.js';
import { EventBus, type PulsegateEvents } from '../events/index.js';
import type { IngestMessage } from '../ingest/index.js';
import { type KeyFixture, keyFixture } from '../keys/key-fixture.js';
import { createPatientBindings, type PatientBindings } from '../patients/index.js';
import type { TestStore } from '../testing/stores.js';
import { createTelemetryService, type TelemetryService } from './telemetry-service.js';

/** Collects audit events in order (the real log is tested in src/audit). */
export class MemoryAudit {
  readonly events: Array<{ action: string; resource?: { type: string; id?: string }; reason?: string }> = [];
  async append(event: { action: string; resource?: { type: string; id?: string }; reason?: string }) {
    this.events.push(structuredClone(event));
    return { seq: this.events.length };
  }
  of(action: string) {
    return this.events.filter((e) => e.action === action);
  }
}

export const T0 = Date.UTC(2026, 0, 15, 12);

export interface TelemetryFixture {
  f: KeyFixture;
  t: TestStore;
  clock: { ms: number };
  audit: MemoryAudit;
  bus: EventBus;
  events: {
    stored: PulsegateEvents['telemetry.stored'][];
    rejected: PulsegateEvents['telemetry.rejected'][];
  };
  devices: DeviceService;
  patients: PatientBindings;
  telemetry: TelemetryService;
  epochDir: string;
  retentionDays: number;
  /** A second telemetry service on the same database and secrets (another node, or a reopen). */
  reopen(): Promise<TelemetryService>;
  cleanup(): Promise<void>;
}

export async function telemetryFixture(
  open: () => Promise<TestStore>,
  options: { retentionDays?: number; devices?: number; maxBatch?: number } = {},
): Promise<TelemetryFixture> {
  const f = await keyFixture(open);
  const clock = { ms: T0 };
  const now = () => clock.ms;
  const audit = new MemoryAudit();
  const bus = new EventBus();
  const events = {
    stored: [] as TelemetryFixture['events']['stored'],
    rejected: [] as TelemetryFixture['events']['rejected'],
  };
  bus.on('telemetry.stored', (e) => events.stored.push(e));
  bus.on('telemetry.rejected', (e) => events.rejected.push(e));
  const devices = createDeviceService({ store: f.t.store, audit, now });
  const count = options.devices ?? 3;
  for (let i = 0; i < count; i++) {
    await devices.create({
      id: deviceId(i),
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: i % 2 === 0 ? 'icu' : 'ward-3',
    });
  }
  const patients = createPatientBindings({ store: f.t.store, keys: f.keys, audit, now });
  const epochDir = mkdtempSync(join(tmpdir(), 'pulsegate-epochs-'));
  const retentionDays = options.retentionDays ?? 30;
  const config = {
    dataDir: epochDir,
    telemetry: { retentionDays, retentionIntervalSeconds: 3600, maxClockSkewSeconds: 300 },
  };
  const services: TelemetryService[] = [];
  const make = async () => {
    const s = await createTelemetryService({
      store: f.t.store,
      keys: f.keys,
      audit,
      bus,
      devices,
      patients,
      config,
      now,
      epochKeyDir: epochDir,
      ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
    });
    services.push(s);
    return s;
  };
  const telemetry = await make();
  return {
    f,
    t: f.t,
    clock,
    audit,
    bus,
    events,
    devices,
    patients,
    telemetry,
    epochDir,
    retentionDays,
    reopen: make,
    async cleanup() {
      for (const s of services) await s.close().catch(() => {});
      await f.cleanup();
      rmSync(epochDir, { recursive: true, force: true });
    },
  };
}

export const deviceId = (i: number) => `dev-${String(i).padStart(4, '0')}`;

/** One observation as a device sends it. */
export const obs = (system: 'LOINC' | 'MDC', code: string, value: number, unit: string, ts?: string) => ({
  code: { system, code },
  value,
  unit,
  ...(ts ? { ts } : {}),
});

/** The four observations of a typical monitor message. */
export const vitals = (hr = 72, spo2 = 97) => [
  obs('MDC', '147842', hr, '/min'),
  obs('MDC', '150456', spo2, '%'),
  obs('LOINC', '9279-1', 16, '/min'),
  obs('MDC', '150364', 36.8, 'Cel'),
];

/** An ingest message carrying `body` (JSON-encoded unless it is already bytes). */
export function message(device: string, body: unknown, at = T0): IngestMessage {
  return {
    deviceId: device,
    payload: Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)),
    receivedAt: at,
    source: 'mqtt',
    kind: 'telemetry',
  };
}

/** A valid payload. */
export const payload = (seq: number, observations: unknown[] = vitals(), at = T0, extra: object = {}) => ({
  seq,
  ts: new Date(at).toISOString(),
  observations,
  ...extra,
});

/** Rows stored and ingest state, to show a refusal changed nothing. */
export async function snapshot(fx: TelemetryFixture) {
  const db = fx.t.store.db;
  const readings = await db
    .selectFrom('telemetry_readings')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  const state = await db.selectFrom('device_ingest_state').selectAll().orderBy('device_id').execute();
  return {
    readings: Number(readings.n),
    state: state.map((s) => [s.device_id, Number(s.last_seq), Number(s.last_ts)]),
  };
}
