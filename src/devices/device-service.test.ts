/**
 * The inventory service on SQLite and PostgreSQL: create and update with optimistic versions,
 * lifecycle changes a caller may and may not make, reserved ids, and the audit entry and
 * `device.changed` event of each change. Every refusal leaves the stored row unchanged.
 */
import { afterEach, expect, it } from 'vitest';
import { EventBus } from '../events/index.js';
import { describeEachDialect } from '../testing/dialects.js';
import type { TestStore } from '../testing/stores.js';
import { createDeviceService } from './device-service.js';
import type { Lifecycle } from './schemas.js';

const NOW = Date.UTC(2026, 10, 29, 12);

describeEachDialect('devices: inventory service', (open) => {
  let t: TestStore | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  async function inventory() {
    t = await open();
    const audited: Array<{ action: string; resource: { id?: string }; reason?: string }> = [];
    const changed: Array<{ deviceId: string; change: string }> = [];
    const bus = new EventBus();
    bus.on('device.changed', (e) => changed.push(e));
    const devices = createDeviceService({
      store: t.store,
      audit: { append: async (e) => audited.push(e as never) },
      bus,
      now: () => NOW,
    });
    const row = (id: string) =>
      t!.store.db.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'none',
        (e: { code?: string }) => e.code,
      );
    return { devices, audited, changed, row, code };
  }

  it('creates, updates with versions and audits each change', async () => {
    const { devices, audited, changed, row, code } = await inventory();
    const created = await devices.create({
      id: 'mon-1',
      type: 'patient-monitor',
      vendor: 'Acme',
      model: 'M1',
      careUnit: 'ICU',
      macAddress: 'AA-BB-CC-00-11-22',
    });
    expect(created).toMatchObject({ lifecycle: 'registered', certificateStatus: 'none', version: 1 });
    expect(created.macAddress).toBe('aa:bb:cc:00:11:22');
    expect(await code(devices.create({ id: 'mon-1', type: 'other', vendor: 'X', model: 'Y' }))).toBe(
      'DEVICE_EXISTS',
    );

    const moved = await devices.update('mon-1', {
      careUnit: 'CCU',
      bed: '4',
      firmwareVersion: '2.1',
      version: 1,
    });
    expect(moved).toMatchObject({ careUnit: 'CCU', bed: '4', firmwareVersion: '2.1', version: 2 });
    // A stale version is refused and changes nothing.
    expect(await code(devices.update('mon-1', { careUnit: 'ER', version: 1 }))).toBe(
      'DEVICE_VERSION_CONFLICT',
    );
    expect((await row('mon-1'))?.care_unit).toBe('CCU');
    expect(await code(devices.update('nope-1', { bed: '1' }))).toBe('DEVICE_NOT_FOUND');

    expect(audited.map((e) => [e.action, e.resource.id])).toEqual([
      ['device.create', 'mon-1'],
      ['device.update', 'mon-1'],
    ]);
    expect(changed).toEqual([expect.objectContaining({ deviceId: 'mon-1', change: 'updated' })]);
  });

  it('reserves ids starting with pulsegate- for its own certificates', async () => {
    const { devices, row, code } = await inventory();
    for (const id of ['pulsegate-ingest', 'Pulsegate-node-2']) {
      expect(await code(devices.create({ id, type: 'other', vendor: 'X', model: 'Y' }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(await row(id)).toBeUndefined();
    }
  });

  it('allows only the lifecycle changes a caller may make; enrolled and active come from EST and ingest', async () => {
    const { devices, audited, row, code } = await inventory();
    const at = async (id: string, lifecycle: Lifecycle) => {
      await devices.create({ id, type: 'other', vendor: 'X', model: 'Y' });
      await t!.store.db.updateTable('devices').set({ lifecycle }).where('id', '=', id).execute();
    };
    const refused: Array<[Lifecycle, Lifecycle]> = [
      ['registered', 'enrolled'],
      ['registered', 'active'],
      ['enrolled', 'active'],
      ['quarantined', 'active'],
      ['quarantined', 'enrolled'],
      ['retired', 'registered'],
      ['retired', 'active'],
    ];
    for (const [i, [from, to]] of refused.entries()) {
      const id = `dev-refused-${i}`;
      await at(id, from);
      expect(await code(devices.update(id, { lifecycle: to })), `${from} -> ${to}`).toBe(
        'DEVICE_LIFECYCLE_INVALID',
      );
      expect((await row(id))?.lifecycle).toBe(from);
    }
    const allowed: Array<[Lifecycle, Lifecycle]> = [
      ['registered', 'quarantined'],
      ['enrolled', 'registered'],
      ['active', 'quarantined'],
      ['active', 'retired'],
      ['quarantined', 'registered'],
      ['quarantined', 'retired'],
    ];
    for (const [i, [from, to]] of allowed.entries()) {
      const id = `dev-allowed-${i}`;
      await at(id, from);
      expect((await devices.update(id, { lifecycle: to })).lifecycle, `${from} -> ${to}`).toBe(to);
    }
    expect(audited.filter((e) => e.action.startsWith('device.lifecycle.')).map((e) => e.action)).toEqual(
      allowed.map(([, to]) => `device.lifecycle.${to}`),
    );
  });
});
