/**
 * One vital sign through the real composed application (design.md, "Data flow of one vital
 * sign"), with only real clients: the operator uses curl on the REST API, the device makes its
 * key and CSR with openssl, enrolls over EST with curl and publishes with mosquitto_pub over
 * mutual TLS; the value is read back through the device and the patient telemetry APIs. A device
 * can neither subscribe to nor publish on another device's topics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DeviceCredentials,
  type E2e,
  enrolledDevice,
  mqttArgs,
  publishQos1,
  startE2e,
  telemetryRows,
  vitalsPayload,
} from './support/e2e.js';
import { run } from './support/ingest-harness.js';

const MONITOR = 'mon-icu-01';
const PUMP = 'pump-ccu-02';
const PATIENT = 'MRN-0042-e2e';

let e2e: E2e;
let monitor: DeviceCredentials;

const pub = (device: DeviceCredentials | null, topic: string, message: string) =>
  publishQos1(e2e, device, topic, message);

interface Observation {
  deviceId: string;
  seq: number;
  kind: string;
  code: { system: string; code: string };
  value: number;
  unit: string;
}

beforeAll(async () => {
  e2e = await startE2e();
  monitor = await enrolledDevice(e2e.admin, MONITOR, { patientId: PATIENT });
  await enrolledDevice(e2e.admin, PUMP);
});

afterAll(async () => {
  await e2e?.close();
});

describe('a vital sign from a real device, end to end', () => {
  it('enrolled by EST, published with mosquitto_pub over mTLS, read back by device and by patient', async () => {
    expect(e2e.urls.mqtt).toBe(`mqtts://localhost:${e2e.mqttPort}`);
    const device = await e2e.admin.api('GET', `/api/v1/devices/${MONITOR}`);
    expect(device.json).toMatchObject({ lifecycle: 'enrolled', certificateStatus: 'valid' });

    const r = await pub(monitor, `devices/${MONITOR}/telemetry`, vitalsPayload(1, { hr: 81, spo2: 96 }));
    expect(r.code, r.stderr).toBe(0);
    // QoS 1: mosquitto_pub exits 0 only after the PUBACK, which follows the durable write.
    expect(await telemetryRows(e2e.app.store, MONITOR)).toBe(1);
    // Its first accepted message put the device in service: active, audited as a system change.
    const active = await e2e.admin.api('GET', `/api/v1/devices/${MONITOR}`);
    expect(active.json).toMatchObject({ lifecycle: 'active' });
    expect(await e2e.app.audit.list({ action: 'device.lifecycle.active', limit: 10 })).toContainEqual(
      expect.objectContaining({ resource: { type: 'device', id: MONITOR }, outcome: 'success' }),
    );
    expect(e2e.events.of('telemetry.stored')).toContainEqual(
      expect.objectContaining({ deviceId: MONITOR, seq: 1, count: 2, source: 'mqtt' }),
    );

    const byDevice = await e2e.admin.api('GET', `/api/v1/devices/${MONITOR}/telemetry`);
    expect(byDevice.status).toBe(200);
    const expected = [
      expect.objectContaining({
        deviceId: MONITOR,
        seq: 1,
        kind: 'heart-rate',
        code: { system: 'LOINC', code: '8867-4' },
        value: 81,
        unit: '/min',
      }),
      expect.objectContaining({
        deviceId: MONITOR,
        seq: 1,
        kind: 'spo2',
        code: { system: 'LOINC', code: '59408-5' },
        value: 96,
        unit: '%',
      }),
    ];
    const deviceObs = byDevice.json.observations as Observation[];
    expect(deviceObs).toHaveLength(2);
    expect(deviceObs).toEqual(expect.arrayContaining(expected));

    const byPatient = await e2e.admin.patientTelemetry(PATIENT);
    expect(byPatient.status).toBe(200);
    expect(byPatient.json.partial).toBe(false);
    expect(byPatient.json.observations as Observation[]).toEqual(expect.arrayContaining(expected));

    // Both reads are in the audit log, and the patient identifier is not (only its blind index).
    const reads = await e2e.app.audit.list({ limit: 10_000 });
    expect(reads.map((e) => e.action)).toEqual(expect.arrayContaining(['telemetry.read', 'patient.read']));
    expect(JSON.stringify(reads)).not.toContain(PATIENT);
    // At rest the patient identifier and the values are ciphertext.
    const row = await e2e.app.store.db
      .selectFrom('telemetry_readings')
      .selectAll()
      .where('device_id', '=', MONITOR)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(row.sealed).includes(PATIENT)).toBe(false);
    expect(row.patient_index).not.toContain(PATIENT);
  });

  it("refuses a SUBSCRIBE to another device's command topic (SUBACK 0x80), storing nothing", async () => {
    const before = await telemetryRows(e2e.app.store);
    const refusedBefore = e2e.events.of('ingest.refused').length;
    const r = await run(
      'mosquitto_sub',
      [
        ...mqttArgs(e2e.mqttPort, e2e.layout.rootCaCert, monitor),
        '-q',
        '1',
        '-t',
        `devices/${PUMP}/commands`,
        '-W',
        '3',
      ],
      10_000,
    );
    // mosquitto_sub (2.0.11) prints the SUBACK failure, disconnects by itself and exits 0, before
    // its -W 3 timeout (which would exit 27) and having received nothing.
    expect(r.stderr).toMatch(/All subscription requests were denied/);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(e2e.events.of('ingest.refused').slice(refusedBefore)).toContainEqual(
      expect.objectContaining({
        kind: 'subscribe',
        code: 'INGEST_TOPIC_DENIED',
        deviceId: MONITOR,
        topic: `devices/${PUMP}/commands`,
      }),
    );
    expect(await telemetryRows(e2e.app.store)).toBe(before);
  });

  it("closes the connection on a PUBLISH to another device's telemetry topic, storing nothing", async () => {
    const before = await telemetryRows(e2e.app.store);
    const r = await pub(monitor, `devices/${PUMP}/telemetry`, vitalsPayload(2));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
    expect(e2e.events.of('ingest.refused').at(-1)).toMatchObject({
      kind: 'publish',
      code: 'INGEST_TOPIC_DENIED',
      deviceId: MONITOR,
      topic: `devices/${PUMP}/telemetry`,
    });
    await e2e.app.telemetry.flush();
    expect(await telemetryRows(e2e.app.store)).toBe(before);
    expect(await telemetryRows(e2e.app.store, PUMP)).toBe(0);
  });
});

describe('HTTPS ingest with the device certificate (same pipeline, other transport)', () => {
  const post = (payload: string, cert = true) =>
    e2e.admin.request('POST', '/api/v1/ingest/telemetry', [
      ...(cert ? ['--cert', monitor.cert, '--key', monitor.key] : []),
      '-H',
      'Content-Type: application/json',
      '--data-binary',
      payload,
    ]);

  it('stores a message from the enrolled device (202 after the durable write)', async () => {
    const before = await telemetryRows(e2e.app.store, MONITOR);
    const ok = await post(vitalsPayload(10, { hr: 77 }));
    expect({ status: ok.status, body: ok.json }).toEqual({ status: 202, body: { stored: 2, flagged: 0 } });
    expect(await telemetryRows(e2e.app.store, MONITOR)).toBe(before + 1);
    const page = await e2e.admin.patientTelemetry(PATIENT);
    expect(page.json.observations).toContainEqual(expect.objectContaining({ seq: 10, value: 77 }));
  });

  it('refuses no certificate (401) and an impossible value (422), storing nothing', async () => {
    const before = await telemetryRows(e2e.app.store);
    const none = await post(vitalsPayload(11), false);
    expect({ status: none.status, code: none.json.code }).toEqual({
      status: 401,
      code: 'INGEST_CLIENT_CERT_REQUIRED',
    });
    const bad = await post(vitalsPayload(12, { spo2: 150 }));
    expect({ status: bad.status, code: bad.json.code }).toEqual({
      status: 422,
      code: 'TELEMETRY_IMPOSSIBLE_VALUE',
    });
    expect(e2e.events.of('ingest.refused').slice(-2)).toEqual([
      expect.objectContaining({ kind: 'connect', code: 'INGEST_CLIENT_CERT_REQUIRED', deviceId: null }),
      expect.objectContaining({ kind: 'publish', code: 'TELEMETRY_IMPOSSIBLE_VALUE', deviceId: MONITOR }),
    ]);
    expect(e2e.events.of('telemetry.rejected').at(-1)).toMatchObject({
      deviceId: MONITOR,
      code: 'TELEMETRY_IMPOSSIBLE_VALUE',
      source: 'https',
    });
    expect(await telemetryRows(e2e.app.store)).toBe(before);
  });
});
