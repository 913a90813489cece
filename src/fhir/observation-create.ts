/**
 * Observation create for `integration` clients: a strict subset of R4 Observation (one coded
 * quantity for one patient from one inventory device), validated against the telemetry code
 * table, attributed to the client and stored sealed through the telemetry service.
 */

import type { Observation } from '@medplum/fhirtypes';
import { Type as T } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type FieldProblem, PulsegateError } from '../errors.js';
import { vitalFor } from '../telemetry/index.js';
import { auditBase, type FhirDeps, type FhirRequest } from './context.js';
import { blindIndexOf } from './ids.js';
import { categoryCodeOf, LOINC, MDC, toObservation } from './observation.js';
import { requireScope } from './scopes.js';

const Uri = T.String({ minLength: 1, maxLength: 256, pattern: '^\\S+$' });
const Coding = T.Object(
  {
    system: T.Optional(Uri),
    code: T.Optional(T.String({ minLength: 1, maxLength: 64 })),
    display: T.Optional(T.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const Concept = T.Object(
  {
    coding: T.Optional(T.Array(Coding, { minItems: 1, maxItems: 10 })),
    text: T.Optional(T.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
const Reference = T.Object(
  {
    reference: T.String({ minLength: 3, maxLength: 128 }),
    display: T.Optional(T.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);
/** R4 value set observation-status. */
const OBSERVATION_STATUSES = [
  'registered',
  'preliminary',
  'final',
  'amended',
  'corrected',
  'cancelled',
  'entered-in-error',
  'unknown',
];
const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';
const DateTime = T.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
});

/** The Observation body accepted on create. */
export const ObservationBody = T.Object(
  {
    resourceType: T.Literal('Observation'),
    id: T.Optional(T.String({ pattern: '^[A-Za-z0-9\\-.]{1,64}$' })),
    meta: T.Optional(
      T.Object({ profile: T.Optional(T.Array(Uri, { maxItems: 5 })) }, { additionalProperties: false }),
    ),
    // Every R4 status is well-formed here; which of them can be stored is a rule of `create`.
    status: T.Union(OBSERVATION_STATUSES.map((s) => T.Literal(s))),
    category: T.Optional(T.Array(Concept, { minItems: 1, maxItems: 5 })),
    code: Concept,
    subject: Reference,
    device: Reference,
    effectiveDateTime: DateTime,
    valueQuantity: T.Object(
      {
        value: T.Number(),
        unit: T.Optional(T.String({ minLength: 1, maxLength: 32 })),
        system: T.Optional(T.Literal('http://unitsofmeasure.org')),
        code: T.String({ minLength: 1, maxLength: 32 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

type Body = {
  status: string;
  category?: Array<{ coding?: Array<{ system?: string; code?: string }>; text?: string }>;
  code: { coding?: Array<{ system?: string; code?: string }> };
  subject: { reference: string };
  device: { reference: string };
  effectiveDateTime: string;
  valueQuantity: { value: number; code: string };
};

const invalid = (pointer: string, problem: string) =>
  new PulsegateError('FHIR_RESOURCE_INVALID', `${pointer}: ${problem}`, { fields: [{ pointer, problem }] });

/** Checks the body's shape; FHIR_RESOURCE_TYPE_MISMATCH / FHIR_RESOURCE_INVALID with pointers. */
export function checkObservationBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new PulsegateError('FHIR_RESOURCE_INVALID', 'the body must be a JSON object');
  if ((body as { resourceType?: unknown }).resourceType !== 'Observation')
    throw new PulsegateError('FHIR_RESOURCE_TYPE_MISMATCH');
  if (!Value.Check(ObservationBody, body)) {
    const fields: FieldProblem[] = [];
    for (const e of Value.Errors(ObservationBody, body)) {
      if (fields.length >= 20) break;
      fields.push({ pointer: e.path || '/', problem: e.message });
    }
    throw new PulsegateError('FHIR_RESOURCE_INVALID', `${fields.length} field(s) are not valid`, { fields });
  }
  return body as Body;
}

/**
 * Refuses what a reading cannot hold, rather than answering and storing something else. A reading
 * is a completed measurement with no status or category of its own: every stored Observation is
 * served as `final`, in the category its code belongs to (vital-signs, laboratory or therapy). So
 * a status other than final (a preliminary result, or an amendment of an earlier one) is refused,
 * and a category is accepted only when it is the one the code already implies.
 */
function checkStorable(body: Body, category: string): void {
  if (body.status !== 'final')
    throw invalid(
      '/status',
      'must be final: readings are stored as final results and cannot keep another status',
    );
  body.category?.forEach((concept, i) => {
    const codings = concept.coding ?? [];
    const same =
      codings.length > 0 && codings.every((c) => c.system === CATEGORY_SYSTEM && c.code === category);
    if (!same)
      throw invalid(
        `/category/${i}`,
        `must be ${CATEGORY_SYSTEM}|${category}: the category follows from the code and no other is stored`,
      );
  });
}

export function observationCreate(
  deps: FhirDeps,
  identifierOf: (index: string) => Promise<string | undefined>,
) {
  return async function create(req: FhirRequest, raw: unknown): Promise<Observation> {
    requireScope(req.principal, 'Observation', 'c');
    const body = checkObservationBody(raw);
    const coded = (body.code.coding ?? [])
      .map((c) =>
        c.system === LOINC && c.code
          ? { system: 'LOINC' as const, code: c.code }
          : c.system === MDC && c.code
            ? { system: 'MDC' as const, code: c.code }
            : undefined,
      )
      .find((c) => c !== undefined && vitalFor(c.system, c.code) !== undefined);
    if (!coded) throw new PulsegateError('TELEMETRY_UNKNOWN_CODE', '/code');
    checkStorable(body, categoryCodeOf(vitalFor(coded.system, coded.code)!.kind));
    const ts = Date.parse(body.effectiveDateTime);
    if (!Number.isFinite(ts)) throw invalid('/effectiveDateTime', 'not a valid instant');

    // The Device's id (its device key); a raw device id is taken too.
    const deviceKey = /^Device\/((?:--|[A-Za-z0-9])[A-Za-z0-9._-]{2,63})$/.exec(body.device.reference)?.[1];
    if (!deviceKey) throw invalid('/device/reference', 'must be Device/[id]');
    const deviceId = await deps.devices.idOfExternalKey(deviceKey);
    const device =
      deviceId === undefined ? undefined : await deps.devices.getRow(deviceId).catch(() => undefined);
    if (!device || deviceId === undefined) throw new PulsegateError('FHIR_REFERENCE_UNKNOWN', '/device');
    deps.access.checkResource(req.principal, { careUnit: device.care_unit, deviceId });

    const patientHex = /^Patient\/([0-9a-f]{64})$/.exec(body.subject.reference)?.[1];
    const patientIndex = patientHex ? blindIndexOf(patientHex) : undefined;
    if (!patientIndex) throw invalid('/subject/reference', 'must be Patient/[id]');
    // A device bound to someone else at that time cannot have measured this patient.
    const binding = await deps.patients.bindingAt(deviceId, ts);
    if (binding && binding.patientIndex !== patientIndex)
      throw invalid('/subject', 'the device was bound to another patient at that time');
    const patientId = binding?.patientId ?? (await identifierOf(patientIndex));
    if (patientId === undefined) throw new PulsegateError('FHIR_REFERENCE_UNKNOWN', '/subject');

    const stored = await deps.telemetry.enter({
      deviceId,
      patientIndex,
      patientId,
      enteredBy: req.principal.id,
      ts,
      observations: [{ ...coded, value: body.valueQuantity.value, unit: body.valueQuantity.code }],
    });
    await deps.audit.append({
      ...auditBase(req),
      action: 'observation.create',
      resource: { type: 'patient', id: patientIndex },
      reason: `device ${deviceId}`,
    });
    return toObservation(
      {
        deviceId,
        observedAt: stored.observedAt,
        seq: stored.seq,
        receivedAt: stored.receivedAt,
        patientIndex,
        careUnit: stored.careUnit,
        patientId,
        enteredBy: req.principal.id,
        alarms: [],
        observations: stored.observations.map((o) => ({ ...o, ts: stored.observedAt })),
      },
      0,
    );
  };
}
