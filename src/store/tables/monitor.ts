/**
 * Monitoring tables. Times are Unix milliseconds. Clinical alerts keep their patient identifier
 * and evidence only in `sealed` (KeyService envelope, patient-month key) with `patient_index` the
 * patient's blind index; `evidence` is plain JSON only for security and technical alerts.
 * `open_key` equals `dedup_key` while the alert is open or acknowledged (null afterwards), so
 * the database itself refuses a second open alert with one key.
 */
export interface AlertsTable {
  id: string;
  category: string;
  severity: string;
  rule: string;
  title: string;
  device_id: string | null;
  care_unit: string | null;
  patient_index: string | null;
  evidence: string | null;
  sealed: Uint8Array | null;
  key_period: string | null;
  state: string;
  count: number;
  first_seen_at: number;
  last_seen_at: number;
  incident_id: string | null;
  escalation_level: number;
  escalated_at: number | null;
  dedup_key: string;
  open_key: string | null;
  updated_at: number;
}

/** Every change of an alert: who (user/client id or `system`), why, when. */
export interface AlertHistoryTable {
  id: string;
  alert_id: string;
  change: string;
  actor: string;
  /** System text only (an escalation level); a person's reason is in `reason_sealed`. */
  reason: string | null;
  /** A person's free-text reason, sealed under the alert data key of `reason_period` (016). */
  reason_sealed: Uint8Array | null;
  reason_period: string | null;
  at: number;
}

/** Related alerts grouped: `group_key` is `device:<id>` or `rule:<name>`; `device_ids` a JSON array. */
export interface IncidentsTable {
  id: string;
  group_key: string;
  title: string;
  severity: string;
  state: string;
  alert_count: number;
  device_ids: string;
  opened_at: number;
  updated_at: number;
}

/** A window in which matching reports are not raised (rule and/or device; null = any). */
export interface AlertSuppressionsTable {
  id: string;
  rule: string | null;
  device_id: string | null;
  reason: string;
  created_by: string;
  created_at: number;
  expires_at: number;
}

/** A device's learned behaviour (hour-of-day profile, message sizes, addresses), as JSON. */
export interface DeviceBaselinesTable {
  device_id: string;
  profile: string;
  updated_at: number;
}
