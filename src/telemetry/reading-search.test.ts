import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import { ENTERED_SEQ_BASE } from './attributed-write.js';
import {
  deviceId,
  message,
  payload,
  snapshot,
  T0,
  type TelemetryFixture,
  telemetryFixture,
} from './test-fixture.js';

const hr = (v: number) => [{ code: { system: 'MDC', code: '147842' }, value: v, unit: '/min' }];
const spo2 = [{ code: { system: 'MDC', code: '150456' }, value: 97, unit: '%' }];

describeEachDialect('telemetry reading search and entered readings', (open) => {
  let fx: TelemetryFixture;
  let index: string;

  beforeEach(async () => {
    fx = await telemetryFixture(open);
    await fx.patients.bind(deviceId(0), { patientId: 'MRN-SEARCH-1', from: T0 - 3_600_000 });
    index = fx.patients.patientIndex('MRN-SEARCH-1');
    const msgs = [];
    for (let i = 0; i < 6; i++)
      msgs.push(message(deviceId(0), payload(i + 1, i % 2 ? spo2 : hr(60 + i), T0 - (6 - i) * 1000)));
    for (let i = 0; i < 3; i++)
      msgs.push(message(deviceId(1), payload(i + 1, hr(80 + i), T0 - (3 - i) * 1000)));
    expect((await fx.telemetry.ingest(msgs)).every((o) => o.ok)).toBe(true);
  });
  afterEach(async () => fx.cleanup());

  it('finds readings by patient, kind, time and care unit, newest first, resumable at a row', async () => {
    const all = await fx.telemetry.search({ patientIndex: index, order: 'desc', limit: 100 });
    expect(all.map((r) => r.seq)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(all[0]!.patientId).toBe('MRN-SEARCH-1');
    const kinds = await fx.telemetry.search({
      patientIndex: index,
      kinds: ['spo2'],
      order: 'asc',
      limit: 100,
    });
    expect(kinds.map((r) => r.seq)).toEqual([2, 4, 6]);
    const window = await fx.telemetry.search({
      patientIndex: index,
      from: T0 - 4000,
      to: T0 - 1000,
      order: 'asc',
      limit: 100,
    });
    expect(window.map((r) => r.seq)).toEqual([3, 4, 5]);
    const page1 = await fx.telemetry.search({ patientIndex: index, order: 'desc', limit: 2 });
    const last = page1[1]!;
    const page2 = await fx.telemetry.search({
      patientIndex: index,
      order: 'desc',
      limit: 2,
      at: { observedAt: last.observedAt, deviceId: last.deviceId, seq: last.seq },
    });
    expect(page2.map((r) => r.seq)).toEqual([5, 4]); // the resume row is included
    const ward = await fx.telemetry.search({ careUnits: ['ward-3'], order: 'desc', limit: 100 });
    expect(new Set(ward.map((r) => r.deviceId))).toEqual(new Set([deviceId(1)]));
    expect(await fx.telemetry.search({ careUnits: [], order: 'desc', limit: 100 })).toEqual([]);
    const one = await fx.telemetry.readOne({ deviceId: deviceId(0), observedAt: T0 - 6000, seq: 1 });
    expect(one?.observations[0]?.value).toBe(60);
  });

  it('keeps the care unit each reading was stored in: a moved device takes its earlier readings nowhere', async () => {
    // Device 0 took six readings in the ICU (beforeEach); a second ago it moved to ward-3 and went on.
    fx.clock.ms = T0 - 1000;
    await fx.devices.update(deviceId(0), { careUnit: 'ward-3' });
    fx.clock.ms = T0;
    const [later] = await fx.telemetry.ingest([message(deviceId(0), payload(7, hr(70), T0))]);
    expect(later).toMatchObject({ ok: true });
    const entered = await fx.telemetry.enter({
      deviceId: deviceId(0),
      patientIndex: index,
      patientId: 'MRN-SEARCH-1',
      enteredBy: 'ehr-client',
      ts: T0 - 500,
      observations: [{ system: 'LOINC', code: '8867-4', value: 71, unit: '/min' }],
    });
    expect(entered.careUnit).toBe('ward-3');
    const stored = await fx.t.store.db
      .selectFrom('telemetry_readings')
      .select(['seq', 'care_unit'])
      .where('device_id', '=', deviceId(0))
      .orderBy('observed_at')
      .execute();
    expect(stored.map((r) => r.care_unit)).toEqual([...Array(6).fill('icu'), 'ward-3', 'ward-3']);

    const ward = await fx.telemetry.search({
      patientIndex: index,
      careUnits: ['ward-3'],
      order: 'desc',
      limit: 100,
    });
    expect(ward.map((r) => [r.seq, r.careUnit])).toEqual([
      [7, 'ward-3'],
      [entered.seq, 'ward-3'],
    ]);
    // Still in the ICU's history, but the device is no longer there: the ICU sees none of it.
    expect(
      await fx.telemetry.search({ patientIndex: index, careUnits: ['icu'], order: 'desc', limit: 100 }),
    ).toEqual([]);
    const everything = await fx.telemetry.search({ patientIndex: index, order: 'desc', limit: 100 });
    expect(everything).toHaveLength(8);
    expect(
      (await fx.telemetry.readOne({ deviceId: deviceId(0), observedAt: T0 - 6000, seq: 1 }))?.careUnit,
    ).toBe('icu');
    // The device route's reader filters the same way.
    const page = await fx.telemetry.readDevice(deviceId(0), { careUnits: ['ward-3'] });
    expect(page.observations.map((o) => o.value)).toEqual([70, 71]);
    expect((await fx.telemetry.readDevice(deviceId(0), {})).observations).toHaveLength(8);
    expect((await fx.telemetry.readDevice(deviceId(0), { careUnits: [] })).observations).toEqual([]);
  });

  it('stores an entered reading attributed to its client, above the device sequence space, and refuses bad values storing nothing', async () => {
    const stored = await fx.telemetry.enter({
      deviceId: deviceId(0),
      patientIndex: index,
      patientId: 'MRN-SEARCH-1',
      enteredBy: 'ehr-client',
      ts: T0 - 86_400_000,
      observations: [{ system: 'LOINC', code: '8310-5', value: 98.6, unit: '[degF]' }],
    });
    expect(stored.seq).toBeGreaterThanOrEqual(ENTERED_SEQ_BASE);
    expect(stored.observations[0]).toMatchObject({ unit: 'Cel', value: 37 });
    const back = await fx.telemetry.readOne({
      deviceId: deviceId(0),
      observedAt: stored.observedAt,
      seq: stored.seq,
    });
    expect(back?.enteredBy).toBe('ehr-client');
    // The device's own sequence goes on as before.
    const [next] = await fx.telemetry.ingest([message(deviceId(0), payload(7, hr(70), T0))]);
    expect(next).toMatchObject({ ok: true });
    const before = await snapshot(fx);
    const enter = (o: object) =>
      fx.telemetry.enter({
        deviceId: deviceId(0),
        patientIndex: index,
        patientId: 'MRN-SEARCH-1',
        enteredBy: 'ehr-client',
        ts: T0,
        observations: [{ system: 'LOINC', code: '8867-4', value: 70, unit: '/min', ...o }],
      });
    await expect(enter({ value: 999 })).rejects.toMatchObject({ code: 'TELEMETRY_IMPOSSIBLE_VALUE' });
    await expect(enter({ unit: 'kg' })).rejects.toMatchObject({ code: 'TELEMETRY_UNIT_MISMATCH' });
    await expect(enter({ code: '0000-0' })).rejects.toMatchObject({ code: 'TELEMETRY_UNKNOWN_CODE' });
    expect(await snapshot(fx)).toEqual(before);
  });
});
