/**
 * Stored readings as FHIR R4 Observations following the vital-signs pattern (R4
 * "observation-vitalsigns"): category vital-signs, a LOINC code and the IEEE 11073 MDC code where
 * the code table knows both, valueQuantity in UCUM, effective time, subject, device, and an
 * interpretation when the physiological checks flagged the value as implausible.
 */
import type { CodeableConcept, Coding, Observation } from '@medplum/fhirtypes';
import { type StoredReading, VITAL_CODES, type VitalCode, vitalFor } from '../telemetry/index.js';
import { deviceKeyOf, patientIdOf, readingIdPrefixOf } from './ids.js';

export const LOINC = 'http://loinc.org';
/** IEEE 11073-10101 nomenclature, as the FHIR Devices on FHIR / PHD IGs name it. */
export const MDC = 'urn:iso:std:iso:11073:10101';
export const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
/** Pulsegate's own flag codes (the physiological checks of the telemetry code table). */
export const FLAG_SYSTEM = 'urn:pulsegate:observation-flag';
/** Identifier system of service clients (who entered a reading). */
export const CLIENT_SYSTEM = 'urn:pulsegate:client';
const VITALSIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

/** Which observation category a vital kind belongs to. */
function categoryOf(vital: VitalCode | undefined): { code: string; display: string } {
  if (!vital) return { code: 'vital-signs', display: 'Vital Signs' };
  if (vital.kind === 'glucose') return { code: 'laboratory', display: 'Laboratory' };
  if (vital.kind === 'infusion-rate' || vital.kind === 'volume-infused')
    return { code: 'therapy', display: 'Therapy' };
  return { code: 'vital-signs', display: 'Vital Signs' };
}

/** The category code of a vital kind (for the `category` search). */
export function categoryCodeOf(kind: string): string {
  return categoryOf(VITAL_CODES.find((v) => v.kind === kind)).code;
}

const codes = new Map<string, CodeableConcept>();
const categories = new Map<string, Observation['category']>();

/** The FHIR code of a stored observation (memoised: the code table is small and fixed). */
export function codeOf(system: 'LOINC' | 'MDC', code: string): CodeableConcept {
  const key = `${system}|${code}`;
  let concept = codes.get(key);
  if (!concept) {
    concept = buildCode(system, code);
    if (codes.size < 1000) codes.set(key, concept);
  }
  return concept;
}

/** LOINC first (as the vital-signs profile wants), then MDC. */
function buildCode(system: 'LOINC' | 'MDC', code: string): CodeableConcept {
  const vital = vitalFor(system, code);
  const coding: Coding[] = [];
  const loinc = system === 'LOINC' ? code : vital?.loinc[0];
  if (loinc) coding.push({ system: LOINC, code: loinc, ...(vital ? { display: vital.display } : {}) });
  const mdc = system === 'MDC' ? vital?.mdc.find((m) => m.code === code) : vital?.mdc[0];
  if (mdc) coding.push({ system: MDC, code: mdc.code, display: mdc.refid });
  else if (system === 'MDC') coding.push({ system: MDC, code });
  return { coding, text: vital?.display ?? code };
}

/** What every observation of one reading shares, computed once per reading. */
interface ReadingParts {
  readonly idPrefix: string;
  readonly receivedIso: string;
  readonly subject: Observation['subject'];
  readonly device: NonNullable<Observation['device']>;
  readonly performer: Observation['performer'];
  /** The last effective time formatted, and for which ms (a monitor's scan shares one time). */
  effectiveMs: number;
  effectiveIso: string;
  /** The same parts as JSON text, made on the first `observationJson` of the reading. */
  json?: { received: string; subject: string; device: string; performer: string };
}

const parts = new WeakMap<StoredReading, ReadingParts>();

/** The last patient id formatted: a search page is usually one patient's readings. */
let lastPatient = { index: '', id: '' };
function patientIdOfIndex(index: string): string {
  if (lastPatient.index !== index) lastPatient = { index, id: patientIdOf(index) };
  return lastPatient.id;
}

function partsOf(reading: StoredReading): ReadingParts {
  let p = parts.get(reading);
  if (!p) {
    p = {
      idPrefix: readingIdPrefixOf(reading),
      receivedIso: new Date(reading.receivedAt).toISOString(),
      subject: reading.patientIndex
        ? { reference: `Patient/${patientIdOfIndex(reading.patientIndex)}` }
        : undefined,
      device: { reference: `Device/${deviceKeyOf(reading.deviceId)}` },
      performer: reading.enteredBy
        ? [{ identifier: { system: CLIENT_SYSTEM, value: reading.enteredBy } }]
        : undefined,
      effectiveMs: Number.NaN,
      effectiveIso: '',
    };
    parts.set(reading, p);
  }
  return p;
}

const VITALSIGNS_PROFILES = [VITALSIGNS_PROFILE];
const IMPLAUSIBLE = [
  {
    coding: [
      { system: INTERPRETATION, code: 'IND', display: 'Indeterminate' },
      { system: FLAG_SYSTEM, code: 'implausible', display: 'Outside the plausible physiological range' },
    ],
    text: 'Outside the plausible physiological range',
  },
];

/**
 * One observation of a stored reading as a FHIR Observation. The observations of one reading
 * share their subject, device and performer objects and the formatted times (a search page maps
 * every observation of a reading): treat the result as read-only.
 */
export function toObservation(reading: StoredReading, index: number): Observation {
  const o = reading.observations[index]!;
  const vital = vitalFor(o.system, o.code);
  const category = categoryOf(vital);
  let categoryConcepts = categories.get(category.code);
  if (!categoryConcepts) {
    categoryConcepts = [{ coding: [{ system: CATEGORY, code: category.code, display: category.display }] }];
    categories.set(category.code, categoryConcepts);
  }
  const p = partsOf(reading);
  if (p.effectiveMs !== o.ts) {
    p.effectiveMs = o.ts;
    p.effectiveIso = new Date(o.ts).toISOString();
  }
  // Absent elements stay undefined (JSON leaves them out), so every Observation has one shape.
  return {
    resourceType: 'Observation',
    id: `${p.idPrefix}${index}`,
    meta: {
      lastUpdated: p.receivedIso,
      // The vital-signs profile requires a subject: a reading from an unbound device makes no claim.
      profile: category.code === 'vital-signs' && p.subject ? VITALSIGNS_PROFILES : undefined,
    },
    status: 'final',
    category: categoryConcepts,
    code: codeOf(o.system, o.code),
    subject: p.subject,
    effectiveDateTime: p.effectiveIso,
    issued: p.receivedIso,
    performer: p.performer,
    valueQuantity: { value: o.value, unit: o.unit, system: UCUM, code: o.unit },
    device: p.device,
    interpretation: o.implausible ? IMPLAUSIBLE : undefined,
  };
}

/** JSON text of the objects Observations share (memoised codes and categories), made once each. */
const sharedText = new WeakMap<object, string>();
const PROFILE_JSON = JSON.stringify(VITALSIGNS_PROFILES);
const IMPLAUSIBLE_JSON = JSON.stringify(IMPLAUSIBLE);

function textOf(shared: object): string {
  let text = sharedText.get(shared);
  if (text === undefined) {
    text = JSON.stringify(shared);
    sharedText.set(shared, text);
  }
  return text;
}

/**
 * `JSON.stringify(toObservation(reading, index))` (`obs`, when the caller has it already),
 * written from text made once per code, category and reading. A search page of 50 Observations repeats its codes, categories and references in
 * every entry; serialising the page's objects was the largest single cost of a search (about
 * 110 of 700 us of CPU), this about half of it. toObservation stays the definition: a property
 * test holds the two to the same text.
 */
export function observationJson(
  reading: StoredReading,
  index: number,
  obs: Observation = toObservation(reading, index),
): string {
  const p = partsOf(reading);
  p.json ??= {
    received: JSON.stringify(p.receivedIso),
    subject: p.subject ? `,"subject":${JSON.stringify(p.subject)}` : '',
    device: JSON.stringify(p.device),
    performer: p.performer ? `,"performer":${JSON.stringify(p.performer)}` : '',
  };
  const j = p.json;
  const { value, unit } = obs.valueQuantity!;
  const unitJson = JSON.stringify(unit);
  return (
    `{"resourceType":"Observation","id":${JSON.stringify(obs.id)},"meta":{"lastUpdated":${j.received}` +
    `${obs.meta!.profile ? `,"profile":${PROFILE_JSON}` : ''}},"status":"final",` +
    `"category":${textOf(obs.category!)},"code":${textOf(obs.code)}${j.subject},` +
    `"effectiveDateTime":${JSON.stringify(obs.effectiveDateTime)},"issued":${j.received}${j.performer},` +
    `"valueQuantity":{"value":${JSON.stringify(value)},"unit":${unitJson},` +
    `"system":"${UCUM}","code":${unitJson}},` +
    `"device":${j.device}${obs.interpretation ? `,"interpretation":${IMPLAUSIBLE_JSON}` : ''}}`
  );
}
