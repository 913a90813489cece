import type { DataKeyScope, EpochKeys, KeyService } from '../keys/index.js';
import type { ParsedAlarm, ParsedMessage, ParsedObservation } from './parse-message.js';

/** Data-key purpose of telemetry (retention shreds it by period). */
export const TELEMETRY_PURPOSE = 'telemetry';

/** 'YYYY-MM' (UTC) of a time: the data key period and the retention unit. */
export { periodOf } from '../keys/index.js';

/** The data key scope of a reading: the patient's blind index, or the device when unbound. */
export function scopeOf(deviceId: string, patientIndex: string | null, period: string): DataKeyScope {
  return { purpose: TELEMETRY_PURPOSE, subject: patientIndex ?? `device:${deviceId}`, period };
}

/** The `vitals` column: each kind once, space-delimited with spaces at both ends, for LIKE filters. */
export function vitalsOf(observations: readonly { kind: string }[]): string {
  return ` ${[...new Set(observations.map((o) => o.kind))].join(' ')} `;
}

/** The row identity every sealed reading is bound to (GCM associated data). */
export function readingAad(r: {
  device_id: string;
  observed_at: number;
  seq: number;
  key_period: string;
  patient_index: string | null;
  vitals: string;
}): Buffer {
  return Buffer.from(
    `telemetry_readings|${r.device_id}|${r.observed_at}|${r.seq}|${r.key_period}|${r.patient_index ?? '-'}|${r.vitals}`,
  );
}

/** What the sealed part of a reading holds. */
interface SealedReading {
  /** Patient identifier, or null when unbound. */
  p: string | null;
  /** [system, code, unit, value, implausible 0|1, ms after the message time] */
  o: Array<[string, string, string, number, number, number]>;
  /** [code, priority, kind, ms after the message time] */
  a?: Array<[string, string, string, number]>;
  /** The service client that entered the reading (FHIR create), absent for device messages. */
  c?: string;
}

export function encodeReading(message: ParsedMessage, patientId: string | null, enteredBy?: string): Buffer {
  const body: SealedReading = {
    p: patientId,
    o: message.observations.map((o) => [
      o.system,
      o.code,
      o.unit,
      o.value,
      o.implausible ? 1 : 0,
      o.ts - message.ts,
    ]),
  };
  if (message.alarms.length > 0)
    body.a = message.alarms.map((a) => [a.code, a.priority, a.kind, a.ts - message.ts]);
  if (enteredBy !== undefined) body.c = enteredBy;
  return Buffer.from(JSON.stringify(body));
}

export interface DecodedReading {
  patientId: string | null;
  observations: Array<Omit<ParsedObservation, 'kind'>>;
  alarms: ParsedAlarm[];
  /** The service client that entered the reading, when it did not come from the device itself. */
  enteredBy?: string;
}

export function decodeReading(plain: Buffer, observedAt: number): DecodedReading {
  const body = JSON.parse(plain.toString('utf8')) as SealedReading;
  const observations = new Array<DecodedReading['observations'][number]>(body.o.length);
  for (let i = 0; i < body.o.length; i++) {
    const [system, code, unit, value, implausible, dt] = body.o[i]!;
    observations[i] = {
      system: system as 'LOINC' | 'MDC',
      code,
      unit,
      value,
      implausible: implausible === 1,
      ts: observedAt + dt,
    };
  }
  const decoded: DecodedReading = {
    patientId: body.p,
    observations,
    alarms: body.a
      ? body.a.map(([code, priority, kind, dt]) => ({
          code,
          priority: priority as ParsedAlarm['priority'],
          kind: kind as ParsedAlarm['kind'],
          ts: observedAt + dt,
        }))
      : [],
  };
  if (body.c !== undefined) decoded.enteredBy = body.c;
  return decoded;
}

/** A stored reading row as far as opening it needs (the row's identity is its AAD). */
export interface SealedRow {
  device_id: string;
  observed_at: number | string | bigint;
  seq: number | string | bigint;
  key_period: string;
  patient_index: string | null;
  vitals: string;
  sealed: Uint8Array;
}

/**
 * Opens stored readings: removes each row's period mask (one pass per month) and decrypts all of
 * them in one `decryptMany`, with each row's identity as associated data. Returns the plaintexts
 * in row order.
 */
export async function unsealRows(
  deps: { keys: KeyService; epochs: EpochKeys },
  rows: readonly SealedRow[],
): Promise<Buffer[]> {
  if (rows.length === 0) return [];
  await deps.epochs.refresh();
  const byPeriod = new Map<string, Buffer[]>();
  const sealed = rows.map((r) => {
    const copy = Buffer.from(r.sealed);
    const list = byPeriod.get(r.key_period) ?? [];
    byPeriod.set(r.key_period, list);
    list.push(copy);
    return copy;
  });
  for (const [period, list] of byPeriod) deps.epochs.mask(period, list);
  return deps.keys.decryptMany(
    rows.map((r, i) => ({
      sealed: sealed[i]!,
      aad: readingAad({
        device_id: r.device_id,
        observed_at: Number(r.observed_at),
        seq: Number(r.seq),
        key_period: r.key_period,
        patient_index: r.patient_index,
        vitals: r.vitals,
      }),
    })),
  );
}
