import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blindIndexOf, FHIR_ID, metricKeyOf, observationIdOf, observationKeyOf, patientIdOf } from './ids.js';

describe('FHIR ids', () => {
  it('round-trips patient blind indexes through valid FHIR ids (hex, never the identifier)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const index = Buffer.from(bytes).toString('base64url');
        const id = patientIdOf(index);
        expect(FHIR_ID.test(id)).toBe(true);
        expect(blindIndexOf(id)).toBe(index);
      }),
    );
    expect(blindIndexOf('MRN-123')).toBeUndefined();
    expect(blindIndexOf('A'.repeat(64))).toBeUndefined();
  });

  it('round-trips observation keys, device ids with dots included', () => {
    const device = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.-]{2,20}$/);
    fc.assert(
      fc.property(
        device,
        fc.nat({ max: 4_102_444_800_000 }),
        fc.nat({ max: 2 ** 52 }),
        fc.nat({ max: 63 }),
        (d, t, s, n) => {
          const key = { deviceId: d, observedAt: t, seq: s, index: n };
          const id = observationIdOf(key);
          expect(FHIR_ID.test(id)).toBe(true);
          expect(observationKeyOf(id)).toEqual(key);
        },
      ),
    );
    for (const bad of ['x', 'a.b.c', 'dev-1.zz.zz.100', 'dev 1.1.1.1', `dev-1.${'z'.repeat(12)}.1.1`]) {
      expect(observationKeyOf(bad), bad).toBeUndefined();
    }
    expect(metricKeyOf('mon-1.spo2')).toEqual({ deviceId: 'mon-1', kind: 'spo2' });
    expect(metricKeyOf('spo2')).toBeUndefined();
  });
});
