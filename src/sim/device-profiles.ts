import type { DeviceType } from '../devices/index.js';
import type { VitalSigns } from './vitals-model.js';

/** One observation in the telemetry payload schema. */
export interface SimObservation {
  code: { system: 'LOINC' | 'MDC'; code: string };
  value: number;
  unit: string;
}

type Pick = (v: VitalSigns, n: number) => SimObservation[];

const loinc = (code: string, value: number, unit: string): SimObservation => ({
  code: { system: 'LOINC', code },
  value,
  unit,
});
const mdc = (code: string, value: number, unit: string): SimObservation => ({
  code: { system: 'MDC', code },
  value,
  unit,
});

const hr = (v: VitalSigns) => loinc('8867-4', v.heartRate, '/min');
const spo2 = (v: VitalSigns) => loinc('59408-5', v.spo2, '%');
const rr = (v: VitalSigns) => loinc('9279-1', v.respiratoryRate, '/min');
const nibp = (v: VitalSigns) => [
  loinc('8480-6', v.systolic, 'mm[Hg]'),
  loinc('8462-4', v.diastolic, 'mm[Hg]'),
  loinc('8478-0', Math.round((v.systolic + 2 * v.diastolic) / 3), 'mm[Hg]'),
];
const temp = (v: VitalSigns) => loinc('8310-5', v.temperature, 'Cel');
/**
 * The rest of a NEWS2 observation set, charted with the temperature: inhaled O2 flow (0 L/min: on
 * air, or 2 L/min once saturation falls below 92 %) and ACVPU (0 Alert; 1 new Confusion when
 * saturation is below 85 %).
 */
const news2Extras = (v: VitalSigns) => [
  loinc('3151-8', v.spo2 < 92 ? 2 : 0, 'L/min'),
  loinc('67775-7', v.spo2 < 85 ? 1 : 0, '{score}'),
];

/**
 * What each kind of device reports and how often (message `n` counts from 0). Bedside monitors
 * send continuous parameters every message and a cuff pressure every tenth; pumps report flow
 * and volume as IEEE 11073 MDC codes (MDC_FLOW_FLUID_PUMP, MDC_VOL_FLUID_DELIV_TOTAL).
 */
const PROFILES: Record<DeviceType, Pick> = {
  'patient-monitor': (v, n) => [
    hr(v),
    spo2(v),
    rr(v),
    ...(n % 10 === 0 ? nibp(v) : []),
    ...(n % 30 === 0 ? [temp(v), ...news2Extras(v)] : []),
  ],
  'pulse-oximeter': (v) => [spo2(v), loinc('8889-8', v.heartRate, '/min')],
  'ecg-patch': (v) => [hr(v), rr(v)],
  ventilator: (v) => [rr(v), spo2(v), loinc('19889-5', v.etco2, 'mm[Hg]')],
  'infusion-pump': (_v, n) => [
    mdc('157784', 25, 'mL/h'),
    mdc('157993', Math.round((n * 25) / 60) / 10, 'mL'),
  ],
  'glucose-meter': (v) => [loinc('2339-0', v.glucose, 'mg/dL')],
  'digital-stethoscope': (v) => [hr(v), rr(v)],
  other: (v) => [hr(v)],
};

/** The observations device `type` sends in its `n`-th message for vital signs `v`. */
export function observationsFor(type: DeviceType, v: VitalSigns, n: number): SimObservation[] {
  return PROFILES[type](v, n);
}

/** A ward's mix of devices, repeated as needed (a typical ICU/step-down bay). */
export const WARD_MIX: readonly DeviceType[] = [
  'patient-monitor',
  'patient-monitor',
  'pulse-oximeter',
  'infusion-pump',
  'ecg-patch',
  'patient-monitor',
  'ventilator',
  'infusion-pump',
  'glucose-meter',
  'pulse-oximeter',
];
