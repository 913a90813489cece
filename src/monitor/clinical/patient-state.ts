import type { ParsedObservation } from '../../telemetry/index.js';
import {
  type AirOrOxygen,
  computeNews2,
  consciousnessOf,
  type News2Input,
  type News2Result,
  type Spo2Scale,
} from './news2.js';

/** Room air is 20.9 % oxygen; an FiO2 above 21 % means supplemental oxygen. */
const ROOM_AIR_FIO2 = 21;

export type Trend = 'up' | 'down' | 'flat';

/** What clinical monitoring remembers about one patient (in memory; PHI: never logged). */
export class PatientState {
  readonly patientIndex: string;
  patientId: string;
  careUnit: string | null = null;
  bed: string | null = null;
  readonly deviceIds = new Set<string>();
  /** Newest value of each vital kind with its observation time. */
  readonly latest = new Map<string, { value: number; ts: number }>();
  spo2Scale: Spo2Scale = 1;
  news2: News2Result | null = null;
  observedAt = 0;
  /** Scores charted once per trend interval (newest last), for the trend arrow. */
  readonly #samples: Array<{ at: number; score: number }> = [];

  constructor(patientIndex: string, patientId: string) {
    this.patientIndex = patientIndex;
    this.patientId = patientId;
  }

  record(observations: readonly ParsedObservation[]): void {
    for (const o of observations) {
      const prev = this.latest.get(o.kind);
      // Implausible values (probe off, artefact) are stored by telemetry but not charted.
      if (o.implausible) continue;
      if (!prev || o.ts >= prev.ts) this.latest.set(o.kind, { value: o.value, ts: o.ts });
    }
  }

  /** The NEWS2 input from the newest observations no older than `since`. */
  input(since: number): { input: News2Input; observedAt: number } {
    let observedAt = 0;
    const get = (...kinds: string[]): number | undefined => {
      let best: { value: number; ts: number } | undefined;
      for (const k of kinds) {
        const v = this.latest.get(k);
        if (v && v.ts >= since && (!best || v.ts > best.ts)) best = v;
      }
      if (best) observedAt = Math.max(observedAt, best.ts);
      return best?.value;
    };
    const flow = this.latest.get('o2-flow');
    const fio2 = this.latest.get('fio2');
    let airOrOxygen: AirOrOxygen | undefined;
    const useFlow = flow && flow.ts >= since && (!fio2 || fio2.ts < since || flow.ts >= fio2.ts);
    if (useFlow) {
      airOrOxygen = flow.value > 0 ? 'oxygen' : 'air';
      observedAt = Math.max(observedAt, flow.ts);
    } else if (fio2 && fio2.ts >= since) {
      airOrOxygen = fio2.value > ROOM_AIR_FIO2 ? 'oxygen' : 'air';
      observedAt = Math.max(observedAt, fio2.ts);
    }
    const acvpu = get('consciousness');
    const input: News2Input = {
      respiratoryRate: get('resp-rate'),
      spo2: get('spo2'),
      airOrOxygen,
      systolic: get('nibp-systolic'),
      pulse: get('pulse-rate', 'heart-rate'),
      consciousness: acvpu === undefined ? undefined : consciousnessOf(acvpu),
      temperature: get('body-temp'),
      spo2Scale: this.spo2Scale,
    };
    return { input, observedAt };
  }

  /** Recomputes NEWS2; returns it, or null when no vital is recent enough. */
  rescore(since: number, trendIntervalMs: number): News2Result | null {
    const { input, observedAt } = this.input(since);
    if (observedAt === 0) {
      this.news2 = null;
      return null;
    }
    const result = computeNews2(input);
    this.news2 = result;
    this.observedAt = observedAt;
    const last = this.#samples.at(-1);
    if (!last || observedAt - last.at >= trendIntervalMs) {
      this.#samples.push({ at: observedAt, score: result.score });
      if (this.#samples.length > 8) this.#samples.shift();
    }
    return result;
  }

  /** The trend against the score charted at least one interval before the newest observation. */
  trend(trendIntervalMs: number): Trend | null {
    if (!this.news2) return null;
    const cutoff = this.observedAt - trendIntervalMs;
    let previous: number | undefined;
    for (const s of this.#samples) if (s.at <= cutoff) previous = s.score;
    if (previous === undefined) return null;
    const score = this.news2.score;
    return score > previous ? 'up' : score < previous ? 'down' : 'flat';
  }
}
