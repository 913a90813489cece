import type {} from 'fastify';
import type { Principal } from '../access/principal.js';
import type { Permission } from '../access/roles.js';

/**
 * Every route declares who may call it in `config.access`:
 * - a Permission such as `'audit:read'`: authenticated, and the role must hold it;
 * - `'authenticated'`: any authenticated principal (e.g. "who am I");
 * - `'public'`: no authentication (health, JWKS, login, token endpoint, OpenAPI).
 * A route that declares nothing is refused at start-up: deny by default.
 */
export type RouteAccess = Permission | 'authenticated' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /**
     * For a `public` route that checks a credential of its own (not the bearer-token hook): what
     * the OpenAPI document names as its security scheme.
     */
    credential?: 'client-certificate' | 'enrollment-token';
    /** Refusals answered in a protocol's own format rather than problem+json (OpenAPI only). */
    errorBody?: 'hl7-ack';
  }
  interface FastifyRequest {
    /** Set by the auth hook for every non-public route. */
    principal?: Principal;
  }
}

export function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal) throw new Error('route declared public but used request.principal');
  return principal;
}
