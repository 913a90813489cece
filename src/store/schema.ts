import type {
  ApiTokensTable,
  BreakGlassTable,
  ServiceClientsTable,
  UsedJtisTable,
  UsersTable,
} from './tables/access.js';
import type { AuditCheckpointsTable, AuditEntriesTable } from './tables/audit.js';
import type { SettingsTable } from './tables/core.js';
import type { DevicesTable } from './tables/devices.js';
import type { PatientRecordsTable } from './tables/fhir.js';
import type { DataKeysTable, SigningKeysTable } from './tables/keys.js';
import type {
  AlertHistoryTable,
  AlertSuppressionsTable,
  AlertsTable,
  DeviceBaselinesTable,
  IncidentsTable,
} from './tables/monitor.js';
import type { ClinicalPatientSettingsTable } from './tables/monitor-clinical.js';
import type { NotifyOutboxTable } from './tables/monitor-notify.js';
import type { CertificatesTable, EnrollmentTokensTable } from './tables/pki.js';
import type {
  DeviceIngestStateTable,
  IngestReceiptsTable,
  PatientBindingsTable,
  TelemetryReadingsTable,
} from './tables/telemetry.js';

/** Every table, as Kysely sees it. Each capability's tables live in `tables/<capability>.ts`. */
export interface Database {
  settings: SettingsTable;
  data_keys: DataKeysTable;
  signing_keys: SigningKeysTable;
  users: UsersTable;
  service_clients: ServiceClientsTable;
  api_tokens: ApiTokensTable;
  used_jtis: UsedJtisTable;
  break_glass: BreakGlassTable;
  audit_entries: AuditEntriesTable;
  audit_checkpoints: AuditCheckpointsTable;
  devices: DevicesTable;
  enrollment_tokens: EnrollmentTokensTable;
  certificates: CertificatesTable;
  telemetry_readings: TelemetryReadingsTable;
  device_ingest_state: DeviceIngestStateTable;
  patient_bindings: PatientBindingsTable;
  patient_records: PatientRecordsTable;
  ingest_receipts: IngestReceiptsTable;
  alerts: AlertsTable;
  alert_history: AlertHistoryTable;
  incidents: IncidentsTable;
  alert_suppressions: AlertSuppressionsTable;
  device_baselines: DeviceBaselinesTable;
  clinical_patient_settings: ClinicalPatientSettingsTable;
  notify_outbox: NotifyOutboxTable;
}
