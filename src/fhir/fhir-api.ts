import { auditEventApi } from './audit-event-api.js';
import type { FhirDeps } from './context.js';
import { deviceApi } from './device-api.js';
import { observationApi } from './observation-api.js';
import { observationCreate } from './observation-create.js';
import { patientApi } from './patient-api.js';

/** The FHIR handlers, bound to their services; transport-free (routes.ts maps HTTP onto them). */
export function createFhirApi(deps: FhirDeps) {
  const patient = patientApi(deps);
  const observation = { ...observationApi(deps), create: observationCreate(deps, patient.identifierOf) };
  return {
    patient,
    observation,
    device: deviceApi(deps),
    auditEvent: auditEventApi(deps),
  };
}

export type FhirApi = ReturnType<typeof createFhirApi>;
