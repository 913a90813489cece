import { PulsegateError } from '../../errors.js';
import { VITAL_CODES } from '../../telemetry/index.js';

/** A vital's alarm limits: a value below `low` or above `high` is a breach. */
export interface VitalLimit {
  low?: number | undefined;
  high?: number | undefined;
}

/** Limits per vital kind (the telemetry `kind`, e.g. `spo2`, `heart-rate`). */
export type UnitLimits = Readonly<Record<string, VitalLimit>>;

/**
 * Built-in defaults. `default` is an adult general ward; `icu` is wider, because an intensive-care
 * patient is watched continuously and narrow limits there mostly produce alarm fatigue. Operators
 * override any of them per care unit in `clinical.limits` (kinds merge over these).
 *
 * The ward values sit at the NEWS2 score-3 bands (RCP 2017 Chart 1) so a limit alarm agrees with a
 * red single-parameter score: respiration <= 8 or >= 25, SpO2 <= 91, systolic <= 90 or >= 220,
 * pulse <= 40 or >= 131, temperature <= 35.0; the limits below are the first values outside the
 * normal bands (a breach is strictly below `low` or above `high`).
 */
export const DEFAULT_LIMITS: Readonly<Record<string, UnitLimits>> = {
  default: {
    'resp-rate': { low: 9, high: 24 },
    spo2: { low: 92 },
    'nibp-systolic': { low: 91, high: 219 },
    'heart-rate': { low: 41, high: 130 },
    'pulse-rate': { low: 41, high: 130 },
    'body-temp': { low: 35.1, high: 39.0 },
  },
  icu: {
    'resp-rate': { low: 6, high: 35 },
    spo2: { low: 88 },
    'nibp-systolic': { low: 80, high: 200 },
    'heart-rate': { low: 40, high: 150 },
    'pulse-rate': { low: 40, high: 150 },
    'body-temp': { low: 34.5, high: 39.5 },
    etco2: { low: 25, high: 50 },
  },
};

export interface LimitBreach {
  kind: string;
  direction: 'low' | 'high';
  value: number;
  limit: number;
}

/** The vital kinds a limit may name: those telemetry accepts (a misspelt kind would never match). */
const KINDS = new Set(VITAL_CODES.map((v) => v.kind));

/**
 * Resolves the limits of every care unit from the defaults and the configuration. A configuration
 * that names an unknown vital kind, names one care unit twice (names match without regard to
 * case), or leaves a vital's `low` above its `high` once merged over the defaults is refused with
 * CLINICAL_LIMITS_INVALID naming every such key.
 */
export class LimitTable {
  readonly #units = new Map<string, UnitLimits>();
  readonly #fallback: UnitLimits;

  constructor(configured: Readonly<Record<string, Readonly<Record<string, VitalLimit>>>> = {}) {
    // Care unit names match whatever their case: the shipped `icu` set applies to a unit named
    // "ICU" (as devices and the simulator name it), and `clinical.limits.ICU` to devices in "icu".
    const merged: Record<string, Record<string, VitalLimit>> = {};
    for (const [unit, limits] of Object.entries(DEFAULT_LIMITS)) merged[unit.toLowerCase()] = { ...limits };
    const problems: string[] = [];
    const seen = new Map<string, string>();
    for (const [name, limits] of Object.entries(configured)) {
      const unit = name.toLowerCase();
      const other = seen.get(unit);
      if (other !== undefined) {
        problems.push(
          `clinical.limits.${other} and clinical.limits.${name}: the same care unit (names match without regard to case); configure it once`,
        );
        continue;
      }
      seen.set(unit, name);
      const base = merged[unit] ?? { ...(merged.default ?? {}) };
      for (const [kind, limit] of Object.entries(limits)) {
        const key = `clinical.limits.${name}.${kind}`;
        if (!KINDS.has(kind)) {
          problems.push(`${key}: unknown vital kind; allowed are ${[...KINDS].join(', ')}`);
          continue;
        }
        const result = { ...base[kind], ...limit };
        if (result.low !== undefined && result.high !== undefined && result.low > result.high) {
          const from = (side: 'low' | 'high') => (limit[side] === undefined ? ' (the default)' : '');
          problems.push(
            `${key}: low ${result.low}${from('low')} is above high ${result.high}${from('high')}`,
          );
        }
        base[kind] = result;
      }
      merged[unit] = base;
    }
    if (problems.length > 0) throw new PulsegateError('CLINICAL_LIMITS_INVALID', problems.join('; '));
    for (const [unit, limits] of Object.entries(merged)) this.#units.set(unit, limits);
    this.#fallback = this.#units.get('default') ?? {};
  }

  /**
   * The limits for a care unit, its name matched without regard to case (the `default` set for
   * units not configured, or no unit).
   */
  forUnit(careUnit: string | null): UnitLimits {
    return (careUnit !== null ? this.#units.get(careUnit.toLowerCase()) : undefined) ?? this.#fallback;
  }

  /** Every configured unit (lower-cased name) and its limits (for documentation and the console). */
  all(): Record<string, UnitLimits> {
    return Object.fromEntries(this.#units);
  }
}

/** The breach of one value against its limits, or null when it is within them. */
export function checkLimit(kind: string, value: number, limits: UnitLimits): LimitBreach | null {
  const limit = limits[kind];
  if (!limit) return null;
  if (limit.low !== undefined && value < limit.low)
    return { kind, direction: 'low', value, limit: limit.low };
  if (limit.high !== undefined && value > limit.high)
    return { kind, direction: 'high', value, limit: limit.high };
  return null;
}
