/** Test fixture: a real alert store and behaviour detector over a migrated store, on a settable clock. */
import { createDeviceService, type DeviceService } from '../devices/index.js';
import { EventBus, type PulsegateEvents } from '../events/index.js';
import { type KeyFixture, keyFixture } from '../keys/key-fixture.js';
import type { TestStore } from '../testing/stores.js';
import type { AlertActor, AlertViewer } from './alert-model.js';
import { AlertStore } from './alert-store.js';
import { HourOfDay } from './baseline.js';
import { BaselineStore } from './baseline-store.js';
import { BehaviourDetector } from './behaviour-detector.js';
import type { NewAlert } from './contracts.js';
import { MemoryDeviceDirectory } from './device-directory.js';
import { loadRules, type MonitorRules, parseRules } from './rules.js';

/** Collects audit events in order (the real log is tested in src/audit). */
export class MemoryAudit {
  readonly events: Array<{
    action: string;
    resource?: { type: string; id?: string };
    reason?: string;
    outcome?: string;
  }> = [];
  async append(event: {
    action: string;
    resource?: { type: string; id?: string };
    reason?: string;
    outcome?: string;
  }) {
    this.events.push(structuredClone(event));
    return { seq: this.events.length };
  }
  of(action: string) {
    return this.events.filter((e) => e.action === action);
  }
}

export const T0 = Date.UTC(2026, 0, 15, 8);
export const ANALYST: AlertActor = {
  id: 'u-analyst',
  name: 'analyst',
  audit: { type: 'user', id: 'u-analyst', name: 'analyst', role: 'security-analyst' },
};
/** A viewer that sees everything but may not read patients (a security analyst). */
export const SECURITY_VIEWER: AlertViewer = {
  mayReadPatient: () => false,
  audit: { type: 'user', id: 'u-analyst', name: 'analyst', role: 'security-analyst' },
};
/** A clinician of one care unit. */
export const clinicianViewer = (unit: string): AlertViewer => ({
  careUnits: [unit],
  mayReadPatient: (careUnit) => careUnit === unit,
  audit: { type: 'user', id: 'u-nurse', name: 'nurse', role: 'clinician' },
});

export interface MonitorFixture {
  f: KeyFixture;
  t: TestStore;
  clock: { ms: number };
  audit: MemoryAudit;
  bus: EventBus;
  alerts: AlertStore;
  devices: DeviceService;
  detector: BehaviourDetector;
  baselines: BaselineStore;
  directory: MemoryDeviceDirectory;
  rules: { current: MonitorRules };
  raised: PulsegateEvents['alert.raised'][];
  updated: PulsegateEvents['alert.updated'][];
  errors: unknown[];
  /** Waits until every raise the detector started has settled. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

export function alert(over: Partial<NewAlert> = {}): NewAlert {
  return {
    category: 'security',
    severity: 'high',
    rule: 'device.flood',
    title: 'Device floods',
    deviceId: 'dev-001',
    careUnit: 'icu',
    evidence: { messages: 900 },
    dedupKey: `device.flood:${over.deviceId ?? 'dev-001'}`,
    at: T0,
    ...over,
  };
}

/** Rules from the shipped file with `patch` applied to its YAML object. */
export function rulesWith(patch: (file: MonitorRules['file']) => void): MonitorRules {
  const base = structuredClone(loadRules().file);
  patch(base);
  return parseRules(JSON.stringify(base), 'test');
}

export async function monitorFixture(
  open: () => Promise<TestStore>,
  options: { devices?: Array<{ id: string; type?: string; careUnit?: string }>; rules?: MonitorRules } = {},
): Promise<MonitorFixture> {
  const f = await keyFixture(open);
  const clock = { ms: T0 };
  const now = () => clock.ms;
  const audit = new MemoryAudit();
  const errors: unknown[] = [];
  const bus = new EventBus((error) => errors.push(error));
  const raised: MonitorFixture['raised'] = [];
  const updated: MonitorFixture['updated'] = [];
  bus.on('alert.raised', (e) => raised.push(e));
  bus.on('alert.updated', (e) => updated.push(e));
  const devices = createDeviceService({ store: f.t.store, audit, now });
  for (const d of options.devices ?? [])
    await devices.create({
      id: d.id,
      type: (d.type ?? 'patient-monitor') as never,
      vendor: 'Acme',
      model: 'M1',
      careUnit: d.careUnit ?? 'icu',
      owner: 'Clinical Engineering',
    });
  const alerts = new AlertStore({
    store: f.t.store,
    keys: f.keys,
    audit,
    bus,
    now,
    incidentWindowMs: 900_000,
    escalateAfterMs: { critical: 300_000, high: 900_000, medium: 3_600_000, low: 0, info: 0 },
    maxEscalationLevel: 3,
  });
  const rules = { current: options.rules ?? loadRules() };
  const baselines = new BaselineStore(f.t.store);
  const directory = new MemoryDeviceDirectory(f.t.store, (e) => errors.push(e));
  await directory.load();
  const pending = new Set<Promise<unknown>>();
  const sink = {
    raise(a: NewAlert) {
      const p = alerts.raise(a);
      pending.add(p);
      void p.finally(() => pending.delete(p)).catch(() => {});
      return p;
    },
  };
  const detector = new BehaviourDetector({
    sink,
    rules: () => rules.current,
    directory,
    hourOfDay: new HourOfDay('UTC'),
    baselines: baselines.profiles,
    dirty: baselines.dirty,
    onError: (e) => errors.push(e),
  });
  const detach = detector.attach(bus);
  return {
    f,
    t: f.t,
    clock,
    audit,
    bus,
    alerts,
    devices,
    detector,
    baselines,
    directory,
    rules,
    raised,
    updated,
    errors,
    async settle() {
      do {
        await detector.idle();
        await Promise.allSettled([...pending]);
      } while (pending.size > 0);
    },
    async cleanup() {
      detach();
      await f.cleanup();
    },
  };
}
