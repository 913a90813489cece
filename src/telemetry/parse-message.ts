import type { ErrorCode } from '../errors.js';
import { checkPayload } from './payload-schema.js';
import { normaliseCode, toCanonical, vitalFor } from './vital-codes.js';

/** One observation after validation: canonical unit and value, flags. */
export interface ParsedObservation {
  system: 'LOINC' | 'MDC';
  code: string;
  kind: string;
  unit: string;
  value: number;
  /** Observation time, ms (the message time when the device gave none). */
  ts: number;
  implausible: boolean;
}

export interface ParsedAlarm {
  code: string;
  priority: 'low' | 'medium' | 'high';
  kind: 'physiological' | 'technical';
  ts: number;
}

export interface ParsedMessage {
  seq: number;
  ts: number;
  observations: ParsedObservation[];
  alarms: ParsedAlarm[];
  flagged: number;
}

export type ParseResult =
  | { ok: true; message: ParsedMessage }
  | { ok: false; code: ErrorCode; detail?: string };

/** How far before its message an observation may have been taken (a stored NIBP reading, say). */
const MAX_OBSERVATION_AGE_MS = 24 * 3600_000;

const refuse = (code: ErrorCode, detail?: string): ParseResult => ({ ok: false, code, detail });

/**
 * Parses and checks one raw payload: JSON, schema, codes, units, bounds and clock. Never throws
 * for any input; details name fields (JSON pointers) and codes, never values.
 */
export function parseMessage(
  payload: Uint8Array,
  kind: 'telemetry' | 'events',
  now: number,
  maxSkewMs: number,
): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    return refuse('TELEMETRY_INVALID_JSON');
  }
  const checked = checkPayload(kind, value);
  if (!checked.ok) {
    return refuse('TELEMETRY_SCHEMA', checked.fields.map((f) => `${f.pointer}: ${f.problem}`).join('; '));
  }
  const p = checked.payload;
  const ts = Date.parse(p.ts);
  if (!Number.isFinite(ts)) return refuse('TELEMETRY_SCHEMA', '/ts: must be a valid date-time');
  if (Math.abs(ts - now) > maxSkewMs) return refuse('TELEMETRY_CLOCK_SKEW', '/ts');
  const observations: ParsedObservation[] = [];
  let flagged = 0;
  for (let i = 0; i < p.observations.length; i++) {
    const o = p.observations[i]!;
    const vital = vitalFor(o.code.system, o.code.code);
    if (!vital) return refuse('TELEMETRY_UNKNOWN_CODE', `/observations/${i}/code`);
    const canonical = toCanonical(vital, o.unit, o.value);
    if (canonical === undefined) return refuse('TELEMETRY_UNIT_MISMATCH', `/observations/${i}/unit`);
    if (!Number.isFinite(canonical) || canonical < vital.impossible[0] || canonical > vital.impossible[1]) {
      return refuse('TELEMETRY_IMPOSSIBLE_VALUE', `/observations/${i}/value`);
    }
    let at = ts;
    if (o.ts !== undefined) {
      at = Date.parse(o.ts);
      if (!Number.isFinite(at))
        return refuse('TELEMETRY_SCHEMA', `/observations/${i}/ts: must be a valid date-time`);
      if (at > now + maxSkewMs || at < ts - MAX_OBSERVATION_AGE_MS) {
        return refuse('TELEMETRY_CLOCK_SKEW', `/observations/${i}/ts`);
      }
    }
    const implausible = canonical < vital.plausible[0] || canonical > vital.plausible[1];
    if (implausible) flagged++;
    observations.push({
      system: o.code.system,
      code: normaliseCode(o.code.system, o.code.code),
      kind: vital.kind,
      unit: vital.unit,
      value: canonical,
      ts: at,
      implausible,
    });
  }
  const alarms: ParsedAlarm[] = [];
  for (let i = 0; i < (p.alarms?.length ?? 0); i++) {
    const a = p.alarms![i]!;
    const at = a.ts === undefined ? ts : Date.parse(a.ts);
    if (!Number.isFinite(at)) return refuse('TELEMETRY_SCHEMA', `/alarms/${i}/ts: must be a valid date-time`);
    alarms.push({ code: a.code, priority: a.priority, kind: a.kind, ts: at });
  }
  return { ok: true, message: { seq: p.seq, ts, observations, alarms, flagged } };
}
