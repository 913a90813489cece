/**
 * NEWS2, the National Early Warning Score 2, exactly as the Royal College of Physicians publishes it:
 *
 *   Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment
 *   of acute-illness severity in the NHS. Updated report of a working party. London: RCP, 2017.
 *   Chart 1 "The NEWS scoring system" and Chart 4 "Clinical response to the NEWS trigger thresholds".
 *
 * Chart 1 (score 3 | 2 | 1 | 0 | 1 | 2 | 3):
 *   Respiration rate /min      <=8 |       | 9-11      | 12-20     |           | 21-24     | >=25
 *   SpO2 scale 1 %             <=91 | 92-93 | 94-95    | >=96
 *   SpO2 scale 2 %             <=83 | 84-85 | 86-87    | 88-92, >=93 on air | 93-94 on O2 | 95-96 on O2 | >=97 on O2
 *   Air or oxygen?                  | Oxygen |          | Air
 *   Systolic BP mmHg           <=90 | 91-100 | 101-110 | 111-219   |           |           | >=220
 *   Pulse /min                 <=40 |       | 41-50     | 51-90     | 91-110    | 111-130   | >=131
 *   Consciousness                                       | Alert     |           |           | CVPU
 *   Temperature Cel            <=35.0 |     | 35.1-36.0 | 36.1-38.0 | 38.1-39.0 | >=39.1
 *
 * Clinical response (Chart 4): aggregate 0-4 low; a score of 3 in any single parameter
 * low-medium (urgent ward-based response); aggregate 5-6 medium (key threshold for urgent
 * response); aggregate 7 or more high (emergency response).
 *
 * The chart's bands are whole numbers (temperature: one decimal). A device may report a value
 * between two bands (20.6 breaths/min); it is rounded half-up to the chart's precision first, as a
 * nurse charting it would (the chart has no band for it otherwise).
 *
 * These are pure functions: no clock, no I/O.
 */

export type Consciousness = 'A' | 'C' | 'V' | 'P' | 'U';
export type AirOrOxygen = 'air' | 'oxygen';
export type Spo2Scale = 1 | 2;
export type News2Level = 'low' | 'low-medium' | 'medium' | 'high';

/** One set of observations; any may be missing. */
export interface News2Input {
  respiratoryRate?: number | undefined;
  spo2?: number | undefined;
  airOrOxygen?: AirOrOxygen | undefined;
  systolic?: number | undefined;
  pulse?: number | undefined;
  consciousness?: Consciousness | undefined;
  temperature?: number | undefined;
  /** SpO2 scale 2 is only for patients with hypercapnic respiratory failure and a prescribed target of 88-92%. */
  spo2Scale?: Spo2Scale;
}

export const NEWS2_PARAMETERS = [
  'respiratoryRate',
  'spo2',
  'airOrOxygen',
  'systolic',
  'pulse',
  'consciousness',
  'temperature',
] as const;
export type News2Parameter = (typeof NEWS2_PARAMETERS)[number];

export type News2Components = Record<News2Parameter, number | null>;

export interface News2Result {
  /** Sum of the parameter scores that could be computed (a lower bound when `missing` is not empty). */
  score: number;
  components: News2Components;
  /** True when some single parameter scored 3 (the "red score"). */
  singleParameterThree: boolean;
  level: News2Level;
  /** Parameters without a value; the score and level are then a lower bound. */
  missing: News2Parameter[];
  spo2Scale: Spo2Scale;
}

const whole = (v: number) => Math.floor(v + 0.5);
const tenth = (v: number) => Math.floor(v * 10 + 0.5) / 10;

/** Chart 1, respiration rate (per minute). */
export function scoreRespiratoryRate(value: number): number {
  const v = whole(value);
  if (v <= 8) return 3;
  if (v <= 11) return 1;
  if (v <= 20) return 0;
  if (v <= 24) return 2;
  return 3;
}

/** Chart 1, SpO2 scale 1 (%). */
export function scoreSpo2Scale1(value: number): number {
  const v = whole(value);
  if (v <= 91) return 3;
  if (v <= 93) return 2;
  if (v <= 95) return 1;
  return 0;
}

/**
 * Chart 1, SpO2 scale 2 (%): on air, anything from 88 up scores 0 (no penalty for high saturation
 * without supplemental oxygen); on oxygen, saturation above the 88-92 target scores 1-3.
 */
export function scoreSpo2Scale2(value: number, airOrOxygen: AirOrOxygen): number {
  const v = whole(value);
  if (v <= 83) return 3;
  if (v <= 85) return 2;
  if (v <= 87) return 1;
  if (v <= 92 || airOrOxygen === 'air') return 0;
  if (v <= 94) return 1;
  if (v <= 96) return 2;
  return 3;
}

/** Chart 1, air or oxygen: supplemental oxygen scores 2. */
export function scoreAirOrOxygen(value: AirOrOxygen): number {
  return value === 'oxygen' ? 2 : 0;
}

/** Chart 1, systolic blood pressure (mmHg). */
export function scoreSystolic(value: number): number {
  const v = whole(value);
  if (v <= 90) return 3;
  if (v <= 100) return 2;
  if (v <= 110) return 1;
  if (v <= 219) return 0;
  return 3;
}

/** Chart 1, pulse (per minute). */
export function scorePulse(value: number): number {
  const v = whole(value);
  if (v <= 40) return 3;
  if (v <= 50) return 1;
  if (v <= 90) return 0;
  if (v <= 110) return 1;
  if (v <= 130) return 2;
  return 3;
}

/** Chart 1, consciousness (ACVPU): Alert scores 0; new Confusion, Voice, Pain or Unresponsive score 3. */
export function scoreConsciousness(value: Consciousness): number {
  return value === 'A' ? 0 : 3;
}

/** Chart 1, temperature (Cel). */
export function scoreTemperature(value: number): number {
  const v = tenth(value);
  if (v <= 35.0) return 3;
  if (v <= 36.0) return 1;
  if (v <= 38.0) return 0;
  if (v <= 39.0) return 1;
  return 2;
}

/** Chart 4: the clinical-response level of an aggregate score. */
export function news2Level(score: number, singleParameterThree: boolean): News2Level {
  if (score >= 7) return 'high';
  if (score >= 5) return 'medium';
  if (singleParameterThree) return 'low-medium';
  return 'low';
}

/** Rank of a level, for ordering (high first). */
export const LEVEL_RANK: Readonly<Record<News2Level, number>> = {
  low: 0,
  'low-medium': 1,
  medium: 2,
  high: 3,
};

/**
 * The NEWS2 of one observation set. Missing parameters are listed and left out of the sum, so a
 * partial score is a lower bound of the full one (every parameter scores 0 or more). When the
 * oxygen status is unknown, SpO2 scale 2 is scored as on air (its lowest reading), which keeps
 * that bound.
 */
export function computeNews2(input: News2Input): News2Result {
  const scale: Spo2Scale = input.spo2Scale ?? 1;
  const present = (v: unknown): boolean => v !== undefined && v !== null && !Number.isNaN(v);
  const components: News2Components = {
    respiratoryRate: present(input.respiratoryRate) ? scoreRespiratoryRate(input.respiratoryRate!) : null,
    spo2: present(input.spo2)
      ? scale === 2
        ? scoreSpo2Scale2(input.spo2!, input.airOrOxygen ?? 'air')
        : scoreSpo2Scale1(input.spo2!)
      : null,
    airOrOxygen: present(input.airOrOxygen) ? scoreAirOrOxygen(input.airOrOxygen!) : null,
    systolic: present(input.systolic) ? scoreSystolic(input.systolic!) : null,
    pulse: present(input.pulse) ? scorePulse(input.pulse!) : null,
    consciousness: present(input.consciousness) ? scoreConsciousness(input.consciousness!) : null,
    temperature: present(input.temperature) ? scoreTemperature(input.temperature!) : null,
  };
  let score = 0;
  let three = false;
  const missing: News2Parameter[] = [];
  for (const p of NEWS2_PARAMETERS) {
    const c = components[p];
    if (c === null) missing.push(p);
    else {
      score += c;
      if (c === 3) three = true;
    }
  }
  return {
    score,
    components,
    singleParameterThree: three,
    level: news2Level(score, three),
    missing,
    spo2Scale: scale,
  };
}

/** ACVPU as carried in telemetry (an ordinal, see vital-codes.ts): 0 A, 1 C, 2 V, 3 P, 4 U. */
export function consciousnessOf(ordinal: number): Consciousness | undefined {
  return (['A', 'C', 'V', 'P', 'U'] as const)[Math.round(ordinal)];
}
