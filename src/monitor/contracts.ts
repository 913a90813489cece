/**
 * The contracts inside the monitor capability: what detectors hand to the alert store, what the
 * alert store announces, and what notifiers and the console consume. Detectors (device behaviour,
 * fleet audit checks, clinical vitals, NEWS2, technical alarms) only ever call `AlertSink.raise`;
 * notifiers (webhook, syslog/CEF, live stream) only ever listen to `alert.raised` / `alert.updated`
 * on the event bus. Neither side knows the other.
 *
 * PHI rule: a `NewAlert` may name a patient and carry vital values in its evidence (clinical
 * alerts); the alert store keeps both encrypted (patient-month data key, blind index for search)
 * and returns them only to principals allowed to read that patient. Bus events, logs and
 * notifications carry ids, rule names, severities and device ids, never patient identifiers or values.
 */

import { NOTIFY_CHANGES } from '../config/index.js';

export const ALERT_SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const ALERT_CATEGORIES = ['security', 'clinical', 'technical'] as const;
export type AlertCategory = (typeof ALERT_CATEGORIES)[number];

/**
 * What an alert event reports (`AlertEvent.change`): a new alert, a merged duplicate, an alert
 * grouped into an incident, a person's change, or an escalation. Notification routes select
 * among these (config `notify.*.changes`).
 */
export const ALERT_CHANGES = NOTIFY_CHANGES;

export const ALERT_STATES = ['open', 'acknowledged', 'resolved', 'false-positive'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

/** What a detector reports. */
export interface NewAlert {
  category: AlertCategory;
  severity: AlertSeverity;
  /** Stable machine name of the rule that fired, e.g. `device.flood`, `clinical.news2`, `technical.sensor-off`. */
  rule: string;
  /** One line for people; never PHI (no patient identifier, no values). */
  title: string;
  deviceId: string | null;
  careUnit: string | null;
  /** The patient a clinical alert is about; stored encrypted, never in events, logs or notifications. */
  patientId?: string | null;
  /** The facts behind the alert (counts, thresholds, addresses, and for clinical alerts the values). */
  evidence: Record<string, unknown>;
  /** While an alert with this key is open or acknowledged, a new report updates it (count, last seen) instead of adding one. */
  dedupKey: string;
  /** Epoch milliseconds of the observation that fired the rule. */
  at: number;
}

export type RaiseResult =
  | { outcome: 'created'; alertId: string }
  | { outcome: 'deduplicated'; alertId: string }
  | { outcome: 'suppressed'; suppressionId: string };

/** Implemented by the alert store; the only way detectors raise alerts. */
export interface AlertSink {
  raise(alert: NewAlert): Promise<RaiseResult>;
}

/** Payload of the `alert.raised` and `alert.updated` bus events (no PHI). */
export interface AlertEvent {
  alertId: string;
  category: AlertCategory;
  severity: AlertSeverity;
  rule: string;
  title: string;
  deviceId: string | null;
  careUnit: string | null;
  state: AlertState;
  /** How many reports the alert has merged (1 when new). */
  count: number;
  incidentId: string | null;
  /** 0 until an unacknowledged alert is escalated. */
  escalationLevel: number;
  /** What happened: one of `ALERT_CHANGES`. */
  change: string;
  /** Who changed it (user or client id), or `system`. */
  actor: string;
  at: number;
}

/** An `AlertEvent` for a newly created alert, with `over` on top (tests, benchmarks, notifier previews). */
export function createdAlertEvent(
  over: Partial<AlertEvent> & Pick<AlertEvent, 'alertId' | 'rule'>,
): AlertEvent {
  return {
    category: 'security',
    severity: 'high',
    title: over.rule,
    deviceId: null,
    careUnit: null,
    state: 'open',
    count: 1,
    incidentId: null,
    escalationLevel: 0,
    change: 'created',
    actor: 'system',
    at: Date.now(),
    ...over,
  };
}
