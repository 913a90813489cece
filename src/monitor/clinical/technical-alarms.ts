/**
 * Technical alarms: problems with the equipment rather than the patient (IEC 60601-1-8 keeps
 * "technical" and "physiological" alarm conditions apart, and so does the telemetry payload's
 * `alarms[].kind`). They are raised as category `technical`, never `clinical`, and carry no patient.
 *
 * Devices name alarm conditions with IEEE 11073-10101 event codes; reference ids are matched by
 * their words (MDC_EVT_LEAD_OFF, MDC_EVT_PROBE_DISCONN, MDC_EVT_BATT_LO, MDC_EVT_SIG_QUAL_LO, ...)
 * because vendors use many variants. A numeric code or anything else becomes `technical.device-alarm`
 * with the code in the evidence.
 */
export type TechnicalRule =
  | 'technical.sensor-off'
  | 'technical.low-battery'
  | 'technical.signal-loss'
  | 'technical.device-alarm';

const PATTERNS: ReadonlyArray<[RegExp, TechnicalRule]> = [
  [/BATT/, 'technical.low-battery'],
  [/LEAD|PROBE|SENSOR|ELECTRODE|CUFF|DISCONN|_OFF\b|_OFF_/, 'technical.sensor-off'],
  [/SIG|SIGNAL|COMM|NO_DATA|QUAL|NOISE|ARTIF|TELEM/, 'technical.signal-loss'],
];

export function technicalRuleOf(code: string): TechnicalRule {
  for (const [pattern, rule] of PATTERNS) if (pattern.test(code)) return rule;
  return 'technical.device-alarm';
}

export const TECHNICAL_TITLES: Readonly<Record<TechnicalRule, string>> = {
  'technical.sensor-off': 'Sensor off or disconnected',
  'technical.low-battery': 'Device battery low',
  'technical.signal-loss': 'Signal lost from device',
  'technical.device-alarm': 'Device technical alarm',
};
