/**
 * A patient's physiology for the simulator: baselines with a daily (circadian) rhythm, breathing
 * and measurement noise, and occasional deterioration episodes (sepsis-like: heart and breathing
 * rates rise, SpO2 and blood pressure fall, temperature rises) that develop over tens of
 * minutes, so that clinical monitoring (NEWS2) has something real to find.
 *
 * Deterministic for a given seed, so tests and benchmarks are repeatable.
 */

/** Mulberry32: a small, fast, seedable PRNG (public domain). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal deviate (Box-Muller). */
function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

export interface VitalSigns {
  heartRate: number;
  respiratoryRate: number;
  spo2: number;
  systolic: number;
  diastolic: number;
  temperature: number;
  etco2: number;
  glucose: number;
}

export interface PatientModelOptions {
  seed: number;
  /** Probability per simulated hour that a stable patient starts to deteriorate. */
  deteriorationPerHour?: number;
}

/** One simulated patient. `at(timeMs)` must be called with non-decreasing times. */
export class PatientModel {
  readonly #rand: () => number;
  readonly #base: VitalSigns;
  readonly #deteriorationPerHour: number;
  #lastT: number | undefined;
  /** 0 = stable, rising towards 1 during an episode, falling back during recovery. */
  #severity = 0;
  #episode: 'none' | 'worsening' | 'recovering' = 'none';

  constructor(opts: PatientModelOptions) {
    this.#rand = seededRandom(opts.seed);
    this.#deteriorationPerHour = opts.deteriorationPerHour ?? 0.02;
    const r = () => gaussian(this.#rand);
    this.#base = {
      heartRate: 72 + 8 * r(),
      respiratoryRate: 15 + 1.5 * r(),
      spo2: 97 + 0.8 * r(),
      systolic: 122 + 10 * r(),
      diastolic: 76 + 6 * r(),
      temperature: 36.8 + 0.2 * r(),
      etco2: 38 + 2 * r(),
      glucose: 105 + 12 * r(),
    };
  }

  /** Current severity of deterioration, 0..1 (for tests and the demo summary). */
  get severity(): number {
    return this.#severity;
  }

  #advance(t: number): void {
    const dtHours = this.#lastT === undefined ? 0 : Math.max(0, (t - this.#lastT) / 3_600_000);
    this.#lastT = t;
    if (dtHours === 0) return;
    if (this.#episode === 'none' && this.#rand() < 1 - Math.exp(-this.#deteriorationPerHour * dtHours)) {
      this.#episode = 'worsening';
    }
    // Episodes take about 40 minutes to peak and about two hours to recover.
    if (this.#episode === 'worsening') {
      this.#severity = Math.min(1, this.#severity + dtHours * 1.5);
      if (this.#severity >= 1) this.#episode = 'recovering';
    } else if (this.#episode === 'recovering') {
      this.#severity = Math.max(0, this.#severity - dtHours * 0.5);
      if (this.#severity === 0) this.#episode = 'none';
    }
  }

  /** Vital signs at `timeMs` (Unix ms). */
  at(timeMs: number): VitalSigns {
    this.#advance(timeMs);
    const hour = new Date(timeMs).getUTCHours() + new Date(timeMs).getUTCMinutes() / 60;
    // Circadian: lowest in the early morning (~04:00), highest in the late afternoon.
    const circadian = Math.sin(((hour - 10) / 24) * 2 * Math.PI);
    const n = () => gaussian(this.#rand);
    const s = this.#severity;
    const b = this.#base;
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
    return {
      heartRate: Math.round(clamp(b.heartRate + 6 * circadian + 45 * s + 2.5 * n(), 30, 220)),
      respiratoryRate: Math.round(clamp(b.respiratoryRate + 1 * circadian + 12 * s + 0.8 * n(), 6, 50)),
      spo2: Math.round(clamp(b.spo2 - 9 * s + 0.6 * n(), 70, 100)),
      systolic: Math.round(clamp(b.systolic + 6 * circadian - 38 * s + 4 * n(), 60, 220)),
      diastolic: Math.round(clamp(b.diastolic + 4 * circadian - 22 * s + 3 * n(), 30, 130)),
      temperature:
        Math.round(clamp(b.temperature + 0.3 * circadian + 2.1 * s + 0.05 * n(), 34, 42) * 10) / 10,
      etco2: Math.round(clamp(b.etco2 - 8 * s + 1 * n(), 15, 60)),
      glucose: Math.round(clamp(b.glucose + 10 * circadian + 60 * s + 5 * n(), 40, 400)),
    };
  }
}
