import { join } from 'node:path';
import type { EventBus } from '../events/index.js';
import type { IngestMessage, IngestOutcome, TelemetrySink } from '../ingest/index.js';
import { type KeyService, openEpochKeys } from '../keys/index.js';
import type { PatientBindings } from '../patients/index.js';
import type { Store } from '../store/index.js';
import { type EnteredReading, type EnteredResult, writeEntered } from './attributed-write.js';
import { type CommittedMessage, IngestWriter } from './ingest-writer.js';
import type { ParsedAlarm, ParsedObservation } from './parse-message.js';
import { parseMessage } from './parse-message.js';
import { TELEMETRY_PURPOSE } from './reading-codec.js';
import {
  patientRecordedIn,
  type ReadingFilters,
  type ReadingPosition,
  type ReadingSearch,
  readingsWithheld,
  readReading,
  type StoredReading,
  searchReadings,
} from './reading-search.js';
import {
  type RetentionDeps,
  type RetentionFollower,
  type RetentionReport,
  runRetention,
} from './retention.js';
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
  devices: { getRow(id: string): Promise<{ id: string; care_unit: string | null; bed?: string | null }> };
  patients: PatientBindings;
  config: TelemetryConfig;
  now?: () => number;
  /** Where the period key chain lives (default `<dataDir>/secrets/epochs`). */
  epochKeyDir?: string;
  /** Holders of telemetry-derived patient data that retention also clears (clinical alerts). */
  retentionFollowers?: readonly RetentionFollower[];
  /** Group-commit tuning. */
  maxBatch?: number;
  lingerMs?: number;
}

/**
 * What an in-process observer of stored telemetry receives, after the durable commit. It carries
 * the patient and the decoded values, so it never goes on the event bus and is never logged.
 */
export interface StoredTelemetry {
  deviceId: string;
  seq: number;
  /** Message time, epoch ms. */
  ts: number;
  /** The patient the device was bound to at `ts`, or null. */
  patientId: string | null;
  /** The patient's blind index (for lookups without the identifier), or null. */
  patientIndex: string | null;
  /** The device's care unit now (inventory), or null. */
  careUnit: string | null;
  /** The device's bed now (inventory), or null. */
  bed: string | null;
  observations: readonly ParsedObservation[];
  alarms: readonly ParsedAlarm[];
}

export type StoredTelemetryListener = (stored: StoredTelemetry) => void;

export interface TelemetryService extends TelemetrySink {
  /**
   * Observes every message once it is durably stored (in process; values included). Listeners run
   * synchronously in order and must queue slow work; one that throws is isolated. Returns an
   * unsubscribe function.
   */
  observeStored(listener: StoredTelemetryListener): () => void;
  /** A device's observations, decrypted (callers authorise and audit). */
  readDevice(deviceId: string, query: TelemetryQuery): Promise<TelemetryPage>;
  /** A patient's observations from the given devices (callers authorise and audit). */
  readPatient(
    patientIndex: string,
    deviceIds: readonly string[],
    query: TelemetryQuery,
  ): Promise<TelemetryPage>;
  /** One page of a keyset search over readings, decrypted (callers authorise and audit). */
  search(search: ReadingSearch): Promise<StoredReading[]>;
  /** Whether the search's care-unit filter leaves readings in `span` out (see readingsWithheld). */
  withheld(search: ReadingFilters, span: { from?: number; to?: number }): Promise<boolean>;
  /** One reading by its identity, decrypted, or undefined. */
  readOne(at: ReadingPosition): Promise<StoredReading | undefined>;
  /** Whether a reading of the patient was taken in one of these care units (see patientRecordedIn). */
  recordedIn(patientIndex: string, careUnits: readonly string[]): Promise<boolean>;
  /** Stores a reading entered by a client (FHIR create): validated, sealed, attributed. */
  enter(reading: EnteredReading): Promise<EnteredResult>;
  /**
   * The last accepted sequence number of each device (-1 when none): for sources without their
   * own per-device counter (HL7 v2), which number from here.
   */
  lastSequences(deviceIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * True when a message with this receipt (sender, message id) is already stored. Concurrent
   * calls are answered by one query.
   */
  receiptHeld(sender: string, id: string): Promise<boolean>;
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
  const observers = new Set<StoredTelemetryListener>();
  // Care unit and bed per device, briefly cached: the inventory is not read once per message.
  const placeTtlMs = 5000;
  const places = new Map<string, { careUnit: string | null; bed: string | null; at: number }>();
  const placeOf = async (deviceId: string) => {
    const cached = places.get(deviceId);
    if (cached && now() - cached.at < placeTtlMs) return cached;
    let place = { careUnit: null as string | null, bed: null as string | null, at: now() };
    try {
      const row = (await deps.devices.getRow(deviceId)) as { care_unit: string | null; bed?: string | null };
      place = { careUnit: row.care_unit, bed: row.bed ?? null, at: now() };
    } catch {
      // A device deleted meanwhile: deliver without a place.
    }
    if (places.size > 100_000) places.clear();
    places.set(deviceId, place);
    return place;
  };
  const deliverAt = (message: CommittedMessage, place: { careUnit: string | null; bed: string | null }) => {
    const stored: StoredTelemetry = { ...message, careUnit: place.careUnit, bed: place.bed };
    for (const listener of observers) {
      try {
        listener(stored);
      } catch {
        // Isolated on purpose, and not logged: the payload holds PHI.
      }
    }
  };
  // Deliveries stay in commit order even though the place lookup may be asynchronous: a message
  // whose place is cached goes out at once unless earlier ones still wait for theirs (one promise
  // chain link per message was a tenth of ingest's CPU with the clinical monitor's).
  let delivering: Promise<void> = Promise.resolve();
  let waiting = 0;
  const deliver = (message: CommittedMessage) => {
    if (observers.size === 0) return;
    const cached = places.get(message.deviceId);
    if (waiting === 0 && cached && now() - cached.at < placeTtlMs) {
      deliverAt(message, cached);
      return;
    }
    waiting++;
    delivering = delivering.then(async () => {
      try {
        deliverAt(message, await placeOf(message.deviceId));
      } finally {
        waiting--;
      }
    });
  };
  const writer = new IngestWriter({
    onStored: deliver,
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
    ...(deps.retentionFollowers ? { followers: deps.retentionFollowers } : {}),
  };
  const timers = new Set<NodeJS.Timeout>();
  // A fresh enrollment deleted the device's stored sequence number in its transaction
  // (`restartSequenceIn`, called by the PKI); the cache forgets it as the enrollment is announced.
  const stopRestarts = deps.bus.on('device.changed', (e) => {
    if (e.change === 'lifecycle.enrolled') writer.forgetSequence(e.deviceId);
  });
  let receiptQueries: Array<{
    sender: string;
    id: string;
    resolve: (held: boolean) => void;
    reject: (e: unknown) => void;
  }> = [];
  const lookUpReceipts = async () => {
    const batch = receiptQueries;
    receiptQueries = [];
    const bySender = new Map<string, typeof batch>();
    for (const q of batch) {
      const queries = bySender.get(q.sender) ?? [];
      bySender.set(q.sender, queries);
      queries.push(q);
    }
    // One primary-key range per sender (the key is sender, message id); a sender whose lookup
    // fails fails alone, never another gateway's messages looked up in the same tick.
    for (const [sender, queries] of bySender) {
      try {
        const held = new Set<string>();
        for (let at = 0; at < queries.length; at += 500) {
          const found = await deps.store.db
            .selectFrom('ingest_receipts')
            .select('message_id')
            .where('sender_id', '=', sender)
            .where(
              'message_id',
              'in',
              queries.slice(at, at + 500).map((q) => q.id),
            )
            .execute();
          for (const f of found) held.add(f.message_id);
        }
        for (const q of queries) q.resolve(held.has(q.id));
      } catch (error) {
        for (const q of queries) q.reject(error);
      }
    }
  };

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
    observeStored(listener) {
      observers.add(listener);
      return () => observers.delete(listener);
    },
    readDevice: (deviceId, query) => readTelemetry(reader, { deviceId }, query),
    readPatient: (patientIndex, deviceIds, query) =>
      readTelemetry(reader, { patientIndex, deviceIds }, query),
    search: (search) => searchReadings(reader, search),
    withheld: (search, span) => readingsWithheld(reader, search, span),
    readOne: (at) => readReading(reader, at),
    recordedIn: (patientIndex, careUnits) => patientRecordedIn(reader, patientIndex, careUnits),
    enter: (reading) =>
      writeEntered({ store: deps.store, keys: deps.keys, epochs, bus: deps.bus, now, maxSkewMs }, reading),
    async lastSequences(deviceIds) {
      const out = new Map<string, number>(deviceIds.map((d) => [d, -1]));
      if (deviceIds.length === 0) return out;
      const rows = await deps.store.db
        .selectFrom('device_ingest_state')
        .select(['device_id', 'last_seq'])
        .where('device_id', 'in', [...deviceIds])
        .execute();
      for (const r of rows) out.set(r.device_id, Number(r.last_seq));
      return out;
    },
    receiptHeld(sender, id) {
      return new Promise((resolve, reject) => {
        receiptQueries.push({ sender, id, resolve, reject });
        if (receiptQueries.length === 1) setImmediate(() => void lookUpReceipts());
      });
    },
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
    flush: async () => {
      await writer.drain();
      await delivering;
    },
    async close() {
      stopRestarts();
      for (const t of timers) clearInterval(t);
      timers.clear();
      await writer.drain();
    },
  };
}
