/**
 * NEWS2 against the Royal College of Physicians chart.
 *
 * Source of the bands below (transcribed independently of news2.ts, row by row):
 *   Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
 *   assessment of acute-illness severity in the NHS. Updated report of a working party.
 *   London: RCP, 2017. Chart 1 "The NEWS scoring system"; Chart 4 "Clinical response to the
 *   NEWS trigger thresholds".
 */
import { describe, expect, it } from 'vitest';
import {
  computeNews2,
  consciousnessOf,
  news2Level,
  scoreAirOrOxygen,
  scoreConsciousness,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSystolic,
  scoreTemperature,
} from './news2.js';

/** [lowest, highest, score]: inclusive bands as printed on Chart 1. */
type Band = readonly [number, number, number];
const INF = Number.POSITIVE_INFINITY;

const CHART = {
  respiratoryRate: [
    [-INF, 8, 3],
    [9, 11, 1],
    [12, 20, 0],
    [21, 24, 2],
    [25, INF, 3],
  ],
  spo2Scale1: [
    [-INF, 91, 3],
    [92, 93, 2],
    [94, 95, 1],
    [96, INF, 0],
  ],
  spo2Scale2OnOxygen: [
    [-INF, 83, 3],
    [84, 85, 2],
    [86, 87, 1],
    [88, 92, 0],
    [93, 94, 1],
    [95, 96, 2],
    [97, INF, 3],
  ],
  spo2Scale2OnAir: [
    [-INF, 83, 3],
    [84, 85, 2],
    [86, 87, 1],
    [88, 92, 0],
    [93, INF, 0],
  ],
  systolic: [
    [-INF, 90, 3],
    [91, 100, 2],
    [101, 110, 1],
    [111, 219, 0],
    [220, INF, 3],
  ],
  pulse: [
    [-INF, 40, 3],
    [41, 50, 1],
    [51, 90, 0],
    [91, 110, 1],
    [111, 130, 2],
    [131, INF, 3],
  ],
  temperature: [
    [-INF, 35.0, 3],
    [35.1, 36.0, 1],
    [36.1, 38.0, 0],
    [38.1, 39.0, 1],
    [39.1, INF, 2],
  ],
} satisfies Record<string, readonly Band[]>;

function chartScore(bands: readonly Band[], value: number): number {
  const hit = bands.find(([lo, hi]) => value >= lo - 1e-9 && value <= hi + 1e-9);
  if (!hit) throw new Error(`no band for ${value}`);
  return hit[2];
}

/** Every band edge, one step either side, as [value, expected score]. */
function edgeCases(bands: readonly Band[], step: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of bands) {
    for (const v of [lo, hi]) {
      if (!Number.isFinite(v)) continue;
      for (const x of [v - step, v, v + step]) {
        const r = Math.round(x / step) * step;
        const value = Number(r.toFixed(1));
        out.push([value, chartScore(bands, value)]);
      }
    }
  }
  return out;
}

describe('NEWS2 Chart 1, every band edge (RCP 2017)', () => {
  it.each(edgeCases(CHART.respiratoryRate, 1))('respiration rate %d scores %d', (v, s) => {
    expect(scoreRespiratoryRate(v)).toBe(s);
  });
  it.each(edgeCases(CHART.spo2Scale1, 1))('SpO2 scale 1 %d%% scores %d', (v, s) => {
    expect(scoreSpo2Scale1(v)).toBe(s);
  });
  it.each(edgeCases(CHART.spo2Scale2OnOxygen, 1))('SpO2 scale 2 on oxygen %d%% scores %d', (v, s) => {
    expect(scoreSpo2Scale2(v, 'oxygen')).toBe(s);
  });
  it.each(edgeCases(CHART.spo2Scale2OnAir, 1))('SpO2 scale 2 on air %d%% scores %d', (v, s) => {
    expect(scoreSpo2Scale2(v, 'air')).toBe(s);
  });
  it.each(edgeCases(CHART.systolic, 1))('systolic %d mmHg scores %d', (v, s) => {
    expect(scoreSystolic(v)).toBe(s);
  });
  it.each(edgeCases(CHART.pulse, 1))('pulse %d scores %d', (v, s) => {
    expect(scorePulse(v)).toBe(s);
  });
  it.each(edgeCases(CHART.temperature, 0.1))('temperature %d Cel scores %d', (v, s) => {
    expect(scoreTemperature(v)).toBe(s);
  });
  it('air or oxygen: oxygen 2, air 0', () => {
    expect(scoreAirOrOxygen('oxygen')).toBe(2);
    expect(scoreAirOrOxygen('air')).toBe(0);
  });
  it('consciousness: Alert 0; new Confusion, Voice, Pain, Unresponsive 3', () => {
    expect(scoreConsciousness('A')).toBe(0);
    for (const c of ['C', 'V', 'P', 'U'] as const) expect(scoreConsciousness(c)).toBe(3);
  });
});

describe('NEWS2 Chart 1, exhaustive over the whole physiological range', () => {
  const sweep = (from: number, to: number, step: number) => {
    const out: number[] = [];
    for (let i = Math.round(from / step); i <= Math.round(to / step); i++)
      out.push(Number((i * step).toFixed(1)));
    return out;
  };
  it('every whole value of each integer parameter matches the chart', () => {
    for (const v of sweep(0, 150, 1))
      expect(scoreRespiratoryRate(v), `rr ${v}`).toBe(chartScore(CHART.respiratoryRate, v));
    for (const v of sweep(0, 100, 1)) {
      expect(scoreSpo2Scale1(v), `s1 ${v}`).toBe(chartScore(CHART.spo2Scale1, v));
      expect(scoreSpo2Scale2(v, 'oxygen'), `s2o ${v}`).toBe(chartScore(CHART.spo2Scale2OnOxygen, v));
      expect(scoreSpo2Scale2(v, 'air'), `s2a ${v}`).toBe(chartScore(CHART.spo2Scale2OnAir, v));
    }
    for (const v of sweep(0, 400, 1))
      expect(scoreSystolic(v), `sbp ${v}`).toBe(chartScore(CHART.systolic, v));
    for (const v of sweep(0, 350, 1)) expect(scorePulse(v), `pulse ${v}`).toBe(chartScore(CHART.pulse, v));
  });
  it('every tenth of a degree from 10.0 to 50.0 Cel matches the chart', () => {
    for (const v of sweep(10, 50, 0.1))
      expect(scoreTemperature(v), `temp ${v}`).toBe(chartScore(CHART.temperature, v));
  });
  it('values between two bands are rounded half-up to the chart precision', () => {
    expect(scoreRespiratoryRate(20.4)).toBe(0);
    expect(scoreRespiratoryRate(20.5)).toBe(2);
    expect(scorePulse(90.49)).toBe(0);
    expect(scorePulse(90.5)).toBe(1);
    expect(scoreTemperature(38.04)).toBe(0);
    expect(scoreTemperature(38.05)).toBe(1);
    expect(scoreTemperature(35.04)).toBe(3);
    expect(scoreSpo2Scale1(95.5)).toBe(0);
  });
});

describe('NEWS2 Chart 4, clinical response levels', () => {
  it('aggregate 0-4 is low, any single 3 is low-medium, 5-6 medium, 7+ high', () => {
    for (let s = 0; s <= 4; s++) {
      expect(news2Level(s, false)).toBe('low');
      if (s >= 3) expect(news2Level(s, true)).toBe('low-medium');
    }
    for (const s of [5, 6]) {
      expect(news2Level(s, false)).toBe('medium');
      expect(news2Level(s, true)).toBe('medium');
    }
    for (let s = 7; s <= 20; s++) expect(news2Level(s, true)).toBe('high');
  });
});

describe('NEWS2 worked examples', () => {
  it('all parameters normal scores 0 (low)', () => {
    const r = computeNews2({
      respiratoryRate: 16,
      spo2: 98,
      airOrOxygen: 'air',
      systolic: 120,
      pulse: 70,
      consciousness: 'A',
      temperature: 37,
    });
    expect(r).toMatchObject({ score: 0, level: 'low', missing: [], singleParameterThree: false });
  });

  /**
   * NHS Wales Emergency Department FHIR IG (SynaneticsLtd/emergency-department-ig,
   * input/fsh/examples/observation/caroltest-*.fsh): RR 21, pulse 95, SpO2 93% (scale 1), breathing
   * room air, systolic 120, Alert, temperature 37.5 Cel. The example's component scores are
   * RR 2, pulse 1, SpO2 2, air 0, systolic 0, consciousness 0 and temperature 1, total 6. Six of the
   * seven agree with Chart 1; the temperature component does not: 37.5 Cel lies in the 36.1-38.0 band,
   * which scores 0, so the RCP chart gives 5 (medium), not 6. We follow the chart.
   */
  it('NHS Wales ED IG example "Carol Test": components match except its temperature score', () => {
    const r = computeNews2({
      respiratoryRate: 21,
      pulse: 95,
      spo2: 93,
      airOrOxygen: 'air',
      systolic: 120,
      consciousness: 'A',
      temperature: 37.5,
    });
    expect(r.components).toEqual({
      respiratoryRate: 2,
      pulse: 1,
      spo2: 2,
      airOrOxygen: 0,
      systolic: 0,
      consciousness: 0,
      temperature: 0,
    });
    expect(r.score).toBe(5);
    expect(r.level).toBe('medium');
  });

  /**
   * RCP 2017 report, section on SpO2 scale 2: for patients with hypercapnic respiratory failure on
   * supplemental oxygen, saturations of 97% or more score 3; on air, 93% or more scores 0.
   */
  it('scale 2 (hypercapnic respiratory failure): 97% on oxygen scores 3 + 2, on air 0', () => {
    const base = {
      respiratoryRate: 18,
      systolic: 130,
      pulse: 80,
      consciousness: 'A',
      temperature: 37,
    } as const;
    const onO2 = computeNews2({ ...base, spo2: 97, airOrOxygen: 'oxygen', spo2Scale: 2 });
    expect(onO2.components.spo2).toBe(3);
    expect(onO2.components.airOrOxygen).toBe(2);
    expect(onO2).toMatchObject({ score: 5, level: 'medium', singleParameterThree: true });
    const onAir = computeNews2({ ...base, spo2: 97, airOrOxygen: 'air', spo2Scale: 2 });
    expect(onAir).toMatchObject({ score: 0, level: 'low' });
    // The same 97% on oxygen on scale 1 scores only the oxygen.
    expect(computeNews2({ ...base, spo2: 97, airOrOxygen: 'oxygen' }).score).toBe(2);
  });

  it('new confusion alone is a single red score: low-medium', () => {
    const r = computeNews2({
      respiratoryRate: 16,
      spo2: 97,
      airOrOxygen: 'air',
      systolic: 125,
      pulse: 72,
      consciousness: 'C',
      temperature: 36.8,
    });
    expect(r).toMatchObject({ score: 3, level: 'low-medium', singleParameterThree: true });
  });

  it('a septic picture scores high (>= 7)', () => {
    const r = computeNews2({
      respiratoryRate: 26,
      spo2: 92,
      airOrOxygen: 'oxygen',
      systolic: 88,
      pulse: 125,
      consciousness: 'V',
      temperature: 39.4,
    });
    // 3 + 2 + 2 + 3 + 2 + 3 + 2
    expect(r).toMatchObject({ score: 17, level: 'high' });
  });

  it('missing parameters are listed and the partial score is a lower bound', () => {
    const r = computeNews2({ respiratoryRate: 26, pulse: 120, spo2: 90 });
    expect(r.missing).toEqual(['airOrOxygen', 'systolic', 'consciousness', 'temperature']);
    expect(r.score).toBe(8);
    expect(r.level).toBe('high');
  });

  it('decodes the ACVPU ordinal carried in telemetry', () => {
    expect([0, 1, 2, 3, 4].map(consciousnessOf)).toEqual(['A', 'C', 'V', 'P', 'U']);
    expect(consciousnessOf(7)).toBeUndefined();
  });
});
