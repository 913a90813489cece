/**
 * Readings entered by a service client (FHIR `Observation` create) rather than sent by the device.
 * They go through the same validation (code table, units, bounds) and the same sealing as device
 * messages, but: the patient is the one the client names (checked by the caller), the client id is
 * sealed with the values, and the row's `seq` lies above the device's own uint32 sequence space
 * (2^32 + a random 40-bit number), so entered readings never collide with, or advance, the
 * device's replay protection.
 */
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { EpochKeys, KeyService } from '../keys/index.js';
import type { Store } from '../store/index.js';
import { parseMessage } from './parse-message.js';
import { encodeReading, periodOf, readingAad, scopeOf, vitalsOf } from './reading-codec.js';

/** Sequence numbers at or above this mark readings entered by a client (device seqs are uint32). */
export const ENTERED_SEQ_BASE = 2 ** 32;

/** One reading a client enters. */
export interface EnteredReading {
  deviceId: string;
  patientIndex: string;
  patientId: string;
  /** The service client (or user) id that entered it. */
  enteredBy: string;
  /** Effective time, ms. */
  ts: number;
  observations: ReadonlyArray<{ system: 'LOINC' | 'MDC'; code: string; value: number; unit: string }>;
}

export interface EnteredResult {
  deviceId: string;
  observedAt: number;
  seq: number;
  receivedAt: number;
  flagged: number;
  /** The device's care unit the reading was stored with, or null. */
  careUnit: string | null;
  /** Normalised observations as stored. */
  observations: Array<{
    system: 'LOINC' | 'MDC';
    code: string;
    value: number;
    unit: string;
    implausible: boolean;
  }>;
}

export interface EnteredDeps {
  store: Store;
  keys: KeyService;
  epochs: EpochKeys;
  bus: EventBus;
  now: () => number;
  maxSkewMs: number;
}

/** Validates, seals and stores one entered reading; throws TELEMETRY_* codes for bad values. */
export async function writeEntered(deps: EnteredDeps, r: EnteredReading): Promise<EnteredResult> {
  const now = deps.now();
  // Entered readings may be old (a manual reading typed in later) but never in the future.
  if (r.ts > now + deps.maxSkewMs) throw new PulsegateError('TELEMETRY_CLOCK_SKEW', '/effectiveDateTime');
  await deps.epochs.refresh();
  if (periodOf(r.ts) < deps.epochs.oldestPeriod())
    throw new PulsegateError('TELEMETRY_CLOCK_SKEW', '/effectiveDateTime');
  const payload = Buffer.from(
    JSON.stringify({
      seq: 0,
      ts: new Date(r.ts).toISOString(),
      observations: r.observations.map((o) => ({
        code: { system: o.system, code: o.code },
        value: o.value,
        unit: o.unit,
      })),
    }),
  );
  // `now = ts`: the time was checked above; parseMessage's symmetric skew rule is for devices.
  const parsed = parseMessage(payload, 'telemetry', r.ts, deps.maxSkewMs);
  if (!parsed.ok) throw new PulsegateError(parsed.code, parsed.detail);
  const message = parsed.message;
  const period = periodOf(message.ts);
  const vitals = vitalsOf(message.observations);
  const plaintext = encodeReading(message, r.patientId, r.enteredBy);
  for (let attempt = 1; ; attempt++) {
    const seq = ENTERED_SEQ_BASE + randomInt(2 ** 40);
    const row = {
      device_id: r.deviceId,
      observed_at: message.ts,
      seq,
      received_at: now,
      patient_index: r.patientIndex,
      key_period: period,
      vitals,
      flagged: message.flagged,
    };
    const sealed = await deps.keys.encrypt(
      scopeOf(r.deviceId, r.patientIndex, period),
      plaintext,
      readingAad(row),
    );
    deps.epochs.mask(period, [sealed]);
    // The device's care unit as the inventory has it in the same statement: the reading keeps it.
    const inserted = await deps.store.db
      .insertInto('telemetry_readings')
      .values((eb) => ({
        ...row,
        sealed,
        // Unless it was observed before the device's last move (then no unit: fail closed).
        care_unit: eb
          .selectFrom('devices')
          .select(
            sql<string | null>`case when care_unit_since is null or care_unit_since <= ${message.ts}
              then care_unit end`.as('care_unit'),
          )
          .where('id', '=', r.deviceId),
      }))
      .onConflict((oc) => oc.columns(['device_id', 'observed_at', 'seq']).doNothing())
      .returning('care_unit')
      .executeTakeFirst();
    if (!inserted) {
      if (attempt < 3) continue;
      throw new PulsegateError('CONFLICT');
    }
    deps.bus.emit('telemetry.stored', {
      deviceId: r.deviceId,
      seq: null,
      count: message.observations.length,
      bytes: payload.length,
      receivedAt: now,
      source: 'fhir',
      flagged: message.flagged,
    });
    return {
      deviceId: r.deviceId,
      observedAt: message.ts,
      seq,
      receivedAt: now,
      flagged: message.flagged,
      careUnit: inserted.care_unit,
      observations: message.observations.map((o) => ({
        system: o.system,
        code: o.code,
        value: o.value,
        unit: o.unit,
        implausible: o.implausible,
      })),
    };
  }
}
