import type { DeviceType } from '../devices/index.js';
import { ApiClient } from './api-client.js';
import { WARD_MIX } from './device-profiles.js';
import { type DeviceCredentials, enrollOverEst } from './est-client.js';
import { SimDevice } from './sim-device.js';
import { PatientModel } from './vitals-model.js';

export interface WardOptions {
  /** HTTPS base URL of the Pulsegate API (`https://localhost:8443`). */
  apiUrl: string;
  /** MQTT over TLS URL (`mqtts://localhost:8883`). */
  mqttUrl: string;
  /** The installation's root CA (PEM), trusted for both. */
  ca: string | Buffer;
  /** An API token allowed to register devices and bind patients (clinical engineer or admin). */
  token: string;
  devices: number;
  /** Messages per second per device. */
  ratePerDevice: number;
  careUnits?: string[];
  /** Device id prefix, so several runs can share an installation. */
  prefix?: string;
  seed?: number;
  /** Deterioration episodes per simulated patient-hour. */
  deteriorationPerHour?: number;
  onProgress?: (p: WardProgress) => void;
}

export interface WardProgress {
  phase: 'enrolling' | 'connecting' | 'streaming';
  done: number;
  total: number;
}

export interface WardTotals {
  devices: number;
  connected: number;
  sent: number;
  acked: number;
  failed: number;
}

const SHORT: Record<DeviceType, string> = {
  'patient-monitor': 'mon',
  'infusion-pump': 'pump',
  'ecg-patch': 'ecg',
  'pulse-oximeter': 'spo2',
  ventilator: 'vent',
  'digital-stethoscope': 'steth',
  'glucose-meter': 'glu',
  other: 'dev',
};

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

/** Registers one device, optionally binds a patient, and enrolls it over EST. */
export async function registerAndEnroll(opts: {
  api: ApiClient;
  apiUrl: string;
  ca: string | Buffer;
  device: { id: string; type: DeviceType; careUnit: string; bed?: string };
  patientId?: string;
}): Promise<DeviceCredentials> {
  const { api, device } = opts;
  await api.send('POST', '/api/v1/devices', {
    id: device.id,
    type: device.type,
    vendor: 'Pulsegate Sim',
    model: `${SHORT[device.type].toUpperCase()}-1`,
    serial: `SN-${device.id}`,
    firmwareVersion: '1.0.0',
    careUnit: device.careUnit,
    ...(device.bed ? { bed: device.bed } : {}),
    owner: 'Clinical Engineering',
  });
  if (opts.patientId)
    await api.send('POST', `/api/v1/devices/${device.id}/bindings`, { patientId: opts.patientId });
  const { token } = await api.send<{ token: string }>(
    'POST',
    `/api/v1/devices/${device.id}/enrollment-tokens`,
  );
  return enrollOverEst({ baseUrl: opts.apiUrl, ca: opts.ca, deviceId: device.id, enrollmentToken: token });
}

/**
 * A simulated ward: registers devices through the API, enrolls each over EST with its own key,
 * binds it to a simulated patient, connects it over mutual-TLS MQTT and streams vital signs.
 */
export class Ward {
  readonly devices: SimDevice[] = [];

  static async start(opts: WardOptions): Promise<Ward> {
    const ward = new Ward();
    const api = new ApiClient({ baseUrl: opts.apiUrl, ca: opts.ca, token: opts.token });
    const units = opts.careUnits ?? ['ICU', 'CCU', 'WARD-3'];
    const prefix = opts.prefix ?? 'sim';
    const plan = Array.from({ length: opts.devices }, (_, i) => {
      const type = WARD_MIX[i % WARD_MIX.length]!;
      const unit = units[i % units.length]!;
      const bed = String(Math.floor(i / units.length) + 1).padStart(2, '0');
      return {
        id: `${prefix}-${unit.toLowerCase()}-${bed}-${SHORT[type]}`,
        type,
        unit,
        bed,
        patient: `MRN-${100000 + i}`,
      };
    });
    const progress = (phase: WardProgress['phase'], done: number) =>
      opts.onProgress?.({ phase, done, total: plan.length });

    let done = 0;
    const creds = await pool(plan, 8, async (p) => {
      const c = await registerAndEnroll({
        api,
        apiUrl: opts.apiUrl,
        ca: opts.ca,
        device: { id: p.id, type: p.type, careUnit: p.unit, bed: p.bed },
        patientId: p.patient,
      });
      progress('enrolling', ++done);
      return c;
    });

    done = 0;
    const seed = opts.seed ?? 42;
    await pool(plan, 16, async (p, i) => {
      const patient = new PatientModel({ seed: seed + i, deteriorationPerHour: opts.deteriorationPerHour });
      const device = new SimDevice(creds[i]!, p.type, patient);
      await device.connect(opts.mqttUrl, opts.ca);
      ward.devices.push(device);
      progress('connecting', ++done);
    });

    const intervalMs = 1000 / opts.ratePerDevice;
    for (const d of ward.devices) d.start(intervalMs);
    progress('streaming', ward.devices.length);
    return ward;
  }

  totals(): WardTotals {
    const t: WardTotals = { devices: this.devices.length, connected: 0, sent: 0, acked: 0, failed: 0 };
    for (const d of this.devices) {
      if (d.stats.connected) t.connected++;
      t.sent += d.stats.sent;
      t.acked += d.stats.acked;
      t.failed += d.stats.failed;
    }
    return t;
  }

  async stop(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop()));
  }
}
