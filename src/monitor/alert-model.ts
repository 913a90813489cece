import type { AuditEventInput } from '../audit/index.js';
import type { AlertsTable, IncidentsTable } from '../store/tables/monitor.js';
import {
  ALERT_CATEGORIES,
  ALERT_SEVERITIES,
  type AlertCategory,
  type AlertEvent,
  type AlertSeverity,
  type AlertState,
} from './contracts.js';

/** An alert as the API returns it (monitor HTTP contract, `AlertView`). */
export interface AlertView {
  id: string;
  category: AlertCategory;
  severity: AlertSeverity;
  rule: string;
  title: string;
  deviceId: string | null;
  careUnit: string | null;
  patientId?: string;
  state: AlertState;
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  incidentId: string | null;
  escalationLevel: number;
  evidence?: Record<string, unknown>;
  history?: Array<{ change: string; actor: string; reason: string | null; restricted?: boolean; at: string }>;
}

export interface IncidentView {
  id: string;
  title: string;
  severity: AlertSeverity;
  state: 'open' | 'resolved';
  alertCount: number;
  deviceIds: string[];
  openedAt: string;
  updatedAt: string;
}

/**
 * Who is asking: what the alert store needs to filter and to decide on patient data. Built by the
 * routes from a Principal (care units, patient reading right) and by the CLI (local operator).
 */
export interface AlertViewer {
  /** Care units the viewer is held to (clinical/technical alerts of these only); undefined = all. */
  careUnits?: readonly string[];
  /** Whether the viewer may read the patient of a clinical alert in this care unit. */
  mayReadPatient(careUnit: string | null): boolean;
  /** Recorded in the audit log when patient data is returned. */
  audit: AuditEventInput['actor'];
  breakGlass?: boolean;
}

/** Who made a change: recorded in history (name), events (id) and the audit log. */
export interface AlertActor {
  id: string;
  name: string;
  audit: AuditEventInput['actor'];
  breakGlass?: boolean;
}

export const SYSTEM_ACTOR: AlertActor = {
  id: 'system',
  name: 'system',
  audit: { type: 'system', name: 'pulsegate' },
};

export const OPEN_STATES: readonly AlertState[] = ['open', 'acknowledged'];

export const severityRank = (s: string) => ALERT_SEVERITIES.indexOf(s as AlertSeverity);
export const maxSeverity = (a: string, b: string): AlertSeverity =>
  (severityRank(a) >= severityRank(b) ? a : b) as AlertSeverity;

export const isCategory = (c: unknown): c is AlertCategory =>
  (ALERT_CATEGORIES as readonly unknown[]).includes(c);
export const isSeverity = (s: unknown): s is AlertSeverity =>
  (ALERT_SEVERITIES as readonly unknown[]).includes(s);

const iso = (ms: number) => new Date(Number(ms)).toISOString();

/** The bus event for a row (never PHI: no patient, no evidence). */
export function alertEvent(row: AlertsTable, change: string, actor: string, at: number): AlertEvent {
  return {
    alertId: row.id,
    category: row.category as AlertCategory,
    severity: row.severity as AlertSeverity,
    rule: row.rule,
    title: row.title,
    deviceId: row.device_id,
    careUnit: row.care_unit,
    state: row.state as AlertState,
    count: Number(row.count),
    incidentId: row.incident_id,
    escalationLevel: Number(row.escalation_level),
    change,
    actor,
    at,
  };
}

/** The list view of a row (no evidence, no history). */
export function alertView(row: AlertsTable): AlertView {
  return {
    id: row.id,
    category: row.category as AlertCategory,
    severity: row.severity as AlertSeverity,
    rule: row.rule,
    title: row.title,
    deviceId: row.device_id,
    careUnit: row.care_unit,
    state: row.state as AlertState,
    count: Number(row.count),
    firstSeenAt: iso(row.first_seen_at),
    lastSeenAt: iso(row.last_seen_at),
    incidentId: row.incident_id,
    escalationLevel: Number(row.escalation_level),
  };
}

export function incidentView(row: IncidentsTable): IncidentView {
  return {
    id: row.id,
    title: row.title,
    severity: row.severity as AlertSeverity,
    state: row.state as 'open' | 'resolved',
    alertCount: Number(row.alert_count),
    deviceIds: JSON.parse(row.device_ids) as string[],
    openedAt: iso(row.opened_at),
    updatedAt: iso(row.updated_at),
  };
}
