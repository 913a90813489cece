import { afterEach, expect, it } from 'vitest';
import { codeOf } from '../keys/key-fixture.js';
import { deviceId, T0, type TelemetryFixture, telemetryFixture } from '../telemetry/test-fixture.js';
import { describeEachDialect } from '../testing/dialects.js';
import { storedRows } from '../testing/stored-rows.js';
import { createPatientBindings } from './patient-bindings.js';

const H = 3_600_000;

describeEachDialect('patients: bindings', (open) => {
  let fx: TelemetryFixture | undefined;
  afterEach(async () => {
    await fx?.cleanup();
    fx = undefined;
  });

  it('binds, refuses overlaps, ends, and answers by time and by patient', async () => {
    fx = await telemetryFixture(open);
    const { patients } = fx;
    const dev = deviceId(0);
    const a = await patients.bind(dev, { patientId: 'MRN-A', from: T0, until: T0 + 2 * H });
    expect(a).toMatchObject({ deviceId: dev, from: T0, until: T0 + 2 * H, createdBy: 'system' });
    expect(a.patientIndex).toBe(patients.patientIndex('MRN-A'));
    expect(a).not.toHaveProperty('patientId');
    // Overlaps (inside, around, open-ended) are refused; touching intervals are not.
    expect(await codeOf(patients.bind(dev, { patientId: 'MRN-B', from: T0 + H }))).toBe(
      'PATIENT_BINDING_CONFLICT',
    );
    expect(await codeOf(patients.bind(dev, { patientId: 'MRN-B', from: T0 - H, until: T0 + 3 * H }))).toBe(
      'PATIENT_BINDING_CONFLICT',
    );
    expect(await codeOf(patients.bind(dev, { patientId: 'MRN-B', from: T0 - H }))).toBe(
      'PATIENT_BINDING_CONFLICT',
    );
    const b = await patients.bind(dev, { patientId: 'MRN-B', from: T0 + 2 * H });
    expect(await codeOf(patients.bind(dev, { patientId: 'MRN-C', from: T0 + 10 * H }))).toBe(
      'PATIENT_BINDING_CONFLICT',
    );

    expect((await patients.bindingAt(dev, T0 + H))?.patientId).toBe('MRN-A');
    expect((await patients.bindingAt(dev, T0 + 2 * H))?.patientId).toBe('MRN-B');
    expect(await patients.bindingAt(dev, T0 - 1)).toBeNull();

    const ended = await patients.end(dev, b.id, T0 + 5 * H);
    expect(ended.until).toBe(T0 + 5 * H);
    expect(await patients.bindingAt(dev, T0 + 6 * H)).toBeNull();
    expect(await codeOf(patients.end(dev, b.id, T0 + 6 * H))).toBe('CONFLICT');
    expect(await codeOf(patients.end(deviceId(1), b.id))).toBe('NOT_FOUND');
    await patients.bind(dev, { patientId: 'MRN-C', from: T0 + 10 * H });
    expect(await patients.unbind(dev, T0 + 11 * H)).toMatchObject({ until: T0 + 11 * H });

    await patients.bind(deviceId(1), { patientId: 'MRN-A', from: T0 + 3 * H });
    expect((await patients.devicesForPatient('MRN-A')).map((x) => x.deviceId)).toEqual([dev, deviceId(1)]);
    expect((await patients.devicesForPatient('MRN-A', { from: T0 + 2 * H })).map((x) => x.deviceId)).toEqual([
      deviceId(1),
    ]);
    expect((await patients.list(dev)).map((x) => x.patientId)).toEqual(['MRN-A', 'MRN-B', 'MRN-C']);
    // The identifier is stored sealed; audit entries carry its blind index.
    const raw = await fx.t.store.db.selectFrom('patient_bindings').selectAll().execute();
    expect(raw.some((r) => Buffer.from(r.patient_sealed).includes(Buffer.from('MRN-A')))).toBe(false);
    expect(JSON.stringify(fx.audit.events)).not.toContain('MRN-');
  });

  it('refuses bad identifiers and intervals without echoing them', async () => {
    fx = await telemetryFixture(open);
    for (const patientId of ['', ' MRN-1', 'MRN-1 ', 'MRN\n1', 'x'.repeat(65)]) {
      const error = await fx.patients.bind(deviceId(0), { patientId }).catch((e) => e);
      expect(error.code).toBe('VALIDATION_FAILED');
      if (patientId) expect(JSON.stringify({ ...error, message: error.message })).not.toContain(patientId);
    }
    expect(await codeOf(fx.patients.bind(deviceId(0), { patientId: 'MRN-1', from: T0, until: T0 }))).toBe(
      'VALIDATION_FAILED',
    );
  });

  it('refuses times that are not instants (NaN from a leap second, fractions, out of range) before any write', async () => {
    fx = await telemetryFixture(open);
    const { patients } = fx;
    const dev = deviceId(0);
    const open1 = await patients.bind(dev, { patientId: 'MRN-A', from: T0 });
    const closed = await patients.bind(deviceId(1), { patientId: 'MRN-B', from: T0, until: T0 + H });
    const before = await storedRows(fx.t.store);
    const audited = fx.audit.events.length;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1, T0 + 0.5, 1e20, Date.UTC(10000, 0, 1)]) {
      // Another open-ended binding must never slip past the overlap check as NULL.
      expect(await codeOf(patients.bind(dev, { patientId: 'MRN-C', from: bad })), `from ${bad}`).toBe(
        'VALIDATION_FAILED',
      );
      expect(
        await codeOf(patients.bind(deviceId(2), { patientId: 'MRN-C', from: T0, until: bad })),
        `until ${bad}`,
      ).toBe('VALIDATION_FAILED');
      // An ended binding must not re-open, an open one must not end at no time.
      expect(await codeOf(patients.end(deviceId(1), closed.id, bad)), `end ${bad}`).toBe('VALIDATION_FAILED');
      expect(await codeOf(patients.end(dev, open1.id, bad)), `end ${bad}`).toBe('VALIDATION_FAILED');
      expect(await codeOf(patients.unbind(dev, bad)), `unbind ${bad}`).toBe('VALIDATION_FAILED');
    }
    expect(await storedRows(fx.t.store)).toEqual(before);
    expect(fx.audit.events).toHaveLength(audited);
    patients.invalidate();
    expect((await patients.bindingAt(dev, T0 + 100 * H))?.id).toBe(open1.id);
    expect(await patients.bindingAt(deviceId(1), T0 + 2 * H)).toBeNull();
  });

  it('refuses a clashing binding before a key is touched: no data key for a new patient, no key use reserved', async () => {
    fx = await telemetryFixture(open);
    await fx.patients.bind(deviceId(0), { patientId: 'MRN-A', from: T0 });
    const before = await storedRows(fx.t.store);
    expect(await codeOf(fx.patients.bind(deviceId(0), { patientId: 'MRN-NEW', from: T0 + H }))).toBe(
      'PATIENT_BINDING_CONFLICT',
    );
    expect(await storedRows(fx.t.store)).toEqual(before);
  });

  it('caches lookups and sees other nodes’ changes after the cache period', async () => {
    fx = await telemetryFixture(open);
    const other = createPatientBindings({
      store: fx.t.store,
      keys: fx.f.keys,
      audit: fx.audit,
      now: () => fx!.clock.ms,
    });
    expect(await fx.patients.bindingAt(deviceId(2), T0)).toBeNull();
    await other.bind(deviceId(2), { patientId: 'MRN-Z', from: T0 - H });
    expect(await fx.patients.bindingAt(deviceId(2), T0)).toBeNull();
    fx.clock.ms += 5_000;
    expect((await fx.patients.bindingAt(deviceId(2), T0))?.patientId).toBe('MRN-Z');
  });
});
