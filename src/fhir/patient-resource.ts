/**
 * The Patient resource Pulsegate accepts (a small ADT subset of R4 Patient): identifiers, active,
 * name, telecom, gender, birthDate, address. Anything else is refused by name, so nothing a client
 * sends is silently dropped and nothing unexpected is stored.
 */

import type { Patient } from '@medplum/fhirtypes';
import { type Static, Type as T } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type FieldProblem, PulsegateError } from '../errors.js';
import { checkPatientId } from '../patients/index.js';

const Str = (max: number) =>
  T.String({ minLength: 1, maxLength: max, pattern: '^[^\\u0000-\\u001f]*\\S[^\\u0000-\\u001f]*$' });
const Uri = T.String({ minLength: 1, maxLength: 256, pattern: '^\\S+$' });
const Coding = T.Object(
  { system: T.Optional(Uri), code: T.Optional(Str(64)), display: T.Optional(Str(200)) },
  { additionalProperties: false },
);
const CodeableConcept = T.Object(
  { coding: T.Optional(T.Array(Coding, { minItems: 1, maxItems: 5 })), text: T.Optional(Str(200)) },
  { additionalProperties: false },
);
const Identifier = T.Object(
  {
    use: T.Optional(T.Union(['usual', 'official', 'temp', 'secondary', 'old'].map((v) => T.Literal(v)))),
    type: T.Optional(CodeableConcept),
    system: T.Optional(Uri),
    value: Str(64),
  },
  { additionalProperties: false },
);
const HumanName = T.Object(
  {
    use: T.Optional(
      T.Union(
        ['usual', 'official', 'temp', 'nickname', 'anonymous', 'old', 'maiden'].map((v) => T.Literal(v)),
      ),
    ),
    text: T.Optional(Str(200)),
    family: T.Optional(Str(100)),
    given: T.Optional(T.Array(Str(100), { minItems: 1, maxItems: 5 })),
    prefix: T.Optional(T.Array(Str(40), { minItems: 1, maxItems: 3 })),
    suffix: T.Optional(T.Array(Str(40), { minItems: 1, maxItems: 3 })),
  },
  { additionalProperties: false },
);
const ContactPoint = T.Object(
  {
    system: T.Optional(
      T.Union(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other'].map((v) => T.Literal(v))),
    ),
    value: T.Optional(Str(200)),
    use: T.Optional(T.Union(['home', 'work', 'temp', 'old', 'mobile'].map((v) => T.Literal(v)))),
  },
  { additionalProperties: false },
);
const Address = T.Object(
  {
    use: T.Optional(T.Union(['home', 'work', 'temp', 'old', 'billing'].map((v) => T.Literal(v)))),
    text: T.Optional(Str(300)),
    line: T.Optional(T.Array(Str(200), { minItems: 1, maxItems: 4 })),
    city: T.Optional(Str(100)),
    district: T.Optional(Str(100)),
    state: T.Optional(Str(100)),
    postalCode: T.Optional(Str(20)),
    country: T.Optional(Str(100)),
  },
  { additionalProperties: false },
);
const Meta = T.Object(
  { versionId: T.Optional(Str(20)), lastUpdated: T.Optional(Str(40)) },
  { additionalProperties: false },
);

/** The accepted Patient body. */
export const PatientBody = T.Object(
  {
    resourceType: T.Literal('Patient'),
    id: T.Optional(T.String({ pattern: '^[A-Za-z0-9\\-.]{1,64}$' })),
    meta: T.Optional(Meta),
    identifier: T.Array(Identifier, { minItems: 1, maxItems: 10 }),
    active: T.Optional(T.Boolean()),
    name: T.Optional(T.Array(HumanName, { minItems: 1, maxItems: 10 })),
    telecom: T.Optional(T.Array(ContactPoint, { minItems: 1, maxItems: 10 })),
    gender: T.Optional(T.Union(['male', 'female', 'other', 'unknown'].map((v) => T.Literal(v)))),
    birthDate: T.Optional(T.String({ pattern: '^\\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\\d|3[01]))?)?$' })),
    address: T.Optional(T.Array(Address, { minItems: 1, maxItems: 5 })),
  },
  { additionalProperties: false },
);
export type PatientBody = Static<typeof PatientBody>;

/**
 * Checks a Patient body; FHIR_RESOURCE_TYPE_MISMATCH for another resource type,
 * FHIR_RESOURCE_INVALID naming each bad field (JSON pointers only, never values).
 */
export function checkPatientBody(body: unknown): PatientBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new PulsegateError('FHIR_RESOURCE_INVALID', 'the body must be a JSON object');
  const type = (body as { resourceType?: unknown }).resourceType;
  if (type !== 'Patient') throw new PulsegateError('FHIR_RESOURCE_TYPE_MISMATCH');
  if (!Value.Check(PatientBody, body)) {
    const fields: FieldProblem[] = [];
    for (const e of Value.Errors(PatientBody, body)) {
      if (fields.length >= 20) break;
      fields.push({ pointer: e.path || '/', problem: e.message });
    }
    throw new PulsegateError('FHIR_RESOURCE_INVALID', `${fields.length} field(s) are not valid`, { fields });
  }
  const patient = body as PatientBody;
  try {
    checkPatientId(patient.identifier[0]!.value);
  } catch {
    throw new PulsegateError(
      'FHIR_RESOURCE_INVALID',
      'the first identifier is not a valid patient identifier',
      {
        fields: [{ pointer: '/identifier/0/value', problem: 'must be 1-64 printable characters' }],
      },
    );
  }
  return patient;
}

/** What is sealed: the body without id and meta. */
export function demographicsOf(body: PatientBody): Omit<Patient, 'id' | 'meta'> {
  const { id: _id, meta: _meta, ...rest } = body;
  return rest as Omit<Patient, 'id' | 'meta'>;
}
