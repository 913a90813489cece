import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync } from 'fastify';
import type { Principal } from '../../access/index.js';
import { PulsegateError } from '../../errors.js';
import { type HttpAudit, requirePrincipal } from '../../http/index.js';
import type { NotifyService } from './notify-service.js';
import { STREAM_KINDS, type StreamEvent } from './stream.js';

export interface NotifyRoutesDeps {
  notify: NotifyService;
  /** Re-authenticates a stream's credential at each heartbeat. */
  auth: { authenticate(authorization: string | undefined, ctx: { source?: string }): Promise<Principal> };
  audit: HttpAudit;
}

const DeadLetter = T.Object(
  {
    id: T.String(),
    target: T.String(),
    kind: T.String(),
    attempts: T.Integer(),
    lastError: T.Union([T.String(), T.Null()]),
    createdAt: T.String({ format: 'date-time' }),
    deadAt: T.String({ format: 'date-time' }),
    event: T.Object(
      {
        type: T.String(),
        alertId: T.String(),
        rule: T.String(),
        category: T.String(),
        severity: T.String(),
        change: T.String(),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const MessageId = T.String({ pattern: '^msg_[A-Za-z0-9_-]{10,64}$' });
const actorOf = (p: Principal) => ({ type: p.kind, id: p.id, name: p.name, role: p.role });
const iso = (ms: number) => new Date(ms).toISOString();

/** Dead letters (list, replay) and the live Server-Sent Events stream. */
export function notifyRoutes(deps: NotifyRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/v1/notify/dead-letters',
      {
        config: { access: 'notify:read' },
        schema: {
          tags: ['notify'],
          summary: 'Notifications that ran out of delivery attempts, newest first',
          response: { 200: T.Object({ items: T.Array(DeadLetter) }, { additionalProperties: false }) },
        },
      },
      async () => {
        const items = await deps.notify.deadLetters();
        return {
          items: items.map((d) => {
            const p = JSON.parse(d.payload) as {
              type: string;
              data: { alertId: string; rule: string; category: string; severity: string; change: string };
            };
            return {
              id: d.id,
              target: d.target,
              kind: d.kind,
              attempts: d.attempts,
              lastError: d.lastError,
              createdAt: iso(d.createdAt),
              deadAt: iso(d.deadAt),
              event: {
                type: p.type,
                alertId: p.data.alertId,
                rule: p.data.rule,
                category: p.data.category,
                severity: p.data.severity,
                change: p.data.change,
              },
            };
          }),
        };
      },
    );

    app.post(
      '/api/v1/notify/dead-letters/:id/replay',
      {
        config: { access: 'notify:write' },
        schema: {
          tags: ['notify'],
          summary: 'Queues a dead letter again with a fresh attempt budget',
          params: T.Object({ id: MessageId }, { additionalProperties: false }),
          body: T.Object(
            { reason: T.String({ minLength: 1, maxLength: 500 }) },
            { additionalProperties: false },
          ),
          response: {
            202: T.Object({ id: T.String(), state: T.Literal('pending') }, { additionalProperties: false }),
          },
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request.principal);
        const { id } = request.params as { id: string };
        const { reason } = request.body as { reason: string };
        await deps.notify.replay(id);
        await deps.audit.append({
          actor: actorOf(principal),
          action: 'notify.replay',
          resource: { type: 'notification', id },
          outcome: 'success',
          reason,
          requestId: request.id,
        });
        return reply.code(202).send({ id, state: 'pending' as const });
      },
    );

    app.get(
      '/api/v1/stream',
      {
        config: { access: 'authenticated' },
        schema: {
          tags: ['notify'],
          summary:
            'Live Server-Sent Events: alert, telemetry (counts only) and device events the caller may read; heartbeat comments',
          description:
            'Send `Accept: text/event-stream` and the Bearer token in the Authorization header (never in the URL). ' +
            '`kinds` (comma-separated) limits the stream to those event kinds; by default it carries all of them.',
          querystring: T.Object(
            {
              kinds: T.Optional(
                T.String({
                  pattern: `^(${STREAM_KINDS.join('|')})(,(${STREAM_KINDS.join('|')}))*$`,
                  maxLength: 100,
                  description: 'e.g. `alert` for an alert feed, `alert,device`',
                }),
              ),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => {
        const principal = requirePrincipal(request.principal);
        if (!String(request.headers.accept ?? '').includes('text/event-stream')) {
          throw new PulsegateError('NOTIFY_STREAM_NOT_ACCEPTABLE');
        }
        reply.hijack();
        try {
          const authorization = request.headers.authorization;
          const source = request.ip;
          const { kinds } = request.query as { kinds?: string };
          deps.notify.stream.subscribe(
            principal,
            reply.raw,
            () => deps.auth.authenticate(authorization, { source }),
            kinds ? new Set(kinds.split(',') as StreamEvent['kind'][]) : undefined,
          );
        } catch (error) {
          const code = error instanceof PulsegateError ? error : new PulsegateError('INTERNAL');
          reply.raw.writeHead(code.status, { 'content-type': 'application/problem+json' });
          reply.raw.end(JSON.stringify({ status: code.status, code: code.code, title: code.message }));
        }
      },
    );
  };
}
