import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import { describeEachDialect } from '../testing/dialects.js';
import { restartSequenceIn } from './ingest-writer.js';
import {
  deviceId,
  message,
  obs,
  payload,
  snapshot,
  T0,
  type TelemetryFixture,
  telemetryFixture,
  vitals,
} from './test-fixture.js';

describeEachDialect('telemetry: ingest and read back', (open) => {
  let fx: TelemetryFixture | undefined;
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });

  it('stores valid messages durably and reads them back decrypted, converted and flagged', async () => {
    fx = await telemetryFixture(open);
    const dev = deviceId(0);
    const [first, second] = await fx.telemetry.ingest([
      message(dev, payload(1, vitals(72, 97), T0 - 60_000)),
      message(
        dev,
        payload(
          2,
          [
            obs('MDC', 'MDC_PULS_OXIM_SAT_O2', 45, '%'), // implausible, stored and flagged
            obs('MDC', '150364', 98.6, '[degF]'),
            obs('MDC', '150021', 16, 'kPa'),
            obs('LOINC', '2339-0', 5.5, 'mmol/L', new Date(T0 - 30_000).toISOString()),
          ],
          T0,
          { alarms: [{ code: '196648', priority: 'high', kind: 'physiological' }] },
        ),
      ),
    ]);
    expect(first).toEqual({ ok: true, stored: 4, flagged: 0 });
    expect(second).toEqual({ ok: true, stored: 4, flagged: 1 });
    expect(fx.events.stored.map((e) => [e.deviceId, e.seq, e.count, e.flagged])).toEqual([
      [dev, 1, 4, 0],
      [dev, 2, 4, 1],
    ]);

    const page = await fx.telemetry.readDevice(dev, {});
    expect(page.observations).toHaveLength(8);
    const newest = page.observations.filter((o) => o.seq === 2);
    const spo2 = newest.find((o) => o.kind === 'spo2')!;
    expect(spo2).toMatchObject({
      value: 45,
      unit: '%',
      flags: ['implausible'],
      code: { system: 'MDC', code: '150456' },
    });
    expect(newest.find((o) => o.kind === 'body-temp')!.value).toBeCloseTo(37, 6);
    expect(newest.find((o) => o.kind === 'nibp-systolic')!.value).toBeCloseTo(120.01, 2);
    const glucose = newest.find((o) => o.kind === 'glucose')!;
    expect(glucose.value).toBeCloseTo(99.09, 2);
    expect(glucose.time).toBe(new Date(T0 - 30_000).toISOString());
    expect(page.alarms).toEqual([
      {
        deviceId: dev,
        seq: 2,
        time: new Date(T0).toISOString(),
        code: '196648',
        priority: 'high',
        kind: 'physiological',
      },
    ]);

    const onlyHr = await fx.telemetry.readDevice(dev, { code: 'MDC|147842' });
    expect(onlyHr.observations.map((o) => o.value)).toEqual([72]);
    const window = await fx.telemetry.readDevice(dev, { from: T0 - 1000, to: T0 + 1000, code: 'spo2' });
    expect(window.observations.map((o) => o.value)).toEqual([45]);
    const last = await fx.t.store.db
      .selectFrom('devices')
      .select('last_seen_at')
      .where('id', '=', dev)
      .executeTakeFirstOrThrow();
    expect(Number(last.last_seen_at)).toBe(T0);
  });

  const refusals: Array<[string, () => Buffer | object]> = [
    ['TELEMETRY_INVALID_JSON', () => Buffer.from('{"seq": 1, "ts": ')],
    ['TELEMETRY_SCHEMA', () => ({ ...payload(5), extra: true })],
    ['TELEMETRY_SCHEMA', () => payload(5, [])],
    ['TELEMETRY_SCHEMA', () => ({ ...payload(5), seq: 2 ** 32 })],
    ['TELEMETRY_UNKNOWN_CODE', () => payload(5, [obs('MDC', '999999', 1, '/min')])],
    ['TELEMETRY_UNIT_MISMATCH', () => payload(5, [obs('MDC', '150456', 97, 'mm[Hg]')])],
    ['TELEMETRY_IMPOSSIBLE_VALUE', () => payload(5, [...vitals(), obs('MDC', '150456', 101, '%')])],
    ['TELEMETRY_IMPOSSIBLE_VALUE', () => payload(5, [obs('MDC', '147842', 351, '/min')])],
    ['TELEMETRY_REPLAY', () => payload(3)],
    ['TELEMETRY_REPLAY', () => payload(4)],
    ['TELEMETRY_CLOCK_SKEW', () => payload(5, vitals(), T0 + 301_000)],
    ['TELEMETRY_CLOCK_SKEW', () => payload(5, vitals(), T0 - 3_600_000)],
  ];

  it('refuses every bad message class with its code, stores nothing and reports it', async () => {
    fx = await telemetryFixture(open);
    const dev = deviceId(1);
    await fx.telemetry.ingest([message(dev, payload(3)), message(dev, payload(4))]);
    const before = await snapshot(fx);
    for (const [code, body] of refusals) {
      const rejectedBefore = fx.events.rejected.length;
      const [outcome] = await fx.telemetry.ingest([message(dev, body())]);
      expect(outcome, code).toMatchObject({ ok: false, code });
      expect(fx.events.rejected.slice(rejectedBefore)).toEqual([
        expect.objectContaining({ deviceId: dev, code, source: 'mqtt' }),
      ]);
      expect(await snapshot(fx)).toEqual(before);
    }
    // Schema refusals point at fields, never at values.
    const [schema] = await fx.telemetry.ingest([
      message(dev, payload(9, [{ code: { system: 'MDC', code: '150456' }, value: 'MRN-123', unit: '%' }])),
    ]);
    expect(schema).toMatchObject({ ok: false, code: 'TELEMETRY_SCHEMA' });
    expect((schema as { detail: string }).detail).toContain('/observations/0/value');
    expect((schema as { detail: string }).detail).not.toContain('MRN-123');
  });

  it('group-commits 500 concurrent calls, each resolved, and enforces increasing seq per device', async () => {
    fx = await telemetryFixture(open, { devices: 5, maxBatch: 128 });
    const calls = Array.from({ length: 500 }, (_, i) =>
      fx!.telemetry.ingest([message(deviceId(i % 5), payload(Math.floor(i / 5) + 1))]),
    );
    const outcomes = (await Promise.all(calls)).flat();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect((await snapshot(fx)).readings).toBe(500);
    const state = await fx.t.store.db
      .selectFrom('device_ingest_state')
      .selectAll()
      .orderBy('device_id')
      .execute();
    expect(state.map((s) => Number(s.last_seq))).toEqual([100, 100, 100, 100, 100]);
    // Per device, the stored sequence numbers are exactly 1..100.
    for (let d = 0; d < 5; d++) {
      const seqs = await fx.t.store.db
        .selectFrom('telemetry_readings')
        .select('seq')
        .where('device_id', '=', deviceId(d))
        .orderBy('seq')
        .execute();
      expect(seqs.map((s) => Number(s.seq))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    }
    // Within one call and across calls: repeats and regressions are refused, gaps are allowed.
    const mixed = await fx.telemetry.ingest([
      message(deviceId(0), payload(100)),
      message(deviceId(0), payload(102)),
      message(deviceId(0), payload(101)),
      message(deviceId(0), payload(102)),
      message(deviceId(0), payload(103)),
    ]);
    expect(mixed.map((o) => (o.ok ? 'ok' : o.code))).toEqual([
      'TELEMETRY_REPLAY',
      'ok',
      'TELEMETRY_REPLAY',
      'TELEMETRY_REPLAY',
      'ok',
    ]);
  });

  it("restarts a device's sequence numbers when it enrolls afresh, not on a renewal", async () => {
    fx = await telemetryFixture(open);
    const dev = deviceId(3);
    expect((await fx.telemetry.ingest([message(dev, payload(41))]))[0]!.ok).toBe(true);
    // A reboot that lost the counter is a replay until the device enrolls again.
    expect(await fx.telemetry.ingest([message(dev, payload(1))])).toEqual([
      expect.objectContaining({ ok: false, code: 'TELEMETRY_REPLAY' }),
    ]);
    fx.bus.emit('device.changed', { deviceId: dev, change: 'lifecycle.active', at: Date.now() });
    await fx.telemetry.flush();
    expect((await fx.telemetry.ingest([message(dev, payload(2))]))[0]).toMatchObject({ ok: false });
    // The PKI's enrollment transaction deletes the stored count; its announcement clears the cache.
    await restartSequenceIn(fx.t.store.db, dev);
    fx.bus.emit('device.changed', { deviceId: dev, change: 'lifecycle.enrolled', at: Date.now() });
    expect((await fx.telemetry.ingest([message(dev, payload(1))]))[0]!.ok).toBe(true);
    const seqs = await fx.t.store.db
      .selectFrom('telemetry_readings')
      .select('seq')
      .where('device_id', '=', dev)
      .orderBy('seq')
      .execute();
    expect(seqs.map((r) => Number(r.seq))).toEqual([1, 41]);
  });

  it('enforces replay protection from the database, not only this process (a second node)', async () => {
    fx = await telemetryFixture(open);
    const other = await fx.reopen();
    const dev = deviceId(2);
    expect((await fx.telemetry.ingest([message(dev, payload(10))]))[0]!.ok).toBe(true);
    const [again] = await other.ingest([message(dev, payload(10))]);
    expect(again).toMatchObject({ ok: false, code: 'TELEMETRY_REPLAY' });
    expect((await other.ingest([message(dev, payload(11))]))[0]!.ok).toBe(true);
    expect(await fx.telemetry.ingest([message(dev, payload(11))])).toEqual([
      { ok: false, code: 'TELEMETRY_REPLAY' },
    ]);
  });

  it('attaches data of a bound device to the patient and keeps unbound data under the device scope', async () => {
    fx = await telemetryFixture(open);
    const [bound, unbound] = [deviceId(0), deviceId(1)];
    await fx.patients.bind(bound, { patientId: 'MRN-000123', from: T0 - 3_600_000 });
    await fx.telemetry.ingest([message(bound, payload(1)), message(unbound, payload(1))]);
    const index = fx.patients.patientIndex('MRN-000123');
    const rows = await fx.t.store.db
      .selectFrom('telemetry_readings')
      .select(['device_id', 'patient_index'])
      .orderBy('device_id')
      .execute();
    expect(rows).toEqual([
      { device_id: bound, patient_index: index },
      { device_id: unbound, patient_index: null },
    ]);
    const keys = await fx.t.store.db
      .selectFrom('data_keys')
      .select(['subject', 'period'])
      .where('purpose', '=', 'telemetry')
      .orderBy('subject')
      .execute();
    expect(keys.map((k) => `${k.subject} ${k.period}`).sort()).toEqual(
      [`device:${unbound} 2026-01`, `${index} 2026-01`].sort(),
    );
    const page = await fx.telemetry.readPatient(index, [bound], {});
    expect(page.observations).toHaveLength(4);
    expect(page.observations.every((o) => o.deviceId === bound)).toBe(true);
    expect((await fx.telemetry.readPatient(index, [unbound], {})).observations).toEqual([]);
  });

  it('never crashes on arbitrary bytes or JSON and stores nothing unless the message is valid', async () => {
    fx = await telemetryFixture(open);
    const dev = deviceId(0);
    let seq = 0;
    const arbitrary = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.json().map((j) => Buffer.from(j)),
      fc
        .record({
          seq: fc.oneof(fc.integer({ min: -5, max: 2 ** 33 }), fc.string()),
          ts: fc.oneof(fc.constant(new Date(T0).toISOString()), fc.string()),
          observations: fc.array(
            fc.record({
              code: fc.record({
                system: fc.constantFrom('MDC', 'LOINC', 'X'),
                code: fc.constantFrom('150456', '8867-4', '1'),
              }),
              value: fc.double({ noNaN: true, noDefaultInfinity: true }),
              unit: fc.constantFrom('%', '/min', 'Cel', ''),
            }),
            { maxLength: 3 },
          ),
        })
        .map((r) => Buffer.from(JSON.stringify(r))),
    );
    await fc.assert(
      fc.asyncProperty(arbitrary, async (bytes) => {
        const before = await snapshot(fx!);
        const [outcome] = await fx!.telemetry.ingest([message(dev, bytes)]);
        const after = await snapshot(fx!);
        if (outcome!.ok) {
          expect(after.readings).toBe(before.readings + 1);
          seq++;
        } else {
          expect(outcome!.code).toMatch(/^TELEMETRY_/);
          expect(after).toEqual(before);
        }
      }),
      { numRuns: 150 },
    );
    expect(fx.events.stored.length).toBe(seq);
  });

  it("answers one sender's receipt lookups even when another sender's fail in the same tick", async () => {
    fx = await telemetryFixture(open);
    // PostgreSQL text refuses NUL, so that lookup fails there (SQLite answers it): either way the
    // other sender's lookup, made in the same tick, is answered.
    const [bad, good] = await Promise.allSettled([
      fx.telemetry.receiptHeld('gw-a', 'id\u0000x'),
      fx.telemetry.receiptHeld('gw-b', 'MSG-1'),
    ]);
    expect(good).toEqual({ status: 'fulfilled', value: false });
    expect(['fulfilled', 'rejected']).toContain(bad.status);
  });

  it('delivers every stored message to observers in commit order, with its place, whether the place was cached or read', async () => {
    fx = await telemetryFixture(open, { devices: 3 });
    const seen: Array<[string, number, string | null]> = [];
    fx.telemetry.observeStored((s) => seen.push([s.deviceId, s.seq, s.careUnit]));
    // Device 0's place becomes cached; devices 1 and 2 are read from the inventory in the batch.
    await fx.telemetry.ingest([message(deviceId(0), payload(1))]);
    await fx.telemetry.flush();
    const batch = [
      [0, 2],
      [1, 1],
      [0, 3],
      [2, 1],
      [0, 4],
      [1, 2],
    ] as const;
    const outcomes = await fx.telemetry.ingest(batch.map(([d, seq]) => message(deviceId(d), payload(seq))));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    await fx.telemetry.flush();
    const unitOf = async (d: number) => (await fx!.devices.getRow(deviceId(d))).care_unit;
    expect(seen).toEqual([
      [deviceId(0), 1, await unitOf(0)],
      ...(await Promise.all(batch.map(async ([d, seq]) => [deviceId(d), seq, await unitOf(d)]))),
    ]);
  });
});
