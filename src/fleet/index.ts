export { FleetMeter } from './fleet-meter.js';
export { FleetSummary, fleetRoutes } from './routes.js';
