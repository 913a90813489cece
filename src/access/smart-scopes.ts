/**
 * SMART on FHIR scopes (App Launch 2.x §"Scopes for requesting FHIR resources"), v2 syntax
 * `system/Observation.rs` and the older v1 `user/*.read` / `.write` / `.*`. Scopes only ever
 * narrow what a role allows: `authorize` requires both.
 */
import type { Permission } from './roles.js';

/** One of the five SMART v2 interactions: create, read, update, delete, search. */
export type SmartInteraction = 'c' | 'r' | 'u' | 'd' | 's';

/** A parsed SMART resource scope. */
export interface SmartScope {
  readonly context: 'patient' | 'user' | 'system';
  /** A FHIR resource type, or `*` for all. */
  readonly resource: string;
  readonly interactions: ReadonlySet<SmartInteraction>;
}

const ORDER: readonly SmartInteraction[] = ['c', 'r', 'u', 'd', 's'];
const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{0,63})\.([a-z*]{1,5})$/;
const V1: Readonly<Record<string, readonly SmartInteraction[]>> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ORDER,
};

/**
 * Parses one scope; undefined when it is not a resource scope we understand. Granular v2 scopes
 * with query parameters (`?category=…`) are refused rather than widened to the whole type.
 */
export function parseSmartScope(scope: string): SmartScope | undefined {
  const m = SCOPE.exec(scope);
  if (!m) return undefined;
  const [, context, resource, perms] = m as unknown as [string, SmartScope['context'], string, string];
  const v1 = V1[perms];
  if (v1) return { context, resource, interactions: new Set(v1) };
  // v2: letters from "cruds", each at most once and in that order (SMART 2.0 §3.0.2.1).
  let at = 0;
  for (const letter of perms) {
    const index = ORDER.indexOf(letter as SmartInteraction, at);
    if (index < 0) return undefined;
    at = index + 1;
  }
  return { context, resource, interactions: new Set(perms as unknown as Iterable<SmartInteraction>) };
}

/** Our permissions for each FHIR resource type, split by reading (r, s) and writing (c, u, d). */
const RESOURCE_PERMISSIONS: Readonly<Record<string, { read: Permission[]; write: Permission[] }>> = {
  Observation: { read: ['telemetry:read'], write: ['telemetry:write'] },
  Patient: { read: ['patients:read'], write: ['patients:write'] },
  Device: { read: ['devices:read'], write: [] },
  DeviceMetric: { read: ['devices:read'], write: [] },
  AuditEvent: { read: ['audit:read'], write: [] },
};

/** The FHIR resource types that map onto permissions. */
export const SMART_RESOURCE_TYPES: readonly string[] = Object.keys(RESOURCE_PERMISSIONS);

/** The permissions one parsed scope grants (before the role is applied). */
export function scopePermissions(scope: SmartScope): Set<Permission> {
  const out = new Set<Permission>();
  const types = scope.resource === '*' ? SMART_RESOURCE_TYPES : [scope.resource];
  const reads = scope.interactions.has('r') || scope.interactions.has('s');
  const writes = scope.interactions.has('c') || scope.interactions.has('u') || scope.interactions.has('d');
  for (const type of types) {
    const mapped = RESOURCE_PERMISSIONS[type];
    if (!mapped) continue;
    if (reads) for (const p of mapped.read) out.add(p);
    if (writes) for (const p of mapped.write) out.add(p);
  }
  return out;
}

/**
 * The one SMART context a principal's scopes count in: `system/` for service clients, `user/` for
 * users. `patient/` scopes need a launch patient context, which no token here carries, so they
 * never count (a client registered with `patient/*.rs` reads nothing, on `/fhir` or `/api/v1`).
 */
export function scopeContextOf(kind: 'user' | 'client'): 'system' | 'user' {
  return kind === 'client' ? 'system' : 'user';
}

/**
 * True when any of the scopes, in `context`, grants the permission. Unparseable scopes and scopes
 * of another context grant nothing.
 */
export function scopesAllow(
  scopes: readonly string[],
  permission: Permission,
  context: SmartScope['context'],
): boolean {
  return scopes.some((s) => {
    const parsed = parseSmartScope(s);
    return parsed !== undefined && parsed.context === context && scopePermissions(parsed).has(permission);
  });
}

/** True when `wide` covers everything `narrow` asks for (same context, type, subset of interactions). */
export function scopeCovers(wide: SmartScope, narrow: SmartScope): boolean {
  if (wide.context !== narrow.context) return false;
  if (wide.resource !== '*' && wide.resource !== narrow.resource) return false;
  for (const i of narrow.interactions) if (!wide.interactions.has(i)) return false;
  return true;
}

/**
 * The scopes to grant: every requested scope that some registered scope covers (requested ∩
 * registered, RFC 6749 §3.3). No request means all registered scopes.
 */
export function grantScopes(
  requested: readonly string[] | undefined,
  registered: readonly string[],
): string[] {
  if (requested === undefined) return [...registered];
  const wide = registered.map(parseSmartScope).filter((s): s is SmartScope => s !== undefined);
  const granted: string[] = [];
  for (const scope of requested) {
    if (granted.includes(scope)) continue;
    const parsed = parseSmartScope(scope);
    const ok =
      registered.includes(scope) || (parsed !== undefined && wide.some((w) => scopeCovers(w, parsed)));
    if (ok) granted.push(scope);
  }
  return granted;
}

/** Splits an OAuth `scope` parameter (space-delimited, RFC 6749 §3.3); empty means "not requested". */
export function splitScopes(scope: string | undefined): string[] | undefined {
  const scopes = (scope ?? '').split(' ').filter((s) => s.length > 0);
  return scopes.length > 0 ? scopes : undefined;
}
