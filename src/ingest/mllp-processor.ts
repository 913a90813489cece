import type { ErrorCode } from '../errors.js';
import type { EventBus } from '../events/index.js';
import {
  type AckCode,
  type AckError,
  ackFor,
  ackForError,
  buildAck,
  type Hl7Location,
  type Hl7Message,
  mapPcd01,
  type Pcd01Observation,
  type Pcd01Report,
  parseEr7,
  readHeader,
} from '../hl7/index.js';
import type { Logger } from '../logging/logger.js';
import { parseMessage } from '../telemetry/index.js';
import type { DeviceIdentity, IngestMessage, TelemetrySink } from './ports.js';
import { recordRefusal } from './refusal.js';
import { TokenBuckets } from './token-bucket.js';

/** What HL7 ingest needs from the inventory. */
export interface Hl7DeviceLookup {
  byEui64(
    eui64s: readonly string[],
  ): Promise<Array<{ id: string; eui64: string | null; gateway_id: string | null; lifecycle: string }>>;
}

/** What HL7 ingest needs from patient bindings. */
export interface Hl7BindingLookup {
  bindingsAt(
    lookups: ReadonlyArray<{ deviceId: string; time: number }>,
  ): Promise<Array<{ patientIndex: string; patientId: string } | null>>;
}

export interface Hl7ProcessorOptions {
  sink: TelemetrySink & {
    lastSequences(deviceIds: readonly string[]): Promise<Map<string, number>>;
    receiptHeld(sender: string, id: string): Promise<boolean>;
  };
  devices: Hl7DeviceLookup;
  patients: Hl7BindingLookup;
  bus: EventBus;
  logger: Logger;
  config: {
    hl7: { maxMessageBytes: number; ratePerSecond: number; burst: number };
    telemetry: { maxClockSkewSeconds: number };
  };
  now?: () => number;
}

/** The answer to one HL7 message. */
export interface Hl7Answer {
  /** The ER7 ACK (segments end with CR), to send back as is. */
  ack: string;
  code: AckCode;
  /** Our error code when not AA. */
  error?: ErrorCode;
  /** True when the message was a resend of one already stored. */
  duplicate?: boolean;
}

export interface Hl7Processor {
  /** Handles one message from an authenticated sender; never throws. */
  handle(
    bytes: Buffer,
    sender: DeviceIdentity,
    meta: { address: string | null; transport: 'mllp' | 'https' },
  ): Promise<Hl7Answer>;
  close(): Promise<void>;
}

const BLOCKED = new Set(['quarantined', 'retired']);
const MAX_OBSERVATIONS = 64;
const DEVICE_CACHE_MS = 5000;

/** A refusal raised inside the processor, with where it points. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly location?: Hl7Location,
    readonly deviceId?: string,
    /** The telemetry sink already reported it (`telemetry.rejected`). */
    readonly reported = false,
  ) {
    super(code);
  }
}

/** The OBX of a sink refusal's detail (`/observations/3/value` -> the 4th observation's OBX). */
function locationOf(detail: string | undefined, observations: readonly Pcd01Observation[]) {
  const index = Number(/^\/observations\/(\d+)/.exec(detail ?? '')?.[1]);
  return Number.isInteger(index) ? observations[index]?.location : undefined;
}

interface CachedDevice {
  row: Awaited<ReturnType<Hl7DeviceLookup['byEui64']>>[number];
  at: number;
}
/** Devices kept in the EUI-64 cache at most (it starts afresh beyond). */
const DEVICE_CACHE_MAX = 50_000;

/**
 * HL7 v2 ingest shared by the MLLP listener and `POST /api/v1/ingest/hl7`: parse (ER7), check MSH,
 * drop resends (same sender and MSH-10), map IHE PCD-01 to observations per device, check that
 * every device belongs to the sending gateway and that PID-3 matches the device's patient
 * binding, then hand the observations to the telemetry sink (the same validation, bounds,
 * encryption and durable store as MQTT) and answer AA only after the readings and the
 * message's receipt are committed (in one transaction). Refusals are answered AE (content) or AR (rejected or retry) with an ERR.
 */
export function createHl7Processor(options: Hl7ProcessorOptions): Hl7Processor {
  const { sink, devices, patients, bus, logger, config } = options;
  const now = options.now ?? Date.now;
  const rate = new TokenBuckets({ ratePerSecond: config.hl7.ratePerSecond, burst: config.hl7.burst });
  const skewMs = config.telemetry.maxClockSkewSeconds * 1000;
  /** Next sequence number per device (numbering continues from the telemetry store). */
  const nextSeq = new Map<string, number>();
  const seqLoads = new Map<string, Promise<void>>();
  const deviceCache = new Map<string, CachedDevice>();
  const inFlight = new Map<string, Promise<void>>();
  const offChanged = bus.on('device.changed', () => deviceCache.clear());

  async function lookupDevices(eui64s: string[]) {
    const t = now();
    const missing = eui64s.filter((e) => {
      const hit = deviceCache.get(e);
      return !hit || t - hit.at > DEVICE_CACHE_MS;
    });
    const found = new Map<string, NonNullable<CachedDevice['row']>>();
    if (missing.length > 0) {
      const rows = await devices.byEui64(missing);
      // Only devices that exist are kept: a gateway naming made-up EUI-64s must not grow the
      // cache (each refused message would otherwise leave its names behind), and the whole cache
      // is bounded.
      if (deviceCache.size + rows.length > DEVICE_CACHE_MAX) deviceCache.clear();
      for (const row of rows) {
        if (!row.eui64) continue;
        found.set(row.eui64, row);
        deviceCache.set(row.eui64, { row, at: t });
      }
    }
    return eui64s.map((e) => found.get(e) ?? deviceCache.get(e)?.row ?? null);
  }

  async function loadSeqs(deviceIds: string[]): Promise<void> {
    const todo = deviceIds.filter((d) => !nextSeq.has(d) && !seqLoads.has(d));
    if (todo.length > 0) {
      const load = sink.lastSequences(todo).then((last) => {
        for (const d of todo) if (!nextSeq.has(d)) nextSeq.set(d, (last.get(d) ?? -1) + 1);
      });
      for (const d of todo) seqLoads.set(d, load);
      try {
        await load;
      } finally {
        for (const d of todo) seqLoads.delete(d);
      }
    }
    await Promise.all(deviceIds.map((d) => seqLoads.get(d)));
  }

  /** One telemetry payload per device (split at 64 observations), checked like the sink will. */
  /**
   * One telemetry message per device (split at 64 observations), numbered from each device's
   * counter and checked exactly as the sink will check it, before anything is stored, so that a
   * message is stored whole or not at all. Synchronous: the counters move only when every part
   * passed, and the caller hands the parts to the sink without an await in between.
   */
  function messagesOf(
    report: Pcd01Report,
    owners: Map<string, string>,
    receipt: { sender: string; id: string },
    t: number,
  ): { messages: IngestMessage[]; sources: Pcd01Observation[][] } {
    const ts = new Date(report.header.sentAt).toISOString();
    const counters = new Map<string, number>();
    const out: IngestMessage[] = [];
    const sources: Pcd01Observation[][] = [];
    // One part is stored or refused by the sink as a whole; only several parts need this check
    // up front (the sink's own check then runs again).
    const parts = report.devices.reduce((n, d) => n + Math.ceil(d.observations.length / MAX_OBSERVATIONS), 0);
    for (const d of report.devices) {
      const deviceId = owners.get(d.eui64)!;
      for (let i = 0; i < d.observations.length; i += MAX_OBSERVATIONS) {
        const observations = d.observations.slice(i, i + MAX_OBSERVATIONS);
        const seq = counters.get(deviceId) ?? nextSeq.get(deviceId)!;
        counters.set(deviceId, seq + 1);
        const payload = Buffer.from(
          JSON.stringify({
            seq,
            ts,
            observations: observations.map((o) => ({
              code: { system: o.system, code: o.code },
              value: o.value,
              unit: o.unit,
              ts: new Date(o.ts).toISOString(),
            })),
          }),
        );
        const checked = parts > 1 ? parseMessage(payload, 'telemetry', t, skewMs) : undefined;
        if (checked && !checked.ok)
          throw new Refusal(checked.code, undefined, locationOf(checked.detail, observations), deviceId);
        out.push({ deviceId, payload, receivedAt: t, source: 'hl7', kind: 'telemetry', receipt });
        sources.push(observations);
      }
    }
    for (const [deviceId, next] of counters) nextSeq.set(deviceId, next);
    return { messages: out, sources };
  }

  async function storeReport(report: Pcd01Report, sender: DeviceIdentity, t: number) {
    const eui64s = report.devices.map((d) => d.eui64);
    const rows = await lookupDevices(eui64s);
    const owners = new Map<string, string>();
    report.devices.forEach((d, i) => {
      const row = rows[i];
      // Unknown and foreign devices get the same answer: the sender learns nothing about others.
      if (!row || (row.gateway_id !== sender.deviceId && row.id !== sender.deviceId))
        throw new Refusal('HL7_DEVICE_NOT_OWNED', undefined, d.location);
      if (BLOCKED.has(row.lifecycle))
        throw new Refusal('INGEST_DEVICE_NOT_ACTIVE', undefined, d.location, row.id);
      owners.set(d.eui64, row.id);
    });
    // PID-3 must name the patient the device is bound to at the message time (an operator or
    // ADT binds devices to patients; a gateway reports, it does not re-assign).
    const ids = [...owners.values()];
    const bindings = await patients.bindingsAt(
      ids.map((deviceId) => ({ deviceId, time: report.header.sentAt })),
    );
    report.devices.forEach((d, i) => {
      const b = bindings[i];
      if (!b || !d.patientIds.includes(b.patientId))
        throw new Refusal('HL7_PATIENT_MISMATCH', undefined, d.patientLocation, ids[i]);
    });
    await loadSeqs(ids);
    // From here to `sink.ingest` nothing awaits, so one device's messages reach the writer in
    // sequence order. The receipt (sender, MSH-10) is stored in the same transaction as the
    // readings: the message is stored once even if the ACK is lost and it comes again.
    const { messages: batch, sources } = messagesOf(
      report,
      owners,
      { sender: sender.deviceId, id: report.header.controlId },
      t,
    );
    const outcomes = await sink.ingest(batch);
    let stored = 0;
    for (let i = 0; i < outcomes.length; i++) {
      const o = outcomes[i]!;
      if (o.ok) {
        stored += o.stored;
        continue;
      }
      // A resend that raced its original past the check in `handle`: stored once, acknowledged.
      if (o.code === 'TELEMETRY_DUPLICATE') continue;
      // Another writer numbered this device meanwhile: start again from the store's count.
      if (o.code === 'TELEMETRY_REPLAY') nextSeq.delete(batch[i]!.deviceId);
      if (o.code === 'TELEMETRY_REPLAY')
        throw new Refusal('HL7_RETRY', undefined, undefined, batch[i]!.deviceId);
      // The sink refused the content (bounds, clock, units) and reported it.
      throw new Refusal(o.code, undefined, locationOf(o.detail, sources[i]!), batch[i]!.deviceId, true);
    }
    return stored;
  }

  return {
    async handle(bytes, sender, meta) {
      const t = now();
      let message: Hl7Message | null = null;
      const answer = (code: AckCode, errors: AckError[] = [], extra: Partial<Hl7Answer> = {}): Hl7Answer => ({
        ack: buildAck(message, code, errors, { now: t }),
        code,
        ...extra,
      });
      const refuse = (
        code: ErrorCode,
        detail?: string,
        location?: Hl7Location,
        deviceId?: string,
        reported = false,
      ): Hl7Answer => {
        recordRefusal(
          { bus, logger },
          {
            kind: 'publish',
            code,
            deviceId: sender.deviceId,
            address: meta.address,
            topic: `hl7:${meta.transport}`,
          },
        );
        if (!reported && (code.startsWith('TELEMETRY_') || code.startsWith('HL7_')))
          bus.emit('telemetry.rejected', {
            deviceId: deviceId ?? sender.deviceId,
            code,
            source: 'hl7',
            receivedAt: t,
            bytes: bytes.length,
          });
        const a = ackFor(code, detail, location);
        return answer(a.ack, [a.error], { error: code });
      };
      if (bytes.length > config.hl7.maxMessageBytes) return refuse('HL7_MESSAGE_TOO_LARGE');
      if (!rate.take(sender.deviceId)) return refuse('INGEST_RATE_LIMITED');
      const text = bytes.toString('utf8');
      try {
        message = parseEr7(text);
      } catch (error) {
        // Answer with the sender's MSH-10 when at least MSH parses.
        try {
          message = parseEr7(text.slice(0, text.search(/[\r\n]|$/)));
        } catch {
          message = null;
        }
        const a = ackForError(error);
        return refuse(a.code, a.error.message, a.error.location);
      }
      let key = '';
      try {
        const header = readHeader(message);
        key = `${sender.deviceId}\u0000${header.controlId}`;
        // A resend racing its original waits for it, then finds its record. The message claims
        // its key in the same synchronous step as it finds the key free: two copies arriving
        // together can never both pass the receipt check and both be stored.
        for (let waiting = inFlight.get(key); waiting; waiting = inFlight.get(key)) await waiting;
        let done!: () => void;
        inFlight.set(
          key,
          new Promise<void>((resolve) => {
            done = resolve;
          }),
        );
        try {
          if (await sink.receiptHeld(sender.deviceId, header.controlId))
            return answer('AA', [], { duplicate: true });
          await storeReport(mapPcd01(message, header), sender, t);
        } finally {
          inFlight.delete(key);
          done();
        }
        return answer('AA');
      } catch (error) {
        if (error instanceof Refusal)
          return refuse(error.code, error.detail, error.location, error.deviceId, error.reported);
        const a = ackForError(error);
        if (a.code === 'INTERNAL') {
          logger.error({ err: error, deviceId: sender.deviceId }, 'hl7 message not stored; answered AR');
          return refuse('HL7_RETRY');
        }
        return refuse(a.code, a.error.message, a.error.location);
      }
    },
    async close() {
      offChanged();
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
