/** Shapes of the API responses the console reads (see the OpenAPI document and MONITOR-API). */
export interface Device {
  id: string;
  type: string;
  vendor: string;
  model: string;
  serial: string | null;
  firmwareVersion: string | null;
  careUnit: string | null;
  bed: string | null;
  ipAddress: string | null;
  macAddress: string | null;
  owner: string | null;
  lifecycle: string;
  certificateStatus: string;
  lastSeenAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface FleetSummary {
  devices: { total: number; byType: Array<{ type: string; lifecycle: string; count: number }> };
  connected: number;
  messagesPerSecond: number;
  certificates: {
    expiringSoonDays: number;
    expiringSoon: number;
    expired: number;
    soonest: Array<{ deviceId: string; notAfter: string }>;
  };
  at: string;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];

export interface AlertView {
  id: string;
  category: 'security' | 'clinical' | 'technical';
  severity: Severity;
  rule: string;
  title: string;
  deviceId: string | null;
  careUnit: string | null;
  patientId?: string;
  state: 'open' | 'acknowledged' | 'resolved' | 'false-positive';
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  incidentId: string | null;
  escalationLevel: number;
  evidence?: Record<string, unknown>;
  history?: Array<{ change: string; actor: string; reason: string | null; restricted?: boolean; at: string }>;
}

export interface Incident {
  id: string;
  title: string;
  severity: Severity;
  state: string;
  alertCount: number;
  deviceIds: string[];
  openedAt: string;
  updatedAt: string;
  alerts?: AlertView[];
}

export interface TriageItem {
  patientId: string;
  careUnit: string | null;
  bed: string | null;
  score: number;
  level: 'low' | 'low-medium' | 'medium' | 'high';
  trend: 'up' | 'down' | 'flat' | null;
  /** NEWS2 sub-scores (0-3); null when that parameter has no recent value. */
  components: Record<string, number | null>;
  observedAt: string;
  deviceIds: string[];
  /** Parameters without a recent value: the score is then a lower bound. */
  missing?: string[];
  spo2Scale?: 1 | 2;
}

export interface Observation {
  deviceId: string;
  seq: number;
  time: string;
  kind: string;
  display: string;
  code: { system: string; code: string };
  value: number;
  unit: string;
  flags: string[];
}

export interface TelemetryPage {
  observations: Observation[];
  alarms: Array<{
    deviceId: string;
    seq: number;
    time: string;
    code: string;
    priority: string;
    kind: string;
  }>;
}
