import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../access/principal.js';
import { PulsegateError } from '../errors.js';
import type { FailureLimiter } from './failure-limiter.js';
import type { HttpAudit, HttpAuditEvent, HttpAuth } from './ports.js';
import type { RouteAccess } from './route-options.js';

/** Errors already written to the audit log, so the error handler does not record them twice. */
const audited = new WeakSet<object>();

export function markAudited(error: object): void {
  audited.add(error);
}

export function wasAudited(error: object): boolean {
  return audited.has(error);
}

function actorOf(principal: Principal | undefined): HttpAuditEvent['actor'] {
  if (!principal) return { type: 'anonymous' };
  return { type: principal.kind, id: principal.id, name: principal.name, role: principal.role };
}

/** The route pattern (`/api/v1/users/:username`), never the concrete URL, which may carry identifiers. */
export function routeId(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? '(unmatched)'}`;
}

/** Records a refused request in the audit log. */
export async function auditDenial(
  audit: HttpAudit,
  request: FastifyRequest,
  error: PulsegateError,
): Promise<void> {
  await audit.append({
    actor: actorOf(request.principal),
    action: 'access.denied',
    resource: { type: 'route', id: routeId(request) },
    outcome: 'denied',
    code: error.code,
    source: request.ip,
    requestId: request.id,
    ...(request.principal?.breakGlass ? { breakGlass: true } : {}),
  });
  markAudited(error);
}

/** Records, once per window, that an address is now refused for failing authentication. */
async function auditRateLimited(audit: HttpAudit, request: FastifyRequest): Promise<void> {
  await audit.append({
    actor: { type: 'anonymous' },
    action: 'access.rate-limited',
    resource: { type: 'route', id: routeId(request) },
    outcome: 'denied',
    code: 'RATE_LIMITED',
    reason:
      'too many failed authentications from this address; further failures answered 429 unaudited for the window',
    source: request.ip,
    requestId: request.id,
  });
}

/**
 * Deny by default: every route must declare `config.access`; the check runs in `onRequest`,
 * before the body is even parsed, so unauthenticated callers cannot make us do any work.
 */
export function registerAuthHook(
  app: FastifyInstance,
  auth: HttpAuth,
  audit: HttpAudit,
  failures?: FailureLimiter,
): void {
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: RouteAccess } | undefined)?.access;
    if (!access)
      throw new Error(`route ${route.method} ${route.url} declares no config.access (deny by default)`);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (access === 'public') return;
    if (!access) throw new PulsegateError('ROUTE_NOT_FOUND');
    try {
      request.principal = await auth.authenticate(request.headers.authorization, { source: request.ip });
    } catch (error) {
      if (!(error instanceof PulsegateError)) throw error;
      // An address that keeps failing authentication gets 429 without an audit write each time:
      // anyone who can reach the port could otherwise grow the append-only log at will. Callers
      // with a good credential from the same address are not affected.
      if (failures?.isOver(request.ip)) throw new PulsegateError('RATE_LIMITED');
      await auditDenial(audit, request, error);
      if (failures?.fail(request.ip)) await auditRateLimited(audit, request);
      throw error;
    }
    try {
      if (access !== 'authenticated') auth.authorize(request.principal, access);
    } catch (error) {
      if (error instanceof PulsegateError) await auditDenial(audit, request, error);
      throw error;
    }
    // Every request made under break-glass is flagged before any data is served. The entry names
    // the break-glass session, whose free-text reason (which may name a patient) stays in the
    // erasable break_glass table: the audit tree holds references, never PHI.
    const bg = request.principal.breakGlass;
    if (bg) {
      await audit.append({
        actor: actorOf(request.principal),
        action: 'break-glass.access',
        resource: { type: 'route', id: routeId(request) },
        outcome: 'success',
        reason: `break-glass session ${bg.id}`,
        breakGlass: true,
        source: request.ip,
        requestId: request.id,
      });
    }
  });
}
