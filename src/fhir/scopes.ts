/**
 * SMART v2 scope checks per FHIR interaction (SMART App Launch 2.x §"Scopes for requesting FHIR
 * resources"). The auth hook has already checked the route's permission against role and scopes;
 * here a token that carries scopes must also hold one for this resource type and this
 * interaction letter (`r` read, `s` search, `c` create, `u` update), in a context the principal
 * can use: `system/` for service clients, `user/` for users. `patient/` scopes need a launch
 * patient context, which backend-services tokens never carry, so they grant nothing here.
 * Tokens without scopes (console sessions, API tokens) are governed by role alone.
 */
import { type Principal, parseSmartScope, scopeContextOf } from '../access/index.js';
import { PulsegateError } from '../errors.js';

export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

/** True when the principal's scopes allow the interaction on the resource type. */
export function scopeAllows(principal: Principal, resourceType: string, interaction: Interaction): boolean {
  if (principal.scopes.length === 0) return true;
  const context = scopeContextOf(principal.kind);
  return principal.scopes.some((text) => {
    const scope = parseSmartScope(text);
    return (
      scope !== undefined &&
      scope.context === context &&
      (scope.resource === '*' || scope.resource === resourceType) &&
      scope.interactions.has(interaction)
    );
  });
}

/** Throws ACCESS_DENIED (audited by the FHIR error handler) unless `scopeAllows`. */
export function requireScope(principal: Principal, resourceType: string, interaction: Interaction): void {
  if (!scopeAllows(principal, resourceType, interaction)) {
    throw new PulsegateError('ACCESS_DENIED', `scope does not allow ${interaction} on ${resourceType}`);
  }
}
