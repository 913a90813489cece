import { Type as T } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { type ErrorCode, PulsegateError } from '../errors.js';
import type { EventBus } from '../events/index.js';
import type { Logger } from '../logging/logger.js';
import { identifyHttpsClient } from './https-identity.js';
import type { DeviceIdentity, DeviceIdentityVerifier, TelemetrySink } from './ports.js';
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

  /** The device of each request, identified before its body is read (preParsing). */
  const devices = new WeakMap<FastifyRequest, DeviceIdentity>();
  const refusal = (request: FastifyRequest, device: DeviceIdentity, code: ErrorCode, kind: PublishKind) =>
    recordRefusal(deps, {
      kind: 'publish',
      code,
      deviceId: device.deviceId,
      address: request.ip ?? null,
      topic: `devices/${device.deviceId}/${kind}`,
    });
  const kindOf = (request: FastifyRequest): PublishKind =>
    request.url.endsWith('/events') ? 'events' : 'telemetry';

  return async (app) => {
    // Who is sending, before a byte of the body is read: without a good client certificate
    // nothing is parsed, and an announced oversize body is refused (and recorded) unread.
    app.addHook('preParsing', async (request) => {
      const device = await identifyHttpsClient(request, options.identity, deps);
      devices.set(request, device);
      const length = Number(request.headers['content-length'] ?? 0);
      if (length > limits.maxPayloadBytes) {
        refusal(request, device, 'INGEST_PAYLOAD_TOO_LARGE', kindOf(request));
        throw new PulsegateError('INGEST_PAYLOAD_TOO_LARGE');
      }
    });
    // A body that turns out longer than announced (or chunked) stops at the route's bodyLimit.
    app.addHook('onError', async (request, _reply, error) => {
      const device = devices.get(request);
      if (device && (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        refusal(request, device, 'INGEST_PAYLOAD_TOO_LARGE', kindOf(request));
    });
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
          config: { access: 'public', credential: 'client-certificate' },
          bodyLimit: limits.maxPayloadBytes,
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
          const device = devices.get(request) ?? (await identifyHttpsClient(request, options.identity, deps));
          const payload = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          const refuse = (code: ErrorCode): never => {
            refusal(request, device, code, kind);
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
