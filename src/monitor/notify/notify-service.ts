import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Principal, ResourceScope } from '../../access/index.js';
import type { Permission } from '../../access/roles.js';
import { PulsegateError } from '../../errors.js';
import type { EventBus } from '../../events/index.js';
import type { Store } from '../../store/index.js';
import { ALERT_CHANGES, type AlertCategory, type AlertEvent, type AlertSeverity } from '../contracts.js';
import { type DeadLetter, messageId, Outbox } from './outbox.js';
import { notificationOf } from './payload.js';
import { type Route, routeMatches } from './routing.js';
import { StreamHub } from './stream.js';
import { alertToSyslog, SyslogConnection } from './syslog-target.js';
import { parseSecret, postWebhook } from './webhook.js';

interface TargetRoute {
  minSeverity?: AlertSeverity | string | undefined;
  categories?: ReadonlyArray<AlertCategory | string> | undefined;
  changes?: readonly string[] | undefined;
}

export interface NotifyConfig {
  webhooks: ReadonlyArray<
    { name: string; url: string; secretFile: string; caFile?: string | undefined } & TargetRoute
  >;
  syslog: ReadonlyArray<
    {
      name: string;
      host: string;
      port: number;
      format: 'rfc5424' | 'cef';
      caFile?: string | undefined;
      servername?: string | undefined;
    } & TargetRoute
  >;
  maxAttempts: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  timeoutSeconds: number;
  streamHeartbeatSeconds: number;
  streamMaxBufferBytes: number;
  streamMaxSubscribers: number;
  streamMaxPerPrincipal?: number;
  /** Alert routing of the live stream (on top of each subscriber's permissions). */
  streamMinSeverity?: AlertSeverity | string | undefined;
  streamCategories?: ReadonlyArray<AlertCategory | string> | undefined;
}

export interface NotifyDeps {
  store: Store;
  bus: EventBus;
  config: NotifyConfig;
  /** Relative secret and CA files are resolved against it. */
  dataDir: string;
  version: string;
  access: {
    authorize(principal: Principal, permission: Permission): void;
    checkResource(principal: Principal, scope: ResourceScope): void;
  };
  isCareUnitLimited(principal: Principal): boolean;
  /** Care unit of a device, for filtering device events on the stream. */
  careUnitOf(deviceId: string): Promise<string | null>;
  /** In-process stored telemetry (care unit included), for `telemetry` stream events without values. */
  telemetry?: {
    observeStored(
      listener: (s: {
        deviceId: string;
        careUnit: string | null;
        ts: number;
        observations: readonly unknown[];
      }) => void,
    ): () => void;
  };
  now?: () => number;
  random?: () => number;
  /** Failures the service cannot attribute to one message (database down); never carries secrets. */
  onError?: (error: unknown) => void;
  /** How often due messages are looked for (default 1 s; new messages are sent at once). */
  pollMs?: number;
}

export interface NotifyService {
  readonly stream: StreamHub;
  start(): void;
  /** Attempts every message that is due now; resolves when they settled (tests, shutdown). */
  drain(): Promise<void>;
  /** Resolves when bus events seen so far are in the outbox. */
  settled(): Promise<void>;
  deadLetters(): Promise<DeadLetter[]>;
  replay(id: string): Promise<void>;
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

interface Target {
  name: string;
  kind: 'webhook' | 'syslog';
  route: Route;
  deliver(
    id: string,
    payload: string,
  ): Promise<{ ok: boolean; reason?: string; retryAfterMs?: number; gone?: boolean }>;
  close?(): Promise<void>;
}

const resolvePath = (dataDir: string, p: string) => (isAbsolute(p) ? p : join(dataDir, p));

function routeOf(t: TargetRoute): Route {
  return {
    minSeverity: t.minSeverity as AlertSeverity | undefined,
    categories: t.categories as AlertCategory[] | undefined,
    changes: t.changes,
  };
}

/**
 * Notifications: routes alert events to webhooks and syslog/CEF receivers through a durable
 * outbox (retried with exponential backoff and jitter; dead-lettered after `maxAttempts`; never
 * silently dropped), and feeds the live stream. Only `alert.raised` / `alert.updated` are consumed.
 */
export function createNotifyService(deps: NotifyDeps): NotifyService {
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const cfg = deps.config;
  const outbox = new Outbox(deps.store, now);
  const targets = new Map<string, Target>();
  const timeoutMs = cfg.timeoutSeconds * 1000;

  for (const w of cfg.webhooks) {
    if (targets.has(w.name))
      throw new PulsegateError('NOTIFY_TARGET_INVALID', `duplicate target name ${w.name}`);
    let secret: string;
    try {
      secret = readFileSync(resolvePath(deps.dataDir, w.secretFile), 'utf8');
    } catch {
      throw new PulsegateError(
        'NOTIFY_SECRET_MISSING',
        `the secret file of webhook ${w.name} cannot be read`,
      );
    }
    const key = parseSecret(secret);
    const ca = w.caFile ? readFileSync(resolvePath(deps.dataDir, w.caFile)) : undefined;
    targets.set(w.name, {
      name: w.name,
      kind: 'webhook',
      route: routeOf(w),
      deliver: (id, body) =>
        postWebhook({ url: w.url, id, body, key, ca, timeoutMs, timestampSeconds: Math.floor(now() / 1000) }),
    });
  }
  for (const s of cfg.syslog) {
    if (targets.has(s.name))
      throw new PulsegateError('NOTIFY_TARGET_INVALID', `duplicate target name ${s.name}`);
    const ca = s.caFile ? readFileSync(resolvePath(deps.dataDir, s.caFile)) : undefined;
    const connection = new SyslogConnection({ host: s.host, port: s.port, ca, servername: s.servername });
    targets.set(s.name, {
      name: s.name,
      kind: 'syslog',
      route: routeOf(s),
      async deliver(_id, payload) {
        const event = (JSON.parse(payload) as { data: AlertEvent }).data;
        const line = alertToSyslog(event, { format: s.format, version: deps.version });
        try {
          await withTimeout(connection.send(line), timeoutMs);
          return { ok: true };
        } catch (error) {
          return { ok: false, reason: (error as NodeJS.ErrnoException).code ?? 'send failed' };
        }
      },
      close: () => connection.close(),
    });
  }
  const names = [...targets.keys()];

  const stream = new StreamHub({
    access: deps.access,
    heartbeatMs: cfg.streamHeartbeatSeconds * 1000,
    maxBufferBytes: cfg.streamMaxBufferBytes,
    maxSubscribers: cfg.streamMaxSubscribers,
    maxPerPrincipal: cfg.streamMaxPerPrincipal,
    isCareUnitLimited: deps.isCareUnitLimited,
    route: {
      minSeverity: cfg.streamMinSeverity as AlertSeverity | undefined,
      categories: cfg.streamCategories as AlertCategory[] | undefined,
      // The console shows counts as duplicates merge, so every change goes to the stream.
      changes: [...ALERT_CHANGES],
    },
  });

  // Bus events -> outbox rows (in order), and the stream. If the database refuses the insert, the
  // rows wait in memory and are tried again (bounded; overflow is reported, never silent).
  let enqueueing: Promise<void> = Promise.resolve();
  const waiting: Array<{ id: string; target: string; kind: 'webhook' | 'syslog'; payload: string }> = [];
  const MAX_WAITING = 100_000;
  let retryTimer: NodeJS.Timeout | undefined;
  const flushWaiting = (): Promise<void> => {
    enqueueing = enqueueing.then(async () => {
      if (waiting.length === 0) return;
      const batch = waiting.splice(0, 500);
      try {
        await outbox.enqueue(batch);
        if (waiting.length > 0) void flushWaiting();
        void kick();
      } catch (error) {
        waiting.unshift(...batch);
        deps.onError?.(error);
        retryTimer ??= setTimeout(() => {
          retryTimer = undefined;
          void flushWaiting();
        }, 1000);
        retryTimer.unref();
      }
    });
    return enqueueing;
  };
  const onAlert = (type: 'alert.raised' | 'alert.updated') => (event: AlertEvent) => {
    stream.publish({ kind: 'alert', data: notificationOf(type, event).data });
    const matching = [...targets.values()].filter((t) => routeMatches(t.route, event));
    if (matching.length === 0) return;
    const payload = JSON.stringify(notificationOf(type, event));
    if (waiting.length + matching.length > MAX_WAITING) {
      deps.onError?.(
        Object.assign(new Error('notification outbox unavailable; notifications dropped'), {
          code: 'NOTIFY_OUTBOX_OVERFLOW',
          dropped: matching.length,
        }),
      );
      return;
    }
    for (const t of matching) waiting.push({ id: messageId(), target: t.name, kind: t.kind, payload });
    void flushWaiting();
  };
  const unsubscribe = [
    deps.bus.on('alert.raised', onAlert('alert.raised')),
    deps.bus.on('alert.updated', onAlert('alert.updated')),
    ...(
      [
        'device.changed',
        'device.quarantined',
        'device.released',
        'device.connected',
        'device.disconnected',
      ] as const
    ).map((name) =>
      deps.bus.on(name, (e) => {
        if (!stream.wants('device')) return;
        const change = 'change' in e ? e.change : name.slice('device.'.length);
        deps
          .careUnitOf(e.deviceId)
          .then((careUnit) =>
            stream.publish({ kind: 'device', data: { deviceId: e.deviceId, change, at: e.at }, careUnit }),
          )
          .catch(() => {});
      }),
    ),
    deps.telemetry?.observeStored((s) => {
      if (!stream.wants('telemetry')) return;
      stream.publish({
        kind: 'telemetry',
        data: { deviceId: s.deviceId, count: s.observations.length, at: s.ts },
        careUnit: s.careUnit,
      });
    }) ?? (() => {}),
  ];

  /**
   * Exponential backoff with jitter: base * 2^(n-1), capped, then a random point in its upper
   * half; a receiver's Retry-After is honoured up to the same cap (a year's Retry-After would
   * otherwise park the message for good, never retried and never dead-lettered).
   */
  const delayMs = (attempts: number, retryAfterMs?: number) => {
    const max = cfg.retryMaxSeconds * 1000;
    const ceiling = Math.min(max, cfg.retryBaseSeconds * 1000 * 2 ** (attempts - 1));
    const jittered = ceiling / 2 + random() * (ceiling / 2);
    return Math.ceil(Math.max(jittered, Math.min(retryAfterMs ?? 0, max)));
  };

  const attempt = async (m: { id: string; target: string; payload: string; attempts: number }) => {
    const target = targets.get(m.target);
    if (!target) return;
    let result: Awaited<ReturnType<Target['deliver']>>;
    try {
      result = await target.deliver(m.id, m.payload);
    } catch (error) {
      result = { ok: false, reason: (error as NodeJS.ErrnoException).code ?? 'delivery error' };
    }
    if (result.ok) return outbox.delivered(m.id);
    const attempts = m.attempts + 1;
    const dead = result.gone === true || attempts >= cfg.maxAttempts;
    await outbox.failed(
      m.id,
      attempts,
      result.reason ?? 'failed',
      dead ? { dead: true } : { dead: false, at: now() + delayMs(attempts, result.retryAfterMs) },
    );
  };

  let running: Promise<void> | undefined;
  let again = false;
  const runOnce = async () => {
    for (;;) {
      const batch = await outbox.claim(100, timeoutMs * 2 + 5000, names);
      if (batch.length === 0) return;
      // One message at a time per target keeps each receiver's order; targets proceed in parallel.
      const byTarget = new Map<string, typeof batch>();
      for (const m of batch) byTarget.set(m.target, [...(byTarget.get(m.target) ?? []), m]);
      await Promise.all(
        [...byTarget.values()].map(async (list) => {
          for (const m of list) await attempt(m);
        }),
      );
    }
  };
  const kick = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = runOnce()
      .catch((error) => deps.onError?.(error))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          void kick();
        }
      });
    return running;
  };
  let timer: NodeJS.Timeout | undefined;

  return {
    stream,
    start() {
      if (timer || names.length === 0) return;
      timer = setInterval(() => void kick(), deps.pollMs ?? 1000);
      timer.unref();
      void kick();
    },
    async drain() {
      await enqueueing;
      while (running) await running;
      await kick();
    },
    settled: () => enqueueing,
    deadLetters: () => outbox.deadLetters(),
    async replay(id) {
      if (!(await outbox.replay(id))) throw new PulsegateError('NOTIFY_DEAD_LETTER_NOT_FOUND');
      void kick();
    },
    counts: () => outbox.counts(),
    async close() {
      if (timer) clearInterval(timer);
      if (retryTimer) clearTimeout(retryTimer);
      for (const u of unsubscribe) u();
      stream.close();
      await enqueueing;
      while (running) await running;
      for (const t of targets.values()) await t.close?.();
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
