import { type Static, Type as T } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FieldProblem } from '../errors.js';
import { isInstant } from '../instant.js';

/**
 * The device telemetry payload (MQTT `devices/{id}/telemetry`, HTTPS ingest; HL7 is mapped to
 * it). Codes are LOINC or IEEE 11073-10101 MDC (numeric, or the reference id such as
 * MDC_PULS_OXIM_SAT_O2); units are UCUM case-sensitive codes. Which codes and units are known is
 * decided after the schema (vital-codes.ts), so that those refusals get their own error codes.
 */
const DateTime = T.String({ format: 'date-time', maxLength: 40, description: 'RFC 3339 date-time' });

export const ObservationCode = T.Object(
  {
    system: T.Union([T.Literal('LOINC'), T.Literal('MDC')]),
    code: T.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$' }),
  },
  { additionalProperties: false },
);

const Observation = T.Object(
  {
    code: ObservationCode,
    value: T.Number(),
    /** A UCUM unit code: printable ASCII without spaces (UCUM §1). */
    unit: T.String({ minLength: 1, maxLength: 32, pattern: '^[!-~]+$' }),
    ts: T.Optional(DateTime),
  },
  { additionalProperties: false },
);

export const Alarm = T.Object(
  {
    /** An MDC event code (numeric or reference id), e.g. 196648 / MDC_EVT_HI. */
    code: T.String({ minLength: 1, maxLength: 64, pattern: '^([0-9]{1,10}|MDC_[A-Z0-9_]{1,60})$' }),
    priority: T.Union([T.Literal('low'), T.Literal('medium'), T.Literal('high')]),
    kind: T.Union([T.Literal('physiological'), T.Literal('technical')]),
    ts: T.Optional(DateTime),
  },
  { additionalProperties: false },
);

const body = (minObservations: number) =>
  T.Object(
    {
      /** Per-device message counter (uint32); must grow with every message (replay protection). */
      seq: T.Integer({ minimum: 0, maximum: 4_294_967_295 }),
      ts: DateTime,
      observations: T.Array(Observation, { minItems: minObservations, maxItems: 64 }),
      alarms: T.Optional(T.Array(Alarm, { maxItems: 64 })),
    },
    { additionalProperties: false },
  );

/** A telemetry message: 1 to 64 observations. */
export const TelemetryPayload = body(1);
/** A device event message (`devices/{id}/events`): the same shape, observations optional (alarms only). */
export const DeviceEventPayload = body(0);
export type TelemetryPayload = Static<typeof TelemetryPayload>;

function compiler(allErrors: boolean): Ajv {
  const ajv = new Ajv({ allErrors, strict: false, coerceTypes: false, useDefaults: false });
  addFormats.default(ajv, ['date-time']);
  ajv.addFormat('date-time', { type: 'string', validate: isInstant });
  return ajv;
}
const fast = compiler(false);
const thorough = compiler(true);
const validators = {
  telemetry: { fast: fast.compile(TelemetryPayload), all: thorough.compile(TelemetryPayload) },
  events: { fast: fast.compile(DeviceEventPayload), all: thorough.compile(DeviceEventPayload) },
};

function problemOf(e: ErrorObject): FieldProblem {
  const extra = (e.params as { additionalProperty?: string }).additionalProperty;
  // The pointer names fields, never values; an unknown property's name is cut short.
  const pointer = extra === undefined ? e.instancePath || '/' : `${e.instancePath}/${extra.slice(0, 40)}`;
  return { pointer, problem: extra === undefined ? (e.message ?? 'is not valid') : 'is not allowed' };
}

/**
 * Validates a parsed payload. The fast validator stops at the first error; only a refused
 * payload pays for collecting every field problem (up to 10).
 */
export function checkPayload(
  kind: 'telemetry' | 'events',
  value: unknown,
): { ok: true; payload: TelemetryPayload } | { ok: false; fields: FieldProblem[] } {
  const v = validators[kind];
  if (v.fast(value)) return { ok: true, payload: value as TelemetryPayload };
  v.all(value);
  return { ok: false, fields: (v.all.errors ?? []).slice(0, 10).map(problemOf) };
}
