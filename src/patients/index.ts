/** The patients capability: which patient a device measures, when (bindings), by blind index. */
export {
  type Binding,
  type BindingWithPatient,
  checkPatientId,
  createPatientBindings,
  PATIENT_INDEX_PURPOSE,
  type PatientAudit,
  type PatientBindings,
  type PatientBindingsOptions,
} from './patient-bindings.js';
export { type PatientReach, type PatientReachDeps, patientReach } from './patient-reach.js';
export { blindIndexOf, patientIdOf } from './patient-ref.js';
export { type PatientRoutesDeps, patientRoutes } from './routes.js';
