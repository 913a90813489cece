/**
 * The search path writes Observations and their Bundle as text (`observationJson`,
 * `searchsetJson`); toObservation and searchset stay the definitions. These properties hold the
 * text to JSON.stringify of the objects for any stored reading and page.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type StoredReading, VITAL_CODES } from '../telemetry/index.js';
import { searchset, searchsetJson } from './bundle.js';
import { FhirJson } from './fhir-json.js';
import { observationJson, toObservation } from './observation.js';

const knownCodes = VITAL_CODES.flatMap((v) => [
  ...v.loinc.map((code) => ({ system: 'LOINC' as const, code })),
  ...v.mdc.map((m) => ({ system: 'MDC' as const, code: m.code })),
]);
const observation = fc.record({
  coding: fc.oneof(
    fc.constantFrom(...knownCodes),
    fc.record({
      system: fc.constantFrom('LOINC' as const, 'MDC' as const),
      code: fc.string({ minLength: 1 }),
    }),
  ),
  unit: fc.oneof(fc.constantFrom('/min', '%', 'mm[Hg]', 'Cel', '{score}'), fc.string()),
  value: fc.double({ noNaN: false }),
  ts: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  implausible: fc.boolean(),
});
const reading = fc.record({
  deviceId: fc.string({ minLength: 1, maxLength: 40 }),
  observedAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  seq: fc.nat(),
  receivedAt: fc.integer({ min: 0, max: 4_102_444_800_000 }),
  patientIndex: fc.option(fc.base64String({ minLength: 4, maxLength: 44 }), { nil: null }),
  enteredBy: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
  observations: fc.array(observation, { minLength: 1, maxLength: 6 }),
});

type GeneratedReading = typeof reading extends fc.Arbitrary<infer T> ? T : never;

function stored(r: GeneratedReading): StoredReading {
  return {
    deviceId: r.deviceId,
    observedAt: r.observedAt,
    seq: r.seq,
    receivedAt: r.receivedAt,
    patientIndex: r.patientIndex,
    careUnit: null,
    patientId: null,
    alarms: [],
    ...(r.enteredBy !== undefined ? { enteredBy: r.enteredBy } : {}),
    observations: r.observations.map((o) => ({
      system: o.coding.system,
      code: o.coding.code,
      unit: o.unit,
      value: o.value,
      ts: o.ts,
      implausible: o.implausible,
    })),
  } as StoredReading;
}

describe('Observation search text', () => {
  it('observationJson writes what JSON.stringify(toObservation(...)) writes', () => {
    fc.assert(
      fc.property(reading, (r) => {
        const s = stored(r);
        for (let i = 0; i < s.observations.length; i++) {
          const text = JSON.stringify(toObservation(s, i));
          expect(observationJson(s, i)).toBe(text);
          expect(observationJson(s, i, toObservation(s, i))).toBe(text);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('claims the vital-signs profile only with a subject (the profile requires one)', () => {
    const base = stored({
      deviceId: 'mon-1',
      observedAt: 1_800_000_000_000,
      seq: 1,
      receivedAt: 1_800_000_000_500,
      patientIndex: null,
      enteredBy: undefined,
      observations: [
        {
          coding: { system: 'LOINC', code: '8867-4' },
          unit: '/min',
          value: 72,
          ts: 1_800_000_000_000,
          implausible: false,
        },
      ],
    });
    expect(toObservation(base, 0).meta?.profile).toBeUndefined();
    const bound = { ...base, patientIndex: Buffer.alloc(32, 7).toString('base64url') };
    expect(toObservation(bound, 0).meta?.profile).toEqual([
      'http://hl7.org/fhir/StructureDefinition/vitalsigns',
    ]);
  });

  it('searchsetJson writes what JSON.stringify(searchset(...)) writes, with and without next and ignored', () => {
    fc.assert(
      fc.property(
        fc.array(reading, { maxLength: 4 }),
        fc.option(fc.string(), { nil: undefined }),
        fc.array(fc.string(), { maxLength: 2 }),
        fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 3 }),
        (readings, next, ignored, accepted) => {
          const resources = readings
            .map(stored)
            .flatMap((s) => s.observations.map((_, i) => toObservation(s, i)));
          const json = resources.map((o) => JSON.stringify(o));
          const input = {
            base: 'https://pulsegate.example/fhir',
            resourceType: 'Observation',
            accepted,
            resources,
            ...(next !== undefined ? { next } : {}),
            ignored,
          };
          const text = JSON.stringify(searchset(input));
          expect(searchsetJson(input, json)).toBe(text);
          expect(new FhirJson(searchsetJson(input, json)).bytes.toString('utf8')).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
