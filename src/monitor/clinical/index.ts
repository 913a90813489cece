/** Clinical monitoring: vital-sign limits per care unit, NEWS2, triage, technical alarms. */
export {
  byAcuity,
  type ClinicalMonitor,
  type ClinicalMonitorConfig,
  type ClinicalMonitorDeps,
  createClinicalMonitor,
  type TriageItem,
} from './clinical-monitor.js';
export {
  checkLimit,
  DEFAULT_LIMITS,
  type LimitBreach,
  LimitTable,
  type UnitLimits,
  type VitalLimit,
} from './limits.js';
export * from './news2.js';
export { createPatientSettings, type PatientSettings } from './patient-settings.js';
export { type ClinicalRoutesDeps, clinicalRoutes } from './routes.js';
export { type TechnicalRule, technicalRuleOf } from './technical-alarms.js';
