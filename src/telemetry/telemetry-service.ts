import { join } from 'node:path';
import type { EventBus } from '../events/index.js';
import type { IngestMessage, IngestOutcome, TelemetrySink } from '../ingest/index.js';
import { type KeyService, openEpochKeys } from '../keys/index.js';
import type { PatientBindings } from '../patients/index.js';
import type { Store } from '../store/index.js';
import { IngestWriter } from './ingest-writer.js';
import { parseMessage } from './parse-message.js';
import { TELEMETRY_PURPOSE } from './reading-codec.js';
import { type RetentionDeps, type RetentionReport, runRetention } from './retention.js';
import { readTelemetry, type TelemetryPage, type TelemetryQuery } from './telemetry-reader.js';

export interface TelemetryConfig {
  /** The data directory; period keys live in `<dataDir>/secrets/epochs` unless `epochKeyDir` is set. */
  dataDir: string;
  telemetry: { retentionDays: number; retentionIntervalSeconds: number; maxClockSkewSeconds: number };
}

export interface TelemetryDeps {
  store: Store;
  keys: KeyService;
  audit: RetentionDeps['audit'];
  bus: EventBus;
  /** The inventory; telemetry reads only device rows (care unit) through it. */
  devices: { getRow(id: string): Promise<{ id: string; care_unit: string | null }> };
  patients: PatientBindings;
  config: TelemetryConfig;
  now?: () => number;
  /** Where the period key chain lives (default `<dataDir>/secrets/epochs`). */
  epochKeyDir?: string;
  /** Group-commit tuning. */
  maxBatch?: number;
  lingerMs?: number;
}

export interface TelemetryService extends TelemetrySink {
  /** A device's observations, decrypted (callers authorise and audit). */
  readDevice(deviceId: string, query: TelemetryQuery): Promise<TelemetryPage>;
  /** A patient's observations from the given devices (callers authorise and audit). */
  readPatient(
    patientIndex: string,
    deviceIds: readonly string[],
    query: TelemetryQuery,
  ): Promise<TelemetryPage>;
  runRetention(now?: number): Promise<RetentionReport>;
  /** Runs retention every `intervalSeconds` (default from config); returns a stop function. */
  startRetention(intervalSeconds?: number, onError?: (error: unknown) => void): () => void;
  /** Waits for queued writes. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The telemetry capability: validates device messages, encrypts and group-commits them
 * (`TelemetrySink`), reads them back decrypted, and enforces retention by deletion and
 * crypto-shredding.
 */
export async function createTelemetryService(deps: TelemetryDeps): Promise<TelemetryService> {
  const now = deps.now ?? Date.now;
  const epochs = await openEpochKeys({
    store: deps.store,
    dir: deps.epochKeyDir ?? join(deps.config.dataDir, 'secrets', 'epochs'),
    purpose: TELEMETRY_PURPOSE,
    now,
  });
  const writer = new IngestWriter({
    store: deps.store,
    keys: deps.keys,
    epochs,
    bus: deps.bus,
    patients: deps.patients,
    now,
    // The automatic enrolled -> active step is a change like any other: audited, by the system.
    onActivated: async (deviceIds) => {
      await Promise.all(
        deviceIds.map((id) =>
          deps.audit.append({
            actor: { type: 'system', name: 'pulsegate' },
            action: 'device.lifecycle.active',
            resource: { type: 'device', id },
            outcome: 'success',
            reason: 'first telemetry accepted',
          }),
        ),
      );
    },
    ...(deps.maxBatch ? { maxBatch: deps.maxBatch } : {}),
    ...(deps.lingerMs !== undefined ? { lingerMs: deps.lingerMs } : {}),
  });
  const maxSkewMs = deps.config.telemetry.maxClockSkewSeconds * 1000;
  const reader = { store: deps.store, keys: deps.keys, epochs, now };
  const retentionDeps: RetentionDeps = {
    store: deps.store,
    keys: deps.keys,
    epochs,
    audit: deps.audit,
    retentionDays: deps.config.telemetry.retentionDays,
  };
  const timers = new Set<NodeJS.Timeout>();

  return {
    async ingest(messages: readonly IngestMessage[]): Promise<IngestOutcome[]> {
      const t = now();
      return Promise.all(
        messages.map((msg) => {
          const parsed = parseMessage(msg.payload, msg.kind, t, maxSkewMs);
          if (parsed.ok) return writer.submit(msg, parsed.message);
          deps.bus.emit('telemetry.rejected', {
            deviceId: msg.deviceId,
            code: parsed.code,
            source: msg.source,
            receivedAt: msg.receivedAt,
            bytes: msg.payload.length,
          });
          const outcome: IngestOutcome = { ok: false, code: parsed.code };
          if (parsed.detail) outcome.detail = parsed.detail;
          return outcome;
        }),
      );
    },
    readDevice: (deviceId, query) => readTelemetry(reader, { deviceId }, query),
    readPatient: (patientIndex, deviceIds, query) =>
      readTelemetry(reader, { patientIndex, deviceIds }, query),
    runRetention: (at) => runRetention(retentionDeps, at ?? now()),
    startRetention(intervalSeconds = deps.config.telemetry.retentionIntervalSeconds, onError = () => {}) {
      let busy = false;
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        runRetention(retentionDeps, now())
          .catch(onError)
          .finally(() => {
            busy = false;
          });
      }, intervalSeconds * 1000);
      timer.unref();
      timers.add(timer);
      return () => {
        clearInterval(timer);
        timers.delete(timer);
      };
    },
    flush: () => writer.drain(),
    async close() {
      for (const t of timers) clearInterval(t);
      timers.clear();
      await writer.drain();
    },
  };
}
