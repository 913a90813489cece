/**
 * Security alerts on the live stream, end to end: the simulator's flood and topic-spoofing attacks
 * (real mqtt.js clients over mutual TLS, EST-enrolled devices) run against the REAL composed app;
 * the behaviour detector raises the security alerts into the durable store and they reach a
 * security analyst's Server-Sent Events stream (Bearer header) as they happen, without evidence or
 * values, while a clinician's stream never carries them. Users and tokens are made over REST.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertView } from '../src/monitor/index.js';
import {
  ApiClient,
  type AttackName,
  type DeviceCredentials,
  registerAndEnroll,
  runAttacks,
} from '../src/sim/index.js';
import { type E2e, startE2e } from './support/e2e.js';
import { openStream, type SseClient, waitFor } from './support/sse.js';

let e: E2e;
let api: ApiClient;
let ca: Buffer;
let victim: DeviceCredentials;
const streams: Record<string, SseClient> = {};
const tokens: Record<string, string> = {};

const enroll = (name: string) =>
  registerAndEnroll({
    api,
    apiUrl: e.urls.api,
    ca,
    device: { id: `mon-sse-${name}`, type: 'patient-monitor', careUnit: 'ICU' },
  });

beforeAll(async () => {
  e = await startE2e({ monitor: { checkIntervalSeconds: 0 } });
  ca = readFileSync(e.layout.rootCaCert);
  api = new ApiClient({ baseUrl: e.urls.api, ca, token: e.adminToken });
  for (const [username, role, careUnits] of [
    ['soc-analyst', 'security-analyst', []],
    ['nurse-icu', 'clinician', ['ICU']],
  ] as const) {
    await api.send('POST', '/api/v1/users', {
      username,
      password: randomBytes(18).toString('base64url'),
      role,
      careUnits,
    });
    const created = await api.send<{ token: string }>('POST', '/api/v1/tokens', {
      username,
      name: 'console',
    });
    tokens[username] = created.token;
  }
  victim = await enroll('victim');
}, 120_000);

afterAll(async () => {
  for (const s of Object.values(streams)) s.close();
  await e?.close();
});

describe('security alerts on the live stream', () => {
  it('flood and topic spoofing from the simulator reach the security analyst, not the clinician', async () => {
    for (const who of ['soc-analyst', 'nurse-icu']) {
      streams[who] = await openStream(e.urls.api, ca, tokens[who]!);
      expect(streams[who]!.status).toBe(200);
    }
    await waitFor('both subscribers', () => e.app.notify.stream.size === 2);

    const expected: Record<string, string> = { flood: 'device.flood', 'topic-spoof': 'device.topic-spoof' };
    const raised: Array<{ attacker: string; rule: string; alertId: string }> = [];
    for (const name of Object.keys(expected) as AttackName[]) {
      const attacker = await enroll(`atk-${name}`);
      const [result] = await runAttacks(
        {
          mqttUrl: `mqtts://127.0.0.1:${e.mqttPort}`,
          ca,
          api,
          attacker,
          victimId: victim.deviceId,
          alertWaitMs: 20_000,
        },
        [name],
      );
      expect(result!.defended, `${name}: ${result!.observed}`).toBe(true);
      expect(result!.alert, `${name}: ${result!.observed}`).toMatchObject({
        rule: expected[name],
        raised: true,
      });
      raised.push({ attacker: attacker.deviceId, rule: expected[name]!, alertId: result!.alert!.alertId! });
    }

    const analyst = streams['soc-analyst']!;
    for (const r of raised) {
      // The alert event arrives on the analyst's stream, naming the attacking device.
      const event = await waitFor(`${r.rule} on the stream`, () =>
        analyst.events.find((ev) => ev.event === 'alert' && ev.data.alertId === r.alertId),
      );
      expect(event.data).toMatchObject({
        rule: r.rule,
        category: 'security',
        deviceId: r.attacker,
        careUnit: 'ICU',
        state: 'open',
        change: 'created',
      });
      // The analyst reads the evidence over REST; the stream itself carries none.
      const view = await new ApiClient({
        baseUrl: e.urls.api,
        ca,
        token: tokens['soc-analyst']!,
      }).send<AlertView>('GET', `/api/v1/alerts/${r.alertId}`);
      expect(view).toMatchObject({ rule: r.rule, deviceId: r.attacker, category: 'security' });
      expect(Object.keys(view.evidence ?? {}).length).toBeGreaterThan(0);
    }
    const spoof = await new ApiClient({
      baseUrl: e.urls.api,
      ca,
      token: tokens['soc-analyst']!,
    }).send<AlertView>('GET', `/api/v1/alerts/${raised[1]!.alertId}`);
    expect((spoof.evidence as { topics?: string[] }).topics).toEqual([
      `devices/${victim.deviceId}/telemetry`,
    ]);
    expect(JSON.stringify(analyst.events)).not.toMatch(/evidence|"topics"|"value"/);

    // The clinician of the same care unit holds a working stream but never gets security alerts.
    const nurse = streams['nurse-icu']!;
    expect(nurse.status).toBe(200);
    expect(nurse.events.filter((ev) => ev.event === 'alert' && ev.data.category === 'security')).toEqual([]);
    const nurseView = await new ApiClient({ baseUrl: e.urls.api, ca, token: tokens['nurse-icu']! })
      .send('GET', `/api/v1/alerts/${raised[0]!.alertId}`)
      .then(
        () => 'visible',
        (error: { code?: string }) => error.code,
      );
    expect(nurseView).toBe('ALERT_NOT_FOUND');
  }, 120_000);
});
