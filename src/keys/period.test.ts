import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { periodOf } from './data-keys.js';

/** What periodOf must always answer: the month of the ISO form of the time. */
const reference = (ms: number) => new Date(ms).toISOString().slice(0, 7);

describe('periodOf', () => {
  it('answers the UTC month of any time, whatever was asked before', () => {
    // Times cluster around month boundaries (where a cached month could leak into the next) and
    // spread over the whole range a Date can hold.
    const boundary = fc
      .tuple(
        fc.integer({ min: -3000, max: 12000 }),
        fc.integer({ min: 0, max: 11 }),
        fc.integer({ min: -2, max: 2 }),
      )
      .map(([y, m, d]) => {
        const t = new Date(0);
        t.setUTCFullYear(y, m, 1);
        return t.getTime() + d;
      });
    const anyTime = fc.integer({ min: -8.64e15, max: 8.64e15 });
    fc.assert(
      fc.property(fc.array(fc.oneof(boundary, anyTime), { minLength: 1, maxLength: 50 }), (times) => {
        for (const ms of times) expect(periodOf(ms)).toBe(reference(ms));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same month for every millisecond of it and the next month after its last', () => {
    const start = Date.UTC(2026, 10, 1);
    const end = Date.UTC(2026, 11, 1);
    expect(periodOf(start)).toBe('2026-11');
    expect(periodOf(end - 1)).toBe('2026-11');
    expect(periodOf(end)).toBe('2026-12');
    expect(periodOf(start - 1)).toBe('2026-10');
  });

  it('throws for a time that is not one, as before', () => {
    expect(() => periodOf(Number.NaN)).toThrow(RangeError);
    expect(() => periodOf(8.64e15 + 1)).toThrow(RangeError);
  });
});
