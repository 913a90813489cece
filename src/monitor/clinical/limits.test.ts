import { describe, expect, it } from 'vitest';
import { checkLimit, DEFAULT_LIMITS, LimitTable } from './limits.js';

describe('vital-sign limits per care unit', () => {
  it('uses the adult-ward defaults for unknown units and the ICU set for icu', () => {
    const t = new LimitTable();
    expect(t.forUnit(null)).toEqual(DEFAULT_LIMITS.default);
    expect(t.forUnit('ward-9')).toEqual(DEFAULT_LIMITS.default);
    expect(t.forUnit('icu')).toEqual(DEFAULT_LIMITS.icu);
  });

  it('matches care unit names without regard to case (devices and the simulator name it "ICU")', () => {
    const t = new LimitTable({ 'Ward-3': { 'heart-rate': { high: 100 } } });
    expect(t.forUnit('ICU')).toEqual(DEFAULT_LIMITS.icu);
    expect(t.forUnit('Icu')).toEqual(DEFAULT_LIMITS.icu);
    expect(t.forUnit('WARD-3')['heart-rate']).toEqual({ low: 41, high: 100 });
    expect(t.forUnit('ward-3')['heart-rate']).toEqual({ low: 41, high: 100 });
    // Configured limits for "ICU" merge over the shipped icu set rather than the ward defaults.
    const icu = new LimitTable({ ICU: { spo2: { low: 85 } } }).forUnit('icu');
    expect(icu.spo2).toEqual({ low: 85 });
    expect(icu['resp-rate']).toEqual(DEFAULT_LIMITS.icu!['resp-rate']);
  });

  it('the ward defaults agree with the NEWS2 red bands (RCP 2017 Chart 1)', () => {
    const ward = DEFAULT_LIMITS.default!;
    // A breach at exactly the first score-3 value, none just inside.
    expect(checkLimit('resp-rate', 8, ward)?.direction).toBe('low');
    expect(checkLimit('resp-rate', 9, ward)).toBeNull();
    expect(checkLimit('resp-rate', 25, ward)?.direction).toBe('high');
    expect(checkLimit('spo2', 91, ward)?.direction).toBe('low');
    expect(checkLimit('spo2', 92, ward)).toBeNull();
    expect(checkLimit('nibp-systolic', 90, ward)?.direction).toBe('low');
    expect(checkLimit('nibp-systolic', 220, ward)?.direction).toBe('high');
    expect(checkLimit('heart-rate', 40, ward)?.direction).toBe('low');
    expect(checkLimit('heart-rate', 131, ward)?.direction).toBe('high');
    expect(checkLimit('body-temp', 35.0, ward)?.direction).toBe('low');
    expect(checkLimit('glucose', 10, ward)).toBeNull();
  });

  it('merges configured limits per unit and vital over the defaults', () => {
    const t = new LimitTable({ 'ward-3': { 'heart-rate': { high: 100 } }, icu: { spo2: { low: 85 } } });
    expect(t.forUnit('ward-3')['heart-rate']).toEqual({ low: 41, high: 100 });
    expect(t.forUnit('ward-3').spo2).toEqual(DEFAULT_LIMITS.default!.spo2);
    expect(t.forUnit('icu').spo2).toEqual({ low: 85 });
    expect(t.forUnit('icu')['heart-rate']).toEqual(DEFAULT_LIMITS.icu!['heart-rate']);
  });

  it('refuses a limit whose low is above its high', () => {
    expect(() => new LimitTable({ x: { spo2: { low: 95, high: 90 } } })).toThrow(
      expect.objectContaining({ code: 'CLINICAL_LIMITS_INVALID' }),
    );
  });

  /** The CLINICAL_LIMITS_INVALID message for `configured` (fails if it is accepted). */
  function refusal(configured: ConstructorParameters<typeof LimitTable>[0]): string {
    try {
      new LimitTable(configured);
    } catch (error) {
      expect(error).toMatchObject({ code: 'CLINICAL_LIMITS_INVALID' });
      return (error as Error).message;
    }
    throw new Error('expected CLINICAL_LIMITS_INVALID');
  }

  it('refuses a vital kind telemetry does not know, naming the key', () => {
    const message = refusal({ icu: { sp02: { low: 90 } } });
    expect(message).toContain('clinical.limits.icu.sp02: unknown vital kind');
    expect(message).toContain('spo2');
    // Every kind telemetry accepts may be given a limit.
    expect(
      new LimitTable({ icu: { glucose: { low: 70 }, 'nibp-mean': { low: 65 } } }).forUnit('ICU').glucose,
    ).toEqual({ low: 70 });
  });

  it('refuses one care unit configured twice in different case, naming both keys', () => {
    const message = refusal({ icu: { spo2: { low: 90 } }, ICU: { spo2: { low: 85 } } });
    expect(message).toContain('clinical.limits.icu and clinical.limits.ICU');
  });

  it('refuses a low above the high it is merged with, default or configured', () => {
    // The ward's default heart-rate high is 130.
    expect(refusal({ 'ward-3': { 'heart-rate': { low: 140 } } })).toContain(
      'clinical.limits.ward-3.heart-rate: low 140 is above high 130 (the default)',
    );
    // The icu default low for resp-rate is 6.
    expect(refusal({ ICU: { 'resp-rate': { high: 5 } } })).toContain(
      'clinical.limits.ICU.resp-rate: low 6 (the default) is above high 5',
    );
    expect(refusal({ x: { spo2: { low: 95, high: 90 } } })).toContain(
      'clinical.limits.x.spo2: low 95 is above high 90',
    );
    // Every problem is named at once.
    const all = refusal({ a: { sp02: { low: 1 } }, b: { 'heart-rate': { low: 200 } } });
    expect(all).toContain('clinical.limits.a.sp02');
    expect(all).toContain('clinical.limits.b.heart-rate');
    // Equal low and high is allowed: only that one value is within the limits.
    expect(new LimitTable({ x: { 'heart-rate': { low: 130 } } }).forUnit('x')['heart-rate']).toEqual({
      low: 130,
      high: 130,
    });
  });
});
