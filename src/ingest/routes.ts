import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type ErrorCode, PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { identifyHttpsClient } from './https-identity.js';
import type { DeviceIdentityVerifier, TelemetrySink } from './ports.js';
import { recordRefusal } from './refusal.js';
import { TokenBuckets } from './token-bucket.js';
import type { PublishKind } from './topics.js';

const Accepted = T.Object(
  {
    stored: T.Integer({ minimum: 0, description: 'Observations durably stored' }),
    flagged: T.Integer({ minimum: 0, description: 'Observations stored but flagged (e.g. implausible)' }),
  },
  { additionalProperties: false },
);

export interface IngestRouteOptions {
  identity: DeviceIdentityVerifier;
  sink: TelemetrySink;
  bus: EventBus;
  /** Same limits as MQTT (`config.mqtt`); defaults are the config defaults. */
  limits?: { maxPayloadBytes: number; ratePerSecond: number; burst: number };
  logger?: Logger;
}

const SILENT = { info() {}, error() {} } as unknown as Logger;

/**
 * `POST /api/v1/ingest/telemetry` and `/events`: the HTTPS way in for devices that do not speak
 * MQTT. Public as far as bearer tokens go: the device authenticates with its TLS client
 * certificate (the server asks for one, optionally), checked on every request so a revocation
 * applies at once. The body is the same JSON payload as on MQTT; 202 answers only after durable
 * storage.
 */
export function ingestRoutes(options: IngestRouteOptions): FastifyPluginAsync {
  const limits = options.limits ?? { maxPayloadBytes: 65_536, ratePerSecond: 50, burst: 200 };
  const rate = new TokenBuckets(limits);
  const deps = { bus: options.bus, logger: options.logger ?? SILENT };

  const deviceOf = (request: FastifyRequest) => identifyHttpsClient(request, options.identity, deps);

  return async (app) => {
    // The sink takes the raw bytes (it parses and validates them, as for MQTT), so these routes
    // read JSON bodies as buffers; this parser applies only inside this plugin.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );

    for (const kind of ['telemetry', 'events'] as const satisfies readonly PublishKind[]) {
      app.post(
        `/api/v1/ingest/${kind}`,
        {
          config: { access: 'public' },
          schema: {
            tags: ['ingest'],
            summary:
              kind === 'telemetry'
                ? 'Send telemetry (device client certificate)'
                : 'Send device events (device client certificate)',
            description:
              'Authenticated by the TLS client certificate of the device, not a bearer token. The body is the telemetry JSON payload; 202 after durable storage.',
            response: { 202: Accepted },
          },
        },
        async (request, reply) => {
          const device = await deviceOf(request);
          const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const topic = `devices/${device.deviceId}/${kind}`;
          const refuse = (code: ErrorCode): never => {
            recordRefusal(deps, {
              kind: 'publish',
              code,
              deviceId: device.deviceId,
              address: request.ip ?? null,
              topic,
            });
            throw new PulsegateError(code);
          };
          if (payload.length === 0) refuse('TELEMETRY_INVALID_JSON');
          if (payload.length > limits.maxPayloadBytes) refuse('INGEST_PAYLOAD_TOO_LARGE');
          if (!rate.take(device.deviceId)) refuse('INGEST_RATE_LIMITED');
          const [outcome] = await options.sink.ingest([
            { deviceId: device.deviceId, payload, receivedAt: Date.now(), source: 'https', kind },
          ]);
          if (!outcome) throw new Error('telemetry sink returned no outcome');
          if (!outcome.ok) return refuse(outcome.code);
          reply.status(202);
          return { stored: outcome.stored, flagged: outcome.flagged };
        },
      );
    }
  };
}
