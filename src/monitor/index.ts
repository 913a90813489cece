/**
 * The monitor capability: the durable alert store (de-duplication, lifecycle, suppression,
 * incidents, escalation), device-behaviour detection at our broker, fleet audit checks and the
 * detection rules. Clinical detectors and notifiers live in sub-folders and use the contracts.
 */
export type { AlertActor, AlertView, AlertViewer, IncidentView } from './alert-model.js';
export { SYSTEM_ACTOR } from './alert-model.js';
export { type AlertChange, type AlertQuery, AlertStore, type AlertStoreOptions } from './alert-store.js';
export { type BaselineProfile, HourOfDay, newProfile } from './baseline.js';
export { BehaviourDetector, type DeviceDirectory } from './behaviour-detector.js';
export * from './contracts.js';
export {
  FLEET_CHECKS,
  type FleetCheck,
  type FleetFinding,
  keyProblem,
  runFleetChecks,
} from './fleet-checks.js';
export { createMonitor, type Monitor, type MonitorOptions } from './monitor-service.js';
export { type MonitorRoutesDeps, monitorRoutes } from './routes.js';
export {
  DEFAULT_RULES_FILE,
  loadRules,
  MonitorRules,
  parseRules,
  RULE_NAMES,
  type RuleName,
} from './rules.js';
export type { NewSuppression, SuppressionView } from './suppressions.js';
