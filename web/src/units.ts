/**
 * UCUM unit codes as clinicians write them: `mm[Hg]` → mmHg, `Cel` → °C, and an annotation such
 * as `{score}` (a unitless ordinal) → score. Codes without a conventional form show as they are
 * (`/min`, `%`, `L/min`, `mg/dL`, `mL/h`).
 */
const CONVENTIONAL: Record<string, string> = { 'mm[Hg]': 'mmHg', Cel: '°C', '[degF]': '°F' };

export function displayUnit(ucum: string): string {
  return CONVENTIONAL[ucum] ?? ucum.replace(/\{([^}]*)\}/g, '$1');
}

/** True for a unit that is only an annotation (`{score}`): its values are whole-number ordinals. */
export function isOrdinal(ucum: string): boolean {
  return /^\{[^}]*\}$/.test(ucum);
}
