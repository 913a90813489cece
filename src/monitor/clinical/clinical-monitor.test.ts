/**
 * Clinical monitoring over real telemetry (SQLite and PostgreSQL): messages are ingested, stored,
 * observed after the commit, and alerts reach a recording AlertSink (the durable alert store is
 * tested by its own capability; the end-to-end path through it is written at merge).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  deviceId,
  message,
  obs,
  payload,
  T0,
  type TelemetryFixture,
  telemetryFixture,
} from '../../telemetry/test-fixture.js';
import { describeEachDialect } from '../../testing/dialects.js';
import type { AlertSink, NewAlert, RaiseResult } from '../contracts.js';
import {
  byAcuity,
  type ClinicalMonitor,
  createClinicalMonitor,
  type TriageItem,
} from './clinical-monitor.js';
import { LimitTable } from './limits.js';
import { createPatientSettings } from './patient-settings.js';

class RecordingSink implements AlertSink {
  readonly alerts: NewAlert[] = [];
  async raise(alert: NewAlert): Promise<RaiseResult> {
    this.alerts.push(structuredClone(alert));
    return { outcome: 'created', alertId: `a${this.alerts.length}` };
  }
  of(rule: string) {
    return this.alerts.filter((a) => a.rule === rule);
  }
}

const MIN = 60_000;
const CONFIG = {
  vitalsMaxAgeMinutes: 60,
  news2AlertLevel: 'low-medium' as const,
  trendIntervalMinutes: 15,
  signalLossSeconds: 120,
  realertSeconds: 60,
};

/** A full NEWS2 observation set (LOINC/MDC as devices send it). */
function news2Set(v: {
  rr: number;
  spo2: number;
  o2: number;
  sbp: number;
  hr: number;
  acvpu: number;
  temp: number;
}) {
  return [
    obs('LOINC', '9279-1', v.rr, '/min'),
    obs('MDC', '150456', v.spo2, '%'),
    obs('LOINC', '3151-8', v.o2, 'L/min'),
    obs('MDC', '150021', v.sbp, 'mm[Hg]'),
    obs('MDC', '149530', v.hr, '/min'),
    obs('LOINC', '67775-7', v.acvpu, '{score}'),
    obs('MDC', '150364', v.temp, 'Cel'),
  ];
}
const NORMAL = { rr: 16, spo2: 97, o2: 0, sbp: 125, hr: 72, acvpu: 0, temp: 37 };

describeEachDialect('clinical monitoring', (open) => {
  let fx: TelemetryFixture | undefined;
  let monitor: ClinicalMonitor | undefined;
  afterEach(async () => {
    monitor?.stop();
    monitor = undefined;
    await fx?.cleanup();
    fx = undefined;
  });

  async function setup(limits = {}) {
    fx = await telemetryFixture(open, { devices: 4 });
    const sink = new RecordingSink();
    const settings = createPatientSettings({ store: fx.t.store, now: () => fx!.clock.ms });
    monitor = createClinicalMonitor({
      telemetry: fx.telemetry,
      sink,
      settings,
      limits: new LimitTable(limits),
      config: CONFIG,
      now: () => fx!.clock.ms,
    });
    let seq = 0;
    const send = async (device: string, observations: unknown[], at = fx!.clock.ms, extra: object = {}) => {
      const [r] = await fx!.telemetry.ingest([message(device, payload(++seq, observations, at, extra), at)]);
      expect(r?.ok).toBe(true);
      await fx!.telemetry.flush();
      await monitor!.idle();
    };
    return { fx, sink, settings, monitor, send };
  }

  it('scores a new patient from their messages in order even while their settings are still being read', async () => {
    fx = await telemetryFixture(open, { devices: 4 });
    const settings = createPatientSettings({ store: fx.t.store, now: () => fx!.clock.ms });
    // The first read of a patient's settings is slow, later ones are not: a message checked out of
    // order would score the patient from the older vitals.
    let reads = 0;
    const slowFirst = {
      ...settings,
      spo2Scale: async (index: string) => {
        if (reads++ === 0) await new Promise((r) => setTimeout(r, 80));
        return settings.spo2Scale(index);
      },
    };
    monitor = createClinicalMonitor({
      telemetry: fx.telemetry,
      sink: new RecordingSink(),
      settings: slowFirst,
      limits: new LimitTable({}),
      config: CONFIG,
      now: () => fx!.clock.ms,
    });
    const dev = deviceId(1);
    await fx.patients.bind(dev, { patientId: 'MRN-N', from: T0 - 60 * MIN });
    const worse = { ...NORMAL, rr: 26, spo2: 90, sbp: 95, hr: 125 };
    const outcomes = await fx.telemetry.ingest([
      // The same time: the later message is the device's correction, and the one that counts.
      message(dev, payload(1, news2Set(NORMAL), T0), T0),
      message(dev, payload(2, news2Set(worse), T0), T0),
    ]);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    await fx.telemetry.flush();
    await monitor.idle();
    // Past the slow read too, so that a message checked late would have had its say.
    await new Promise((r) => setTimeout(r, 120));
    const item = monitor.triage().find((i) => i.patientId === 'MRN-N');
    expect(item).toMatchObject({ level: 'high', observedAt: T0 });
  });

  it('raises a clinical alert when a vital crosses the care unit limit, once per patient and rule', async () => {
    const { fx, sink, send } = await setup();
    const ward = deviceId(1); // care unit ward-3: adult ward defaults (SpO2 low 92)
    const icu = deviceId(0); // care unit icu: SpO2 low 88
    await fx.patients.bind(ward, { patientId: 'MRN-W', from: T0 - 60 * MIN });
    await fx.patients.bind(icu, { patientId: 'MRN-I', from: T0 - 60 * MIN });

    await send(ward, [obs('MDC', '150456', 89, '%')]);
    await send(icu, [obs('MDC', '150456', 89, '%')]);
    const limit = sink.of('clinical.vital-limit');
    expect(limit).toHaveLength(1);
    expect(limit[0]).toMatchObject({
      category: 'clinical',
      severity: 'high',
      deviceId: ward,
      careUnit: 'ward-3',
      patientId: 'MRN-W',
      evidence: { kind: 'spo2', direction: 'low', value: 89, limit: 92, unit: '%' },
    });
    // The title carries no patient identifier and no value.
    expect(limit[0]!.title).not.toMatch(/MRN|89/);

    // Still low a moment later: de-duplicated here (and by the store's dedupKey afterwards).
    fx.clock.ms += 10_000;
    await send(ward, [obs('MDC', '150456', 88, '%')]);
    expect(sink.of('clinical.vital-limit')).toHaveLength(1);
    // Persisting past the re-alert interval reports again with the same key (the store merges it).
    fx.clock.ms += 61_000;
    await send(ward, [obs('MDC', '150456', 88, '%')]);
    const again = sink.of('clinical.vital-limit');
    expect(again).toHaveLength(2);
    expect(again[1]!.dedupKey).toBe(again[0]!.dedupKey);
    // ICU below its own, lower limit.
    await send(icu, [obs('MDC', '150456', 85, '%')]);
    expect(sink.of('clinical.vital-limit').at(-1)).toMatchObject({
      careUnit: 'icu',
      evidence: { limit: 88 },
    });
  });

  it('uses limits configured per care unit over the defaults', async () => {
    const { fx, sink, send } = await setup({ 'ward-3': { 'heart-rate': { high: 100 } } });
    const ward = deviceId(1);
    await fx.patients.bind(ward, { patientId: 'MRN-X', from: T0 - MIN });
    await send(ward, [obs('MDC', '147842', 105, '/min'), obs('MDC', '150456', 97, '%')]);
    expect(sink.of('clinical.vital-limit').map((a) => a.evidence)).toEqual([
      expect.objectContaining({ kind: 'heart-rate', direction: 'high', value: 105, limit: 100 }),
    ]);
  });

  it('computes NEWS2 from the latest vitals and alerts at the clinical-response levels', async () => {
    const { fx, sink, send } = await setup();
    const dev = deviceId(0);
    await fx.patients.bind(dev, { patientId: 'MRN-N', from: T0 - MIN });
    await send(dev, news2Set(NORMAL));
    expect(sink.of('clinical.news2')).toHaveLength(0);
    // RR 22 (2) + pulse 112 (2) + temperature 38.4 (1) = 5: medium.
    fx.clock.ms += MIN;
    await send(dev, news2Set({ ...NORMAL, rr: 22, hr: 112, temp: 38.4 }));
    const news = sink.of('clinical.news2');
    expect(news).toHaveLength(1);
    expect(news[0]).toMatchObject({
      category: 'clinical',
      severity: 'high',
      patientId: 'MRN-N',
      evidence: { score: 5, level: 'medium', missing: [] },
    });
    // Escalating to high is a new alert (its own dedup key), critical.
    fx.clock.ms += MIN;
    await send(dev, news2Set({ ...NORMAL, rr: 26, hr: 112, temp: 38.4, o2: 2 }));
    expect(sink.of('clinical.news2').at(-1)).toMatchObject({
      severity: 'critical',
      evidence: { score: 8, level: 'high', components: { airOrOxygen: 2, respiratoryRate: 3 } },
    });
    expect(new Set(sink.of('clinical.news2').map((a) => a.dedupKey)).size).toBe(2);
  });

  it('keeps technical alarms apart from clinical ones and detects silence', async () => {
    const { fx, sink, send, monitor } = await setup();
    const dev = deviceId(1);
    await fx.patients.bind(dev, { patientId: 'MRN-T', from: T0 - MIN });
    await send(dev, [obs('MDC', '150456', 97, '%')], fx.clock.ms, {
      alarms: [
        { code: 'MDC_EVT_BATT_LO', priority: 'low', kind: 'technical' },
        { code: 'MDC_EVT_LEAD_OFF', priority: 'medium', kind: 'technical' },
        { code: 'MDC_EVT_HI', priority: 'high', kind: 'physiological' },
      ],
    });
    const technical = sink.alerts.filter((a) => a.category === 'technical');
    expect(technical.map((a) => [a.rule, a.severity])).toEqual([
      ['technical.low-battery', 'low'],
      ['technical.sensor-off', 'medium'],
    ]);
    for (const a of technical) {
      expect(a.patientId).toBeUndefined();
      expect(JSON.stringify(a)).not.toContain('MRN');
    }
    expect(sink.of('clinical.device-alarm')).toEqual([
      expect.objectContaining({ category: 'clinical', patientId: 'MRN-T', severity: 'high' }),
    ]);

    // A second message 5 s later: the device streams. A spot-check device reporting once stays quiet.
    fx.clock.ms += 5_000;
    await send(dev, [obs('MDC', '150456', 97, '%')]);
    await send(deviceId(3), [obs('MDC', '150021', 120, 'mm[Hg]')]);
    fx.clock.ms += 119_000;
    monitor.checkSilence();
    await monitor.idle();
    expect(sink.of('technical.signal-loss')).toHaveLength(0);
    fx.clock.ms += 2_000;
    monitor.checkSilence();
    monitor.checkSilence();
    await monitor.idle();
    expect(sink.of('technical.signal-loss')).toEqual([
      expect.objectContaining({ category: 'technical', deviceId: dev, careUnit: 'ward-3' }),
    ]);
  });

  it('orders the triage list by level, then score, then most recent, with trend arrows', async () => {
    const { fx, send, settings, monitor } = await setup();
    const [a, b, c, d] = [0, 1, 2, 3].map(deviceId) as [string, string, string, string];
    for (const [dev, mrn] of [
      [a, 'MRN-A'],
      [b, 'MRN-B'],
      [c, 'MRN-C'],
      [d, 'MRN-D'],
    ] as const) {
      await fx.patients.bind(dev, { patientId: mrn, from: T0 - 120 * MIN });
    }
    // A: new confusion only -> 3, low-medium.   B: score 4, low.   C and D: score 5, medium.
    await send(a, news2Set({ ...NORMAL, acvpu: 1 }));
    await send(b, news2Set({ ...NORMAL, rr: 22, hr: 95, temp: 38.2 }));
    await send(c, news2Set({ ...NORMAL, rr: 22, hr: 112, temp: 38.4 }));
    fx.clock.ms += MIN;
    await send(d, news2Set({ ...NORMAL, rr: 22, hr: 112, temp: 38.4 }));
    // Equal level and score: the most recent observation (D) first.
    expect(monitor.triage().map((i) => i.patientId)).toEqual(['MRN-D', 'MRN-C', 'MRN-A', 'MRN-B']);
    // A quarter of an hour later B worsens to 6 (trend up) and D improves to 3 (trend down).
    fx.clock.ms += 16 * MIN;
    await send(b, news2Set({ ...NORMAL, rr: 22, hr: 112, temp: 38.2, sbp: 108 }));
    await send(d, news2Set({ ...NORMAL, rr: 22, temp: 38.4 }));

    const list = monitor.triage();
    expect(list.map((i) => [i.patientId, i.level, i.score, i.trend])).toEqual([
      ['MRN-B', 'medium', 6, 'up'],
      ['MRN-C', 'medium', 5, null],
      ['MRN-A', 'low-medium', 3, null],
      ['MRN-D', 'low', 3, 'down'],
    ]);
    expect(list[0]).toMatchObject({ careUnit: 'ward-3', deviceIds: [b], missing: [] });

    // Scale 2 for patient C (hypercapnic respiratory failure): 97% on air still scores 0, but on
    // oxygen it scores 3; the list follows once the setting is refreshed.
    await send(c, news2Set({ ...NORMAL, rr: 22, hr: 112, temp: 38.4, o2: 2 }));
    expect(monitor.triage().find((i) => i.patientId === 'MRN-C')).toMatchObject({ score: 7, spo2Scale: 1 });
    await settings.setSpo2Scale(fx.patients.patientIndex('MRN-C'), 2, 'u1');
    await monitor.refreshPatient(fx.patients.patientIndex('MRN-C'));
    expect(monitor.triage()[0]).toMatchObject({ patientId: 'MRN-C', score: 10, level: 'high', spo2Scale: 2 });

    // Vitals older than the window leave the list.
    fx.clock.ms += 70 * MIN;
    expect(monitor.triage()).toEqual([]);
  });
});

describe('acuity order', () => {
  const item = (id: string, level: TriageItem['level'], score: number, observedAt: number): TriageItem => ({
    patientId: id,
    careUnit: null,
    bed: null,
    score,
    level,
    trend: null,
    components: {
      respiratoryRate: 0,
      spo2: 0,
      airOrOxygen: 0,
      systolic: 0,
      pulse: 0,
      consciousness: 0,
      temperature: 0,
    },
    observedAt,
    deviceIds: [],
    missing: [],
    spo2Scale: 1,
  });
  it('a low-medium single red score ranks above a higher low aggregate', () => {
    const list = [
      item('low4', 'low', 4, 5),
      item('high7', 'high', 7, 1),
      item('lm3', 'low-medium', 3, 1),
      item('high9', 'high', 9, 0),
      item('med5new', 'medium', 5, 9),
      item('med5old', 'medium', 5, 2),
    ].sort(byAcuity);
    expect(list.map((i) => i.patientId)).toEqual(['high9', 'high7', 'med5new', 'med5old', 'lm3', 'low4']);
  });
});
