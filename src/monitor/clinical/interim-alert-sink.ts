import { randomUUID } from 'node:crypto';
import type { EventBus } from '../../events/index.js';
import type { AlertSink, NewAlert, RaiseResult } from '../contracts.js';

/**
 * A stand-in `AlertSink` for branches without the durable alert store: it de-duplicates in memory
 * by `dedupKey` and announces `alert.raised` on the bus (no PHI: the patient and evidence stay here
 * and are dropped). The composition root replaces it with the alert store (monitor-core); nothing
 * else depends on it.
 */
export function createInterimAlertSink(bus: EventBus, now: () => number = Date.now): AlertSink {
  const open = new Map<string, { id: string; count: number }>();
  return {
    async raise(alert: NewAlert): Promise<RaiseResult> {
      const existing = open.get(alert.dedupKey);
      const entry = existing ?? { id: randomUUID(), count: 0 };
      entry.count++;
      open.set(alert.dedupKey, entry);
      if (open.size > 50_000) open.delete(open.keys().next().value as string);
      bus.emit('alert.raised', {
        alertId: entry.id,
        category: alert.category,
        severity: alert.severity,
        rule: alert.rule,
        title: alert.title,
        deviceId: alert.deviceId,
        careUnit: alert.careUnit,
        state: 'open',
        count: entry.count,
        incidentId: null,
        escalationLevel: 0,
        change: existing ? 'deduplicated' : 'created',
        actor: 'system',
        at: now(),
      });
      return { outcome: existing ? 'deduplicated' : 'created', alertId: entry.id };
    },
  };
}
