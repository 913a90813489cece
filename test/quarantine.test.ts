/**
 * Quarantine and release (issue 5 §6) against the real composed application with real clients:
 * a connected mqtt.js device is dropped within 1 s of `POST /api/v1/devices/{id}/quarantine`, its
 * reconnects and re-enrollment are refused, the certificate is on the CRL and the action is in the
 * audit log with actor and reason; `release` hands out a one-time token, the device enrolls again
 * over EST (openssl + curl) with a new certificate and streams again, while the old one stays refused.
 */
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectDevice,
  type DeviceCredentials,
  type E2e,
  enroll,
  enrolledDevice,
  makeCsr,
  registerDevice,
  serialOf,
  simpleenroll,
  startE2e,
  telemetryRows,
  vitalsPayload,
} from './support/e2e.js';
import { until } from './support/ingest-harness.js';
import { cli } from './support/processes.js';

let e2e: E2e;
const DEVICE = 'mon-quarantine-01';
const clients: MqttClient[] = [];

beforeAll(async () => {
  e2e = await startE2e();
});
afterAll(async () => {
  for (const c of clients) c.end(true);
  await e2e?.close();
});

const connect = (device: DeviceCredentials): Promise<MqttClient> => connectDevice(e2e, device, clients);

/** Connecting with these credentials fails (the broker closes the connection or refuses CONNECT). */
async function refusedConnect(device: DeviceCredentials): Promise<void> {
  await expect(connect(device)).rejects.toThrow();
}

async function auditEntries(action: string) {
  return e2e.app.audit.list({ action, limit: 1000 });
}

async function lifecycle(id: string): Promise<string> {
  return (await e2e.app.devices.get(id)).lifecycle;
}

describe('quarantine and release of a device', () => {
  let device: DeviceCredentials;

  it('drops the live session within 1 s, refuses reconnects and re-enrollment, and audits actor and reason', async () => {
    device = await enrolledDevice(e2e.admin, DEVICE, { patientId: 'MRN-Q-0001' });
    const c = await connect(device);
    await c.publishAsync(`devices/${DEVICE}/telemetry`, vitalsPayload(1), { qos: 1 });
    expect(await lifecycle(DEVICE)).toBe('active');

    let closedAt: number | undefined;
    c.on('close', () => {
      closedAt ??= Date.now();
    });
    const requestedAt = Date.now();
    const res = await e2e.admin.api('POST', `/api/v1/devices/${DEVICE}/quarantine`, {
      reason: 'beaconing to an unknown host (INC-42)',
    });
    expect(res.status, String(res.body)).toBe(200);
    expect(res.json.device).toMatchObject({
      id: DEVICE,
      lifecycle: 'quarantined',
      certificateStatus: 'revoked',
    });
    expect(res.json.revokedSerials).toEqual([device.serial]);
    await until(() => closedAt !== undefined, 2000, 'the session to be dropped');
    expect(closedAt! - requestedAt).toBeLessThan(1000);

    // Reconnects refused; nothing more stored.
    const rows = await telemetryRows(e2e.app.store, DEVICE);
    await refusedConnect(device);
    expect(await telemetryRows(e2e.app.store, DEVICE)).toBe(rows);

    // Re-enrollment with the revoked certificate and new enrollment tokens are refused.
    const token = await e2e.admin.api('POST', `/api/v1/devices/${DEVICE}/enrollment-tokens`);
    expect(token.status).toBe(409);
    expect(token.json.code).toBe('DEVICE_NOT_ENROLLABLE');

    // The certificate is on the CRL with reason keyCompromise.
    const certs = await e2e.admin.api('GET', `/api/v1/devices/${DEVICE}/certificates`);
    expect(certs.json.items).toContainEqual(
      expect.objectContaining({
        serial: device.serial,
        status: 'revoked',
        revocationReason: 'keyCompromise',
      }),
    );

    const [entry] = await auditEntries('device.quarantine');
    expect(entry).toMatchObject({
      action: 'device.quarantine',
      outcome: 'success',
      resource: { type: 'device', id: DEVICE },
      reason: 'beaconing to an unknown host (INC-42)',
      actor: expect.objectContaining({ type: expect.any(String) }),
    });
    expect(await auditEntries('pki.certificate.revoke')).toContainEqual(
      expect.objectContaining({ resource: expect.objectContaining({ id: DEVICE }) }),
    );
  });

  it('release re-enrolls the device with a new certificate; the old one stays refused', async () => {
    const res = await e2e.admin.api('POST', `/api/v1/devices/${DEVICE}/release`, {
      reason: 'reimaged and verified by biomed',
    });
    expect(res.status, String(res.body)).toBe(200);
    expect(res.json.device).toMatchObject({ id: DEVICE, lifecycle: 'registered' });
    const token = res.json.enrollmentToken as { token: string; deviceId: string };
    expect(token.deviceId).toBe(DEVICE);

    // The key revoked as compromised is refused, for this device or any other, and the token
    // stays usable for a request with a new key.
    const sameKey = await simpleenroll(e2e.admin, makeCsr(e2e.work, DEVICE, device.key).b64, token.token);
    expect(sameKey.status, String(sameKey.body)).toBe(400);
    expect(sameKey.json.code).toBe('EST_CSR_KEY_REVOKED');
    expect((await auditEntries('pki.enroll')).at(-1)).toMatchObject({
      outcome: 'denied',
      reason: expect.stringMatching(/revoked as compromised/),
    });
    const other = await registerDevice(e2e.admin, 'mon-quarantine-03');
    const elsewhere = await simpleenroll(
      e2e.admin,
      makeCsr(e2e.work, 'mon-quarantine-03', device.key).b64,
      other,
    );
    expect(elsewhere.json.code).toBe('EST_CSR_KEY_REVOKED');

    const renewed = await enroll(e2e.admin, DEVICE, token.token);
    expect(renewed.serial).not.toBe(device.serial);
    expect(serialOf(renewed.cert)).toBe(renewed.serial);
    // Reimaged, it counts from 1 again: a fresh enrollment restarts its sequence numbers (not a
    // replay), so this reading is stored beside the seq 1 it sent before quarantine.
    const c = await connect(renewed);
    await c.publishAsync(`devices/${DEVICE}/telemetry`, vitalsPayload(1), { qos: 1 });
    const page = await e2e.admin.api('GET', `/api/v1/devices/${DEVICE}/telemetry`);
    const seqs = (page.json.observations as Array<{ seq: number; time: string }>)
      .filter((o) => o.seq === 1)
      .map((o) => o.time);
    expect(new Set(seqs).size).toBe(2);
    await refusedConnect(device);

    expect(await auditEntries('device.release')).toContainEqual(
      expect.objectContaining({ reason: 'reimaged and verified by biomed', outcome: 'success' }),
    );
  });

  it('of two quarantines or two releases at once, exactly one goes through', async () => {
    await registerDevice(e2e.admin, 'mon-quarantine-04');
    const actions = e2e.app.response;
    const outcome = (r: PromiseSettledResult<unknown>) =>
      r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code;
    const quarantines = await Promise.allSettled([
      actions.quarantine('mon-quarantine-04', { reason: 'suspected clone (A)' }),
      actions.quarantine('mon-quarantine-04', { reason: 'suspected clone (B)' }),
    ]);
    expect(quarantines.map(outcome).sort()).toEqual(['RESPONSE_ALREADY_QUARANTINED', 'ok']);
    const releases = await Promise.allSettled([
      actions.release('mon-quarantine-04', 'cleared (A)'),
      actions.release('mon-quarantine-04', 'cleared (B)'),
    ]);
    expect(releases.map(outcome).sort()).toEqual(['RESPONSE_NOT_QUARANTINED', 'ok']);
    const mine = async (action: string) =>
      (await auditEntries(action)).filter(
        (e) => e.resource?.id === 'mon-quarantine-04' && e.outcome === 'success',
      );
    expect(await mine('device.quarantine')).toHaveLength(1);
    expect(await mine('device.release')).toHaveLength(1);
    // The one release's token is the device's only live token.
    const live = await e2e.app.store.db
      .selectFrom('enrollment_tokens')
      .select('id')
      .where('device_id', '=', 'mon-quarantine-04')
      .where('used_at', 'is', null)
      .where('expires_at', '>', Date.now())
      .execute();
    expect(live).toHaveLength(1);
  });

  it('refuses bad requests with a stable code and changes nothing', async () => {
    await enrolledDevice(e2e.admin, 'mon-quarantine-02');
    const before = await e2e.app.devices.get('mon-quarantine-02');
    const auditBefore = (await auditEntries('device.quarantine')).length;
    const cases: Array<[string, unknown, number, string]> = [
      ['/api/v1/devices/mon-quarantine-02/quarantine', {}, 400, 'VALIDATION_FAILED'],
      ['/api/v1/devices/mon-quarantine-02/quarantine', { reason: '   ' }, 400, 'RESPONSE_REASON_REQUIRED'],
      ['/api/v1/devices/mon-quarantine-02/quarantine', { reason: 'x', extra: 1 }, 400, 'VALIDATION_FAILED'],
      ['/api/v1/devices/mon-quarantine-02/quarantine', { reason: 'a\u0000b' }, 400, 'VALIDATION_FAILED'],
      ['/api/v1/devices/mon-quarantine-02/quarantine', { reason: 'x'.repeat(501) }, 400, 'VALIDATION_FAILED'],
      [
        '/api/v1/devices/mon-quarantine-02/quarantine',
        { reason: 'x', revocationReason: 'superseded' },
        400,
        'VALIDATION_FAILED',
      ],
      ['/api/v1/devices/no-such-device/quarantine', { reason: 'x' }, 404, 'DEVICE_NOT_FOUND'],
      ["/api/v1/devices/x'%20OR%201=1--/quarantine", { reason: 'x' }, 400, 'VALIDATION_FAILED'],
      ['/api/v1/devices/mon-quarantine-02/release', { reason: 'x' }, 409, 'RESPONSE_NOT_QUARANTINED'],
    ];
    for (const [url, body, status, code] of cases) {
      const res = await e2e.admin.api('POST', url, body);
      expect(res.status, `${url} ${JSON.stringify(body)}`).toBe(status);
      expect(res.json.code, `${url} ${JSON.stringify(body)}`).toBe(code);
      expect(res.headers).toContain('application/problem+json');
    }
    const after = await e2e.app.devices.get('mon-quarantine-02');
    expect(after).toEqual(before);
    expect((await auditEntries('device.quarantine')).length).toBe(auditBefore);

    // Quarantining twice: the second is refused and changes nothing.
    expect(
      (await e2e.admin.api('POST', '/api/v1/devices/mon-quarantine-02/quarantine', { reason: 'one' })).status,
    ).toBe(200);
    const once = await e2e.app.devices.get('mon-quarantine-02');
    const again = await e2e.admin.api('POST', '/api/v1/devices/mon-quarantine-02/quarantine', {
      reason: 'two',
    });
    expect(again.status).toBe(409);
    expect(again.json.code).toBe('RESPONSE_ALREADY_QUARANTINED');
    expect(await e2e.app.devices.get('mon-quarantine-02')).toEqual(once);
  });
});

describe('changes made outside this server process (the CLI, another node)', () => {
  async function connectedWithCloseTime(id: string) {
    const device = await enrolledDevice(e2e.admin, id);
    const c = await connect(device);
    await c.publishAsync(`devices/${id}/telemetry`, vitalsPayload(1), { qos: 1 });
    const state = { closedAt: undefined as number | undefined };
    c.on('close', () => {
      state.closedAt ??= Date.now();
    });
    return { device, state };
  }

  it('a revocation by `pulsegate device revoke` drops the live session and refuses reconnects', async () => {
    const { device, state } = await connectedWithCloseTime('mon-cli-revoke');
    const r = cli(['device', 'revoke', '--data', e2e.dataDir, 'mon-cli-revoke', '--reason', 'keyCompromise']);
    expect(r.code, r.stderr).toBe(0);
    await until(() => state.closedAt !== undefined, 5000, 'the session to be dropped');
    await refusedConnect(device);
  });

  it('a quarantine by `pulsegate device quarantine` drops the live session and refuses reconnects', async () => {
    const { device, state } = await connectedWithCloseTime('mon-cli-quarantine');
    const r = cli([
      'device',
      'quarantine',
      '--data',
      e2e.dataDir,
      'mon-cli-quarantine',
      '--reason',
      'from the CLI',
    ]);
    expect(r.code, r.stderr).toBe(0);
    await until(() => state.closedAt !== undefined, 5000, 'the session to be dropped');
    await refusedConnect(device);
    expect(await lifecycle('mon-cli-quarantine')).toBe('quarantined');
  });
});
