/** Tables of the FHIR capability. Times are Unix milliseconds. */

/**
 * Patients registered through FHIR (a small ADT feed: create and update). The id is the patient's
 * blind index (purpose 'patient-id', the same one telemetry and bindings carry), so a Patient and
 * its readings meet without any identifier in clear; everything else is inside `sealed`.
 */
export interface PatientRecordsTable {
  id: string;
  /** Sealed (keys envelope, scope = the blind index) FHIR Patient JSON without id and meta. */
  sealed: Uint8Array;
  version: number;
  created_at: number;
  updated_at: number;
  /** Principal id of the last writer (a workforce or client id, never a patient's). */
  updated_by: string;
}
