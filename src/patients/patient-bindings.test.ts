import { afterEach, expect, it } from 'vitest';
import { codeOf } from '../keys/key-fixture.js';
import { deviceId, T0, type TelemetryFixture, telemetryFixture } from '../telemetry/test-fixture.js';
import { describeEachDialect } from '../testing/dialects.js';
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
