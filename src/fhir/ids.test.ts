import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blindIndexOf,
  deviceKeyOf,
  FHIR_ID,
  metricIdOf,
  metricKeyOf,
  observationIdOf,
  observationKeyOf,
  patientIdOf,
} from './ids.js';

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

  it('makes valid FHIR ids of every device id, and reads the device key back', () => {
    // Every id the inventory accepts (devices/schemas.ts), up to 64 characters, `_` included.
    const device = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$/);
    fc.assert(
      fc.property(
        device,
        fc.nat({ max: 4_102_444_800_000 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: 63 }),
        (d, t, s, n) => {
          const id = observationIdOf({ deviceId: d, observedAt: t, seq: s, index: n });
          expect(FHIR_ID.test(id), id).toBe(true);
          expect(observationKeyOf(id)).toEqual({
            deviceKey: deviceKeyOf(d),
            observedAt: t,
            seq: s,
            index: n,
          });
          const metric = metricIdOf(d, 'volume-infused');
          expect(FHIR_ID.test(metric), metric).toBe(true);
          expect(metricKeyOf(metric)).toEqual({ deviceKey: deviceKeyOf(d), kind: 'volume-infused' });
          // A short id without `_` is its own key; any other is a hash no device id can look like.
          const key = deviceKeyOf(d);
          if (/^[A-Za-z0-9][A-Za-z0-9.-]{2,38}$/.test(d)) expect(key).toBe(d);
          else expect(key).toMatch(/^--[a-z2-7]{26}$/);
        },
      ),
      { numRuns: 500 },
    );
    expect(deviceKeyOf('mon_icu_9')).not.toBe(deviceKeyOf('mon-icu-9'));
    for (const bad of ['x', 'a.b.c', 'dev-1.zz.zz.100', 'dev 1.1.1.1', `dev-1.${'z'.repeat(12)}.1.1`]) {
      expect(observationKeyOf(bad), bad).toBeUndefined();
    }
    expect(metricKeyOf('mon-1.spo2')).toEqual({ deviceKey: 'mon-1', kind: 'spo2' });
    expect(metricKeyOf('spo2')).toBeUndefined();
  });
});
