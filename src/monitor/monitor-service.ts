import { statSync } from 'node:fs';
import type { AuditEventInput } from '../audit/index.js';
import { dataPath, type LoadedConfig } from '../config/index.js';
import type { EventBus } from '../events/index.js';
import type { KeyService } from '../keys/index.js';
import type { Logger } from '../logging/logger.js';
import type { Store } from '../store/index.js';
import type { AlertActor } from './alert-model.js';
import { AlertStore } from './alert-store.js';
import { HourOfDay } from './baseline.js';
import { BaselineStore } from './baseline-store.js';
import { BehaviourDetector } from './behaviour-detector.js';
import type { AlertSink } from './contracts.js';
import { MemoryDeviceDirectory } from './device-directory.js';
import { type FleetFinding, runFleetChecks } from './fleet-checks.js';
import { DEFAULT_RULES_FILE, loadRules, type MonitorRules } from './rules.js';

export interface MonitorOptions {
  store: Store;
  keys: KeyService;
  audit: { append(event: AuditEventInput): Promise<unknown> };
  bus: EventBus;
  config: LoadedConfig;
  logger: Logger;
  /** Clock of the alert store and schedulers (detectors take time from the events). */
  now?: () => number;
}

/** The monitor as the composition root, routes and CLI see it. */
export interface Monitor {
  readonly alerts: AlertStore;
  /** Where detectors raise: the alert store. */
  readonly sink: AlertSink;
  readonly detector: BehaviourDetector;
  readonly baselines: BaselineStore;
  rules(): MonitorRules;
  /** Re-reads the rules file; MONITOR_RULES_INVALID keeps the rules in force. Audited when `actor` is given. */
  reloadRules(actor?: AlertActor): Promise<{ source: string; rules: number }>;
  /** Runs fleet audit checks now (all, or the named ones); audited when `actor` is given. */
  runChecks(options?: { only?: readonly string[]; at?: number; actor?: AlertActor }): Promise<FleetFinding[]>;
  /** Loads baselines and the device directory, then listens to the bus (the node that runs ingest). */
  startDetection(): Promise<void>;
  /** Starts the schedulers: escalation, fleet checks, baseline flushes, rules file watch. */
  start(): void;
  /** Stops everything and writes the baselines. */
  stop(): Promise<void>;
}

/** Builds the monitor from the configuration: alert store, rules, behaviour detection, fleet checks. */
export function createMonitor(o: MonitorOptions): Monitor {
  const { config, logger, bus, store } = o;
  const m = config.monitor;
  const now = o.now ?? Date.now;
  const rulesPath = m.rulesFile ? dataPath(config, m.rulesFile) : DEFAULT_RULES_FILE;
  let loadedStamp = fileStamp(rulesPath);
  let rules = loadRules(rulesPath);
  const onError = (error: unknown) => logger.error({ err: error }, 'monitor failed');
  const alerts = new AlertStore({
    store,
    keys: o.keys,
    audit: o.audit,
    bus,
    now,
    incidentWindowMs: m.incidentWindowSeconds * 1000,
    escalateAfterMs: {
      critical: m.escalateCriticalSeconds * 1000,
      high: m.escalateHighSeconds * 1000,
      medium: m.escalateMediumSeconds * 1000,
      low: m.escalateLowSeconds * 1000,
      info: 0,
    },
    maxEscalationLevel: m.maxEscalationLevel,
  });
  const baselines = new BaselineStore(store);
  const directory = new MemoryDeviceDirectory(store, onError);
  const detector = new BehaviourDetector({
    sink: alerts,
    rules: () => rules,
    directory,
    hourOfDay: new HourOfDay(m.timeZone),
    baselines: baselines.profiles,
    dirty: baselines.dirty,
    onError,
  });
  const stops: Array<() => void> = [];
  let detecting = false;

  const monitor: Monitor = {
    alerts,
    sink: alerts,
    detector,
    baselines,
    rules: () => rules,

    async reloadRules(actor) {
      const stamp = fileStamp(rulesPath);
      try {
        rules = loadRules(rulesPath);
        loadedStamp = stamp;
      } catch (error) {
        if (actor)
          await o.audit.append({
            actor: actor.audit,
            action: 'monitor.rules-reload',
            resource: { type: 'monitor-rules' },
            outcome: 'failure',
            code: 'MONITOR_RULES_INVALID',
          });
        throw error;
      }
      logger.info({ rules: rulesPath }, 'monitor rules loaded');
      if (actor)
        await o.audit.append({
          actor: actor.audit,
          action: 'monitor.rules-reload',
          resource: { type: 'monitor-rules' },
          outcome: 'success',
        });
      return { source: rules.source, rules: Object.keys(rules.file.severities).length };
    },

    async runChecks(opts = {}) {
      const findings = await runFleetChecks(
        {
          store,
          sink: alerts,
          rules: () => rules,
          ...(detecting ? { detector } : {}),
          certExpiryDays: m.certExpiryDays,
        },
        opts.at ?? now(),
        opts.only,
      );
      if (opts.actor)
        await o.audit.append({
          actor: opts.actor.audit,
          action: 'monitor.check',
          resource: { type: 'monitor-checks' },
          outcome: 'success',
          reason: `${findings.length} findings`,
        });
      return findings;
    },

    async startDetection() {
      if (detecting || !m.enabled) return;
      await Promise.all([baselines.load(), directory.load()]);
      stops.push(directory.attach(bus), detector.attach(bus));
      detecting = true;
    },

    start() {
      stops.push(alerts.startEscalation(m.escalationCheckSeconds * 1000, onError));
      const flush = setInterval(
        () => void baselines.flush(now()).catch(onError),
        m.baselineFlushSeconds * 1000,
      );
      flush.unref();
      stops.push(() => clearInterval(flush));
      if (m.enabled && m.checkIntervalSeconds > 0) {
        let busy = false;
        const timer = setInterval(() => {
          if (busy) return;
          busy = true;
          monitor
            .runChecks()
            .then((f) => logger.info({ findings: f.length }, 'fleet audit checks ran'))
            .catch(onError)
            .finally(() => {
              busy = false;
            });
        }, m.checkIntervalSeconds * 1000);
        timer.unref();
        stops.push(() => clearInterval(timer));
      }
      if (m.watchRules) {
        // Polls the file's size and modification time against those of the rules in force (a
        // poll, not fs.watch: it survives editors that replace the file and network file
        // systems). A change that does not validate (perhaps still being written) is retried
        // when the file changes again; the rules in force stay meanwhile.
        let failed: string | undefined;
        const timer = setInterval(() => {
          const seen = fileStamp(rulesPath);
          if (seen === loadedStamp || seen === failed) return;
          monitor.reloadRules().then(
            () => {
              failed = undefined;
            },
            (error) => {
              failed = seen;
              logger.warn({ code: (error as { code?: string }).code }, 'monitor rules not reloaded');
            },
          );
        }, 1000);
        timer.unref();
        stops.push(() => clearInterval(timer));
      }
    },

    async stop() {
      for (const stop of stops.splice(0)) stop();
      detecting = false;
      await baselines.flush(now()).catch(onError);
    },
  };
  return monitor;
}

/** Size and modification time of a file, to notice changes ("missing" when it cannot be read). */
function fileStamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}
