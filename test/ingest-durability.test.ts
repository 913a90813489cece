/**
 * QoS 1 means "stored" for the real server process: `pulsegate serve --data DIR` (the built CLI)
 * is SIGKILLed while a real mqtt.js device streams QoS 1 telemetry; after `serve` starts again on
 * the same data directory, every message the device saw acknowledged (by seq) is readable
 * through the REST API, and the device can carry on where it left off.
 *
 * Needs `npm run build` (as `npm test` does): it runs bin/pulsegate.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDevice,
  type DeviceCredentials,
  enrolledDevice,
  type NewInstallation,
  newInstallation,
  vitalsPayload,
} from './support/e2e.js';
import { until } from './support/ingest-harness.js';
import { cliBackground, exited } from './support/processes.js';

const DEVICE = 'mon-durable-01';
const PATIENT = 'MRN-D-0001';
const MIN_ACKED = 250;

let inst: NewInstallation;
const servers: Array<ReturnType<typeof cliBackground>> = [];
const clients: MqttClient[] = [];

/** Starts `pulsegate serve` and waits until both listeners are up (it logs once they are). */
async function serve(): Promise<ReturnType<typeof cliBackground>> {
  const child = cliBackground(['serve', '--data', inst.dataDir]);
  servers.push(child);
  await until(
    () => child.output().includes('pulsegate serving') || child.exitCode !== null,
    20_000,
    'pulsegate serve to listen',
  );
  if (child.exitCode !== null) throw new Error(`serve exited: ${child.output()}`);
  return child;
}

const connect = (device: DeviceCredentials): Promise<MqttClient> => connectDevice(inst, device, clients);

async function storedSeqs(): Promise<Set<number>> {
  const page = await inst.admin.api('GET', `/api/v1/devices/${DEVICE}/telemetry?limit=5000`);
  expect(page.status).toBe(200);
  return new Set((page.json.observations as Array<{ seq: number }>).map((o) => o.seq));
}

beforeAll(async () => {
  // The server logs at info so the test sees "pulsegate serving"; the rate limit is lifted so a
  // burst of a few hundred messages is not refused.
  inst = await newInstallation({
    log: { level: 'info' },
    mqtt: { ratePerSecond: 100_000, burst: 1_000_000 },
  });
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const s of servers) {
    if (s.exitCode === null && s.signalCode === null) {
      s.kill('SIGKILL');
      await exited(s);
    }
  }
  inst?.cleanup();
});

describe('QoS 1 durability of pulsegate serve', () => {
  it('keeps every acknowledged message when the server is SIGKILLed mid-stream', async () => {
    const first = await serve();
    const device = await enrolledDevice(inst.admin, DEVICE, { patientId: PATIENT });
    const c = await connect(device);
    const acked: number[] = [];
    let sent = 0;
    let closed = false;
    c.on('close', () => (closed = true));
    // A sliding window of 50 messages in flight, as a device with a backlog sends them: each
    // PUBACK releases the next message, so the kill lands with messages at every stage.
    const publishNext = (): void => {
      if (closed || sent >= 5000) return;
      const seq = ++sent;
      c.publishAsync(`devices/${DEVICE}/telemetry`, vitalsPayload(seq, { hr: 60 + (seq % 40) }), {
        qos: 1,
      }).then(
        () => {
          acked.push(seq);
          // SIGKILL at the very PUBACK that reaches the threshold, while the rest are in flight.
          if (acked.length === MIN_ACKED) first.kill('SIGKILL');
          publishNext();
        },
        () => {},
      );
    };
    for (let i = 0; i < 50; i++) publishNext();
    await until(() => acked.length >= MIN_ACKED, 20_000, `${MIN_ACKED} PUBACKs`);
    await exited(first);
    await until(() => closed, 5000, 'the device sees the server gone');
    c.end(true);
    const ackedAtKill = [...acked];
    expect(first.signalCode).toBe('SIGKILL');

    await serve();
    const stored = await storedSeqs();
    const missing = ackedAtKill.filter((seq) => !stored.has(seq));
    console.log(
      `sent ${sent}, acknowledged ${ackedAtKill.length} before SIGKILL, readable after restart ${stored.size}, acknowledged but missing ${missing.length}`,
    );
    expect(ackedAtKill.length).toBeGreaterThanOrEqual(MIN_ACKED);
    expect(missing).toEqual([]);
    // Nothing was stored that the device did not send.
    expect([...stored].every((seq) => seq >= 1 && seq <= sent)).toBe(true);
    // Also through the patient the device is bound to.
    const byPatient = await inst.admin.patientTelemetry(PATIENT, '?limit=5000');
    const patientSeqs = new Set((byPatient.json.observations as Array<{ seq: number }>).map((o) => o.seq));
    expect(ackedAtKill.filter((seq) => !patientSeqs.has(seq))).toEqual([]);

    // The device reconnects and carries on after the highest seq it sent.
    const again = await connect(device);
    await again.publishAsync(`devices/${DEVICE}/telemetry`, vitalsPayload(sent + 1), { qos: 1 });
    expect((await storedSeqs()).has(sent + 1)).toBe(true);
  }, 120_000);
});
