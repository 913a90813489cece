/**
 * Keyset searches over stored readings for the FHIR API: by patient blind index, devices, vital
 * kinds, message time and storage time, newest or oldest first, resumable at any row. Only the
 * columns kept in clear are filtered in SQL; each selected row is then decrypted in one
 * `decryptMany` call, so a page costs one query and one batch of AES-GCM opens.
 */
import type { ExpressionBuilder } from 'kysely';
import type { EpochKeys, KeyService } from '../keys/index.js';
import type { Database, Store } from '../store/index.js';
import { type DecodedReading, decodeReading, unsealRows } from './reading-codec.js';

/**
 * Readings a care-unit filter leaves out: taken in another unit, or stored without one. Every
 * reader that filters on `units` and says what it withheld uses this one predicate.
 */
export function takenOutside(units: readonly string[]) {
  return (eb: ExpressionBuilder<Database, 'telemetry_readings'>) =>
    units.length > 0
      ? eb.or([eb('care_unit', 'is', null), eb('care_unit', 'not in', [...units])])
      : eb.lit(true);
}

/** Where a search resumes: the row (inclusive) in the search's order. */
export interface ReadingPosition {
  observedAt: number;
  deviceId: string;
  seq: number;
}

/** Filters of a reading search. Times are ms; `to` bounds are exclusive. */
export interface ReadingSearch {
  patientIndex?: string;
  /** Only these devices (a `device` parameter, or the devices a caller may see). */
  deviceIds?: readonly string[];
  /**
   * Care-unit limited callers: only readings taken in one of these units (the reading's stored
   * care unit) of devices whose inventory care unit is one of them now.
   */
  careUnits?: readonly string[];
  /** Rows holding at least one of these vital kinds. */
  kinds?: readonly string[];
  /** Message time range. */
  from?: number;
  to?: number;
  /** Storage time range (`_lastUpdated`). */
  receivedFrom?: number;
  receivedTo?: number;
  order: 'asc' | 'desc';
  /** Resume at this row, inclusive. */
  at?: ReadingPosition;
  /** Rows returned at most. */
  limit: number;
}

/** The filters of a search, without its order, position and page size. */
export type ReadingFilters = Omit<ReadingSearch, 'order' | 'at' | 'limit'>;

/** One reading, decrypted. */
export interface StoredReading extends DecodedReading {
  deviceId: string;
  observedAt: number;
  seq: number;
  receivedAt: number;
  patientIndex: string | null;
  /** The device's care unit when the reading was stored, or null (see `telemetry_readings`). */
  careUnit: string | null;
}

export interface ReadingSearchDeps {
  store: Store;
  keys: KeyService;
  epochs: EpochKeys;
}

/**
 * The readings the clear-column filters of `s` match (patient, devices, vital kinds, message and
 * storage time), message time further held to `span`; the care-unit filter is the caller's.
 */
function matching(deps: ReadingSearchDeps, s: ReadingFilters, span: { from?: number; to?: number } = {}) {
  let q = deps.store.db.selectFrom('telemetry_readings');
  if (s.patientIndex !== undefined) q = q.where('patient_index', '=', s.patientIndex);
  if (s.deviceIds) q = q.where('device_id', 'in', [...s.deviceIds]);
  if (s.kinds) {
    // Kinds are [a-z0-9-] (checked by the caller against the code table): no LIKE wildcard reaches SQL.
    const kinds = [...s.kinds];
    q = q.where((eb) => eb.or(kinds.map((k) => eb('vitals', 'like', `% ${k} %`))));
  }
  const from = Math.max(s.from ?? -Infinity, span.from ?? -Infinity);
  const to = Math.min(s.to ?? Infinity, span.to ?? Infinity);
  if (Number.isFinite(from)) q = q.where('observed_at', '>=', from);
  if (Number.isFinite(to)) q = q.where('observed_at', '<', to);
  if (s.receivedFrom !== undefined) q = q.where('received_at', '>=', s.receivedFrom);
  if (s.receivedTo !== undefined) q = q.where('received_at', '<', s.receivedTo);
  return q;
}

/** Devices in one of `units` now. */
const devicesIn = (units: string[]) => (eb: ExpressionBuilder<Database, 'telemetry_readings'>) =>
  eb.selectFrom('devices').select('id').where('care_unit', 'in', units);

/** Runs one page of a reading search. */
export async function searchReadings(deps: ReadingSearchDeps, s: ReadingSearch): Promise<StoredReading[]> {
  if (s.deviceIds?.length === 0 || s.careUnits?.length === 0 || s.kinds?.length === 0) return [];
  const desc = s.order === 'desc';
  let q = matching(deps, s).selectAll();
  if (s.careUnits) {
    const units = [...s.careUnits];
    q = q.where('care_unit', 'in', units).where('device_id', 'in', devicesIn(units));
  }
  if (s.at) {
    const { observedAt, deviceId, seq } = s.at;
    const before = desc ? '<' : '>';
    const edge = desc ? '<=' : '>=';
    q = q.where((eb) =>
      eb.or([
        eb('observed_at', before, observedAt),
        eb.and([
          eb('observed_at', '=', observedAt),
          eb.or([
            eb('device_id', before, deviceId),
            eb.and([eb('device_id', '=', deviceId), eb('seq', edge, seq)]),
          ]),
        ]),
      ]),
    );
  }
  const dir = desc ? 'desc' : 'asc';
  const rows = await q
    .orderBy('observed_at', dir)
    .orderBy('device_id', dir)
    .orderBy('seq', dir)
    .limit(Math.min(Math.max(s.limit, 1), 5000))
    .execute();
  return openRows(deps, rows);
}

/**
 * Whether the care-unit filter of `s` leaves out readings that its other filters match, among
 * those at or after `from` (or `to`-bounded as `s`; `from` undefined: the whole range). One
 * probe that stops at the first such reading; the caller bounds the span (see observation-api).
 */
export async function readingsWithheld(
  deps: ReadingSearchDeps,
  s: ReadingFilters,
  span: { from?: number; to?: number },
): Promise<boolean> {
  if (!s.careUnits || s.deviceIds?.length === 0 || s.kinds?.length === 0) return false;
  const units = s.careUnits.length > 0 ? [...s.careUnits] : [''];
  // Left out: taken in another unit (or none), or of a device not in those units now.
  const probe = await matching(deps, s, span)
    .select('seq')
    .where((eb) => eb.or([takenOutside(units)(eb), eb('device_id', 'not in', devicesIn(units))]))
    .limit(1)
    .execute();
  return probe.length > 0;
}

/**
 * Whether any reading of the patient was taken in one of `units` (its stored care unit): the
 * patient was cared for there, which is what lets a clinician of that unit reach the patient's
 * record after the device moved on or was unbound. One probe on the patient index.
 */
export async function patientRecordedIn(
  deps: ReadingSearchDeps,
  patientIndex: string,
  units: readonly string[],
): Promise<boolean> {
  if (units.length === 0) return false;
  const found = await deps.store.db
    .selectFrom('telemetry_readings')
    .select('seq')
    .where('patient_index', '=', patientIndex)
    .where('care_unit', 'in', [...units])
    .limit(1)
    .execute();
  return found.length > 0;
}

/** Reads one reading by its identity, or undefined. */
export async function readReading(
  deps: ReadingSearchDeps,
  at: ReadingPosition,
): Promise<StoredReading | undefined> {
  const rows = await deps.store.db
    .selectFrom('telemetry_readings')
    .selectAll()
    .where('device_id', '=', at.deviceId)
    .where('observed_at', '=', at.observedAt)
    .where('seq', '=', at.seq)
    .execute();
  return (await openRows(deps, rows))[0];
}

type Row = {
  device_id: string;
  observed_at: number;
  seq: number;
  received_at: number;
  patient_index: string | null;
  care_unit: string | null;
  key_period: string;
  vitals: string;
  sealed: Uint8Array;
};

async function openRows(deps: ReadingSearchDeps, rows: readonly Row[]): Promise<StoredReading[]> {
  if (rows.length === 0) return [];
  const plain = await unsealRows(deps, rows);
  return rows.map((r, i) => {
    const observedAt = Number(r.observed_at);
    const decoded = decodeReading(plain[i]!, observedAt);
    // One literal rather than a spread of the decoded fields: a page maps dozens of these.
    const reading: StoredReading = {
      patientId: decoded.patientId,
      observations: decoded.observations,
      alarms: decoded.alarms,
      deviceId: r.device_id,
      observedAt,
      seq: Number(r.seq),
      receivedAt: Number(r.received_at),
      patientIndex: r.patient_index,
      careUnit: r.care_unit,
    };
    if (decoded.enteredBy !== undefined) reading.enteredBy = decoded.enteredBy;
    return reading;
  });
}
