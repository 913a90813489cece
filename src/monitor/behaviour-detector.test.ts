/**
 * Behaviour detection on a simulated clock, through the real bus into the real alert store on
 * every dialect: a normal ward for 10 simulated hours raises nothing; learned hour-of-day
 * baselines catch off-hours activity and rate deviations; baselines persist in batches.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PulsegateEvents } from '../events/index.js';
import { wardDevices, wardTraffic } from '../sim/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import { BaselineStore } from './baseline-store.js';
import { type MonitorFixture, monitorFixture, rulesWith } from './test-fixture.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 2, 2, 6, 17); // a Monday morning, mid-hour
const WARD = { devices: 30, prefix: 'ward', careUnits: ['ICU', 'CCU', 'WARD-3'] };

describeEachDialect('behaviour detection on a simulated clock', (open) => {
  let m: MonitorFixture;
  beforeEach(async () => {
    m = await monitorFixture(open, {
      devices: [
        ...wardDevices(WARD).map((d) => ({ id: d.id, type: d.type, careUnit: d.careUnit })),
        { id: 'day-shift-pump', type: 'infusion-pump' },
      ],
    });
  });
  afterEach(async () => {
    await m.cleanup();
  });

  const replay = async (hours: number, warmupHours: number) => {
    m.rules.current = rulesWith((f) => {
      f.baseline.warmupHours = warmupHours;
      f.baseline.addressWarmupHours = Math.min(warmupHours, 1);
    });
    let events = 0;
    for (const e of wardTraffic({ ...WARD, start: START, hours, intervalMs: 5000, seed: 11 })) {
      m.bus.emit(e.name, e.payload as never);
      events++;
    }
    await m.settle();
    return events;
  };

  it('raises no security alert for a normal ward running 10 simulated hours (shipped warm-up)', async () => {
    const events = await replay(10, 72);
    const alerts = await m.t.store.db.selectFrom('alerts').select(['rule', 'device_id']).execute();
    console.log(
      `normal ward, 10 simulated hours, ${events} events, shipped rules: false positives = ${alerts.length}`,
    );
    expect(alerts).toEqual([]);
    expect(m.errors).toEqual([]);
  });

  it('raises no security alert for the same ward when baselines judge after a 2-hour warm-up', async () => {
    const events = await replay(10, 2);
    const alerts = await m.t.store.db.selectFrom('alerts').select(['rule', 'device_id']).execute();
    console.log(
      `normal ward, 10 simulated hours, ${events} events, 2 h warm-up: false positives = ${alerts.length}`,
    );
    expect(alerts).toEqual([]);
    // The baselines did learn: every device folded its hours, and they persist in one batch.
    const p = m.baselines.profiles.get(wardDevices(WARD)[0]!.id)!;
    expect(p.hours).toBeGreaterThanOrEqual(8);
    expect(p.sizeN).toBeGreaterThan(7000);
    expect(await m.baselines.flush(START + 10 * HOUR)).toBe(30);
    const reloaded = new BaselineStore(m.t.store);
    expect(await reloaded.load()).toBe(30);
    expect(reloaded.profiles.get(wardDevices(WARD)[0]!.id)).toEqual(p);
  });

  it('learns a day-shift profile over simulated days and flags activity at night', async () => {
    m.rules.current = rulesWith((f) => {
      f.baseline.warmupHours = 48;
    });
    const id = 'day-shift-pump';
    let seq = 0;
    const send = (t: number) =>
      m.bus.emit('telemetry.received', {
        deviceId: id,
        seq: seq++,
        count: 2,
        bytes: 120,
        receivedAt: t,
        source: 'mqtt',
        flagged: 0,
        deviceTs: t,
      } satisfies PulsegateEvents['telemetry.received']);
    const day0 = Date.UTC(2026, 2, 2);
    // Four days: busy 08:00-18:00 (one message a minute), silent at night.
    for (let d = 0; d < 4; d++)
      for (let h = 8; h < 18; h++)
        for (let k = 0; k < 60; k++) send(day0 + d * 24 * HOUR + h * HOUR + k * 60_000);
    await m.settle();
    expect(await m.t.store.db.selectFrom('alerts').select('rule').execute()).toEqual([]);
    // Day five, 03:00: the pump starts talking.
    const night = day0 + 4 * 24 * HOUR + 3 * HOUR;
    for (let k = 0; k < 6; k++) send(night + k * 10_000);
    await m.settle();
    const alerts = await m.t.store.db.selectFrom('alerts').selectAll().execute();
    expect(alerts.map((a) => a.rule)).toEqual(['device.off-hours']);
    expect(JSON.parse(alerts[0]!.evidence!)).toMatchObject({
      deviceId: id,
      hourOfDay: 3,
      messagesThisHour: 5,
      expected: 0,
    });
    // Ten times the usual daytime rate (yet under the pump's static per-minute limit) is a deviation.
    const noon = day0 + 4 * 24 * HOUR + 12 * HOUR;
    for (let k = 0; k < 1000; k++) send(noon + k * 600);
    await m.settle();
    const rules = (await m.t.store.db.selectFrom('alerts').select('rule').execute())
      .map((a) => a.rule)
      .sort();
    expect(rules).toEqual(['device.off-hours', 'device.rate-deviation']);
  });
  it('names the care unit of a device enrolled after the directory loaded (raised before its refresh)', async () => {
    // Created without a bus event: the in-memory directory has not heard of it yet.
    await m.devices.create({
      id: 'late-mon',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'CCU',
    });
    expect(m.directory.info('late-mon').careUnit).toBeNull();
    const t = START;
    for (const topic of ['devices/ward-icu-001/telemetry', 'devices/ward-icu-002/telemetry'])
      m.bus.emit('ingest.refused', {
        kind: 'publish',
        code: 'INGEST_TOPIC_DENIED',
        deviceId: 'late-mon',
        address: '127.0.0.1',
        topic,
        at: t,
      });
    await m.settle();
    const alerts = await m.t.store.db
      .selectFrom('alerts')
      .select(['rule', 'device_id', 'care_unit'])
      .execute();
    expect(alerts).toEqual([{ rule: 'device.topic-spoof', device_id: 'late-mon', care_unit: 'CCU' }]);
    expect(m.raised.map((e) => e.careUnit)).toEqual(['CCU']);
    expect(m.errors).toEqual([]);
  });
});
