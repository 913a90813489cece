import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { PulsegateError } from '../errors.js';
import { withProblemResponses } from './openapi-problems.js';

const Health = Type.Object(
  { status: Type.String(), version: Type.String() },
  { additionalProperties: false },
);

/** Liveness, readiness, metrics and the OpenAPI document. */
export function systemRoutes(deps: {
  metrics: Registry;
  ready: () => Promise<boolean>;
  version: string;
}): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/healthz',
      {
        config: { access: 'public' },
        schema: { tags: ['system'], summary: 'Liveness', response: { 200: Health } },
      },
      async () => ({ status: 'ok', version: deps.version }),
    );
    app.get(
      '/readyz',
      {
        config: { access: 'public' },
        schema: { tags: ['system'], summary: 'Readiness (database reachable)', response: { 200: Health } },
      },
      async () => {
        if (!(await deps.ready().catch(() => false))) throw new PulsegateError('NOT_READY');
        return { status: 'ready', version: deps.version };
      },
    );
    app.get(
      '/metrics',
      { config: { access: 'metrics:read' }, schema: { tags: ['system'], summary: 'Prometheus metrics' } },
      async (_request, reply) => {
        reply.type(deps.metrics.contentType);
        return deps.metrics.metrics();
      },
    );
    let document: object | undefined;
    app.get(
      '/api/v1/openapi.json',
      { config: { access: 'public' }, schema: { hide: true } },
      async () => (document ??= withProblemResponses(app.swagger())),
    );
  };
}
