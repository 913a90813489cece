/**
 * Clinical monitoring and the live stream through the real server (HTTPS listener, real TLS
 * client): telemetry stored for two care units raises clinical alerts (NEWS2, limits) that reach
 * authorised Server-Sent Events subscribers, filtered by care unit and permission; the triage list
 * is ordered by acuity, limited for clinicians and audited as a read of patient data.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installationLayout } from '../src/installation/index.js';
import type { AlertEvent } from '../src/monitor/contracts.js';
import { storedRows } from '../src/testing/stored-rows.js';
import { registerSmartClient, smartToken } from './support/fhir.js';
import { call, startTestInstallation, type TestInstallation } from './support/installation.js';
import { openStream as openSse, type SseClient } from './support/sse.js';

let t: TestInstallation;
let api: string;
let ca: Buffer;
const tokens: Record<string, string> = {};

/** The shared SSE client, against this installation. */
const openStream = (token: string | undefined, path = '/api/v1/stream', accept = 'text/event-stream') =>
  openSse(api, ca, token, { path, accept });

async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const obs = (system: 'LOINC' | 'MDC', code: string, value: number, unit: string) => ({
  code: { system, code },
  value,
  unit,
});
let seq = 0;
async function sendVitals(deviceId: string, v: { rr: number; spo2: number; hr: number; temp: number }) {
  const at = Date.now();
  const body = {
    seq: ++seq,
    ts: new Date(at).toISOString(),
    observations: [
      obs('LOINC', '9279-1', v.rr, '/min'),
      obs('MDC', '150456', v.spo2, '%'),
      obs('LOINC', '3151-8', 0, 'L/min'),
      obs('MDC', '150021', 125, 'mm[Hg]'),
      obs('MDC', '149530', v.hr, '/min'),
      obs('LOINC', '67775-7', 0, '{score}'),
      obs('MDC', '150364', v.temp, 'Cel'),
    ],
  };
  const [r] = await t.app.telemetry.ingest([
    {
      deviceId,
      payload: Buffer.from(JSON.stringify(body)),
      receivedAt: at,
      source: 'https',
      kind: 'telemetry',
    },
  ]);
  expect(r?.ok).toBe(true);
  await t.app.telemetry.flush();
  await t.app.clinical!.idle();
}

beforeAll(async () => {
  t = await startTestInstallation({ settings: { notify: { streamHeartbeatSeconds: 0.2 } } });
  api = (await t.app.listen()).api;
  ca = readFileSync(installationLayout(t.dataDir).rootCaCert);
  for (const [id, unit] of [
    ['dev-icu-1', 'ICU'],
    ['dev-ward-1', 'WARD'],
  ] as const) {
    await t.app.devices.create({ id, type: 'patient-monitor', vendor: 'Acme', model: 'M1', careUnit: unit });
  }
  await t.app.patients.bind('dev-icu-1', { patientId: 'MRN-ICU-7', from: Date.now() - 60_000 });
  await t.app.patients.bind('dev-ward-1', { patientId: 'MRN-WARD-3', from: Date.now() - 60_000 });
  tokens.clinician = await t.userWithToken('nurse-icu', 'clinician', { careUnits: ['ICU'] });
  tokens.analyst = await t.userWithToken('analyst', 'security-analyst');
  tokens.vendor = await t.userWithToken('vendor', 'vendor-service', {
    vendorDevices: ['dev-ward-1'],
    accessNotBefore: Date.now() - 3_600_000,
    accessNotAfter: Date.now() + 3_600_000,
  });
}, 60_000);
afterAll(async () => t?.cleanup());

describe('live stream (Server-Sent Events)', () => {
  it('refuses callers without a Bearer header (a token in the URL does not count) or without text/event-stream', async () => {
    const none = await openStream(undefined);
    expect(none.status).toBe(401);
    none.close();
    const inUrl = await openStream(undefined, `/api/v1/stream?access_token=${tokens.analyst}`);
    expect(inUrl.status).toBe(401);
    inUrl.close();
    const plain = await call(t.app, 'GET', '/api/v1/stream', { token: tokens.analyst });
    expect(plain.status).toBe(406);
    expect(plain.body.code).toBe('NOTIFY_STREAM_NOT_ACCEPTABLE');
  });

  it('delivers alerts to authorised subscribers, filtered by care unit and permission, with heartbeats', async () => {
    const nurse = await openStream(tokens.clinician);
    const analyst = await openStream(tokens.analyst);
    const vendor = await openStream(tokens.vendor);
    expect([nurse.status, analyst.status, vendor.status]).toEqual([200, 200, 200]);
    expect(nurse.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'strict-transport-security': expect.stringContaining('max-age='),
    });
    await waitFor('subscribers', () => t.app.notify.stream.size === 3);

    // NEWS2 5 (medium) in the ICU and 8 (high) on the ward.
    await sendVitals('dev-icu-1', { rr: 22, spo2: 97, hr: 112, temp: 38.4 });
    await sendVitals('dev-ward-1', { rr: 26, spo2: 93, hr: 112, temp: 38.4 });
    // A security alert about the ICU device, from another detector.
    t.app.bus.emit('alert.raised', {
      alertId: 'sec-1',
      category: 'security',
      severity: 'high',
      rule: 'device.flood',
      title: 'Message flood from device',
      deviceId: 'dev-icu-1',
      careUnit: 'ICU',
      state: 'open',
      count: 1,
      incidentId: null,
      escalationLevel: 0,
      change: 'created',
      actor: 'system',
      at: Date.now(),
    });

    const alertsOf = (c: SseClient) =>
      c.events.filter((e) => e.event === 'alert').map((e) => e.data as unknown as AlertEvent);
    await waitFor('analyst alerts', () => alertsOf(analyst).some((a) => a.rule === 'device.flood'));
    await waitFor('heartbeats', () => nurse.comments.filter((c) => c === 'heartbeat').length >= 2);

    // The analyst (alerts:read, no care-unit limit) sees every alert; no telemetry (no telemetry:read).
    const seen = alertsOf(analyst);
    expect(new Set(seen.map((a) => a.careUnit))).toEqual(new Set(['ICU', 'WARD']));
    expect(
      seen.some((a) => a.rule === 'clinical.news2' && a.careUnit === 'WARD' && a.severity === 'critical'),
    ).toBe(true);
    expect(analyst.events.some((e) => e.event === 'telemetry')).toBe(false);

    // The ICU clinician: clinical alerts of the ICU only, never security ones; ICU telemetry counts.
    const mine = alertsOf(nurse);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((a) => a.careUnit === 'ICU' && a.category !== 'security')).toBe(true);
    expect(mine.some((a) => a.rule === 'clinical.news2' && a.severity === 'high')).toBe(true);
    const telemetry = nurse.events.filter((e) => e.event === 'telemetry').map((e) => e.data);
    expect(telemetry).toEqual([{ deviceId: 'dev-icu-1', count: 7, at: expect.any(Number) }]);

    // The vendor account may not read alerts or telemetry at all.
    expect(vendor.events).toEqual([]);

    // Nothing on the stream names a patient or carries a value.
    for (const c of [nurse, analyst]) {
      const text = JSON.stringify(c.events);
      expect(text).not.toMatch(/MRN-|"value"|evidence/);
    }
    for (const c of [nurse, analyst, vendor]) c.close();
    await waitFor('subscribers gone', () => t.app.notify.stream.size === 0);
  });

  it('re-checks the credential at each heartbeat: disabling the account ends its open stream', async () => {
    const token = await t.userWithToken('analyst-2', 'security-analyst');
    const stream = await openStream(token);
    expect(stream.status).toBe(200);
    await waitFor('subscribed', () => t.app.notify.stream.size === 1);
    let ended = false;
    await t.app.access.users.disable('analyst-2');
    const end = Date.now() + 20_000;
    while (!ended && Date.now() < end) {
      ended = t.app.notify.stream.size === 0;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(ended).toBe(true);
    stream.close();
  });
});

describe('triage list', () => {
  it('orders by acuity, limits clinicians to their care units and audits the read', async () => {
    const all = await call(t.app, 'GET', '/api/v1/triage', { token: t.adminToken });
    expect(all.status).toBe(200);
    const items = all.body.items as Array<Record<string, unknown>>;
    expect(items.map((i) => [i.patientId, i.careUnit, i.level, i.score])).toEqual([
      ['MRN-WARD-3', 'WARD', 'high', 8],
      ['MRN-ICU-7', 'ICU', 'medium', 5],
    ]);
    expect(items[0]).toMatchObject({
      bed: null,
      trend: null,
      deviceIds: ['dev-ward-1'],
      components: {
        respiratoryRate: 3,
        spo2: 2,
        airOrOxygen: 0,
        systolic: 0,
        pulse: 2,
        consciousness: 0,
        temperature: 1,
      },
      missing: [],
    });
    const nurse = await call(t.app, 'GET', '/api/v1/triage', { token: tokens.clinician });
    expect((nurse.body.items as Array<{ patientId: string }>).map((i) => i.patientId)).toEqual(['MRN-ICU-7']);
    const vendor = await call(t.app, 'GET', '/api/v1/triage', { token: tokens.vendor });
    expect(vendor.status).toBe(403);

    const reads = await t.app.audit.list({ after: -1, limit: 1000, action: 'patient.read' });
    const triage = reads.filter((e) => e.resource?.type === 'triage');
    expect(triage.map((e) => [e.actor.name, e.reason])).toEqual([
      ['admin', 'triage: 2 patients'],
      ['nurse-icu', 'triage: 1 patients'],
    ]);
    expect(JSON.stringify(triage)).not.toContain('MRN-');
  });

  it('switches a patient to SpO2 scale 2 (audited by blind index) and rescores', async () => {
    const bad = await call(t.app, 'PUT', '/api/v1/clinical/news2-scale', {
      token: t.adminToken,
      body: { patientId: 'MRN-WARD-3', spo2Scale: 3, reason: 'x' },
    });
    expect(bad.status).toBe(400);
    // The reason is required: a blank one is no reason.
    const before = await storedRows(t.app.store);
    for (const reason of ['', ' ', '\t\n ', '\u00a0\u3000']) {
      const blank = await call(t.app, 'PUT', '/api/v1/clinical/news2-scale', {
        token: t.adminToken,
        body: { patientId: 'MRN-WARD-3', spo2Scale: 2, reason },
      });
      expect([blank.status, blank.body.code], JSON.stringify(reason)).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect(await storedRows(t.app.store)).toEqual(before);
    const unchanged = await call(t.app, 'GET', '/api/v1/triage', { token: t.adminToken });
    expect((unchanged.body.items as Array<Record<string, unknown>>)[0]).toMatchObject({
      spo2Scale: 1,
      score: 8,
    });
    const ok = await call(t.app, 'PUT', '/api/v1/clinical/news2-scale', {
      token: t.adminToken,
      body: { patientId: 'MRN-WARD-3', spo2Scale: 2, reason: 'COPD, target 88-92%' },
    });
    expect(ok.status).toBe(200);
    // 93% on air scores 2 on scale 1 but 0 on scale 2.
    const after = await call(t.app, 'GET', '/api/v1/triage', { token: t.adminToken });
    expect((after.body.items as Array<Record<string, unknown>>)[0]).toMatchObject({
      patientId: 'MRN-WARD-3',
      spo2Scale: 2,
      score: 6,
      components: { spo2: 0 },
    });
    const entries = await t.app.audit.list({ after: -1, limit: 1000, action: 'patient.news2-scale' });
    expect(entries).toHaveLength(1);
    // The reason may name the patient: only its length is kept.
    expect(entries[0]!.reason).toBe('SpO2 scale 2; reason of 19 characters');
    expect(JSON.stringify(entries)).not.toMatch(/MRN-|COPD/);
  });

  it('lets a care-unit limited client set the scale only for patients of its units, changing nothing else', async () => {
    const icu = await smartToken(
      t.app,
      await registerSmartClient(t.app, {
        alg: 'ES384',
        role: 'integration',
        scopes: ['system/Patient.cru'],
        careUnits: ['ICU'],
      }),
    );
    const put = (patientId: string, token = icu) =>
      call(t.app, 'PUT', '/api/v1/clinical/news2-scale', {
        token,
        body: { patientId, spo2Scale: 2, reason: 'COPD, target 88-92%' },
      });
    const before = await storedRows(t.app.store);
    // On the ward (another unit), and a patient no device measures (in no unit).
    for (const patientId of ['MRN-WARD-3', 'MRN-NOWHERE-1']) {
      const res = await put(patientId);
      expect([res.status, res.body.code], patientId).toEqual([403, 'ACCESS_CARE_UNIT_DENIED']);
    }
    expect(await storedRows(t.app.store)).toEqual(before);
    const denied = await t.app.audit.list({ after: -1, limit: 1000, outcome: 'denied' });
    expect(denied.filter((e) => e.resource?.id === 'PUT /api/v1/clinical/news2-scale')).toHaveLength(2);
    // Its own unit's patient: set (scale 2 on ICU vitals of 97% scores as on scale 1).
    expect((await put('MRN-ICU-7')).status).toBe(200);
    expect(
      (
        await call(t.app, 'PUT', '/api/v1/clinical/news2-scale', {
          token: icu,
          body: { patientId: 'MRN-ICU-7', spo2Scale: 1, reason: 'back to scale 1' },
        })
      ).status,
    ).toBe(200);
  });
});

// Last: its vitals change the ICU patient's score, which the triage tests above read.
describe('live stream kinds', () => {
  it('narrows a stream to the event kinds asked for; an unknown kind is refused with its code', async () => {
    const alertsOnly = await openStream(tokens.clinician, '/api/v1/stream?kinds=alert');
    const telemetryOnly = await openStream(tokens.clinician, '/api/v1/stream?kinds=telemetry');
    expect([alertsOnly.status, telemetryOnly.status]).toEqual([200, 200]);
    await waitFor('subscribers', () => t.app.notify.stream.size === 2);
    // NEWS2 7 (high) in the ICU: a clinical alert and a telemetry count.
    await sendVitals('dev-icu-1', { rr: 25, spo2: 91, hr: 131, temp: 39.2 });
    await waitFor('the alert', () => alertsOnly.events.some((e) => e.event === 'alert'));
    await waitFor('the telemetry count', () => telemetryOnly.events.some((e) => e.event === 'telemetry'));
    expect(new Set(alertsOnly.events.map((e) => e.event))).toEqual(new Set(['alert']));
    expect(new Set(telemetryOnly.events.map((e) => e.event))).toEqual(new Set(['telemetry']));
    for (const c of [alertsOnly, telemetryOnly]) c.close();
    await waitFor('subscribers gone', () => t.app.notify.stream.size === 0);

    const bad = await call(t.app, 'GET', '/api/v1/stream?kinds=alert,vitals', {
      token: tokens.clinician,
      headers: { accept: 'text/event-stream' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(t.app.notify.stream.size).toBe(0);
  });
});
