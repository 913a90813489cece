/**
 * Every simulator attack scenario against the real composed app (embedded mutual-TLS broker,
 * real mqtt.js clients, EST-enrolled devices): the right alert, with evidence, is raised for each.
 * Scenarios that depend on a learned history (a device's usual addresses, its quiet hours) get it
 * the way the detector learns it, from bus events on an earlier simulated clock. The alert store
 * runs on SQLite and on PostgreSQL.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertEvent, AlertView } from '../src/monitor/index.js';
import {
  ApiClient,
  type AttackContext,
  type AttackName,
  registerAndEnroll,
  runAttacks,
} from '../src/sim/index.js';
import { createTestPostgresDatabase, postgresAvailable } from '../src/testing/stores.js';
import { type E2e, startE2e } from './support/e2e.js';

const HOUR = 3_600_000;
const pgUp = await postgresAvailable();

function suite(dialect: 'sqlite' | 'postgres') {
  let e: E2e;
  let api: ApiClient;
  let ca: Buffer;
  let victimId: string;
  let dropPg: (() => Promise<void>) | undefined;
  const raised: AlertEvent[] = [];

  beforeAll(async () => {
    if (dialect === 'postgres') {
      const pgdb = await createTestPostgresDatabase();
      dropPg = pgdb.drop;
      e = await startE2e({ monitor: { checkIntervalSeconds: 0 }, database: { url: pgdb.url } });
    } else e = await startE2e({ monitor: { checkIntervalSeconds: 0 } });
    e.app.bus.on('alert.raised', (a) => raised.push(a));
    ca = readFileSync(e.layout.rootCaCert);
    api = new ApiClient({ baseUrl: `https://127.0.0.1:${e.apiPort}`, ca, token: e.adminToken });
    victimId = (await enroll('victim')).deviceId;
  }, 120_000);

  afterAll(async () => {
    await e?.close();
    await dropPg?.();
  });

  function enroll(name: string) {
    return registerAndEnroll({
      api,
      apiUrl: `https://127.0.0.1:${e.apiPort}`,
      ca,
      device: { id: `mon-${name}`, type: 'patient-monitor', careUnit: 'ICU' },
    });
  }

  /** Enrolls an attacker device, lets `history` teach the detector about it, runs the scenario. */
  async function scenario(name: AttackName, history?: (deviceId: string) => void) {
    const attacker = await enroll(`atk-${name}`);
    history?.(attacker.deviceId);
    const ctx: AttackContext = {
      mqttUrl: `mqtts://127.0.0.1:${e.mqttPort}`,
      ca,
      api,
      attacker,
      victimId,
      altAddress: '127.0.0.2',
      stormAddress: '127.0.0.3',
      alertWaitMs: 15_000,
    };
    const [result] = await runAttacks(ctx, [name]);
    expect(result!.alert?.raised, `${name}: ${result!.observed}`).toBe(true);
    const alert = await api.send<AlertView>('GET', `/api/v1/alerts/${result!.alert!.alertId}`);
    expect(alert.category).toBe('security');
    expect(alert.state).toBe('open');
    expect(alert.history?.[0]).toMatchObject({ change: 'created', actor: 'system' });
    // The bus announced it, without evidence or patient data.
    const event = raised.find((r) => r.alertId === alert.id && r.change === 'created');
    expect(event).toMatchObject({ rule: alert.rule, deviceId: alert.deviceId, category: 'security' });
    expect(Object.keys(event!).sort()).toEqual([
      'actor',
      'alertId',
      'at',
      'careUnit',
      'category',
      'change',
      'count',
      'deviceId',
      'escalationLevel',
      'incidentId',
      'rule',
      'severity',
      'state',
      'title',
    ]);
    return { attacker, result: result!, alert, evidence: alert.evidence as Record<string, unknown> };
  }

  describe(`monitoring scenarios against the real broker [${dialect}]`, () => {
    it('flood: the device is rate-limited and a flood alert names the refusal', async () => {
      const { attacker, alert, evidence } = await scenario('flood');
      expect(alert).toMatchObject({
        rule: 'device.flood',
        deviceId: attacker.deviceId,
        severity: 'high',
        careUnit: 'ICU',
      });
      expect(evidence.deviceId).toBe(attacker.deviceId);
      expect(
        evidence.refused === 'INGEST_RATE_LIMITED' || Number(evidence.messages) > Number(evidence.threshold),
      ).toBe(true);
    }, 60_000);

    it("topic spoofing: a publish to another device's topic raises topic-spoof with the topic", async () => {
      const { attacker, alert, evidence } = await scenario('topic-spoof');
      expect(alert).toMatchObject({ rule: 'device.topic-spoof', deviceId: attacker.deviceId });
      expect(evidence.topics).toEqual([`devices/${victimId}/telemetry`]);
      expect(evidence.kind).toBe('publish');
    }, 60_000);

    it('authentication-failure storm from one address names the address and the count', async () => {
      const { alert, evidence } = await scenario('auth-storm');
      expect(alert).toMatchObject({ rule: 'address.auth-failures', deviceId: null, severity: 'high' });
      expect(evidence.address).toBe('127.0.0.3');
      expect(Number(evidence.failures)).toBeGreaterThanOrEqual(5);
      expect(evidence.codes).toContain('INGEST_CERT_INVALID');
    }, 60_000);

    it('replayed sequence numbers raise a replay alert with the seqs', async () => {
      const { attacker, alert, evidence } = await scenario('replay');
      expect(alert).toMatchObject({ rule: 'device.replay', deviceId: attacker.deviceId });
      expect(Number(evidence.replays)).toBeGreaterThanOrEqual(3);
      expect((evidence.seqs as number[]).length).toBeGreaterThanOrEqual(3);
    }, 60_000);

    it('a new source address after the warm-up raises new-address naming old and new address', async () => {
      const { attacker, alert, evidence } = await scenario('new-address', (deviceId) => {
        // The device's history: it has connected from 127.0.0.1 for the past 30 hours.
        const past = Date.now() - 30 * HOUR;
        e.app.bus.emit('device.connected', { deviceId, clientId: 'history', address: '127.0.0.1', at: past });
        e.app.bus.emit('device.disconnected', {
          deviceId,
          clientId: 'history',
          reason: 'closed',
          at: past + 1000,
        });
      });
      expect(alert).toMatchObject({ rule: 'device.new-address', deviceId: attacker.deviceId });
      expect(evidence.address).toBe('127.0.0.2');
      expect(evidence.knownAddresses).toEqual(['127.0.0.1']);
    }, 60_000);

    it('a payload size jump raises size-jump with the usual and the new size', async () => {
      const { attacker, alert, evidence } = await scenario('size-jump');
      expect(alert).toMatchObject({
        rule: 'device.size-jump',
        deviceId: attacker.deviceId,
        severity: 'medium',
      });
      expect(Number(evidence.bytes)).toBeGreaterThan(4 * Number(evidence.usualBytes));
      expect(Number(evidence.messagesLearned)).toBeGreaterThanOrEqual(50);
    }, 60_000);

    it('activity in an hour the device is usually silent raises off-hours', async () => {
      const now = Date.now();
      const hourNow = new Date(now).getUTCHours();
      const { attacker, alert, evidence } = await scenario('off-hours', (deviceId) => {
        // Four simulated days before now: a message every 10 minutes, except in this hour and the next.
        let seq = 0;
        for (let t = now - 4 * 24 * HOUR; t < now - HOUR; t += 600_000) {
          const h = new Date(t).getUTCHours();
          if (h === hourNow || h === (hourNow + 1) % 24) continue;
          e.app.bus.emit('telemetry.received', {
            deviceId,
            seq: seq++,
            count: 1,
            bytes: 110,
            receivedAt: t,
            source: 'mqtt',
            flagged: 0,
            deviceTs: t,
          });
        }
      });
      expect(alert).toMatchObject({ rule: 'device.off-hours', deviceId: attacker.deviceId });
      expect([hourNow, (hourNow + 1) % 24]).toContain(evidence.hourOfDay);
      expect(evidence.expected).toBe(0);
      expect(Number(evidence.hoursLearned)).toBeGreaterThanOrEqual(72);
    }, 60_000);

    it('a cloned certificate used from two places raises cloned-identity with both addresses', async () => {
      const { attacker, alert, evidence } = await scenario('cloned-cert');
      expect(alert).toMatchObject({
        rule: 'device.cloned-identity',
        deviceId: attacker.deviceId,
        severity: 'critical',
      });
      expect([...(evidence.addresses as string[])].sort()).toEqual(['127.0.0.1', '127.0.0.2']);
      expect((evidence.clientIds as string[]).length).toBe(2);
      expect((evidence.serials as string[]).length).toBe(1);
    }, 60_000);

    it('a revoked identity that keeps connecting raises auth-failures and is found by the fleet check', async () => {
      const device = await enroll('revoked');
      await api.send('POST', `/api/v1/devices/${device.deviceId}/revoke`, { reason: 'keyCompromise' });
      for (let i = 0; i < 5; i++) {
        const refused = await new Promise<boolean>((resolve) => {
          const c = mqtt.connect(`mqtts://127.0.0.1:${e.mqttPort}`, {
            ca,
            cert: device.certPem,
            key: device.keyPem,
            reconnectPeriod: 0,
            protocolVersion: 4,
          });
          c.once('connect', () => {
            c.end(true);
            resolve(false);
          });
          c.once('error', () => {
            c.end(true);
            resolve(true);
          });
        });
        expect(refused).toBe(true);
      }
      const deadline = Date.now() + 15_000;
      let live: AlertView | undefined;
      while (!live && Date.now() < deadline) {
        const page = await api.send<{ items: AlertView[] }>(
          'GET',
          `/api/v1/alerts?deviceId=${device.deviceId}`,
        );
        live = page.items.find((a) => a.rule === 'device.auth-failures');
        if (!live) await new Promise((r) => setTimeout(r, 200));
      }
      expect(live).toBeDefined();
      const detail = await api.send<AlertView>('GET', `/api/v1/alerts/${live!.id}`);
      expect(detail.evidence).toMatchObject({
        failures: 5,
        codes: ['INGEST_CERT_REVOKED'],
        addresses: ['127.0.0.1'],
      });
      const checks = await api.send<{
        findings: Array<{ rule: string; deviceId: string; evidence: Record<string, unknown> }>;
      }>('POST', '/api/v1/monitor/checks', { checks: ['revoked-connecting'] });
      expect(checks.findings).toEqual([
        expect.objectContaining({
          rule: 'fleet.revoked-connecting',
          deviceId: device.deviceId,
          evidence: expect.objectContaining({ attempts: 5, codes: ['INGEST_CERT_REVOKED'] }),
        }),
      ]);
    }, 60_000);
  });
}

suite('sqlite');
if (pgUp) suite('postgres');
else describe.skip('monitoring scenarios against the real broker [postgres]', () => {});
