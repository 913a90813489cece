import type {} from '@fastify/rate-limit';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, type ErrorCode, isPulsegateError, PulsegateError } from '../errors.js';
import { requirePrincipal } from '../http/route-options.js';
import type { AccessService } from './access-service.js';
import { permissionsOf } from './policy.js';
import * as S from './route-schemas.js';

/** What the access routes are built from. */
export interface AccessRoutesDeps {
  access: AccessService;
  /** Requests per minute per address on the login and token endpoints (config `auth.loginRateLimitPerMinute`). */
  loginRateLimitPerMinute?: number;
}

/** RFC 6749 §5.2 error codes for our token-endpoint failures. */
const OAUTH_ERRORS: Partial<Record<ErrorCode, { error: string; status: number }>> = {
  AUTH_GRANT_UNSUPPORTED: { error: 'unsupported_grant_type', status: 400 },
  AUTH_SCOPE_INVALID: { error: 'invalid_scope', status: 400 },
  AUTH_CLIENT_INVALID: { error: 'invalid_client', status: 401 },
  AUTH_ASSERTION_REPLAYED: { error: 'invalid_client', status: 401 },
};

/** The token endpoint answers in OAuth's own error format, never problem+json. */
async function oauthErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const code: ErrorCode | undefined = isPulsegateError(error) ? error.code : undefined;
  const status = (error as FastifyError).statusCode ?? 500;
  const mapped = code ? OAUTH_ERRORS[code] : undefined;
  let body: { error: string; error_description: string };
  let httpStatus: number;
  if (mapped && code) {
    [body, httpStatus] = [{ error: mapped.error, error_description: ERRORS[code].message }, mapped.status];
  } else if (code === 'RATE_LIMITED' || status === 429) {
    [body, httpStatus] = [{ error: 'slow_down', error_description: ERRORS.RATE_LIMITED.message }, 429];
  } else if ((code && ERRORS[code].status < 500) || (status >= 400 && status < 500)) {
    [body, httpStatus] = [
      { error: 'invalid_request', error_description: 'The request is missing or has an invalid parameter' },
      400,
    ];
  } else {
    request.log.error(
      { err: error, req: { id: request.id, route: request.routeOptions.url } },
      'token endpoint error',
    );
    [body, httpStatus] = [{ error: 'server_error', error_description: ERRORS.INTERNAL.message }, 500];
  }
  return reply.code(httpStatus).header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);
}

/** Users, clients, tokens, the OAuth token endpoint, JWKS and break-glass over HTTP. */
export function accessRoutes(deps: AccessRoutesDeps): FastifyPluginAsync {
  const { access } = deps;
  const rateLimit = { max: deps.loginRateLimitPerMinute ?? 30, timeWindow: '1 minute' };

  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['access'];

    app.post(
      '/api/v1/auth/login',
      {
        config: { access: 'public', rateLimit },
        schema: {
          tags,
          summary: 'Log in with a password',
          body: S.LoginBody,
          response: { 200: S.LoginResponse },
        },
      },
      async (request, reply) => {
        const result = await access.login(request.body, { source: request.ip });
        return reply.header('cache-control', 'no-store').send(result);
      },
    );

    app.post(
      '/oauth/token',
      {
        config: { access: 'public', rateLimit },
        errorHandler: oauthErrorHandler,
        schema: {
          tags,
          summary: 'OAuth 2.0 token endpoint (SMART Backend Services: client_credentials + private_key_jwt)',
          consumes: ['application/x-www-form-urlencoded'],
          body: S.TokenForm,
          response: { 200: S.TokenResponse, '4xx': S.OAuthErrorResponse },
        },
      },
      async (request, reply) => {
        const form = request.body as Record<string, string>;
        const result = await access.token(form, { source: request.ip, tokenUrl: access.tokenUrl });
        return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(result);
      },
    );

    app.get(
      '/.well-known/jwks.json',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'Public keys that verify our access tokens',
          response: { 200: S.JwksSchema },
        },
      },
      async () => access.jwks(),
    );

    app.get(
      '/api/v1/me',
      {
        config: { access: 'authenticated' },
        schema: { tags, summary: 'The caller', response: { 200: S.MeSchema } },
      },
      async (request) => {
        const p = requirePrincipal(request.principal);
        return {
          kind: p.kind,
          id: p.id,
          name: p.name,
          role: p.role,
          careUnits: [...p.careUnits],
          vendorDevices: [...p.vendorDevices],
          scopes: [...p.scopes],
          permissions: permissionsOf(p),
          ...(p.breakGlass ? { breakGlass: { id: p.breakGlass.id, expiresAt: p.breakGlass.expiresAt } } : {}),
        };
      },
    );

    app.get(
      '/api/v1/users',
      {
        config: { access: 'users:read' },
        schema: { tags, summary: 'List users', response: { 200: Type.Array(S.UserSchema) } },
      },
      async () => access.users.list(),
    );

    app.get(
      '/api/v1/users/:username',
      {
        config: { access: 'users:read' },
        schema: { tags, summary: 'One user', params: S.UsernameParams, response: { 200: S.UserSchema } },
      },
      async (request) => access.users.get(request.params.username),
    );

    app.post(
      '/api/v1/users',
      {
        config: { access: 'users:write' },
        schema: { tags, summary: 'Create a user', body: S.NewUserBody, response: { 201: S.UserSchema } },
      },
      async (request, reply) => {
        const user = await access.users.add(request.body, requirePrincipal(request.principal));
        return reply.code(201).send(user);
      },
    );

    for (const action of ['disable', 'enable'] as const) {
      app.post(
        `/api/v1/users/:username/${action}`,
        {
          config: { access: 'users:write' },
          schema: {
            tags,
            summary: `${action === 'disable' ? 'Disable' : 'Enable'} a user`,
            params: S.UsernameParams,
          },
        },
        async (request, reply) => {
          await access.users[action](request.params.username, requirePrincipal(request.principal));
          return reply.code(204).send();
        },
      );
    }

    app.get(
      '/api/v1/clients',
      {
        config: { access: 'clients:read' },
        schema: { tags, summary: 'List service clients', response: { 200: Type.Array(S.ClientSchema) } },
      },
      async () => access.clients.list(),
    );

    app.post(
      '/api/v1/clients',
      {
        config: { access: 'clients:write' },
        schema: {
          tags,
          summary: 'Register a SMART backend-services client',
          body: S.NewClientBody,
          response: { 201: S.ClientSchema },
        },
      },
      async (request, reply) => {
        const client = await access.clients.register(request.body, requirePrincipal(request.principal));
        return reply.code(201).send(client);
      },
    );

    app.post(
      '/api/v1/clients/:id/disable',
      {
        config: { access: 'clients:write' },
        schema: { tags, summary: 'Disable a service client', params: S.IdParams },
      },
      async (request, reply) => {
        await access.clients.disable(request.params.id, requirePrincipal(request.principal));
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/v1/tokens',
      {
        config: { access: 'tokens:create' },
        schema: {
          tags,
          summary: 'Create an API token (for yourself unless admin)',
          description:
            'The token is shown only in this response. It expires after ttlSeconds, 30 days when not given; at most 365 days.',
          body: S.NewApiTokenBody,
          response: { 201: S.CreatedApiTokenSchema },
        },
      },
      async (request, reply) => {
        const actor = requirePrincipal(request.principal);
        const username = request.body.username ?? (actor.kind === 'user' ? actor.name : undefined);
        if (username === undefined) {
          throw new PulsegateError('VALIDATION_FAILED', undefined, {
            fields: [{ pointer: '/username', problem: 'required' }],
          });
        }
        const created = await access.createApiToken({ ...request.body, username }, actor);
        return reply.code(201).header('cache-control', 'no-store').send(created);
      },
    );

    app.delete(
      '/api/v1/tokens/:id',
      {
        config: { access: 'tokens:create' },
        schema: { tags, summary: 'Revoke an API token (your own unless admin)', params: S.IdParams },
      },
      async (request, reply) => {
        await access.revokeApiToken(request.params.id, requirePrincipal(request.principal));
        return reply.code(204).send();
      },
    );

    app.post(
      '/api/v1/break-glass',
      {
        config: { access: 'break-glass:use' },
        schema: {
          tags,
          summary: 'Start time-boxed emergency access (reason required)',
          body: S.BreakGlassBody,
          response: { 201: S.BreakGlassResponse },
        },
      },
      async (request, reply) => {
        const started = await access.startBreakGlass(
          requirePrincipal(request.principal),
          {
            reason: request.body.reason ?? '',
            ...(request.body.minutes !== undefined ? { minutes: request.body.minutes } : {}),
          },
          { source: request.ip },
        );
        return reply.code(201).header('cache-control', 'no-store').send(started);
      },
    );

    app.get(
      '/api/v1/break-glass',
      {
        config: { access: 'break-glass:review' },
        schema: {
          tags,
          summary: 'Break-glass sessions with their reasons, newest first (for review)',
          description:
            'Reasons are stored encrypted (they may name a patient); reading them is audited as break-glass.review.',
          querystring: S.BreakGlassQuery,
          response: { 200: S.BreakGlassList },
        },
      },
      async (request) => {
        const principal = requirePrincipal(request.principal);
        const q = request.query;
        const items = await access.listBreakGlass(
          {
            ...(q.since ? { since: Date.parse(q.since) } : {}),
            ...(q.until ? { until: Date.parse(q.until) } : {}),
            ...(q.limit !== undefined ? { limit: q.limit } : {}),
          },
          principal,
          request.id,
        );
        return {
          items: items.map((b) => ({
            id: b.id,
            userId: b.userId,
            username: b.username,
            startedAt: new Date(b.startedAt).toISOString(),
            expiresAt: new Date(b.expiresAt).toISOString(),
            reason: b.reason,
          })),
        };
      },
    );
  };
}
