/**
 * Tables of clinical monitoring (monitor/clinical). Times are Unix milliseconds.
 *
 * `clinical_patient_settings` holds the NEWS2 oxygen-saturation scale prescribed for a patient
 * (scale 2 only for hypercapnic respiratory failure), keyed by the patient's blind index: the
 * identifier itself is never stored here.
 */
export interface ClinicalPatientSettingsTable {
  patient_index: string;
  /** 1 or 2. */
  spo2_scale: number;
  updated_at: number;
  /** User or client id that set it. */
  updated_by: string;
}
