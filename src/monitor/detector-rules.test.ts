/**
 * Each static rule of the behaviour detector, on a simulated clock through the real bus into the
 * real alert store: the threshold is exceeded -> one alert with the evidence named; below it, or
 * in the next window, nothing; cooldown and `off` are honoured; a rules reload applies at once.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PulsegateEvents } from '../events/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import { type MonitorFixture, monitorFixture, rulesWith, T0 } from './test-fixture.js';

const DEV = 'rule-dev-1';

describeEachDialect('behaviour detector rules', (open) => {
  let m: MonitorFixture;
  let seq: number;
  beforeEach(async () => {
    m = await monitorFixture(open, {
      devices: [
        { id: DEV, careUnit: 'ICU' },
        { id: 'pump-1', type: 'infusion-pump' },
      ],
    });
    seq = 0;
  });
  afterEach(async () => {
    await m.cleanup();
  });

  const stored = (at: number, over: Partial<PulsegateEvents['telemetry.received']> = {}) =>
    m.bus.emit('telemetry.received', {
      deviceId: DEV,
      seq: seq++,
      count: 1,
      bytes: 120,
      receivedAt: at,
      source: 'mqtt',
      flagged: 0,
      deviceTs: at,
      ...over,
    });
  const alerts = async () => {
    await m.settle();
    return m.t.store.db.selectFrom('alerts').selectAll().orderBy('first_seen_at').execute();
  };
  const evidenceOf = async (rule: string) => {
    const row = (await alerts()).find((a) => a.rule === rule);
    return row ? (JSON.parse(row.evidence!) as Record<string, unknown>) : undefined;
  };

  it('flood and bytes: more messages or bytes in one window than the type allows', async () => {
    for (let i = 0; i < 600; i++) stored(T0 + i * 50);
    expect(await alerts()).toEqual([]);
    stored(T0 + 30_500);
    expect(await evidenceOf('device.flood')).toMatchObject({
      messages: 601,
      threshold: 600,
      windowSeconds: 60,
    });
    // The pump type allows 120 per window.
    for (let i = 0; i < 121; i++)
      m.bus.emit('telemetry.received', {
        deviceId: 'pump-1',
        seq: i,
        count: 1,
        bytes: 9000,
        receivedAt: T0 + i,
        source: 'mqtt',
        flagged: 0,
      });
    const rows = await alerts();
    expect(
      rows
        .filter((a) => a.device_id === 'pump-1')
        .map((a) => a.rule)
        .sort(),
    ).toEqual(['device.bytes', 'device.flood']);
  });

  it('message size over the static maximum, and a refused oversized message', async () => {
    stored(T0, { bytes: 20_000 });
    expect(await evidenceOf('device.message-size')).toMatchObject({ bytes: 20_000, threshold: 16384 });
    m.bus.emit('ingest.refused', {
      kind: 'publish',
      code: 'INGEST_PAYLOAD_TOO_LARGE',
      deviceId: 'pump-1',
      address: '10.1.1.2',
      topic: null,
      at: T0 + 10,
    });
    const refused = (await alerts()).find((a) => a.device_id === 'pump-1');
    expect(refused?.rule).toBe('device.message-size');
    expect(JSON.parse(refused!.evidence!)).toMatchObject({ refused: 'INGEST_PAYLOAD_TOO_LARGE' });
  });

  it('sequence gaps, replays and clock skew', async () => {
    stored(T0, { seq: 10 });
    stored(T0 + 1000, { seq: 40 });
    expect(await alerts()).toEqual([]); // 29 skipped: under 50 per window
    stored(T0 + 2000, { seq: 100 });
    expect(await evidenceOf('device.sequence-gap')).toMatchObject({
      lastSeq: 40,
      seq: 100,
      skippedInWindow: 88,
    });
    for (const s of [100, 99])
      m.bus.emit('telemetry.rejected', {
        deviceId: DEV,
        code: 'TELEMETRY_REPLAY',
        source: 'mqtt',
        receivedAt: T0 + 3000,
        bytes: 120,
        seq: s,
      });
    expect((await alerts()).map((a) => a.rule)).not.toContain('device.replay');
    m.bus.emit('telemetry.rejected', {
      deviceId: DEV,
      code: 'TELEMETRY_REPLAY',
      source: 'mqtt',
      receivedAt: T0 + 3100,
      bytes: 120,
      seq: 12,
    });
    expect(await evidenceOf('device.replay')).toMatchObject({
      replays: 3,
      seqs: [100, 99, 12],
      lastAcceptedSeq: 100,
    });
    stored(T0 + 4000, { seq: 101, deviceTs: T0 + 4000 - 95_000 });
    expect(await evidenceOf('device.clock-skew')).toMatchObject({ skewSeconds: -95, threshold: 60 });
  });

  it('connection attempts, disconnects and refused connects of one identity', async () => {
    for (let i = 0; i < 11; i++) {
      m.bus.emit('device.connected', {
        deviceId: DEV,
        clientId: `c${i}`,
        address: '10.1.1.1',
        at: T0 + i * 1000,
      });
      m.bus.emit('device.disconnected', {
        deviceId: DEV,
        clientId: `c${i}`,
        reason: 'connection lost',
        at: T0 + i * 1000 + 500,
      });
    }
    expect(await evidenceOf('device.connects')).toMatchObject({ connects: 11, threshold: 10 });
    expect(await evidenceOf('device.disconnects')).toMatchObject({
      disconnects: 11,
      lastReason: 'connection lost',
    });
    for (let i = 0; i < 5; i++)
      m.bus.emit('ingest.refused', {
        kind: 'connect',
        code: 'INGEST_DEVICE_NOT_ACTIVE',
        deviceId: DEV,
        address: '10.9.9.9',
        topic: null,
        at: T0 + 20_000 + i,
      });
    expect(await evidenceOf('device.auth-failures')).toMatchObject({
      failures: 5,
      codes: ['INGEST_DEVICE_NOT_ACTIVE'],
      addresses: ['10.9.9.9'],
    });
    expect(await evidenceOf('address.auth-failures')).toMatchObject({ address: '10.9.9.9', failures: 5 });
  });

  it('counts per window: the same total spread over two windows raises nothing', async () => {
    for (let i = 0; i < 500; i++) stored(T0 - (T0 % 60_000) + i * 100); // first window
    for (let i = 0; i < 500; i++) stored(T0 - (T0 % 60_000) + 60_000 + i * 100); // next window
    expect(await alerts()).toEqual([]);
  });

  it('reports once per cooldown, merges repeats, honours `off` and reloads at once', async () => {
    for (let k = 0; k < 3; k++)
      m.bus.emit('ingest.refused', {
        kind: 'publish',
        code: 'INGEST_TOPIC_DENIED',
        deviceId: DEV,
        address: '10.1.1.1',
        topic: `devices/other-${k}/telemetry`,
        at: T0 + k * 1000,
      });
    let rows = await alerts();
    expect(rows.map((a) => [a.rule, Number(a.count)])).toEqual([['device.topic-spoof', 1]]);
    m.bus.emit('ingest.refused', {
      kind: 'publish',
      code: 'INGEST_TOPIC_DENIED',
      deviceId: DEV,
      address: '10.1.1.1',
      topic: 'devices/x/telemetry',
      at: T0 + 301_000,
    });
    rows = await alerts();
    expect(rows.map((a) => [a.rule, Number(a.count)])).toEqual([['device.topic-spoof', 2]]);
    m.rules.current = rulesWith((f) => {
      f.severities['device.message-size'] = 'off';
    });
    stored(T0 + 400_000, { bytes: 50_000 });
    expect((await alerts()).map((a) => a.rule)).toEqual(['device.topic-spoof']);
  });
});
