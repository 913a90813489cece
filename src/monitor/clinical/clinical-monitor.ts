import type { StoredTelemetry } from '../../telemetry/index.js';
import { VITAL_CODES } from '../../telemetry/index.js';
import type { AlertSeverity, AlertSink, NewAlert } from '../contracts.js';
import { checkLimit, type LimitTable } from './limits.js';
import { LEVEL_RANK, type News2Level, type News2Parameter } from './news2.js';
import type { PatientSettings } from './patient-settings.js';
import { PatientState, type Trend } from './patient-state.js';
import { TECHNICAL_TITLES, technicalRuleOf } from './technical-alarms.js';

export interface ClinicalMonitorConfig {
  vitalsMaxAgeMinutes: number;
  news2AlertLevel: 'low-medium' | 'medium' | 'high';
  trendIntervalMinutes: number;
  signalLossSeconds: number;
  realertSeconds: number;
}

export interface ClinicalMonitorDeps {
  telemetry: { observeStored(listener: (stored: StoredTelemetry) => void): () => void };
  sink: AlertSink;
  settings: PatientSettings;
  limits: LimitTable;
  config: ClinicalMonitorConfig;
  now?: () => number;
  /** Called when raising an alert fails (the error carries no PHI; the alert is retried on the next report). */
  onError?: (error: unknown) => void;
}

/** One row of the triage list (MONITOR-API.md `GET /api/v1/triage`). */
export interface TriageItem {
  patientId: string;
  careUnit: string | null;
  bed: string | null;
  score: number;
  level: News2Level;
  trend: Trend | null;
  components: Record<News2Parameter, number | null>;
  observedAt: number;
  deviceIds: string[];
  missing: News2Parameter[];
  spo2Scale: 1 | 2;
}

export interface ClinicalMonitor {
  /** Patients with recent vitals, highest acuity first (level, then score, then most recent). */
  triage(): TriageItem[];
  /** Re-reads a patient's settings (after the SpO2 scale changed) and rescores. */
  refreshPatient(patientIndex: string): Promise<void>;
  /** Checks for silent devices now (also runs on a timer). */
  checkSilence(): void;
  /** Resolves when every queued message is processed and every alert report has settled. */
  idle(): Promise<void>;
  stop(): void;
}

const NEWS2_SEVERITY: Readonly<Record<News2Level, AlertSeverity>> = {
  low: 'info',
  'low-medium': 'medium',
  medium: 'high',
  high: 'critical',
};
const NEWS2_TITLE: Readonly<Record<News2Level, string>> = {
  low: 'NEWS2 low',
  'low-medium': 'NEWS2 single red score: urgent ward-based response',
  medium: 'NEWS2 medium: urgent response threshold',
  high: 'NEWS2 high: emergency response threshold',
};
const PRIORITY_SEVERITY: Readonly<Record<'low' | 'medium' | 'high', AlertSeverity>> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
};
const DISPLAY = new Map(VITAL_CODES.map((v) => [v.kind, v]));

/** Acuity order: level, then score, then the most recent observation. */
export function byAcuity(a: TriageItem, b: TriageItem): number {
  return (
    LEVEL_RANK[b.level] - LEVEL_RANK[a.level] ||
    b.score - a.score ||
    b.observedAt - a.observedAt ||
    (a.patientId < b.patientId ? -1 : a.patientId > b.patientId ? 1 : 0)
  );
}

/**
 * Clinical monitoring: keeps the latest vitals of each patient from telemetry as it is stored,
 * checks them against the care unit's limits, computes NEWS2 and raises clinical alerts (limits
 * crossed; NEWS2 at or above the configured response level) and technical alarms (device alarms of
 * kind technical; devices falling silent), each de-duplicated per patient (or device) and rule.
 * Alerts go only through `AlertSink.raise`.
 */
export function createClinicalMonitor(deps: ClinicalMonitorDeps): ClinicalMonitor {
  const now = deps.now ?? Date.now;
  const cfg = deps.config;
  const maxAgeMs = cfg.vitalsMaxAgeMinutes * 60_000;
  const trendMs = cfg.trendIntervalMinutes * 60_000;
  const realertMs = cfg.realertSeconds * 1000;
  const patients = new Map<string, PatientState>();
  /**
   * Devices seen: last message time, place, whether they stream (their last two messages came
   * closer than half the signal-loss threshold: spot-check devices that report now and then never
   * count as lost) and whether signal loss was reported.
   */
  const devices = new Map<
    string,
    { at: number; careUnit: string | null; streaming: boolean; silent: boolean }
  >();
  const streamingGapMs = (cfg.signalLossSeconds * 1000) / 2;
  /** Open conditions by dedup key: when they were last reported. */
  const reported = new Map<string, number>();
  const pending = new Set<Promise<unknown>>();
  let chain: Promise<void> = Promise.resolve();

  const raise = (alert: NewAlert, force = false) => {
    const last = reported.get(alert.dedupKey);
    const t = now();
    if (!force && last !== undefined && t - last < realertMs) return;
    reported.set(alert.dedupKey, t);
    const p = deps.sink
      .raise(alert)
      .catch((error) => {
        reported.delete(alert.dedupKey);
        deps.onError?.(error);
      })
      .finally(() => pending.delete(p));
    pending.add(p);
  };
  const clear = (key: string) => reported.delete(key);

  /** A patient seen for the first time: their SpO2 scale is read before their state exists. */
  const newState = async (patientIndex: string, patientId: string): Promise<PatientState> => {
    const spo2Scale = await deps.settings.spo2Scale(patientIndex);
    let state = patients.get(patientIndex);
    if (!state) {
      state = new PatientState(patientIndex, patientId);
      state.spo2Scale = spo2Scale;
      patients.set(patientIndex, state);
    }
    return state;
  };
  const place = (state: PatientState, stored: StoredTelemetry) => {
    state.patientId = stored.patientId!;
    state.careUnit = stored.careUnit;
    state.bed = stored.bed;
    state.deviceIds.add(stored.deviceId);
  };

  const checkLimits = (stored: StoredTelemetry, subject: string) => {
    const limits = deps.limits.forUnit(stored.careUnit);
    for (const o of stored.observations) {
      if (o.implausible || !limits[o.kind]) continue;
      const breach = checkLimit(o.kind, o.value, limits);
      for (const direction of ['low', 'high'] as const) {
        const key = `clinical.vital-limit:${subject}:${o.kind}:${direction}`;
        if (breach?.direction !== direction) {
          clear(key);
          continue;
        }
        const display = DISPLAY.get(o.kind)?.display ?? o.kind;
        raise({
          category: 'clinical',
          severity: 'high',
          rule: 'clinical.vital-limit',
          title: `${display} ${direction === 'low' ? 'below' : 'above'} the care unit limit`,
          deviceId: stored.deviceId,
          careUnit: stored.careUnit,
          patientId: stored.patientId,
          evidence: {
            kind: o.kind,
            direction,
            value: o.value,
            unit: o.unit,
            limit: breach.limit,
            observedAt: new Date(o.ts).toISOString(),
            limitsOf: stored.careUnit ?? 'default',
          },
          dedupKey: key,
          at: o.ts,
        });
      }
    }
  };

  const checkNews2 = (state: PatientState, deviceId: string, force = false) => {
    const result = state.rescore(now() - maxAgeMs, trendMs);
    const threshold = LEVEL_RANK[cfg.news2AlertLevel];
    for (const level of ['low-medium', 'medium', 'high'] as const) {
      const key = `clinical.news2:${state.patientIndex}:${level}`;
      if (!result || result.level !== level || LEVEL_RANK[level] < threshold) {
        clear(key);
        continue;
      }
      raise(
        {
          category: 'clinical',
          severity: NEWS2_SEVERITY[level],
          rule: 'clinical.news2',
          title: NEWS2_TITLE[level],
          deviceId,
          careUnit: state.careUnit,
          patientId: state.patientId,
          evidence: {
            score: result.score,
            level: result.level,
            components: result.components,
            singleParameterThree: result.singleParameterThree,
            missing: result.missing,
            spo2Scale: result.spo2Scale,
            observedAt: new Date(state.observedAt).toISOString(),
            source: 'RCP NEWS2 (2017) Chart 1 and Chart 4',
          },
          dedupKey: key,
          at: state.observedAt,
        },
        force,
      );
    }
  };

  const checkDeviceAlarms = (stored: StoredTelemetry, subject: string) => {
    for (const a of stored.alarms) {
      if (a.kind === 'technical') {
        const rule = technicalRuleOf(a.code);
        raise({
          category: 'technical',
          severity: PRIORITY_SEVERITY[a.priority],
          rule,
          title: TECHNICAL_TITLES[rule],
          deviceId: stored.deviceId,
          careUnit: stored.careUnit,
          evidence: {
            code: a.code,
            priority: a.priority,
            at: new Date(a.ts).toISOString(),
            source: 'device',
          },
          dedupKey: `${rule}:${stored.deviceId}`,
          at: a.ts,
        });
      } else {
        raise({
          category: 'clinical',
          severity: PRIORITY_SEVERITY[a.priority],
          rule: 'clinical.device-alarm',
          title: 'Physiological alarm reported by the device',
          deviceId: stored.deviceId,
          careUnit: stored.careUnit,
          patientId: stored.patientId,
          evidence: { code: a.code, priority: a.priority, at: new Date(a.ts).toISOString() },
          dedupKey: `clinical.device-alarm:${subject}:${stored.deviceId}:${a.code}`,
          at: a.ts,
        });
      }
    }
  };

  const score = (state: PatientState, stored: StoredTelemetry) => {
    place(state, stored);
    state.record(stored.observations);
    checkNews2(state, stored.deviceId);
  };

  /** Checks one stored message; a promise only when it must first read a new patient's settings. */
  const handle = (stored: StoredTelemetry): Promise<void> | undefined => {
    const seen = devices.get(stored.deviceId);
    if (seen?.silent) clear(`technical.signal-loss:${stored.deviceId}:silence`);
    const t = now();
    const streaming = seen !== undefined && t - seen.at < streamingGapMs;
    devices.set(stored.deviceId, { at: t, careUnit: stored.careUnit, streaming, silent: false });
    const subject = stored.patientIndex ?? `device:${stored.deviceId}`;
    checkDeviceAlarms(stored, subject);
    if (stored.observations.length === 0) return;
    checkLimits(stored, subject);
    if (!stored.patientIndex || !stored.patientId) return;
    const state = patients.get(stored.patientIndex);
    if (state) {
      score(state, stored);
      return;
    }
    return newState(stored.patientIndex, stored.patientId).then((s) => score(s, stored));
  };
  const handleOrReport = (stored: StoredTelemetry): Promise<void> | undefined => {
    try {
      return handle(stored)?.catch((error) => deps.onError?.(error));
    } catch (error) {
      deps.onError?.(error);
      return undefined;
    }
  };

  // Messages are checked in commit order. Most are checked at once; one that must wait for a new
  // patient's settings holds the ones after it in a chain until it is done (a promise chain link
  // per message was 7 % of ingest's CPU).
  let waiting = 0;
  const unsubscribe = deps.telemetry.observeStored((stored) => {
    if (waiting === 0) {
      const started = handleOrReport(stored);
      if (!started) return;
      waiting++;
      chain = started.then(() => {
        waiting--;
      });
      return;
    }
    waiting++;
    chain = chain
      .then(() => handleOrReport(stored))
      .then(() => {
        waiting--;
      });
  });

  const monitor: ClinicalMonitor = {
    triage() {
      const since = now() - maxAgeMs;
      const items: TriageItem[] = [];
      for (const s of patients.values()) {
        if (!s.news2 || s.observedAt < since) continue;
        items.push({
          patientId: s.patientId,
          careUnit: s.careUnit,
          bed: s.bed,
          score: s.news2.score,
          level: s.news2.level,
          trend: s.trend(trendMs),
          components: { ...s.news2.components },
          observedAt: s.observedAt,
          deviceIds: [...s.deviceIds].sort(),
          missing: [...s.news2.missing],
          spo2Scale: s.spo2Scale,
        });
      }
      return items.sort(byAcuity);
    },
    async refreshPatient(patientIndex) {
      const state = patients.get(patientIndex);
      if (!state) return;
      state.spo2Scale = await deps.settings.spo2Scale(patientIndex);
      const deviceId = [...state.deviceIds].at(-1) ?? null;
      if (deviceId) checkNews2(state, deviceId, true);
    },
    checkSilence() {
      const t = now();
      for (const [deviceId, d] of devices) {
        if (!d.streaming || d.silent || t - d.at < cfg.signalLossSeconds * 1000) continue;
        d.silent = true;
        raise(
          {
            category: 'technical',
            severity: 'medium',
            rule: 'technical.signal-loss',
            title: TECHNICAL_TITLES['technical.signal-loss'],
            deviceId,
            careUnit: d.careUnit,
            evidence: {
              lastMessageAt: new Date(d.at).toISOString(),
              silentSeconds: Math.round((t - d.at) / 1000),
              thresholdSeconds: cfg.signalLossSeconds,
              source: 'silence',
            },
            dedupKey: `technical.signal-loss:${deviceId}:silence`,
            at: t,
          },
          true,
        );
      }
      // Forget patients whose vitals aged out long ago (the triage list no longer shows them).
      for (const [index, s] of patients)
        if (s.observedAt && s.observedAt < t - 2 * maxAgeMs) patients.delete(index);
    },
    async idle() {
      for (;;) {
        const c = chain;
        await c;
        await Promise.all([...pending]);
        if (c === chain && pending.size === 0) return;
      }
    },
    stop() {
      unsubscribe();
      clearInterval(timer);
    },
  };
  const timer = setInterval(() => monitor.checkSilence(), Math.min(5000, (cfg.signalLossSeconds * 1000) / 4));
  timer.unref();
  return monitor;
}
