/**
 * The observation codes Pulsegate accepts, with their canonical UCUM unit, accepted alternate
 * units (converted to the canonical one before storage) and physiological bounds.
 *
 * MDC codes are IEEE 11073-10101 context-free codes (partition 2 SCADA: 2 * 65536 + term code),
 * as used by IHE PCD-01 and the Rosetta terminology mapping. Checked against:
 * - ../shared/corpus/hl7v2 (oehf/ipf test messages): 150021/150022/150023 MDC_PRESS_BLD_NONINV_SYS/DIA/MEAN,
 *   150456 MDC_PULS_OXIM_SAT_O2;
 * - public IHE PCD-01 messages and Rosetta-based code tables found with the code search:
 *   147842 MDC_ECG_HEART_RATE, 149530 MDC_PULS_OXIM_PULS_RATE, 151562 MDC_RESP_RATE,
 *   150344 MDC_TEMP, 150364 MDC_TEMP_BODY (term 19292), 151708 MDC_AWAY_CO2_ET,
 *   160184 MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD (term 29112, IEEE 11073-10417), 157784 MDC_FLOW_FLUID_PUMP,
 *   157993 MDC_VOL_FLUID_DELIV_TOTAL (IHE PCD infusion pump OBX examples; the 157792 first proposed
 *   for "volume infused" appears in no source and is not used).
 * LOINC codes are from the LOINC vital-signs panel (85353-1) and its common members.
 * For NEWS2 (monitor/clinical): 3151-8 "Inhaled oxygen flow rate" (L/min) and 3150-0 "Inhaled
 * oxygen concentration" (FiO2, %), as the US Core pulse-oximetry profile uses them; level of
 * consciousness as 67775-7 "Level of responsiveness" (the AVPU item, e.g. NEMSIS eVitals.26) or
 * 80288-4 "Level of consciousness AVPU score". Telemetry values are numbers, so ACVPU travels as
 * an ordinal with unit `{score}`: 0 Alert, 1 new Confusion, 2 Voice, 3 Pain, 4 Unresponsive.
 *
 * Bounds: outside `impossible` a value cannot come from a living patient or a working sensor and
 * is refused (TELEMETRY_IMPOSSIBLE_VALUE); outside `plausible` it is stored but flagged
 * 'implausible' so detectors and clinicians treat it with care.
 */
export interface VitalCode {
  /** Stable kind name, used in queries (`code=spo2`) and the `vitals` column. */
  readonly kind: string;
  readonly display: string;
  readonly loinc: readonly string[];
  readonly mdc: readonly { code: string; refid: string }[];
  /** Canonical UCUM unit of stored values. */
  readonly unit: string;
  /** Other accepted UCUM units and how to convert a value in them to `unit`. */
  readonly alternates: Readonly<Record<string, (v: number) => number>>;
  readonly impossible: readonly [number, number];
  readonly plausible: readonly [number, number];
}

const same = (v: number) => v;
const KPA_TO_MMHG = 760 / 101.325; // 7.50062 mm[Hg] per kPa
/** Glucose, C6H12O6: 180.156 g/mol, so 1 mmol/L = 18.0156 mg/dL. */
const GLUCOSE_MMOL_TO_MGDL = 18.0156;
const perMinute = { '{beats}/min': same, '1/min': same, 'min-1': same };
const pressure = { kPa: (v: number) => v * KPA_TO_MMHG };

export const VITAL_CODES: readonly VitalCode[] = [
  {
    kind: 'heart-rate',
    display: 'Heart rate',
    loinc: ['8867-4'],
    mdc: [{ code: '147842', refid: 'MDC_ECG_HEART_RATE' }],
    unit: '/min',
    alternates: perMinute,
    impossible: [0, 350],
    plausible: [20, 300],
  },
  {
    kind: 'pulse-rate',
    display: 'Pulse rate',
    loinc: ['8889-8'],
    mdc: [{ code: '149530', refid: 'MDC_PULS_OXIM_PULS_RATE' }],
    unit: '/min',
    alternates: perMinute,
    impossible: [0, 350],
    plausible: [20, 300],
  },
  {
    kind: 'spo2',
    display: 'Oxygen saturation (SpO2)',
    loinc: ['59408-5', '2708-6'],
    mdc: [{ code: '150456', refid: 'MDC_PULS_OXIM_SAT_O2' }],
    unit: '%',
    alternates: {},
    impossible: [0, 100],
    plausible: [50, 100],
  },
  {
    kind: 'resp-rate',
    display: 'Respiratory rate',
    loinc: ['9279-1'],
    mdc: [{ code: '151562', refid: 'MDC_RESP_RATE' }],
    unit: '/min',
    alternates: { '{breaths}/min': same, '1/min': same, 'min-1': same },
    impossible: [0, 150],
    plausible: [3, 90],
  },
  {
    kind: 'nibp-systolic',
    display: 'Systolic blood pressure (non-invasive)',
    loinc: ['8480-6'],
    mdc: [{ code: '150021', refid: 'MDC_PRESS_BLD_NONINV_SYS' }],
    unit: 'mm[Hg]',
    alternates: pressure,
    impossible: [0, 400],
    plausible: [50, 280],
  },
  {
    kind: 'nibp-diastolic',
    display: 'Diastolic blood pressure (non-invasive)',
    loinc: ['8462-4'],
    mdc: [{ code: '150022', refid: 'MDC_PRESS_BLD_NONINV_DIA' }],
    unit: 'mm[Hg]',
    alternates: pressure,
    impossible: [0, 300],
    plausible: [20, 180],
  },
  {
    kind: 'nibp-mean',
    display: 'Mean blood pressure (non-invasive)',
    loinc: ['8478-0'],
    mdc: [{ code: '150023', refid: 'MDC_PRESS_BLD_NONINV_MEAN' }],
    unit: 'mm[Hg]',
    alternates: pressure,
    impossible: [0, 350],
    plausible: [30, 220],
  },
  {
    kind: 'body-temp',
    display: 'Body temperature',
    loinc: ['8310-5'],
    mdc: [
      { code: '150364', refid: 'MDC_TEMP_BODY' },
      { code: '150344', refid: 'MDC_TEMP' },
    ],
    unit: 'Cel',
    alternates: { '[degF]': (v) => ((v - 32) * 5) / 9, K: (v) => v - 273.15 },
    // Survived extremes are about 13 and 47 Cel; beyond these the probe is off the patient.
    impossible: [10, 50],
    plausible: [30, 43],
  },
  {
    kind: 'etco2',
    display: 'End-tidal CO2',
    loinc: ['19889-5'],
    mdc: [{ code: '151708', refid: 'MDC_AWAY_CO2_ET' }],
    unit: 'mm[Hg]',
    alternates: pressure,
    impossible: [0, 200],
    plausible: [0, 100],
  },
  {
    kind: 'glucose',
    display: 'Glucose (capillary whole blood)',
    loinc: ['2339-0'],
    mdc: [{ code: '160184', refid: 'MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD' }],
    unit: 'mg/dL',
    alternates: { 'mmol/L': (v) => v * GLUCOSE_MMOL_TO_MGDL },
    impossible: [0, 3000],
    plausible: [20, 800],
  },
  {
    kind: 'o2-flow',
    display: 'Inhaled oxygen flow rate',
    loinc: ['3151-8'],
    mdc: [],
    unit: 'L/min',
    alternates: { 'mL/min': (v) => v / 1000 },
    // High-flow nasal oxygen reaches 60-70 L/min; 0 means on air.
    impossible: [0, 100],
    plausible: [0, 80],
  },
  {
    kind: 'fio2',
    display: 'Inhaled oxygen concentration (FiO2)',
    loinc: ['3150-0'],
    mdc: [],
    unit: '%',
    alternates: { '1': (v) => v * 100 },
    // Room air is 20.9 %; below that no breathable gas is being delivered.
    impossible: [0, 100],
    plausible: [20, 100],
  },
  {
    kind: 'consciousness',
    display: 'Level of consciousness (ACVPU ordinal: 0 A, 1 C, 2 V, 3 P, 4 U)',
    loinc: ['67775-7', '80288-4'],
    mdc: [],
    unit: '{score}',
    alternates: {},
    impossible: [0, 4],
    plausible: [0, 4],
  },
  {
    kind: 'infusion-rate',
    display: 'Infusion rate',
    loinc: [],
    mdc: [{ code: '157784', refid: 'MDC_FLOW_FLUID_PUMP' }],
    unit: 'mL/h',
    alternates: { 'mL/min': (v) => v * 60, 'L/h': (v) => v * 1000 },
    impossible: [0, 2000],
    plausible: [0, 1200],
  },
  {
    kind: 'volume-infused',
    display: 'Volume infused',
    loinc: [],
    mdc: [{ code: '157993', refid: 'MDC_VOL_FLUID_DELIV_TOTAL' }],
    unit: 'mL',
    alternates: { L: (v) => v * 1000 },
    impossible: [0, 100_000],
    plausible: [0, 20_000],
  },
];

const BY_CODE = new Map<string, VitalCode>();
const BY_KIND = new Map<string, VitalCode>();
for (const v of VITAL_CODES) {
  BY_KIND.set(v.kind, v);
  for (const c of v.loinc) BY_CODE.set(`LOINC|${c}`, v);
  for (const c of v.mdc) {
    BY_CODE.set(`MDC|${c.code}`, v);
    BY_CODE.set(`MDC|${c.refid}`, v);
  }
}
const REFID_TO_CODE = new Map(VITAL_CODES.flatMap((v) => v.mdc.map((m) => [m.refid, m.code] as const)));

/** The vital a coded observation measures, or undefined when the code is not known. */
export function vitalFor(system: string, code: string): VitalCode | undefined {
  return BY_CODE.get(`${system}|${code}`);
}

/** An MDC code in its numeric form (a reference id such as MDC_PULS_OXIM_SAT_O2 becomes 150456). */
export function normaliseCode(system: string, code: string): string {
  return system === 'MDC' ? (REFID_TO_CODE.get(code) ?? code) : code;
}

/**
 * The vital named by a query's `code` parameter: a kind (`spo2`), `LOINC|59408-5` / `MDC|150456`,
 * or a bare code. Undefined when nothing matches.
 */
export function vitalForQuery(code: string): VitalCode | undefined {
  const byKind = BY_KIND.get(code);
  if (byKind) return byKind;
  const sep = code.indexOf('|') >= 0 ? '|' : code.indexOf(':') >= 0 ? ':' : undefined;
  if (sep) {
    const [system, value] = code.split(sep, 2) as [string, string];
    return vitalFor(system.toUpperCase(), value);
  }
  return vitalFor('MDC', code) ?? vitalFor('LOINC', code);
}

/** The canonical value of `value` given in `unit`, or undefined when the unit does not fit the vital. */
export function toCanonical(vital: VitalCode, unit: string, value: number): number | undefined {
  if (unit === vital.unit) return value;
  const convert = vital.alternates[unit];
  return convert ? convert(value) : undefined;
}
