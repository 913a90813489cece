/**
 * Stored readings as FHIR R4 Observations following the vital-signs pattern (R4
 * "observation-vitalsigns"): category vital-signs, a LOINC code and the IEEE 11073 MDC code where
 * the code table knows both, valueQuantity in UCUM, effective time, subject, device, and an
 * interpretation when the physiological checks flagged the value as implausible.
 */
import type { CodeableConcept, Coding, Observation } from '@medplum/fhirtypes';
import { type StoredReading, VITAL_CODES, type VitalCode, vitalFor } from '../telemetry/index.js';
import { observationIdOf, patientIdOf } from './ids.js';

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

/** One observation of a stored reading as a FHIR Observation. */
export function toObservation(reading: StoredReading, index: number): Observation {
  const o = reading.observations[index]!;
  const vital = vitalFor(o.system, o.code);
  const category = categoryOf(vital);
  let categoryConcepts = categories.get(category.code);
  if (!categoryConcepts) {
    categoryConcepts = [{ coding: [{ system: CATEGORY, code: category.code, display: category.display }] }];
    categories.set(category.code, categoryConcepts);
  }
  const obs: Observation = {
    resourceType: 'Observation',
    id: observationIdOf({
      deviceId: reading.deviceId,
      observedAt: reading.observedAt,
      seq: reading.seq,
      index,
    }),
    meta: {
      lastUpdated: new Date(reading.receivedAt).toISOString(),
      ...(category.code === 'vital-signs' ? { profile: [VITALSIGNS_PROFILE] } : {}),
    },
    status: 'final',
    category: categoryConcepts,
    code: codeOf(o.system, o.code),
    ...(reading.patientIndex
      ? { subject: { reference: `Patient/${patientIdOf(reading.patientIndex)}` } }
      : {}),
    effectiveDateTime: new Date(o.ts).toISOString(),
    issued: new Date(reading.receivedAt).toISOString(),
    ...(reading.enteredBy
      ? { performer: [{ identifier: { system: CLIENT_SYSTEM, value: reading.enteredBy } }] }
      : {}),
    valueQuantity: { value: o.value, unit: o.unit, system: UCUM, code: o.unit },
    device: { reference: `Device/${reading.deviceId}` },
  };
  if (o.implausible) {
    obs.interpretation = [
      {
        coding: [
          { system: INTERPRETATION, code: 'IND', display: 'Indeterminate' },
          { system: FLAG_SYSTEM, code: 'implausible', display: 'Outside the plausible physiological range' },
        ],
        text: 'Outside the plausible physiological range',
      },
    ];
  }
  return obs;
}
