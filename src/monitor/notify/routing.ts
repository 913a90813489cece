import { ALERT_SEVERITIES, type AlertCategory, type AlertEvent, type AlertSeverity } from '../contracts.js';

/** Which alert events a notifier receives (every part optional; an empty route takes everything but merged duplicates). */
export interface Route {
  /** Lowest severity delivered (default info: all). */
  minSeverity?: AlertSeverity | undefined;
  /** Categories delivered (default all). */
  categories?: readonly AlertCategory[] | undefined;
  /** Alert changes delivered (`created`, `escalated`, `acknowledged`, ...; default all but `deduplicated`). */
  changes?: readonly string[] | undefined;
}

const RANK = new Map(ALERT_SEVERITIES.map((s, i) => [s, i]));

/** True when the route takes the event. */
export function routeMatches(route: Route, event: AlertEvent): boolean {
  if ((RANK.get(event.severity) ?? 0) < (RANK.get(route.minSeverity ?? 'info') ?? 0)) return false;
  if (route.categories && route.categories.length > 0 && !route.categories.includes(event.category))
    return false;
  if (route.changes && route.changes.length > 0) return route.changes.includes(event.change);
  return event.change !== 'deduplicated';
}
