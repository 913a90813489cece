/** The FHIR capability: a FHIR R4 view of patients, devices, vital signs and the audit log. */
export { capabilityStatement, RESOURCES, smartConfiguration } from './capability.js';
export type { FhirDeps, FhirRequest } from './context.js';
export { createFhirApi, type FhirApi } from './fhir-api.js';
export { blindIndexOf, observationIdOf, observationKeyOf, patientIdOf } from './ids.js';
export { ERROR_CODE_SYSTEM, outcomeCode, outcomeFor } from './operation-outcome.js';
export { FHIR_CONTENT_TYPE, type FhirRoutesDeps, fhirRoutes } from './routes.js';
