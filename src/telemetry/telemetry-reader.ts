import { PulsegateError } from '../errors.js';
import type { EpochKeys, KeyService } from '../keys/index.js';
import type { Store } from '../store/index.js';
import { decodeReading, unsealRows } from './reading-codec.js';
import { takenOutside } from './reading-search.js';
import { VITAL_CODES, vitalForQuery } from './vital-codes.js';

/** Filters of a telemetry query; times are ms, `to` exclusive. */
export interface TelemetryQuery {
  from?: number;
  to?: number;
  /** A vital kind (`spo2`), `MDC|150456`, `LOINC|59408-5` or a bare code. */
  code?: string;
  /** Observations returned at most (default 500, at most 5,000). */
  limit?: number;
  /**
   * Only readings taken while their device was in one of these care units (care-unit limited
   * callers; `readableCareUnits`). Readings stored without a care unit are left out.
   */
  careUnits?: readonly string[];
}

export interface ObservationView {
  deviceId: string;
  seq: number;
  time: string;
  kind: string;
  display: string;
  code: { system: 'LOINC' | 'MDC'; code: string };
  value: number;
  unit: string;
  flags: string[];
}

export interface AlarmView {
  deviceId: string;
  seq: number;
  time: string;
  code: string;
  priority: 'low' | 'medium' | 'high';
  kind: 'physiological' | 'technical';
}

export interface TelemetryPage {
  observations: ObservationView[];
  alarms: AlarmView[];
  /**
   * With a `careUnits` filter: true when readings in the asked range were left out because they
   * were taken in another care unit (so a reader knows the history it sees is not all there is).
   */
  withheld?: boolean;
}

const DISPLAY = new Map(VITAL_CODES.map((v) => [v.kind, v]));
const kindOf = (system: string, code: string) =>
  VITAL_CODES.find((v) => (system === 'MDC' ? v.mdc.some((m) => m.code === code) : v.loinc.includes(code)));

/**
 * Reads and decrypts readings, newest first: by device, or by patient blind index within a set
 * of devices. Fails with KEY_SHREDDED for data whose period key was destroyed.
 */
export async function readTelemetry(
  deps: { store: Store; keys: KeyService; epochs: EpochKeys; now: () => number },
  where: { deviceId: string } | { patientIndex: string; deviceIds: readonly string[] },
  query: TelemetryQuery,
): Promise<TelemetryPage> {
  const limit = Math.min(Math.max(query.limit ?? 500, 1), 5000);
  let vitalKind: string | undefined;
  if (query.code !== undefined) {
    const vital = vitalForQuery(query.code);
    if (!vital) throw new PulsegateError('TELEMETRY_UNKNOWN_CODE');
    vitalKind = vital.kind;
  }
  if ('deviceIds' in where && where.deviceIds.length === 0) return { observations: [], alarms: [] };
  let base = deps.store.db.selectFrom('telemetry_readings');
  base =
    'deviceId' in where
      ? base.where('device_id', '=', where.deviceId)
      : base.where('patient_index', '=', where.patientIndex).where('device_id', 'in', [...where.deviceIds]);
  if (query.from !== undefined) base = base.where('observed_at', '>=', query.from);
  if (query.to !== undefined) base = base.where('observed_at', '<', query.to);
  // Kinds are [a-z0-9-] only: no LIKE wildcard can reach the pattern.
  if (vitalKind) base = base.where('vitals', 'like', `% ${vitalKind} %`);
  const units = query.careUnits ? [...query.careUnits] : undefined;
  const q = units?.length ? base.where('care_unit', 'in', units) : base;
  // Every reading holds at least one matching observation, so `limit` readings are enough.
  const rows =
    units?.length === 0
      ? []
      : await q.selectAll().orderBy('observed_at', 'desc').orderBy('seq', 'desc').limit(limit).execute();
  // Whether the care-unit filter left readings out of what the page covers: the range, or from
  // its oldest reading on when the page is full. Bounded either way: with nothing withheld, that
  // span holds at most `limit` readings, and the probe stops at the first withheld one.
  let withheld: boolean | undefined;
  if (units !== undefined) {
    const oldest = rows.length === limit ? Number(rows[rows.length - 1]!.observed_at) : undefined;
    const span = oldest === undefined ? base : base.where('observed_at', '>=', oldest);
    const probe = await span.select('seq').where(takenOutside(units)).limit(1).execute();
    withheld = probe.length > 0;
  }
  const kept = withheld === undefined ? {} : { withheld };
  if (rows.length === 0) return { observations: [], alarms: [], ...kept };

  const plain = await unsealRows(deps, rows);
  const observations: ObservationView[] = [];
  const alarms: AlarmView[] = [];
  rows.forEach((r, i) => {
    const seq = Number(r.seq);
    const decoded = decodeReading(plain[i]!, Number(r.observed_at));
    for (const o of decoded.observations) {
      const vital = kindOf(o.system, o.code);
      if (vitalKind && vital?.kind !== vitalKind) continue;
      observations.push({
        deviceId: r.device_id,
        seq,
        time: new Date(o.ts).toISOString(),
        kind: vital?.kind ?? 'unknown',
        display: (vital && DISPLAY.get(vital.kind)?.display) ?? o.code,
        code: { system: o.system, code: o.code },
        value: o.value,
        unit: o.unit,
        flags: o.implausible ? ['implausible'] : [],
      });
    }
    for (const a of decoded.alarms) {
      alarms.push({
        deviceId: r.device_id,
        seq,
        time: new Date(a.ts).toISOString(),
        code: a.code,
        priority: a.priority,
        kind: a.kind,
      });
    }
  });
  observations.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return { observations: observations.slice(0, limit), alarms, ...kept };
}
