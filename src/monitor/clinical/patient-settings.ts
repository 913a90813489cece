import { PulsegateError } from '../../errors.js';
import type { Store } from '../../store/index.js';
import type { Spo2Scale } from './news2.js';

/** Per-patient NEWS2 settings, keyed by the patient's blind index (never the identifier). */
export interface PatientSettings {
  /** The SpO2 scale prescribed for a patient (1 unless set). */
  spo2Scale(patientIndex: string): Promise<Spo2Scale>;
  setSpo2Scale(patientIndex: string, scale: number, actor: string): Promise<Spo2Scale>;
}

export function createPatientSettings(deps: { store: Store; now?: () => number }): PatientSettings {
  const now = deps.now ?? Date.now;
  const db = deps.store.db;
  return {
    async spo2Scale(patientIndex) {
      const row = await db
        .selectFrom('clinical_patient_settings')
        .select('spo2_scale')
        .where('patient_index', '=', patientIndex)
        .executeTakeFirst();
      return Number(row?.spo2_scale ?? 1) === 2 ? 2 : 1;
    },
    async setSpo2Scale(patientIndex, scale, actor) {
      if (scale !== 1 && scale !== 2) throw new PulsegateError('CLINICAL_SCALE_INVALID');
      const t = now();
      await db
        .insertInto('clinical_patient_settings')
        .values({ patient_index: patientIndex, spo2_scale: scale, updated_at: t, updated_by: actor })
        .onConflict((oc) =>
          oc.column('patient_index').doUpdateSet({ spo2_scale: scale, updated_at: t, updated_by: actor }),
        )
        .execute();
      return scale;
    },
  };
}
