import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPulsegateError } from '../errors.js';
import { dateBounds, dateMatches, isLenient, parseDateRange, parseSearch } from './search-params.js';

const SPEC = { date: 'date', code: 'token', patient: 'reference', _count: 'number', _sort: 'sort' } as const;
const parse = (q: Record<string, unknown>, lenient = false) =>
  parseSearch(q, SPEC, { lenient, referenceTargets: { patient: ['Patient'] }, sorts: ['-date'] });

describe('FHIR search parameters', () => {
  it('turns dates into ranges at their precision (R4 search §3.1.1.4.5), in UTC without a time', () => {
    expect(parseDateRange('date', '2026')).toEqual({
      start: Date.UTC(2026, 0, 1),
      end: Date.UTC(2027, 0, 1),
    });
    expect(parseDateRange('date', '2026-02')).toEqual({
      start: Date.UTC(2026, 1, 1),
      end: Date.UTC(2026, 2, 1),
    });
    expect(parseDateRange('date', '2024-02-29')).toEqual({
      start: Date.UTC(2024, 1, 29),
      end: Date.UTC(2024, 2, 1),
    });
    // Years below 100 are those years, whether given as a date or a dateTime (not 1900-1999).
    expect(parseDateRange('date', '0050')).toEqual({
      start: Date.parse('0050-01-01T00:00:00Z'),
      end: Date.parse('0051-01-01T00:00:00Z'),
    });
    expect(parseDateRange('date', '0099-12-31').end).toBe(Date.parse('0100-01-01T00:00:00Z'));
    expect(parseDateRange('date', '0004-02-29').start).toBe(Date.parse('0004-02-29T00:00:00Z'));
    const t = Date.parse('2026-11-29T10:00:00+01:00');
    expect(parseDateRange('date', '2026-11-29T10:00+01:00')).toEqual({ start: t, end: t + 60_000 });
    expect(
      parseDateRange('date', '2026-11-29T10:00:00.250Z').end -
        parseDateRange('date', '2026-11-29T10:00:00.250Z').start,
    ).toBe(1);
    for (const bad of [
      '2026-13',
      '2025-02-29',
      '2026-11-29T10:00',
      '2026-11-29T25:00Z',
      'today',
      '26-11-29',
    ]) {
      expect(() => parseDateRange('date', bad), bad).toThrow(
        expect.objectContaining({ code: 'FHIR_PARAM_INVALID' }),
      );
    }
  });

  it('applies eq/ne/gt/lt/ge/le to the implicit range, and ANDs repeated parameters into bounds', () => {
    const { dates } = parse({ date: ['ge2026-11-01', 'lt2026-11-03'] });
    const conds = dates.get('date')!;
    expect(dateMatches(Date.UTC(2026, 10, 1), conds)).toBe(true);
    expect(dateMatches(Date.UTC(2026, 10, 2, 23, 59), conds)).toBe(true);
    expect(dateMatches(Date.UTC(2026, 10, 3), conds)).toBe(false);
    expect(dateBounds(conds)).toEqual({ from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 3) });
    const day = Date.UTC(2026, 10, 2, 12);
    const one = (v: string) => dateMatches(day, parse({ date: v }).dates.get('date')!);
    expect([
      one('2026-11-02'),
      one('eq2026-11-02'),
      one('ne2026-11-02'),
      one('gt2026-11-01'),
      one('gt2026-11-02'),
    ]).toEqual([true, true, false, true, false]);
    expect([one('le2026-11-02'), one('lt2026-11-02'), one('ge2026-11-02')]).toEqual([true, false, true]);
  });

  it('parses tokens and references; refuses unknown parameters unless lenient', () => {
    const p = parse({
      code: 'http://loinc.org|8867-4,|150456,59408-5',
      patient: 'Patient/abc',
      _count: '10',
      _sort: '-date',
    });
    expect(p.tokens.get('code')).toEqual([
      [{ system: 'http://loinc.org', code: '8867-4' }, { code: '150456' }, { code: '59408-5' }],
    ]);
    expect(p.references.get('patient')).toEqual([['abc']]);
    expect(p.numbers.get('_count')).toBe(10);
    expect(() => parse({ colour: 'red' })).toThrow(expect.objectContaining({ code: 'FHIR_PARAM_UNKNOWN' }));
    expect(() => parse({ 'code:text': 'x' })).toThrow(
      expect.objectContaining({ code: 'FHIR_PARAM_UNKNOWN' }),
    );
    expect(parse({ colour: 'red', code: 'x' }, true).ignored).toEqual(['colour']);
    expect(() => parse({ _count: '0' })).toThrow(expect.objectContaining({ code: 'FHIR_PARAM_INVALID' }));
    expect(() => parse({ patient: 'Device/1' })).toThrow(
      expect.objectContaining({ code: 'FHIR_PARAM_INVALID' }),
    );
    expect(() => parse({ code: 'a|b|c' })).toThrow(expect.objectContaining({ code: 'FHIR_PARAM_INVALID' }));
    expect(isLenient('return=minimal, handling=lenient')).toBe(true);
    expect(isLenient('handling=strict')).toBe(false);
    expect(isLenient('respond-async; handling = lenient')).toBe(true);
  });

  it('knows only its own parameters: inherited names such as constructor are unknown, never echoed', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const query = Object.assign(Object.create(null), { [name]: 'x', code: '8867-4' });
      expect(() => parse(query), name).toThrow(expect.objectContaining({ code: 'FHIR_PARAM_UNKNOWN' }));
      const lenient = parse(query, true);
      expect(lenient.ignored, name).toEqual([name]);
      expect(lenient.accepted, name).toEqual([['code', '8867-4']]);
    }
  });

  it('refuses a modifier it does not support even under lenient handling (dropping :not would widen the result)', () => {
    for (const key of ['code:not', 'code:text', 'patient:identifier', 'date:missing', '_count:exact']) {
      for (const lenient of [false, true]) {
        const error = (() => {
          try {
            parse({ [key]: 'x', code: '8867-4' }, lenient);
          } catch (e) {
            return e;
          }
        })();
        expect(error, `${key} lenient=${lenient}`).toMatchObject({
          code: 'FHIR_PARAM_UNKNOWN',
          fields: [{ pointer: key, problem: 'this modifier is not supported' }],
        });
      }
    }
    // An unknown parameter with a modifier is still just unknown: lenient handling ignores it.
    expect(parse({ 'colour:not': 'red', code: 'x' }, true).ignored).toEqual(['colour:not']);
  });

  it('never fails with anything but a coded error, whatever the query (fast-check)', () => {
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
    );
    const key = fc.oneof(
      fc.constantFrom('date', 'code', 'patient', '_count', '_sort', '_format'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), fc.boolean(), (query, lenient) => {
        try {
          parse(query, lenient);
        } catch (error) {
          if (!isPulsegateError(error)) throw error;
          expect(error.code.startsWith('FHIR_PARAM_')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
