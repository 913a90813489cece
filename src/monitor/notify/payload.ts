import type { AlertEvent } from '../contracts.js';

/**
 * What every notifier sends: a Standard Webhooks payload (`type`, `timestamp`, `data`). The data is
 * the bus's `AlertEvent`, which by contract carries ids, rule, severity, device and care unit,
 * never a patient identifier or a value; it is copied field by field so nothing else can slip in.
 */
export interface AlertNotification {
  type: 'alert.raised' | 'alert.updated';
  timestamp: string;
  data: AlertEvent;
}

export function notificationOf(type: AlertNotification['type'], e: AlertEvent): AlertNotification {
  return {
    type,
    timestamp: new Date(e.at).toISOString(),
    data: {
      alertId: e.alertId,
      category: e.category,
      severity: e.severity,
      rule: e.rule,
      title: e.title,
      deviceId: e.deviceId,
      careUnit: e.careUnit,
      state: e.state,
      count: e.count,
      incidentId: e.incidentId,
      escalationLevel: e.escalationLevel,
      change: e.change,
      actor: e.actor,
      at: e.at,
    },
  };
}
