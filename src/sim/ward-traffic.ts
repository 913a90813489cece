import type { DeviceType } from '../devices/index.js';
import type { PulsegateEvents } from '../events/index.js';
import { observationsFor, WARD_MIX } from './device-profiles.js';
import { PatientModel, seededRandom } from './vitals-model.js';

/** A device of a simulated ward. */
export interface WardDevice {
  id: string;
  type: DeviceType;
  careUnit: string;
  address: string;
}

/** One bus event as the broker and telemetry store would announce it. */
export type WardEvent =
  | { name: 'telemetry.received'; payload: PulsegateEvents['telemetry.received'] }
  | { name: 'device.connected'; payload: PulsegateEvents['device.connected'] }
  | { name: 'device.disconnected'; payload: PulsegateEvents['device.disconnected'] };

export interface WardTrafficOptions {
  devices: number;
  /** Simulated start time (ms). */
  start: number;
  hours: number;
  /** Time between two messages of one device (default 5 s). */
  intervalMs?: number;
  seed?: number;
  prefix?: string;
  careUnits?: string[];
  /** Mean hours between two (normal) reconnects of one device, from its usual address (default 6). */
  reconnectEveryHours?: number;
}

/** The devices of a simulated ward (ids as `Ward` makes them, one fixed address each). */
export function wardDevices(
  opts: Pick<WardTrafficOptions, 'devices' | 'prefix' | 'careUnits'>,
): WardDevice[] {
  const units = opts.careUnits ?? ['ICU', 'CCU', 'WARD-3'];
  return Array.from({ length: opts.devices }, (_, i) => {
    const unit = units[i % units.length]!;
    const type = WARD_MIX[i % WARD_MIX.length]!;
    return {
      id: `${opts.prefix ?? 'sim'}-${unit.toLowerCase()}-${String(Math.floor(i / units.length) + 1).padStart(2, '0')}-${i}`,
      type,
      careUnit: unit,
      address: `10.20.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    };
  });
}

/** The JSON payload a simulated device sends as its `seq`-th message at `now` (as SimDevice does). */
export function simPayload(type: DeviceType, patient: PatientModel, seq: number, now: number): string {
  return JSON.stringify({
    seq,
    ts: new Date(now).toISOString(),
    observations: observationsFor(type, patient.at(now), seq),
  });
}

/**
 * A normal ward's traffic on a simulated clock, as the bus events our broker and store would
 * emit: each device connects from its own address, sends every `intervalMs` (random phase, small
 * network latency, a device clock a second or two off), and now and then reconnects. Events come
 * in time order, generated lazily, so hours of traffic replay in seconds. Deterministic per seed.
 */
export function* wardTraffic(opts: WardTrafficOptions): Generator<WardEvent> {
  const rand = seededRandom(opts.seed ?? 7);
  const interval = opts.intervalMs ?? 5000;
  const devices = wardDevices(opts);
  const reconnectP = interval / ((opts.reconnectEveryHours ?? 6) * 3_600_000);
  const state = devices
    .map((d, i) => ({
      d,
      phase: Math.floor(rand() * interval),
      clockOffset: Math.round((rand() - 0.5) * 4000),
      patient: new PatientModel({ seed: (opts.seed ?? 7) * 1000 + i }),
      seq: 0,
      session: 0,
    }))
    .sort((a, b) => a.phase - b.phase);
  for (const s of state)
    yield {
      name: 'device.connected',
      payload: {
        deviceId: s.d.id,
        clientId: `${s.d.id}-0`,
        address: s.d.address,
        at: opts.start + s.phase - 500,
      },
    };
  const end = opts.start + opts.hours * 3_600_000;
  for (let tick = opts.start; tick < end; tick += interval) {
    for (const s of state) {
      const t = tick + s.phase;
      if (t >= end) continue;
      if (rand() < reconnectP) {
        yield {
          name: 'device.disconnected',
          payload: {
            deviceId: s.d.id,
            clientId: `${s.d.id}-${s.session}`,
            reason: 'connection lost',
            at: t - 300,
          },
        };
        s.session++;
        yield {
          name: 'device.connected',
          payload: {
            deviceId: s.d.id,
            clientId: `${s.d.id}-${s.session}`,
            address: s.d.address,
            at: t - 100,
          },
        };
      }
      const deviceTs = t + s.clockOffset;
      const payload = simPayload(s.d.type, s.patient, s.seq, deviceTs);
      yield {
        name: 'telemetry.received',
        payload: {
          deviceId: s.d.id,
          seq: s.seq,
          count: 1,
          bytes: Buffer.byteLength(payload),
          receivedAt: t + 5 + Math.floor(rand() * 40),
          source: 'mqtt',
          flagged: 0,
          deviceTs,
        },
      };
      s.seq++;
    }
  }
}
