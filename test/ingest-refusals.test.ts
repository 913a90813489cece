/**
 * Every refusal on the way in, against the real composed application (createInstallation +
 * createApp) with real clients (openssl, curl, mosquitto_pub, mosquitto_sub). Each is checked
 * three ways: (a) what the client sees, (b) what Pulsegate records (`ingest.refused` /
 * `telemetry.rejected` on the app's bus; the audit entry where the PKI audits), and (c) that
 * nothing was stored (telemetry rows, certificate rows).
 *
 * Expired certificates and expired enrollment tokens need time to pass: a second PKI service is
 * built by `createPki` on the same store, CA and audit log with its clock set in the past, as a
 * PKI that issued them months ago would have.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/events/index.js';
import { createPki, type Pki } from '../src/pki/index.js';
import {
  type DeviceCredentials,
  type E2e,
  enroll,
  enrolledDevice,
  type HttpReply,
  makeCsr,
  mqttArgs,
  registerDevice,
  simpleenroll,
  startE2e,
  telemetryRows,
  vitalsPayload,
} from './support/e2e.js';
import { foreignCa, issueClientCert } from './support/ingest-certs.js';
import { background, exitOf, run, until } from './support/ingest-harness.js';

const DAY_MS = 86_400_000;

let e2e: E2e;
/** The same PKI, 100 days ago. */
let pastPki: Pki;
let publisher: DeviceCredentials;
let seq = 0;

const mqtt = (device: Pick<DeviceCredentials, 'cert' | 'key'> | null) =>
  mqttArgs(e2e.mqttPort, e2e.layout.rootCaCert, device);

const pub = (device: Pick<DeviceCredentials, 'cert' | 'key'> | null, topic: string, payload: string) => {
  const file = join(e2e.work, `payload-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, payload);
  return run('mosquitto_pub', [...mqtt(device), '-q', '1', '-t', topic, '-f', file], 10_000);
};

async function certificateRows(): Promise<number> {
  const row = await e2e.app.store.db
    .selectFrom('certificates')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Runs `attempt` and checks (b) and (c): an `ingest.refused` with `code` (and `match`), a
 * `telemetry.rejected` with the same code when the payload reached telemetry, and no new
 * telemetry row. Returns what the client saw, for (a).
 */
async function refused<T>(
  attempt: () => Promise<T>,
  code: string,
  match: Record<string, unknown>,
  opts: { telemetryRejected?: boolean } = {},
): Promise<T> {
  const rows = await telemetryRows(e2e.app.store);
  const refusedAt = e2e.events.of('ingest.refused').length;
  const rejectedAt = e2e.events.of('telemetry.rejected').length;
  const seen = await attempt();
  await until(
    () =>
      e2e.events
        .of('ingest.refused')
        .slice(refusedAt)
        .some((e) => e.code === code),
    3000,
    `ingest.refused ${code}`,
  );
  expect(e2e.events.of('ingest.refused').slice(refusedAt)).toContainEqual(
    expect.objectContaining({ code, ...match }),
  );
  const rejected = e2e.events.of('telemetry.rejected').slice(rejectedAt);
  if (opts.telemetryRejected)
    expect(rejected).toContainEqual(
      expect.objectContaining({ code, deviceId: match.deviceId, source: 'mqtt' }),
    );
  else expect(rejected).toEqual([]);
  await e2e.app.telemetry.flush();
  expect(await telemetryRows(e2e.app.store)).toBe(rows);
  return seen;
}

/**
 * (a) for a refused handshake. In TLS 1.3 the client's handshake is complete before the server
 * checks the client certificate, so mosquitto_pub sees the server close the connection before
 * any CONNACK: "The connection was lost", exit 7 (MOSQ_ERR_CONN_LOST).
 */
function expectClosedBeforeConnack(r: { code: number | null; stderr: string }): void {
  expect(r.code).toBe(7);
  expect(r.stderr).toMatch(/connection was lost/i);
}

/** An EST refusal: problem+json with `code`, a denied `pki.enroll` audit entry, no certificate stored. */
async function refusedEnrollment(attempt: () => Promise<HttpReply>, status: number, code: string) {
  const certificates = await certificateRows();
  const audited = (await e2e.app.audit.list({ action: 'pki.enroll', limit: 10_000 })).length;
  const res = await attempt();
  expect(res.headers).toContain('content-type: application/problem+json');
  expect({ status: res.status, code: res.json.code }).toEqual({ status, code });
  expect(await certificateRows()).toBe(certificates);
  const entries = await e2e.app.audit.list({ action: 'pki.enroll', limit: 10_000 });
  expect(entries).toHaveLength(audited + 1);
  return entries.at(-1)!;
}

beforeAll(async () => {
  e2e = await startE2e();
  const past = Date.now() - 100 * DAY_MS;
  pastPki = await createPki({
    store: e2e.app.store,
    audit: e2e.app.audit,
    bus: new EventBus(),
    devices: e2e.app.devices,
    config: e2e.app.config,
    layout: e2e.layout,
    now: () => past,
  });
  publisher = await enrolledDevice(e2e.admin, 'mon-pub-01', { patientId: 'MRN-7001' });
  await enrolledDevice(e2e.admin, 'mon-pub-02');
});

afterAll(async () => {
  pastPki?.close();
  await e2e?.close();
});

describe('connections refused by the embedded broker (TLS, then identity)', () => {
  it('no client certificate: the TLS handshake fails, INGEST_CLIENT_CERT_REQUIRED', async () => {
    const r = await refused(
      () => pub(null, 'devices/mon-pub-01/telemetry', vitalsPayload(1)),
      'INGEST_CLIENT_CERT_REQUIRED',
      { kind: 'connect', deviceId: null },
    );
    expectClosedBeforeConnack(r);
  });

  it('a certificate from another CA, even naming an enrolled device: INGEST_CERT_INVALID', async () => {
    const other = issueClientCert(e2e.work, foreignCa(e2e.work), 'mon-pub-01');
    const r = await refused(
      () => pub(other, 'devices/mon-pub-01/telemetry', vitalsPayload(1)),
      'INGEST_CERT_INVALID',
      { kind: 'connect', deviceId: null },
    );
    expectClosedBeforeConnack(r);
  });

  it('an expired certificate our PKI issued: INGEST_CERT_EXPIRED', async () => {
    await registerDevice(e2e.admin, 'mon-expired');
    const { token } = await pastPki.createEnrollmentToken('mon-expired');
    const csr = makeCsr(e2e.work, 'mon-expired');
    const issued = await pastPki.enroll(token, readFileSync(csr.der));
    expect(issued.notAfter).toBeLessThan(Date.now());
    const cert = join(e2e.work, 'mon-expired.pem');
    writeFileSync(cert, [issued.certificate, ...issued.chain].map((c) => c.toString('pem')).join('\n'));
    const r = await refused(
      () => pub({ cert, key: csr.key }, 'devices/mon-expired/telemetry', vitalsPayload(1)),
      'INGEST_CERT_EXPIRED',
      { kind: 'connect', deviceId: null },
    );
    expectClosedBeforeConnack(r);
    expect(await telemetryRows(e2e.app.store, 'mon-expired')).toBe(0);
  });

  it('revocation drops a connected mosquitto_sub within 1 s and refuses the certificate afterwards', async () => {
    const device = await enrolledDevice(e2e.admin, 'mon-revoked');
    // stdbuf: mosquitto_sub's debug lines are line-buffered, so we see them as they happen.
    const sub = background('stdbuf', [
      '-oL',
      'mosquitto_sub',
      ...mqtt(device),
      '-d',
      '-q',
      '1',
      '-i',
      'bedside',
      '-t',
      'devices/mon-revoked/commands',
    ]);
    try {
      await until(() => sub.output().includes('received SUBACK'), 5000, 'SUBACK');
      expect(sub.output()).not.toMatch(/denied/i);
      expect(e2e.app.connectedDevices()).toBeGreaterThanOrEqual(1);
      const connected = e2e.events.of('device.connected').filter((e) => e.deviceId === 'mon-revoked');
      expect(connected).toHaveLength(1);
      const outputBefore = sub.output().length;

      const exited = exitOf(sub).then((code) => ({ code, at: Date.now() }));
      const revokedAt = Date.now();
      const res = await e2e.admin.api('POST', '/api/v1/devices/mon-revoked/revoke', {
        reason: 'keyCompromise',
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ revoked: [{ serial: device.serial, reason: 'keyCompromise' }] });
      // The client's view: mosquitto_sub (2.0.11) reports the lost connection and exits 7
      // (MOSQ_ERR_CONN_LOST) instead of reconnecting.
      const gone = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      expect(gone, 'mosquitto_sub still connected 2 s after the revocation').not.toBeNull();
      const clientMs = gone!.at - revokedAt;
      await until(
        () => e2e.events.of('device.disconnected').some((e) => e.deviceId === 'mon-revoked'),
        1000,
        'disconnect event',
      );
      const dropped = e2e.events.of('device.disconnected').find((e) => e.deviceId === 'mon-revoked')!;
      const serverMs = dropped.at - revokedAt;
      console.log(
        `revocation (REST request sent) → broker closed the session after ${serverMs} ms; ` +
          `connected mosquitto_sub saw the connection lost and exited after ${clientMs} ms`,
      );
      expect(clientMs).toBeLessThan(1000);
      expect(serverMs).toBeLessThan(1000);
      expect(gone!.code).toBe(7);
      expect(sub.output().slice(outputBefore)).toMatch(/connection was lost/i);
      expect(await e2e.app.audit.list({ action: 'pki.certificate.revoke', limit: 10 })).toContainEqual(
        expect.objectContaining({ outcome: 'success', resource: { type: 'device', id: 'mon-revoked' } }),
      );
    } finally {
      if (sub.exitCode === null) sub.kill();
    }

    const r = await refused(
      () => pub(device, 'devices/mon-revoked/telemetry', vitalsPayload(1)),
      'INGEST_CERT_REVOKED',
      { kind: 'connect' },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
    expect(await telemetryRows(e2e.app.store, 'mon-revoked')).toBe(0);
  });
});

describe('quarantine through the REST API', () => {
  it('drops the live session of a quarantined device at once and refuses it afterwards', async () => {
    const device = await enrolledDevice(e2e.admin, 'mon-quarantine');
    // Connected, so the PKI's identity cache holds the device as in service.
    const sub = background('stdbuf', [
      '-oL',
      'mosquitto_sub',
      ...mqtt(device),
      '-d',
      '-q',
      '1',
      '-t',
      'devices/mon-quarantine/commands',
    ]);
    try {
      await until(() => sub.output().includes('received SUBACK'), 5000, 'SUBACK');
      const exitedAt = exitOf(sub).then(() => Date.now());
      const quarantinedAt = Date.now();
      const res = await e2e.admin.api('PATCH', '/api/v1/devices/mon-quarantine', {
        lifecycle: 'quarantined',
      });
      expect(res.status).toBe(200);
      const gone = await Promise.race([exitedAt, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      expect(gone, 'the quarantined device is still connected 2 s later').not.toBeNull();
      expect(gone! - quarantinedAt).toBeLessThan(1000);
      expect(sub.output()).toMatch(/connection was lost/i);
    } finally {
      if (sub.exitCode === null) sub.kill();
    }
    const r = await refused(
      () => pub(device, 'devices/mon-quarantine/telemetry', vitalsPayload(1)),
      'INGEST_DEVICE_NOT_ACTIVE',
      { kind: 'connect' },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
  });
});

describe('EST enrollment refusals (curl → problem+json, audited, no certificate stored)', () => {
  it('a reused enrollment token: 401 EST_TOKEN_INVALID', async () => {
    const token = await registerDevice(e2e.admin, 'mon-est-01');
    await enroll(e2e.admin, 'mon-est-01', token);
    const csr = makeCsr(e2e.work, 'mon-est-01');
    const entry = await refusedEnrollment(
      () => simpleenroll(e2e.admin, csr.b64, token),
      401,
      'EST_TOKEN_INVALID',
    );
    expect(entry).toMatchObject({
      outcome: 'denied',
      code: 'EST_TOKEN_INVALID',
      reason: expect.stringMatching(/used/),
    });
  });

  it('an expired enrollment token: 401 EST_TOKEN_INVALID', async () => {
    await registerDevice(e2e.admin, 'mon-est-02');
    const { token } = await pastPki.createEnrollmentToken('mon-est-02');
    const csr = makeCsr(e2e.work, 'mon-est-02');
    const entry = await refusedEnrollment(
      () => simpleenroll(e2e.admin, csr.b64, token),
      401,
      'EST_TOKEN_INVALID',
    );
    expect(entry).toMatchObject({ outcome: 'denied', reason: expect.stringMatching(/expired/) });
  });

  it('a CSR naming another device: 400 EST_CSR_SUBJECT_MISMATCH, token kept', async () => {
    const token = await registerDevice(e2e.admin, 'mon-est-03');
    const csr = makeCsr(e2e.work, 'mon-pub-01');
    const entry = await refusedEnrollment(
      () => simpleenroll(e2e.admin, csr.b64, token),
      400,
      'EST_CSR_SUBJECT_MISMATCH',
    );
    expect(entry).toMatchObject({ outcome: 'denied', resource: { type: 'device', id: 'mon-est-03' } });
    // The token was not consumed: the right CSR still enrolls.
    await expect(enroll(e2e.admin, 'mon-est-03', token)).resolves.toMatchObject({ deviceId: 'mon-est-03' });
  });
});

describe('PUBLISH refusals: the connection is closed without PUBACK, nothing stored', () => {
  const topic = 'devices/mon-pub-01/telemetry';

  it("another device's topic: INGEST_TOPIC_DENIED", async () => {
    const r = await refused(
      () => pub(publisher, 'devices/mon-pub-02/telemetry', vitalsPayload(++seq)),
      'INGEST_TOPIC_DENIED',
      { kind: 'publish', deviceId: 'mon-pub-01', topic: 'devices/mon-pub-02/telemetry' },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
    expect(await telemetryRows(e2e.app.store, 'mon-pub-02')).toBe(0);
  });

  it('an oversize payload: INGEST_PAYLOAD_TOO_LARGE (in the PUBLISH handler, and before buffering)', async () => {
    const max = e2e.app.config.mqtt.maxPayloadBytes;
    const pad = (n: number) => `{"seq":${++seq},"pad":"${'x'.repeat(n)}"}`;
    const r = await refused(() => pub(publisher, topic, pad(max + 100)), 'INGEST_PAYLOAD_TOO_LARGE', {
      kind: 'publish',
      deviceId: 'mon-pub-01',
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
    const r2 = await refused(() => pub(publisher, topic, pad(4 * max)), 'INGEST_PAYLOAD_TOO_LARGE', {
      deviceId: 'mon-pub-01',
    });
    expect(r2.code).not.toBe(0);
  });

  it('invalid JSON: TELEMETRY_INVALID_JSON', async () => {
    const r = await refused(
      () => pub(publisher, topic, `{"seq": ${++seq}, "observations": [`),
      'TELEMETRY_INVALID_JSON',
      { kind: 'publish', deviceId: 'mon-pub-01', topic },
      { telemetryRejected: true },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
  });

  it('a schema violation: TELEMETRY_SCHEMA', async () => {
    const payload = JSON.stringify({ ...JSON.parse(vitalsPayload(++seq)), seq: 'one' });
    const r = await refused(
      () => pub(publisher, topic, payload),
      'TELEMETRY_SCHEMA',
      { kind: 'publish', deviceId: 'mon-pub-01', topic },
      { telemetryRejected: true },
    );
    expect(r.code).not.toBe(0);
  });

  it('an impossible value (SpO2 150 %): TELEMETRY_IMPOSSIBLE_VALUE', async () => {
    const r = await refused(
      () => pub(publisher, topic, vitalsPayload(++seq, { spo2: 150 })),
      'TELEMETRY_IMPOSSIBLE_VALUE',
      { kind: 'publish', deviceId: 'mon-pub-01', topic },
      { telemetryRejected: true },
    );
    expect(r.code).not.toBe(0);
  });

  it('after all that, the same device publishes valid data and it is stored', async () => {
    const r = await pub(publisher, topic, vitalsPayload(++seq, { spo2: 95 }));
    expect(r.code, r.stderr).toBe(0);
    expect(await telemetryRows(e2e.app.store, 'mon-pub-01')).toBe(1);
    const page = await e2e.admin.patientTelemetry('MRN-7001');
    expect(page.json.observations).toContainEqual(expect.objectContaining({ kind: 'spo2', value: 95, seq }));
  });
});
