import { PulsegateError } from '../errors.js';
import type { Principal, ResourceScope } from './principal.js';
import { CARE_UNIT_LIMITED, PERMISSIONS, type Permission, roleHas, VENDOR_LIMITED } from './roles.js';
import { scopeContextOf, scopesAllow } from './smart-scopes.js';

/**
 * True when the token's SMART scopes allow the permission: scopes narrow, never widen, and only
 * those of the principal's own context count (`scopeContextOf`). No scopes: the role alone rules.
 */
function scopedAllows(principal: Principal, permission: Permission): boolean {
  return (
    principal.scopes.length === 0 || scopesAllow(principal.scopes, permission, scopeContextOf(principal.kind))
  );
}

/** Throws ACCESS_DENIED unless the principal's role holds the permission and its scopes allow it. */
export function authorize(principal: Principal, permission: Permission): void {
  if (!roleHas(principal.role, permission) || !scopedAllows(principal, permission)) {
    throw new PulsegateError('ACCESS_DENIED');
  }
}

/** Every permission `authorize` would grant the principal (for "who am I" and the console). */
export function permissionsOf(principal: Principal): Permission[] {
  return PERMISSIONS.filter((p) => roleHas(principal.role, p) && scopedAllows(principal, p));
}

/**
 * True when the principal sees only its care units: clinicians, and service clients registered
 * for named care units (a client registered without any sees what its role allows).
 */
export function isCareUnitLimited(principal: Principal): boolean {
  return (
    CARE_UNIT_LIMITED.has(principal.role) || (principal.kind === 'client' && principal.careUnits.length > 0)
  );
}

/** True while the principal's break-glass session is running. */
export function breakGlassActive(principal: Principal, now: number): boolean {
  return principal.breakGlass !== undefined && principal.breakGlass.expiresAt > now;
}

/**
 * The care units a principal's reads of stored data are held to, or undefined when it sees every
 * unit (not care-unit limited, or break-glass active). Readings keep the unit they were taken in,
 * so a reader filters on that as well as on where the device is now.
 */
export function readableCareUnits(principal: Principal, now: number): readonly string[] | undefined {
  return isCareUnitLimited(principal) && !breakGlassActive(principal, now) ? principal.careUnits : undefined;
}

/** True when `now` lies inside the principal's access window (open ends are unbounded). */
export function withinWindow(
  window: { accessNotBefore?: number | null; accessNotAfter?: number | null },
  now: number,
): boolean {
  if (window.accessNotBefore != null && now < window.accessNotBefore) return false;
  if (window.accessNotAfter != null && now >= window.accessNotAfter) return false;
  return true;
}

/**
 * Applies the per-resource limits on top of the role: a clinician sees only its care units
 * (a resource with no care unit included) unless break-glass is active; a vendor account
 * touches only its listed devices, and only inside its access window.
 */
export function checkResource(principal: Principal, scope: ResourceScope, now: number): void {
  if (isCareUnitLimited(principal)) {
    const unit = scope.careUnit ?? undefined;
    const inUnit = unit !== undefined && principal.careUnits.includes(unit);
    if (!inUnit && !breakGlassActive(principal, now)) throw new PulsegateError('ACCESS_CARE_UNIT_DENIED');
  }
  if (VENDOR_LIMITED.has(principal.role)) {
    if (!withinWindow(principal, now)) throw new PulsegateError('ACCESS_VENDOR_WINDOW_CLOSED');
    if (scope.deviceId === undefined || !principal.vendorDevices.includes(scope.deviceId)) {
      throw new PulsegateError('ACCESS_DENIED');
    }
  }
}
