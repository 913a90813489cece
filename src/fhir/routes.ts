/**
 * `/fhir`: the FHIR R4 REST API (JSON only). An encapsulated Fastify context with its own body
 * parser, content negotiation, not-found and error handlers, so every error under `/fhir` is an
 * OperationOutcome (including 401/403 from the shared auth hook) and never problem+json.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Permission } from '../access/index.js';
import { PulsegateError } from '../errors.js';
import {
  auditDenial,
  type HttpAudit,
  requirePrincipal,
  toPulsegateError,
  wasAudited,
} from '../http/index.js';
import type { Logger } from '../logging/logger.js';
import { capabilityStatement, smartConfiguration } from './capability.js';
import type { FhirRequest } from './context.js';
import type { FhirApi } from './fhir-api.js';
import { fhirJsonBody } from './fhir-json.js';
import { outcomeFor } from './operation-outcome.js';
import { isLenient } from './search-params.js';

export const FHIR_CONTENT_TYPE = 'application/fhir+json; charset=utf-8';
const JSON_TYPES = ['application/fhir+json', 'application/json+fhir', 'application/json', 'json'];
const ACCEPTABLE = new Set([
  '*/*',
  'application/*',
  'application/fhir+json',
  'application/json+fhir',
  'application/json',
]);

export interface FhirRoutesDeps {
  api: FhirApi;
  audit: HttpAudit;
  logger: Logger;
  publicUrl: string;
  version: string;
  algorithms: readonly string[];
}

/** 406 unless the client accepts JSON (R4 http.html#mime-type: `_format` overrides Accept). */
function negotiate(request: FastifyRequest): void {
  // `_format` may come in the URL or, for a POST search, in the form body (the same parameters).
  const form =
    request.headers['content-type']?.split(';')[0]?.trim().toLowerCase() ===
    'application/x-www-form-urlencoded'
      ? (request.body as Record<string, unknown> | undefined)
      : undefined;
  const given = [(request.query as Record<string, unknown> | undefined)?._format, form?._format].filter(
    (f) => f !== undefined,
  );
  if (given.length > 0) {
    const values = given.flat().map(String);
    if (values.length !== 1 || !JSON_TYPES.includes(values[0]!.split(';')[0]!.trim().toLowerCase()))
      throw new PulsegateError('FHIR_FORMAT_UNSUPPORTED');
    return;
  }
  const accept = request.headers.accept;
  if (!accept) return;
  const ranges = accept.split(',').map((r) => r.split(';')[0]!.trim().toLowerCase());
  if (!ranges.some((r) => ACCEPTABLE.has(r))) throw new PulsegateError('FHIR_FORMAT_UNSUPPORTED');
}

/** The parameters of a POST search: the URL's and the form body's together (R4 http.html#search). */
function searchParamsOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  const type = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (body !== undefined && body !== null && type !== 'application/x-www-form-urlencoded')
    throw new PulsegateError('FHIR_PARAM_INVALID', 'a search body must be application/x-www-form-urlencoded');
  // Null prototype: a parameter named `constructor` or `__proto__` is data, never an inherited property.
  const out: Record<string, unknown> = Object.assign(Object.create(null), request.query);
  for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    out[k] = Object.hasOwn(out, k) ? [out[k], v].flat() : v;
  }
  return out;
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.status(status).type(FHIR_CONTENT_TYPE).send(fhirJsonBody(body));
}

export function fhirRoutes(deps: FhirRoutesDeps): FastifyPluginAsync {
  const publicUrl = deps.publicUrl.replace(/\/+$/, '');
  const base = `${publicUrl}/fhir`;
  const started = new Date().toISOString();
  const { api } = deps;
  const ctx = (request: FastifyRequest): FhirRequest => ({
    principal: requirePrincipal(request.principal),
    requestId: request.id,
    source: request.ip,
    base,
    lenient: isLenient(request.headers.prefer),
    urlParams: new Set(Object.keys((request.query ?? {}) as object)),
  });
  const smart = smartConfiguration(publicUrl, deps.algorithms);
  const hidden = { hide: true } as const;

  return async (root) => {
    root.get(
      '/.well-known/smart-configuration',
      { config: { access: 'public' }, schema: { ...hidden } },
      async (_request, reply) => reply.type('application/json').send(smart),
    );

    await root.register(
      async (app) => {
        app.addContentTypeParser(
          ['application/fhir+json', 'application/json+fhir'],
          { parseAs: 'string' },
          (_request, body, done) => {
            try {
              done(null, JSON.parse(body as string));
            } catch {
              done(new PulsegateError('FHIR_JSON_INVALID'), undefined);
            }
          },
        );
        // Search by POST (R4 http.html#search: `POST [type]/_search`, form-encoded): identifiers
        // travel in the body instead of the URL. Unlike OAuth forms, a repeated parameter is an AND.
        app.removeContentTypeParser('application/x-www-form-urlencoded');
        app.addContentTypeParser(
          'application/x-www-form-urlencoded',
          { parseAs: 'string' },
          (_request, body, done) => {
            const out: Record<string, string | string[]> = Object.create(null);
            for (const [k, v] of new URLSearchParams(body as string)) {
              const had = out[k];
              out[k] = had === undefined ? v : [had, v].flat();
            }
            done(null, out);
          },
        );
        app.addHook('preHandler', async (request) => negotiate(request));
        app.setNotFoundHandler(async (_request, reply) =>
          send(reply, 404, outcomeFor(new PulsegateError('ROUTE_NOT_FOUND'))),
        );
        app.setErrorHandler(async (error, request, reply) => {
          let e = toPulsegateError(error);
          if (e.code === 'MALFORMED_JSON') e = new PulsegateError('FHIR_JSON_INVALID');
          if (e.code === 'INTERNAL')
            deps.logger.error(
              { err: error, req: { id: request.id, route: request.routeOptions.url } },
              'unhandled error',
            );
          if (e.code.startsWith('ACCESS_') && !wasAudited(e)) await auditDenial(deps.audit, request, e);
          if (e.status === 401) reply.header('www-authenticate', 'Bearer');
          return send(reply, e.status, outcomeFor(e));
        });

        app.get(
          '/metadata',
          { config: { access: 'public' }, schema: { ...hidden } },
          async (_request, reply) =>
            send(
              reply,
              200,
              capabilityStatement({
                base,
                tokenUrl: smart.token_endpoint,
                version: deps.version,
                date: started,
              }),
            ),
        );
        app.get(
          '/.well-known/smart-configuration',
          { config: { access: 'public' }, schema: { ...hidden } },
          async (_request, reply) => reply.type('application/json').send(smart),
        );

        const id = (request: FastifyRequest) => (request.params as { id: string }).id;

        // Search (type level) and read (instance level) of every resource type, each under the
        // permission of the data it shows; the scopes and care units are checked inside the API.
        const readable: Array<{
          type: string;
          access: Permission;
          search(c: FhirRequest, query: Record<string, unknown>): Promise<unknown>;
          read(c: FhirRequest, id: string): Promise<unknown>;
        }> = [
          {
            type: 'Patient',
            access: 'patients:read',
            search: (c, q) => api.patient.search(c, q),
            read: (c, i) => api.patient.read(c, i),
          },
          {
            type: 'Observation',
            access: 'telemetry:read',
            search: (c, q) => api.observation.search(c, q),
            read: (c, i) => api.observation.read(c, i),
          },
          {
            type: 'Device',
            access: 'devices:read',
            search: (c, q) => api.device.search(c, q),
            read: (c, i) => api.device.read(c, i),
          },
          {
            type: 'DeviceMetric',
            access: 'devices:read',
            search: (c, q) => api.device.searchMetrics(c, q),
            read: (c, i) => api.device.readMetric(c, i),
          },
          {
            type: 'AuditEvent',
            access: 'audit:read',
            search: (c, q) => api.auditEvent.search(c, q),
            read: (c, i) => api.auditEvent.read(c, i),
          },
        ];
        for (const r of readable) {
          app.get(`/${r.type}`, { config: { access: r.access }, schema: hidden }, async (request, reply) =>
            send(reply, 200, await r.search(ctx(request), request.query as Record<string, unknown>)),
          );
          app.post(
            `/${r.type}/_search`,
            { config: { access: r.access }, schema: hidden },
            async (request, reply) => send(reply, 200, await r.search(ctx(request), searchParamsOf(request))),
          );
          app.get(
            `/${r.type}/:id`,
            { config: { access: r.access }, schema: hidden },
            async (request, reply) => send(reply, 200, await r.read(ctx(request), id(request))),
          );
        }

        app.post(
          '/Patient',
          { config: { access: 'patients:write' }, schema: hidden },
          async (request, reply) => {
            const { patient } = await api.patient.create(ctx(request), request.body);
            reply.header('location', `${base}/Patient/${patient.id}/_history/${patient.meta?.versionId}`);
            reply.header('etag', `W/"${patient.meta?.versionId}"`);
            return send(reply, 201, patient);
          },
        );
        app.put(
          '/Patient/:id',
          { config: { access: 'patients:write' }, schema: hidden },
          async (request, reply) => {
            const ifMatch = request.headers['if-match'];
            const result = await api.patient.update(
              ctx(request),
              id(request),
              request.body,
              typeof ifMatch === 'string' ? ifMatch : undefined,
            );
            reply.header('etag', `W/"${result.patient.meta?.versionId}"`);
            if (result.created)
              reply.header(
                'location',
                `${base}/Patient/${result.patient.id}/_history/${result.patient.meta?.versionId}`,
              );
            return send(reply, result.created ? 201 : 200, result.patient);
          },
        );

        app.post(
          '/Observation',
          { config: { access: 'telemetry:write' }, schema: hidden },
          async (request, reply) => {
            const created = await api.observation.create(ctx(request), request.body);
            reply.header('location', `${base}/Observation/${created.id}`);
            return send(reply, 201, created);
          },
        );
      },
      { prefix: '/fhir' },
    );
  };
}
