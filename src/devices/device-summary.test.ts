import { afterEach, expect, it } from 'vitest';
import { EventBus } from '../events/index.js';
import { FleetMeter } from '../fleet/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { createDeviceService } from './device-service.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 29, 12);

describeEachDialect('devices: fleet summary and list sorting', (open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  async function fleet() {
    t = await open();
    const events: unknown[] = [];
    const devices = createDeviceService({
      store: t.store,
      audit: { append: async (e) => events.push(e) },
      now: () => NOW,
    });
    const plan = [
      ['icu-mon-1', 'patient-monitor', 'ICU'],
      ['icu-mon-2', 'patient-monitor', 'ICU'],
      ['icu-pump-1', 'infusion-pump', 'ICU'],
      ['ccu-mon-1', 'patient-monitor', 'CCU'],
      ['ccu-vent-1', 'ventilator', 'CCU'],
    ] as const;
    for (const [id, type, careUnit] of plan)
      await devices.create({ id, type, vendor: 'Acme', model: 'M', careUnit });
    await devices.update('icu-mon-2', { lifecycle: 'retired' });
    // Certificates: one expiring in 10 days (ICU), one in 200 days, one expired but still valid (CCU),
    // one revoked that would be expiring (not counted).
    const cert = (serial: string, deviceId: string, notAfter: number, status = 'valid') => ({
      serial,
      device_id: deviceId,
      subject: `CN=${deviceId}`,
      not_before: NOW - DAY,
      not_after: notAfter,
      public_key_sha256: `pk-${serial}`,
      fingerprint_sha256: `fp-${serial}`,
      status,
      revoked_at: null,
      revocation_reason: null,
      issued_at: NOW - DAY,
      der: new Uint8Array([1, 2, 3]),
    });
    await t.store.db
      .insertInto('certificates')
      .values([
        cert('01', 'icu-mon-1', NOW + 10 * DAY),
        cert('02', 'icu-pump-1', NOW + 200 * DAY),
        cert('03', 'ccu-mon-1', NOW - DAY),
        cert('04', 'ccu-vent-1', NOW + 5 * DAY, 'revoked'),
      ])
      .execute();
    return devices;
  }

  it('counts devices by type and lifecycle and certificates by expiry, in SQL, within visibility', async () => {
    const devices = await fleet();
    const all = await devices.summary();
    expect(all.total).toBe(5);
    expect(all.byType).toEqual([
      { type: 'infusion-pump', lifecycle: 'registered', count: 1 },
      { type: 'patient-monitor', lifecycle: 'registered', count: 2 },
      { type: 'patient-monitor', lifecycle: 'retired', count: 1 },
      { type: 'ventilator', lifecycle: 'registered', count: 1 },
    ]);
    expect(all.certificates).toEqual({
      expiringSoonDays: 30,
      expiringSoon: 1,
      expired: 1,
      soonest: [{ deviceId: 'icu-mon-1', notAfter: NOW + 10 * DAY }],
    });

    const ccu = await devices.summary({ careUnits: ['CCU'] });
    expect(ccu.total).toBe(2);
    expect(ccu.certificates).toMatchObject({ expiringSoon: 0, expired: 1, soonest: [] });
    const none = await devices.summary({ careUnits: [] });
    expect(none.total).toBe(0);
    expect(await devices.visibleIds({ careUnits: ['ICU'] })).toEqual(
      new Set(['icu-mon-1', 'icu-mon-2', 'icu-pump-1']),
    );
  });

  it('sorts and filters the list on any column, in both directions, with the id breaking ties', async () => {
    const devices = await fleet();
    const ids = async (q: Parameters<typeof devices.list>[0]) =>
      (await devices.list(q)).items.map((d) => d.id);
    expect(await ids({ sort: '-lifecycle' })).toEqual([
      'icu-mon-2',
      'ccu-mon-1',
      'ccu-vent-1',
      'icu-mon-1',
      'icu-pump-1',
    ]);
    expect(await ids({ sort: 'careUnit', limit: 2, offset: 1 })).toEqual(['ccu-vent-1', 'icu-mon-1']);
    expect(await ids({ sort: '-type', certificateStatus: 'none', q: 'icu' })).toEqual([
      'icu-mon-1',
      'icu-mon-2',
      'icu-pump-1',
    ]);
    expect((await devices.list({ lifecycle: 'retired' })).total).toBe(1);
  });
});

it('fleet meter: live sessions and messages per second over complete seconds, per visible device', () => {
  let now = 10_000_500;
  const bus = new EventBus();
  const meter = new FleetMeter(bus, () => now);
  const stored = (deviceId: string) =>
    bus.emit('telemetry.stored', {
      deviceId,
      seq: 1,
      count: 2,
      bytes: 10,
      receivedAt: now,
      source: 'mqtt',
      flagged: 0,
    });
  bus.emit('device.connected', { deviceId: 'a', clientId: 'a', address: null, at: now });
  bus.emit('device.connected', { deviceId: 'b', clientId: 'b', address: null, at: now });
  bus.emit('device.disconnected', { deviceId: 'b', clientId: 'b', reason: 'x', at: now });
  expect(meter.connected()).toBe(1);
  expect(meter.isConnected('a')).toBe(true);
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < 10; i++) stored('a');
    for (let i = 0; i < 5; i++) stored('b');
    now += 1000;
  }
  expect(meter.messagesPerSecond()).toBe(15);
  expect(meter.messagesPerSecond((id) => id === 'b')).toBe(5);
  // The current second does not count until it is over; old seconds fall out of the window.
  for (let i = 0; i < 100; i++) stored('a');
  expect(meter.messagesPerSecond()).toBe(15);
  now += 10_000;
  expect(meter.messagesPerSecond()).toBe(0);
  meter.close();
  stored('a');
  expect(meter.messagesPerSecond()).toBe(0);
});
