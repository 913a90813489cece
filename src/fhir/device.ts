/**
 * Inventory devices as FHIR R4 Device and DeviceMetric resources. Identifiers are what the
 * inventory holds: the Pulsegate device id, the serial number and the MAC address.
 */
import type { DeviceMetric, Device as FhirDevice } from '@medplum/fhirtypes';
import type { Device } from '../devices/index.js';
import { VITAL_CODES } from '../telemetry/index.js';
import { deviceKeyOf, metricIdOf } from './ids.js';
import { MDC, UCUM } from './observation.js';

export const DEVICE_ID_SYSTEM = 'urn:pulsegate:device';
export const DEVICE_TYPE_SYSTEM = 'urn:pulsegate:device-type';
export const CARE_UNIT_SYSTEM = 'urn:pulsegate:care-unit';
export const MAC_SYSTEM = 'urn:pulsegate:mac-address';
export const SERIAL_SYSTEM = 'urn:pulsegate:serial-number';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';

const TYPE_DISPLAY: Record<string, string> = {
  'patient-monitor': 'Patient monitor',
  'infusion-pump': 'Infusion pump',
  'ecg-patch': 'ECG patch',
  'pulse-oximeter': 'Pulse oximeter',
  ventilator: 'Ventilator',
  'digital-stethoscope': 'Digital stethoscope',
  'glucose-meter': 'Glucose meter',
  other: 'Other device',
};

/** FHIR Device.status of an inventory lifecycle: in service or not. */
export function statusOf(lifecycle: string): 'active' | 'inactive' {
  return lifecycle === 'active' || lifecycle === 'enrolled' ? 'active' : 'inactive';
}

export function toFhirDevice(d: Device): FhirDevice {
  const identifier: NonNullable<FhirDevice['identifier']> = [
    { use: 'official', system: DEVICE_ID_SYSTEM, value: d.id },
  ];
  if (d.serial)
    identifier.push({
      type: { coding: [{ system: V2_0203, code: 'SNO', display: 'Serial Number' }] },
      system: SERIAL_SYSTEM,
      value: d.serial,
    });
  if (d.macAddress) identifier.push({ system: MAC_SYSTEM, value: d.macAddress });
  const location = [d.careUnit, d.bed ? `bed ${d.bed}` : undefined].filter(Boolean).join(', ');
  return {
    resourceType: 'Device',
    id: deviceKeyOf(d.id),
    meta: { versionId: String(d.version), lastUpdated: d.updatedAt },
    identifier,
    status: statusOf(d.lifecycle),
    statusReason: [{ text: d.lifecycle }],
    manufacturer: d.vendor,
    ...(d.serial ? { serialNumber: d.serial } : {}),
    deviceName: [{ name: d.model, type: 'model-name' }],
    modelNumber: d.model,
    type: {
      coding: [{ system: DEVICE_TYPE_SYSTEM, code: d.type, display: TYPE_DISPLAY[d.type] ?? d.type }],
      text: TYPE_DISPLAY[d.type] ?? d.type,
    },
    ...(d.firmwareVersion ? { version: [{ type: { text: 'firmware' }, value: d.firmwareVersion }] } : {}),
    ...(d.owner ? { owner: { display: d.owner } } : {}),
    ...(d.careUnit
      ? { location: { identifier: { system: CARE_UNIT_SYSTEM, value: d.careUnit }, display: location } }
      : {}),
  };
}

/** The vital kinds each device type measures (what its DeviceMetrics are). */
const METRICS: Record<string, readonly string[]> = {
  'patient-monitor': [
    'heart-rate',
    'spo2',
    'resp-rate',
    'nibp-systolic',
    'nibp-diastolic',
    'nibp-mean',
    'body-temp',
  ],
  'pulse-oximeter': ['spo2', 'pulse-rate'],
  'ecg-patch': ['heart-rate', 'resp-rate'],
  ventilator: ['resp-rate', 'etco2'],
  'infusion-pump': ['infusion-rate', 'volume-infused'],
  'glucose-meter': ['glucose'],
};

export function metricKinds(type: string): readonly string[] {
  return METRICS[type] ?? [];
}

export function toDeviceMetric(d: Device, kind: string): DeviceMetric | undefined {
  const vital = VITAL_CODES.find((v) => v.kind === kind);
  if (!vital || !metricKinds(d.type).includes(kind)) return undefined;
  const mdc = vital.mdc[0]!;
  return {
    resourceType: 'DeviceMetric',
    id: metricIdOf(d.id, kind),
    type: { coding: [{ system: MDC, code: mdc.code, display: mdc.refid }], text: vital.display },
    unit: { coding: [{ system: UCUM, code: vital.unit }] },
    source: { reference: `Device/${deviceKeyOf(d.id)}` },
    operationalStatus: statusOf(d.lifecycle) === 'active' ? 'on' : 'off',
    category: 'measurement',
  };
}
