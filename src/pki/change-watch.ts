import type { EventBus } from '../events/index.js';
import type { Store } from '../store/index.js';

/** How far back each poll looks, beyond the newest change seen: other nodes' clocks may lag ours. */
const OVERLAP_MS = 10_000;

/**
 * Brings revocations and quarantines made elsewhere (another `serve` node on the same PostgreSQL,
 * or the CLI on the same data directory) to this node's live sessions. Every `intervalMs` it reads
 * the certificates revoked and the devices quarantined or retired since the newest change it has
 * seen (minus a clock-skew overlap) and announces the ones this process has not announced itself
 * as `certificate.revoked` / `device.changed` on the local bus, where the broker drops the sessions
 * and the PKI forgets cached identities, exactly as for a local change. Two small indexed reads
 * per interval, whatever the fleet size.
 */
export function watchStoreChanges(deps: {
  store: Store;
  bus: EventBus;
  intervalMs: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}): () => void {
  const { db } = deps.store;
  const now = deps.now ?? Date.now;
  let since = now() - OVERLAP_MS;
  /** Changes already announced (here or by the local services), with when, to forget them later. */
  const announced = new Map<string, number>();
  const unsubscribe = [
    deps.bus.on('certificate.revoked', (e) => announced.set(`cert:${e.serial}`, now())),
    deps.bus.on('device.changed', (e) => announced.set(`device:${e.deviceId}:${e.at}`, now())),
  ];

  function forgetOld(): void {
    const cutoff = now() - 4 * OVERLAP_MS;
    for (const [key, at] of announced) if (at < cutoff) announced.delete(key);
  }

  async function poll(): Promise<void> {
    const from = since - OVERLAP_MS;
    const revoked = await db
      .selectFrom('certificates')
      .select(['serial', 'device_id', 'revoked_at', 'revocation_reason'])
      .where('status', 'in', ['revoked', 'superseded'])
      .where('revoked_at', '>', from)
      .execute();
    const removed = await db
      .selectFrom('devices')
      .select(['id', 'lifecycle', 'updated_at'])
      .where('lifecycle', 'in', ['quarantined', 'retired'])
      .where('updated_at', '>', from)
      .execute();
    for (const r of revoked) {
      const at = Number(r.revoked_at);
      since = Math.max(since, at);
      if (announced.has(`cert:${r.serial}`)) continue;
      deps.bus.emit('certificate.revoked', {
        deviceId: r.device_id,
        serial: r.serial,
        reason: r.revocation_reason ?? 'unspecified',
        at,
      });
    }
    for (const d of removed) {
      const at = Number(d.updated_at);
      since = Math.max(since, at);
      if (announced.has(`device:${d.id}:${at}`)) continue;
      deps.bus.emit('device.changed', { deviceId: d.id, change: `lifecycle.${d.lifecycle}`, at });
    }
    forgetOld();
  }

  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    poll()
      .catch((error: unknown) => deps.onError?.(error))
      .finally(() => {
        running = false;
      });
  }, deps.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const u of unsubscribe) u();
  };
}
