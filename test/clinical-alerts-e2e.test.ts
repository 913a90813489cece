/**
 * Clinical alerting end to end through the REAL composed application, on SQLite and PostgreSQL:
 * the operator registers and binds patient monitors with curl, each monitor enrolls over EST
 * (openssl + curl) and streams vitals with mosquitto_pub over mutual TLS. One patient deteriorates
 * to NEWS2 high; the clinical monitor raises clinical alerts into the durable alert store, which
 * the REST API shows (with evidence and the patient) to a clinician of that care unit and hides from
 * a clinician of another; the triage list puts that patient above a stable one; a device alarm in
 * the telemetry payload (low battery) or alone on the event topic (probe off) becomes a
 * `technical` alert kept apart from the clinical ones; the alert event reaches a Server-Sent
 * Events subscriber (Bearer header); acknowledge and resolve with a reason are in the audit log;
 * an alert nobody acknowledges escalates (small escalation delays).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgresDatabase, postgresAvailable } from '../src/testing/stores.js';
import {
  type DeviceCredentials,
  type E2e,
  enroll,
  HttpsClient,
  mqttArgs,
  registerDevice,
  startE2e,
  telemetryRows,
} from './support/e2e.js';
import { run } from './support/ingest-harness.js';
import { openStream, type SseClient, waitFor } from './support/sse.js';

const pgUp = await postgresAvailable();

const SICK = { device: 'mon-icu-07', patient: 'MRN-E2E-SICK-07', unit: 'ICU' };
const STABLE = { device: 'mon-ward-03', patient: 'MRN-E2E-WELL-03', unit: 'WARD' };

interface Vitals {
  rr: number;
  spo2: number;
  o2: number;
  sbp: number;
  hr: number;
  acvpu: number;
  temp: number;
}
const WELL: Vitals = { rr: 16, spo2: 97, o2: 0, sbp: 125, hr: 72, acvpu: 0, temp: 37.0 };
// NEWS2 (RCP 2017, Chart 1, scale 1): RR 26 -> 3, SpO2 86 -> 3, air -> 0, SBP 95 -> 2,
// HR 125 -> 2, new confusion (C) -> 3, 38.6 degC -> 1: total 14, high. Against the shipped ICU
// limits (the unit is named "ICU") only the SpO2 is out of range (below 88).
// On the way: RR 21 -> 2, SpO2 95 -> 1, SBP 110 -> 1, HR 95 -> 1, 37.5 degC -> 0: 5, medium.
const WORSE: Vitals = { rr: 21, spo2: 95, o2: 0, sbp: 110, hr: 95, acvpu: 0, temp: 37.5 };
const SICKEST: Vitals = { rr: 26, spo2: 86, o2: 0, sbp: 95, hr: 125, acvpu: 1, temp: 38.6 };

const seqs = new Map<string, number>();
/** A telemetry payload with a full NEWS2 set (LOINC and MDC codes, UCUM units) and optional alarms. */
function payload(deviceId: string, v: Vitals, alarms: Array<Record<string, string>> = []): string {
  const seq = (seqs.get(deviceId) ?? 0) + 1;
  seqs.set(deviceId, seq);
  const o = (system: 'LOINC' | 'MDC', code: string, value: number, unit: string) => ({
    code: { system, code },
    value,
    unit,
  });
  return JSON.stringify({
    seq,
    ts: new Date().toISOString(),
    observations: [
      o('LOINC', '9279-1', v.rr, '/min'),
      o('MDC', '150456', v.spo2, '%'),
      o('LOINC', '3151-8', v.o2, 'L/min'),
      o('MDC', '150021', v.sbp, 'mm[Hg]'),
      o('MDC', '149530', v.hr, '/min'),
      o('LOINC', '67775-7', v.acvpu, '{score}'),
      o('MDC', '150364', v.temp, 'Cel'),
    ],
    ...(alarms.length > 0 ? { alarms } : {}),
  });
}

interface AlertView {
  id: string;
  category: string;
  severity: string;
  rule: string;
  deviceId: string | null;
  careUnit: string | null;
  patientId?: string;
  state: string;
  escalationLevel: number;
  evidence?: Record<string, unknown>;
  history?: Array<{ change: string; actor: string; reason: string | null }>;
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  const suite = dialect === 'sqlite' || pgUp ? describe : describe.skip;
  suite(`clinical alerts end to end [${dialect}]`, () => {
    let e2e: E2e;
    let dropDb: (() => Promise<void>) | undefined;
    const creds: Record<string, DeviceCredentials> = {};
    const client: Record<string, HttpsClient> = {};
    const tokens: Record<string, string> = {};
    let stream: SseClient;

    const pub = async (deviceId: string, message: string, topic = 'telemetry') => {
      const r = await run(
        'mosquitto_pub',
        [
          ...mqttArgs(e2e.mqttPort, e2e.layout.rootCaCert, creds[deviceId]!),
          '-q',
          '1',
          '-t',
          `devices/${deviceId}/${topic}`,
          '-m',
          message,
        ],
        20_000,
      );
      expect(r.code, r.stderr).toBe(0);
    };
    const alerts = async (who: string, query = '') => {
      const r = await client[who]!.api('GET', `/api/v1/alerts${query}`);
      expect(r.status, r.body.toString()).toBe(200);
      return r.json.items as AlertView[];
    };

    beforeAll(async () => {
      const settings: Record<string, Record<string, unknown>> = {
        // Small escalation delays: a critical or high alert nobody acknowledges escalates in seconds.
        monitor: {
          escalationCheckSeconds: 1,
          escalateCriticalSeconds: 2,
          escalateHighSeconds: 2,
          escalateMediumSeconds: 2,
        },
        notify: { streamHeartbeatSeconds: 1 },
      };
      if (dialect === 'postgres') {
        const db = await createTestPostgresDatabase();
        dropDb = db.drop;
        settings.database = { url: db.url };
      }
      e2e = await startE2e(settings);
      for (const p of [SICK, STABLE]) {
        const token = await registerDevice(e2e.admin, p.device, { patientId: p.patient, careUnit: p.unit });
        creds[p.device] = await enroll(e2e.admin, p.device, token);
      }
      const user = async (name: string, role: 'clinician', careUnits: string[]) => {
        const made = await e2e.admin.api('POST', '/api/v1/users', {
          username: name,
          password: randomBytes(18).toString('base64url'),
          role,
          careUnits,
        });
        expect(made.status, made.body.toString()).toBe(201);
        tokens[name] = (await e2e.app.access.createApiToken({ username: name, name: 'e2e' })).token;
        client[name] = new HttpsClient(e2e.apiPort, e2e.layout.rootCaCert, e2e.work, tokens[name]);
      };
      await user('nurse-icu', 'clinician', ['ICU']);
      await user('nurse-ward', 'clinician', ['WARD']);
      client.admin = e2e.admin;
    }, 180_000);

    afterAll(async () => {
      stream?.close();
      await e2e?.close();
      await dropDb?.();
    });

    it('a deteriorating patient streamed over mTLS MQTT raises clinical alerts with evidence, shown only to their care unit and on the live stream', async () => {
      stream = await openStream(e2e.urls.api, readFileSync(e2e.layout.rootCaCert), tokens['nurse-icu']!);
      expect(stream.status).toBe(200);
      await waitFor('stream subscriber', () => e2e.app.notify.stream.size >= 1);

      await pub(STABLE.device, payload(STABLE.device, WELL));
      for (const v of [WELL, WORSE, SICKEST]) await pub(SICK.device, payload(SICK.device, v));
      // QoS 1: mosquitto_pub returns after the PUBACK, which follows the durable write.
      expect(await telemetryRows(e2e.app.store, SICK.device)).toBe(3);

      const news2 = await waitFor('the NEWS2 high alert', async () =>
        (await alerts('admin', '?category=clinical')).find(
          (a) => a.rule === 'clinical.news2' && a.severity === 'critical',
        ),
      );
      expect(news2).toMatchObject({ deviceId: SICK.device, careUnit: 'ICU', state: 'open' });
      // The medium level on the way there was raised too, as its own alert (severity high).
      expect(
        (await alerts('admin', '?category=clinical')).some(
          (a) => a.rule === 'clinical.news2' && a.severity === 'high' && a.deviceId === SICK.device,
        ),
      ).toBe(true);
      const limit = await waitFor('the SpO2 limit alert', async () =>
        (await alerts('admin', '?category=clinical')).find((a) => a.rule === 'clinical.vital-limit'),
      );
      expect(limit).toMatchObject({ deviceId: SICK.device, careUnit: 'ICU', severity: 'high' });
      // The stable patient raised nothing.
      expect((await alerts('admin')).filter((a) => a.deviceId === STABLE.device)).toEqual([]);

      // The ICU clinician sees it with the patient and the evidence (the NEWS2 computation).
      const detail = await client['nurse-icu']!.api('GET', `/api/v1/alerts/${news2.id}`);
      expect(detail.status).toBe(200);
      const view = detail.json as unknown as AlertView;
      expect(view).toMatchObject({
        category: 'clinical',
        rule: 'clinical.news2',
        patientId: SICK.patient,
        evidence: {
          score: 14,
          level: 'high',
          components: {
            respiratoryRate: 3,
            spo2: 3,
            airOrOxygen: 0,
            systolic: 2,
            pulse: 2,
            consciousness: 3,
            temperature: 1,
          },
        },
      });
      const mine = await alerts('nurse-icu', '?category=clinical');
      expect(mine.map((a) => a.id)).toContain(news2.id);
      expect(mine.find((a) => a.id === news2.id)?.patientId).toBe(SICK.patient);
      // The limit alert names the vital, the value and the ICU limit it crossed; the other vitals
      // are within the ICU limits (RR 26 would breach the adult-ward limit of 24, not the ICU's 35).
      const limitView = await client['nurse-icu']!.api('GET', `/api/v1/alerts/${limit.id}`);
      expect(limitView.json).toMatchObject({
        title: 'Oxygen saturation (SpO2) below the care unit limit',
        patientId: SICK.patient,
        evidence: { kind: 'spo2', direction: 'low', value: 86, unit: '%', limit: 88, limitsOf: 'ICU' },
      });
      expect(
        (await alerts('admin', '?category=clinical')).filter((a) => a.rule === 'clinical.vital-limit'),
      ).toHaveLength(1);

      // The ward clinician sees neither the alert nor the patient.
      const theirs = await alerts('nurse-ward');
      expect(theirs.filter((a) => a.careUnit !== 'WARD')).toEqual([]);
      const hidden = await client['nurse-ward']!.api('GET', `/api/v1/alerts/${news2.id}`);
      expect(hidden.status).toBe(404);
      expect(hidden.body.toString()).not.toContain(SICK.patient);

      // The live stream delivered the alert event to the ICU clinician, without patient or values.
      const event = await waitFor('the alert on the stream', () =>
        stream.events.find((e) => e.event === 'alert' && e.data.alertId === news2.id),
      );
      expect(event.data).toMatchObject({ rule: 'clinical.news2', careUnit: 'ICU', category: 'clinical' });
      expect(JSON.stringify(stream.events)).not.toMatch(/MRN-|evidence|"value"/);
    });

    it('the triage list orders the deteriorating patient above the stable one, per care unit', async () => {
      const all = await client.admin!.api('GET', '/api/v1/triage');
      expect(all.status).toBe(200);
      const items = all.json.items as Array<{ patientId: string; level: string; score: number }>;
      expect(items.map((i) => [i.patientId, i.level, i.score])).toEqual([
        [SICK.patient, 'high', 14],
        [STABLE.patient, 'low', 0],
      ]);
      const ward = await client['nurse-ward']!.api('GET', '/api/v1/triage');
      expect((ward.json.items as Array<{ patientId: string }>).map((i) => i.patientId)).toEqual([
        STABLE.patient,
      ]);
    });

    it('a device alarm in the telemetry payload raises a technical alert kept apart from the clinical ones', async () => {
      await pub(
        SICK.device,
        payload(SICK.device, SICKEST, [{ code: 'MDC_EVT_BATT_LO', priority: 'medium', kind: 'technical' }]),
      );
      const technical = await waitFor('the technical alert', async () =>
        (await alerts('nurse-icu', '?category=technical')).find((a) => a.rule === 'technical.low-battery'),
      );
      expect(technical).toMatchObject({
        category: 'technical',
        severity: 'medium',
        deviceId: SICK.device,
        careUnit: 'ICU',
      });
      expect(technical.patientId).toBeUndefined();
      const detail = await client['nurse-icu']!.api('GET', `/api/v1/alerts/${technical.id}`);
      expect(detail.json).toMatchObject({ evidence: { code: 'MDC_EVT_BATT_LO', source: 'device' } });
      expect(detail.json).not.toHaveProperty('patientId');
      // Not among the clinical alerts, and the clinical ones are not among the technical.
      expect((await alerts('nurse-icu', '?category=clinical')).map((a) => a.rule)).not.toContain(
        'technical.low-battery',
      );
      expect(
        (await alerts('nurse-icu', '?category=technical')).every((a) => a.category === 'technical'),
      ).toBe(true);
      await waitFor('the technical alert on the stream', () =>
        stream.events.find((e) => e.event === 'alert' && e.data.alertId === technical.id),
      );
      // A probe falling off, reported alone on the device's event topic: technical.sensor-off.
      const seq = (seqs.get(SICK.device) ?? 0) + 1;
      seqs.set(SICK.device, seq);
      await pub(
        SICK.device,
        JSON.stringify({
          seq,
          ts: new Date().toISOString(),
          observations: [],
          alarms: [{ code: 'MDC_EVT_PROBE_DISCONN', priority: 'high', kind: 'technical' }],
        }),
        'events',
      );
      const sensorOff = await waitFor('the sensor-off alert', async () =>
        (await alerts('nurse-icu', '?category=technical')).find((a) => a.rule === 'technical.sensor-off'),
      );
      expect(sensorOff).toMatchObject({ category: 'technical', severity: 'high', deviceId: SICK.device });
      expect(sensorOff.patientId).toBeUndefined();
      expect(
        (await alerts('nurse-icu', '?category=clinical')).some((a) => a.rule.startsWith('technical.')),
      ).toBe(false);
    });

    it('an unacknowledged alert escalates; acknowledging and resolving with a reason works and is audited', async () => {
      const news2 = (await alerts('nurse-icu', '?category=clinical')).find(
        (a) => a.rule === 'clinical.news2' && a.severity === 'critical',
      )!;
      // Nobody acknowledged it: it escalates (critical after 2 s here), announced on the stream.
      const escalated = await waitFor('escalation', async () => {
        const r = await client['nurse-icu']!.api('GET', `/api/v1/alerts/${news2.id}`);
        const v = r.json as unknown as AlertView;
        return v.escalationLevel >= 1 && v;
      });
      expect(escalated.history?.map((h) => h.change)).toContain('escalated');
      await waitFor('the escalation on the stream', () =>
        stream.events.find(
          (e) => e.event === 'alert' && e.data.alertId === news2.id && e.data.change === 'escalated',
        ),
      );

      // The ward clinician may not act on it; the ICU clinician acknowledges then resolves.
      const foreign = await client['nurse-ward']!.api('POST', `/api/v1/alerts/${news2.id}/acknowledge`, {
        reason: 'not mine',
      });
      expect(foreign.status).toBe(404);
      const noReason = await client['nurse-icu']!.api('POST', `/api/v1/alerts/${news2.id}/resolve`, {});
      expect(noReason.status).toBe(400);
      const ack = await client['nurse-icu']!.api('POST', `/api/v1/alerts/${news2.id}/acknowledge`, {
        reason: 'at the bedside',
      });
      expect(ack.status, ack.body.toString()).toBe(200);
      expect(ack.json).toMatchObject({ state: 'acknowledged' });
      // Acknowledged alerts no longer escalate.
      const level = (ack.json as unknown as AlertView).escalationLevel;
      await new Promise((r) => setTimeout(r, 3_500));
      const still = await client['nurse-icu']!.api('GET', `/api/v1/alerts/${news2.id}`);
      expect((still.json as unknown as AlertView).escalationLevel).toBe(level);

      const resolved = await client['nurse-icu']!.api('POST', `/api/v1/alerts/${news2.id}/resolve`, {
        reason: 'critical care outreach reviewed, treatment started',
      });
      expect(resolved.status, resolved.body.toString()).toBe(200);
      const view = resolved.json as unknown as AlertView;
      expect(view.state).toBe('resolved');
      expect(view.history?.filter((h) => h.actor === 'nurse-icu').map((h) => [h.change, h.reason])).toEqual([
        ['acknowledged', 'at the bedside'],
        ['resolved', 'critical care outreach reviewed, treatment started'],
      ]);
      await waitFor('the resolution on the stream', () =>
        stream.events.find(
          (e) => e.event === 'alert' && e.data.alertId === news2.id && e.data.change === 'resolved',
        ),
      );

      // Both changes are in the audit log with their actor, without the reason or the patient.
      for (const [action, reason] of [
        ['alert.acknowledge', 'at the bedside'],
        ['alert.resolve', 'critical care outreach reviewed, treatment started'],
      ] as const) {
        const r = await client.admin!.api('GET', `/api/v1/audit/entries?action=${action}`);
        expect(r.status).toBe(200);
        const entries = r.json.entries as Array<{
          actor: { name?: string };
          resource?: { id?: string };
          reason?: string;
        }>;
        expect(entries).toContainEqual(
          expect.objectContaining({
            actor: expect.objectContaining({ name: 'nurse-icu' }),
            resource: expect.objectContaining({ id: news2.id }),
          }),
        );
        // A clinician's free text may name the patient: the append-only audit tree never holds it.
        expect(JSON.stringify(entries)).not.toContain(reason);
        expect(JSON.stringify(entries)).not.toContain(SICK.patient);
      }
    });
  });
}
