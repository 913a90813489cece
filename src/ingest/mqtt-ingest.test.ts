/**
 * The embedded broker against real clients: mosquitto_pub / mosquitto_sub (Eclipse Mosquitto
 * command-line clients) and mqtt.js, over real TLS, with certificates made by openssl from the
 * installation's issuing CA. Every refusal is checked three ways: what the client saw (CONNACK
 * code, closed connection, SUBACK 0x80), the `ingest.refused` event and its code, and that
 * nothing was stored.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foreignCa, issueClientCert } from '../../test/support/ingest-certs.js';
import { SqliteTestSink, TestIdentityVerifier, vitals } from '../../test/support/ingest-fixtures.js';
import {
  background,
  exitOf,
  type IngestTestEnv,
  ingestTestEnv,
  recordEvents,
  run,
  tlsArgs,
  until,
} from '../../test/support/ingest-harness.js';
import { EventBus } from '../events/index.js';
import { createLogger } from '../logging/logger.js';
import { createMqttIngest, type MqttIngest } from './index.js';

let env: IngestTestEnv;
let ingest: MqttIngest;
let port: number;
let sink: SqliteTestSink;
let identity: TestIdentityVerifier;
const bus = new EventBus();
const events = recordEvents(bus, ['ingest.refused', 'device.connected', 'device.disconnected']);
const clients: MqttClient[] = [];

const pub = (device: Parameters<typeof tlsArgs>[2], topic: string, message: string, extra: string[] = []) =>
  run(
    'mosquitto_pub',
    [...tlsArgs(env, port, device), '-q', '1', '-t', topic, '-m', message, ...extra],
    8000,
  );

function refusals(code: string) {
  return events.of('ingest.refused').filter((e) => e.code === code);
}

async function mqttClient(device: { cert: string; key: string }, clientId?: string): Promise<MqttClient> {
  const c = await connectAsync({
    host: 'localhost',
    port,
    protocol: 'mqtts',
    protocolVersion: 4,
    ca: readFileSync(env.caBundle),
    cert: readFileSync(device.cert),
    key: readFileSync(device.key),
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...(clientId ? { clientId } : {}),
  });
  clients.push(c);
  return c;
}

/** Resolves with the reason the connection closed, or 'open' if it is still up after `ms`. */
function closedWithin(c: MqttClient, ms: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    if (!c.connected) return resolve('closed');
    const t = setTimeout(() => resolve('open'), ms);
    c.once('close', () => {
      clearTimeout(t);
      resolve('closed');
    });
  });
}

beforeAll(async () => {
  env = await ingestTestEnv();
  identity = new TestIdentityVerifier(env.tls.ca[0]!);
  sink = new SqliteTestSink(join(env.dir, 'telemetry.db'));
  ingest = createMqttIngest({
    config: {
      mqtt: {
        ...env.config.mqtt,
        host: '127.0.0.1',
        port: 0,
        maxPayloadBytes: 1024,
        ratePerSecond: 5,
        burst: 10,
      },
    },
    tls: env.tls,
    identity,
    sink,
    bus,
    logger: createLogger({ level: 'silent' }),
  });
  ({ port } = await ingest.start());
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await ingest?.stop();
  sink?.close();
  env?.cleanup();
});

describe('embedded MQTT broker (mutual TLS)', () => {
  it('stores a QoS 1 message from mosquitto_pub with a device certificate', async () => {
    const dev = env.device('pump-0001');
    const r = await pub(dev, 'devices/pump-0001/telemetry', vitals(1));
    expect(r.code, r.stderr).toBe(0);
    expect(sink.seqs('pump-0001')).toEqual([1]);
    expect(events.of('device.connected').some((e) => e.deviceId === 'pump-0001')).toBe(true);
    await until(
      () => events.of('device.disconnected').some((e) => e.deviceId === 'pump-0001'),
      5000,
      'disconnect event',
    );
  });

  it('refuses a connection without a client certificate (TLS handshake)', async () => {
    const before = sink.count();
    const r = await pub(null, 'devices/pump-0002/telemetry', vitals(1));
    expect(r.code).not.toBe(0);
    await until(() => refusals('INGEST_CLIENT_CERT_REQUIRED').length > 0, 3000, 'refusal event');
    expect(refusals('INGEST_CLIENT_CERT_REQUIRED')[0]).toMatchObject({ kind: 'connect', deviceId: null });
    expect(sink.count()).toBe(before);
  });

  it('refuses a certificate from another CA', async () => {
    const other = issueClientCert(env.dir, foreignCa(env.dir), 'pump-0002');
    const r = await pub(other, 'devices/pump-0002/telemetry', vitals(1));
    expect(r.code).not.toBe(0);
    await until(() => refusals('INGEST_CERT_INVALID').length > 0, 3000, 'refusal event');
    expect(sink.count('pump-0002')).toBe(0);
  });

  it('refuses an expired certificate', async () => {
    const expired = env.device('pump-0002', { startDate: '20200101000000Z', endDate: '20200201000000Z' });
    const r = await pub(expired, 'devices/pump-0002/telemetry', vitals(1));
    expect(r.code).not.toBe(0);
    await until(() => refusals('INGEST_CERT_EXPIRED').length > 0, 3000, 'refusal event');
    expect(sink.count('pump-0002')).toBe(0);
  });

  it('refuses a revoked certificate with CONNACK 0x05 (not authorised)', async () => {
    const dev = env.device('pump-0003');
    identity.revoked.add(dev.serial);
    const r = await pub(dev, 'devices/pump-0003/telemetry', vitals(1));
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
    expect(refusals('INGEST_CERT_REVOKED').at(-1)).toMatchObject({ kind: 'connect' });
    expect(sink.count('pump-0003')).toBe(0);
  });

  it('drops the live sessions of a device when its certificate is revoked', async () => {
    const dev = env.device('monitor-0001');
    // A subscribed mosquitto_sub session (it also gets commands) and an mqtt.js session.
    const sub = background('mosquitto_sub', [
      ...tlsArgs(env, port, dev),
      '-i',
      'watch',
      '-t',
      'devices/monitor-0001/commands',
    ]);
    await until(
      () => events.of('device.connected').some((e) => e.deviceId === 'monitor-0001'),
      5000,
      'sub connected',
    );
    await until(() => ingest.connectedDevices() > 0, 2000);
    await new Promise((r) => setTimeout(r, 200)); // let SUBSCRIBE complete
    await ingest.publishCommand('monitor-0001', Buffer.from('{"cmd":"identify"}'));
    await until(() => sub.output().includes('identify'), 3000, 'command delivered');
    const live = await mqttClient(dev, 'second');
    const clientClosed = new Promise<number>((resolve) => live.once('close', () => resolve(Date.now())));
    const disconnects = () =>
      events.of('device.disconnected').filter((e) => e.deviceId === 'monitor-0001').length;
    const before = disconnects();

    const revokedAt = Date.now();
    identity.revoked.add(dev.serial);
    bus.emit('certificate.revoked', {
      deviceId: 'monitor-0001',
      serial: dev.serial.toUpperCase(),
      reason: 'keyCompromise',
      at: revokedAt,
    });
    await until(() => disconnects() >= before + 2, 1000, 'both sessions dropped within 1 s');
    const serverDropMs = Date.now() - revokedAt;
    const clientSawMs = (await clientClosed) - revokedAt;
    // mosquitto_sub reconnects, is refused (revoked) and exits.
    await Promise.race([exitOf(sub), new Promise((r) => setTimeout(r, 10_000))]);
    sub.kill();
    console.log(
      `revocation → sessions dropped: server ${serverDropMs} ms, mqtt.js client saw close after ${clientSawMs} ms`,
    );
    expect(clientSawMs).toBeLessThan(1000);
    expect(sub.output()).toMatch(/not authori[sz]ed|connection/i);
    expect(refusals('INGEST_CERT_REVOKED').some((e) => e.kind === 'connect')).toBe(true);
  });

  it('drops sessions of a quarantined device and refuses it afterwards', async () => {
    const dev = env.device('monitor-0002');
    const live = await mqttClient(dev);
    const closed = closedWithin(live, 2000);
    identity.quarantined.add('monitor-0002');
    bus.emit('device.changed', { deviceId: 'monitor-0002', change: 'quarantined', at: Date.now() });
    expect(await closed).toBe('closed');
    const r = await pub(dev, 'devices/monitor-0002/telemetry', vitals(1));
    expect(r.code).toBe(5);
    expect(refusals('INGEST_DEVICE_NOT_ACTIVE').length).toBeGreaterThan(0);
    expect(sink.count('monitor-0002')).toBe(0);
  });

  it("closes the connection on a publish to another device's topic, without PUBACK", async () => {
    const dev = env.device('pump-0004');
    const r = await pub(dev, 'devices/pump-0005/telemetry', vitals(1));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
    expect(refusals('INGEST_TOPIC_DENIED').at(-1)).toMatchObject({
      kind: 'publish',
      deviceId: 'pump-0004',
      topic: 'devices/pump-0005/telemetry',
    });
    // Topics outside the contract are refused the same way.
    const c = await mqttClient(dev);
    const closed = closedWithin(c, 3000);
    c.publish('hospital/alarms', vitals(2), { qos: 1 });
    expect(await closed).toBe('closed');
    expect(refusals('INGEST_TOPIC_DENIED').at(-1)).toMatchObject({ topic: 'hospital/alarms' });
    expect(sink.count('pump-0004') + sink.count('pump-0005')).toBe(0);
  });

  it("answers SUBACK 0x80 to a subscription to another device's commands or a wildcard", async () => {
    const dev = env.device('pump-0006');
    for (const topic of ['devices/pump-0007/commands', 'devices/+/telemetry', '#']) {
      const r = await run('mosquitto_sub', [...tlsArgs(env, port, dev), '-t', topic, '-W', '3'], 8000);
      expect(r.stderr).toMatch(/All subscription requests were denied/);
      expect(refusals('INGEST_TOPIC_DENIED').at(-1)).toMatchObject({
        kind: 'subscribe',
        deviceId: 'pump-0006',
        topic,
      });
    }
    // Its own command topic is granted.
    const c = await mqttClient(dev);
    const granted = await c.subscribeAsync('devices/pump-0006/commands', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
  });

  it('refuses an oversize payload (in the PUBLISH handler and before buffering)', async () => {
    const dev = env.device('pump-0008');
    const r = await pub(dev, 'devices/pump-0008/telemetry', `{"pad":"${'x'.repeat(1500)}"}`);
    expect(r.code).not.toBe(0);
    expect(refusals('INGEST_PAYLOAD_TOO_LARGE').at(-1)).toMatchObject({
      kind: 'publish',
      deviceId: 'pump-0008',
    });
    const n = refusals('INGEST_PAYLOAD_TOO_LARGE').length;
    const big = join(env.dir, 'big.json');
    writeFileSync(big, `{"pad":"${'x'.repeat(200_000)}"}`);
    const r2 = await run(
      'mosquitto_pub',
      [...tlsArgs(env, port, dev), '-q', '1', '-t', 'devices/pump-0008/telemetry', '-f', big],
      8000,
    );
    expect(r2.code).not.toBe(0);
    await until(() => refusals('INGEST_PAYLOAD_TOO_LARGE').length > n, 3000, 'guard refusal');
    expect(sink.count('pump-0008')).toBe(0);
  });

  it('refuses invalid JSON and a schema violation without acknowledging them', async () => {
    const dev = env.device('pump-0009');
    const r = await pub(dev, 'devices/pump-0009/telemetry', '{"seq": 1, "observations": [');
    expect(r.code).not.toBe(0);
    expect(refusals('TELEMETRY_INVALID_JSON').at(-1)).toMatchObject({
      kind: 'publish',
      deviceId: 'pump-0009',
    });
    const r2 = await pub(dev, 'devices/pump-0009/telemetry', '{"seq": "one", "observations": []}');
    expect(r2.code).not.toBe(0);
    expect(refusals('TELEMETRY_SCHEMA').at(-1)).toMatchObject({ kind: 'publish', deviceId: 'pump-0009' });
    expect(sink.count('pump-0009')).toBe(0);
  });

  it('refuses a device that exceeds its rate (token bucket: burst 10, 5/s)', async () => {
    const dev = env.device('pump-0010');
    const c = await mqttClient(dev);
    const closed = closedWithin(c, 5000);
    for (let seq = 1; seq <= 40; seq++) c.publish('devices/pump-0010/telemetry', vitals(seq), { qos: 0 });
    expect(await closed).toBe('closed');
    expect(refusals('INGEST_RATE_LIMITED').at(-1)).toMatchObject({ kind: 'publish', deviceId: 'pump-0010' });
    // QoS 0 has no acknowledgement: the burst reaches the sink with the next batch, which may
    // follow the disconnect on a busy machine.
    await until(() => sink.seqs('pump-0010').length >= 10, 3000, 'the burst of 10 stored');
    const stored = sink.seqs('pump-0010');
    expect(stored.length).toBeLessThan(14);
    expect(stored).toEqual(stored.map((_, i) => i + 1));
  });

  it('binds the session to the certificate: the same client id on two devices does not take over', async () => {
    const a = await mqttClient(env.device('bed-0001'), 'same-id');
    const b = await mqttClient(env.device('bed-0002'), 'same-id');
    expect(await closedWithin(a, 300)).toBe('open');
    expect(b.connected).toBe(true);
    await a.publishAsync('devices/bed-0001/events', vitals(1), { qos: 1 });
    await b.publishAsync('devices/bed-0002/events', vitals(1), { qos: 1 });
    expect(sink.count('bed-0001') + sink.count('bed-0002')).toBe(2);
    expect(ingest.connectedDevices()).toBeGreaterThanOrEqual(2);
  });

  it('answers an MQTT 5 CONNECT with "unacceptable protocol version" (Aedes speaks 3.1.1)', async () => {
    const r = await pub(env.device('pump-0011'), 'devices/pump-0011/telemetry', vitals(1), ['-V', 'mqttv5']);
    expect(r.code).not.toBe(0);
    expect(sink.count('pump-0011')).toBe(0);
  });
});

describe('TLS session resumption (mqtt.tlsSessionTickets)', () => {
  /** Connects twice with a device certificate, offering the first connection's session the second time. */
  async function resumed(brokerPort: number): Promise<boolean> {
    const dev = env.device('pump-0099');
    const opts = {
      host: '127.0.0.1',
      port: brokerPort,
      servername: 'localhost',
      ca: env.tls.ca,
      cert: readFileSync(dev.cert),
      key: readFileSync(dev.key),
    };
    const session = await new Promise<Buffer>((resolve, reject) => {
      const s = tlsConnect(opts);
      s.on('error', reject);
      s.once('session', (ticket: Buffer) => {
        s.destroy();
        resolve(ticket);
      });
    });
    return new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({ ...opts, session }, () => {
        resolve(s.isSessionReused());
        s.destroy();
      });
      s.on('error', reject);
    });
  }

  it('resumes with session tickets by default, and does not when they are turned off', async () => {
    expect(await resumed(port)).toBe(true);
    const noTickets = createMqttIngest({
      config: { mqtt: { ...env.config.mqtt, host: '127.0.0.1', port: 0, tlsSessionTickets: false } },
      tls: env.tls,
      identity,
      sink,
      bus: new EventBus(),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const { port: other } = await noTickets.start();
      expect(await resumed(other)).toBe(false);
    } finally {
      await noTickets.stop();
    }
  });
});
