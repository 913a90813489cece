/**
 * IEEE 11073-10101 unit codes (partition 4, "dimensions": 4 * 65536 + term code) that PCD-01
 * senders put in OBX-6 (e.g. `266016^MDC_DIM_MMHG^MDC`), mapped to the UCUM codes the telemetry
 * code table uses. The ../shared/corpus/hl7v2 messages use MDC_DIM_MMHG (266016),
 * MDC_DIM_PERCENT (262688) and MDC_DIM_DIMLESS (262656); term codes of the others are from the
 * 11073-10101 dimension table as published in open device drivers (e.g. the Philips IntelliVue
 * NOM_DIM_* constants: BEAT_PER_MIN 2720, RESP_PER_MIN 2784, KILO_PASCAL 3843, DEGC 6048...).
 */
const PARTITION = 4 * 65536;

const UNITS: ReadonlyArray<{ term: number; refid: string; ucum: string }> = [
  { term: 512, refid: 'MDC_DIM_DIMLESS', ucum: '1' },
  { term: 544, refid: 'MDC_DIM_PERCENT', ucum: '%' },
  { term: 2528, refid: 'MDC_DIM_PER_MIN', ucum: '/min' },
  { term: 2720, refid: 'MDC_DIM_BEAT_PER_MIN', ucum: '/min' },
  { term: 2752, refid: 'MDC_DIM_PULS_PER_MIN', ucum: '/min' },
  { term: 2784, refid: 'MDC_DIM_RESP_PER_MIN', ucum: '/min' },
  { term: 3843, refid: 'MDC_DIM_KILO_PASCAL', ucum: 'kPa' },
  { term: 3872, refid: 'MDC_DIM_MMHG', ucum: 'mm[Hg]' },
  { term: 4384, refid: 'MDC_DIM_KELVIN', ucum: 'K' },
  { term: 4416, refid: 'MDC_DIM_FAHR', ucum: '[degF]' },
  { term: 6048, refid: 'MDC_DIM_DEGC', ucum: 'Cel' },
  { term: 2130, refid: 'MDC_DIM_MILLI_G_PER_DL', ucum: 'mg/dL' },
  { term: 4722, refid: 'MDC_DIM_MILLI_MOLE_PER_L', ucum: 'mmol/L' },
  { term: 3090, refid: 'MDC_DIM_MILLI_L_PER_MIN', ucum: 'mL/min' },
  { term: 3104, refid: 'MDC_DIM_X_L_PER_HR', ucum: 'L/h' },
  { term: 3122, refid: 'MDC_DIM_MILLI_L_PER_HR', ucum: 'mL/h' },
  { term: 1600, refid: 'MDC_DIM_X_L', ucum: 'L' },
  { term: 1618, refid: 'MDC_DIM_MILLI_L', ucum: 'mL' },
];

const BY_CODE = new Map<string, string>();
for (const u of UNITS) {
  BY_CODE.set(String(PARTITION + u.term), u.ucum);
  BY_CODE.set(u.refid, u.ucum);
}

/** The UCUM code for an MDC unit (numeric code or reference id), or undefined when unknown. */
export function ucumForMdcUnit(code: string): string | undefined {
  return BY_CODE.get(code);
}
