import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { instantOf, isInstant, requireInstant } from './instant.js';

describe('instantOf', () => {
  it('reads RFC 3339 date-times that exist', () => {
    expect(instantOf('2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(instantOf('2026-11-29T10:00:00+01:00')).toBe(Date.UTC(2026, 10, 29, 9));
    expect(instantOf('2026-11-29t10:00:00z')).toBe(Date.UTC(2026, 10, 29, 10));
  });

  it('refuses leap seconds, impossible dates and times, and other formats', () => {
    for (const bad of [
      '2030-06-30T23:59:60Z',
      '2023-02-29T00:00:00Z',
      '2024-02-30T00:00:00Z',
      '2024-04-31T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01T00:60:00Z',
      '2024-01-01T00:00:00+24:00',
      '2024-01-01T00:00:00',
      '2024-01-01',
      '+002024-01-01T00:00:00Z',
      '1',
      '',
    ]) {
      expect(isInstant(bad), bad).toBe(false);
    }
    expect(() => requireInstant('2030-06-30T23:59:60Z', 'until')).toThrow(
      expect.objectContaining({ code: 'VALIDATION_FAILED' }),
    );
  });

  it('round-trips every instant JavaScript writes', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 11, 31)), noInvalidDate: true }),
        (d) => instantOf(d.toISOString()) === d.getTime(),
      ),
    );
  });
});
